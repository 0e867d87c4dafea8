//! Dataset templates in the cache: each (release, size, mix) is filled once, its stopped
//! members' data dirs kept with a manifest, and copied for every sample.
//!
//! Layout under `<cache>/bench-templates/`: `<key>/{manifest.json, data/m1.etcd…}` published,
//! `tmp/` for builds in progress, `locks/` for the per-template build lock and the per-address
//! use lock. The cache rules of `release/cache.rs` hold here too: a build happens under the
//! template's file lock (concurrent builders do one build), is staged in `tmp/` and published
//! with one rename after the manifest is written and synced, so readers see a whole template
//! or none. Every use re-hashes the files against the manifest; a stale (other builder version
//! or binary) or damaged template is removed and rebuilt, never used.
//!
//! Why a loopback address per template: etcd stores its members' peer URLs in its data and
//! ignores `--initial-cluster` on restart, so a copied cluster must listen where its data says.
//! Each template gets its own `127.a.b.c` with fixed ports, which cannot clash with the
//! harness's `127.0.0.1` ports; instances of one template take turns via the address lock.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::dataset::{self, DatasetSpec, Filled, Progress, BUILDER_VERSION};
use super::error::BenchError;
use crate::cluster::{Cluster, ClusterBuilder};
use crate::release::digest::sha256_file;
use crate::release::Release;

/// Members of a template cluster.
pub const MEMBERS: usize = 3;
/// How long to wait for another process's build or sample of the same template.
const LOCK_WAIT: Duration = Duration::from_secs(3600);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberFiles {
    pub name: String,
    /// `.snap` files (the v2 store as of each snapshot) and their total size.
    pub snap_files: u64,
    pub snap_bytes: u64,
    /// The v3 backend (`member/snap/db`).
    pub db_bytes: u64,
    pub wal_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub size: u64,
    pub sha256: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub builder_version: u32,
    pub release: String,
    pub release_version: String,
    pub etcd_sha256: String,
    pub spec: DatasetSpec,
    /// `--snapshot-count` the members ran with while being filled.
    pub snapshot_count: u64,
    pub filled: Filled,
    pub peer_urls: Vec<String>,
    pub members: Vec<MemberFiles>,
    /// Every file under `data/`, by path relative to it.
    pub files: BTreeMap<String, FileEntry>,
}

/// A verified template.
#[derive(Clone, Debug)]
pub struct Template {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// Cache root of the templates.
pub fn templates_root(cache: &Path) -> PathBuf {
    cache.join("bench-templates")
}

/// `3.4.23-10mb-v3k0-b1`: readable, and a different name for anything that changes the data.
pub fn key(release: &Release, spec: &DatasetSpec) -> String {
    let name: String = release
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{name}-{}mb-v3k{}-b{BUILDER_VERSION}",
        spec.mb, spec.v3_keys
    )
}

/// The template's own loopback address, derived from its key.
fn peer_urls(key: &str) -> Vec<String> {
    let h = crate::release::digest::sha256_bytes(key.as_bytes()).to_string();
    let b = hex::decode(&h[..6]).expect("hex");
    let ip = format!("127.{}.{}.{}", 100 + b[0] % 100, b[1], 1 + b[2] % 254);
    (0..MEMBERS)
        .map(|i| format!("http://{ip}:{}", 12380 + i))
        .collect()
}

/// Takes `locks/<name>.lock`, polling (asynchronously, so other tasks run) until `LOCK_WAIT`.
async fn lock(root: &Path, name: &str) -> Result<Flock<File>, BenchError> {
    let dir = root.join("locks");
    std::fs::create_dir_all(&dir).map_err(|e| BenchError::io(format!("{}", dir.display()), e))?;
    let path = dir.join(format!("{name}.lock"));
    let mut f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| BenchError::io(format!("lock {}", path.display()), e))?;
    let start = Instant::now();
    loop {
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(l) => return Ok(l),
            Err((back, _)) if start.elapsed() < LOCK_WAIT => {
                f = back;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err((_, e)) => {
                return Err(BenchError::io(
                    format!("lock {} held for over {LOCK_WAIT:?}", path.display()),
                    e.into(),
                ))
            }
        }
    }
}

/// Hashes every file under `data`, relative paths as keys.
fn hash_tree(data: &Path) -> Result<BTreeMap<String, FileEntry>, BenchError> {
    let mut out = BTreeMap::new();
    let mut stack = vec![data.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| BenchError::io(d.display().to_string(), e))?;
        for e in rd {
            let p = e
                .map_err(|e| BenchError::io(d.display().to_string(), e))?
                .path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(data)
                .expect("under data")
                .display()
                .to_string();
            let size = p
                .metadata()
                .map_err(|e| BenchError::io(rel.clone(), e))?
                .len();
            let sha256 = sha256_file(&p)
                .map_err(|e| BenchError::io(p.display().to_string(), e))?
                .to_string();
            out.insert(rel, FileEntry { size, sha256 });
        }
    }
    Ok(out)
}

fn dir_bytes(d: &Path, filter: &dyn Fn(&str) -> bool) -> (u64, u64) {
    let Ok(rd) = std::fs::read_dir(d) else {
        return (0, 0);
    };
    rd.flatten()
        .filter(|e| filter(&e.file_name().to_string_lossy()))
        .filter_map(|e| e.metadata().ok())
        .fold((0, 0), |(n, b), m| (n + 1, b + m.len()))
}

/// Sizes of one member's snapshot files, backend and WAL.
pub fn member_files(name: &str, data_dir: &Path) -> MemberFiles {
    let snap = data_dir.join("member/snap");
    let (snap_files, snap_bytes) = dir_bytes(&snap, &|n| n.ends_with(".snap"));
    let (_, db_bytes) = dir_bytes(&snap, &|n| n == "db");
    let (_, wal_bytes) = dir_bytes(&data_dir.join("member/wal"), &|n| n.ends_with(".wal"));
    MemberFiles {
        name: name.to_string(),
        snap_files,
        snap_bytes,
        db_bytes,
        wal_bytes,
    }
}

impl Template {
    /// Opens and verifies the published template in `dir` for `release` and `spec`.
    pub fn open(dir: &Path, release: &Release, spec: &DatasetSpec) -> Result<Template, BenchError> {
        let damaged = |reason: String| BenchError::DamagedTemplate {
            dir: dir.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(dir.join("manifest.json"))
            .map_err(|e| damaged(format!("manifest.json: {e}")))?;
        let m: Manifest =
            serde_json::from_str(&text).map_err(|e| damaged(format!("manifest.json: {e}")))?;
        if m.builder_version != BUILDER_VERSION {
            return Err(damaged(format!(
                "stale: builder version {} (now {BUILDER_VERSION})",
                m.builder_version
            )));
        }
        let sha = release.binaries["etcd"].sha256.to_string();
        if m.etcd_sha256 != sha || m.release != release.name || &m.spec != spec {
            return Err(damaged("stale: built from another binary or spec".into()));
        }
        let found = hash_tree(&dir.join("data"))?;
        for (path, want) in &m.files {
            match found.get(path) {
                None => return Err(damaged(format!("data/{path} is missing"))),
                Some(got) if got != want => {
                    return Err(damaged(format!("data/{path} does not match its sha256")))
                }
                Some(_) => {}
            }
        }
        if let Some(extra) = found.keys().find(|p| !m.files.contains_key(*p)) {
            return Err(damaged(format!("data/{extra} is not in the manifest")));
        }
        Ok(Template {
            dir: dir.to_path_buf(),
            manifest: m,
        })
    }

    /// The verified template for (`release`, `spec`), built first if absent, stale or
    /// damaged (each said on one stderr line). Holds the build lock throughout.
    pub async fn ensure(
        cache: &Path,
        release: &Release,
        spec: &DatasetSpec,
        quiet: bool,
    ) -> Result<Template, BenchError> {
        let root = templates_root(cache);
        let key = key(release, spec);
        let _build = lock(&root, &format!("build-{key}")).await?;
        let dir = root.join(&key);
        if dir.exists() {
            match Template::open(&dir, release, spec) {
                Ok(t) => return Ok(t),
                Err(e @ BenchError::DamagedTemplate { .. }) => {
                    eprintln!("etcd-skew: rebuilding: {e}");
                    remove_published(&root, &dir)?;
                }
                Err(e) => return Err(e),
            }
        }
        let tmp = root.join("tmp");
        // Only a build of this key, which needs our lock, can own these: they are abandoned.
        for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            if e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{key}."))
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let stage = tmp.join(format!("{key}.{}", std::process::id()));
        std::fs::create_dir_all(&stage)
            .map_err(|e| BenchError::io(stage.display().to_string(), e))?;
        let built = build(&root, &key, &stage, release, spec, quiet).await;
        let published = built.and_then(|()| {
            std::fs::rename(&stage, &dir)
                .map_err(|e| BenchError::io(format!("publish {}", dir.display()), e))
        });
        if let Err(e) = published {
            let _ = std::fs::remove_dir_all(&stage);
            return Err(e);
        }
        Template::open(&dir, release, spec)
    }

    /// Starts a cluster on a copy of the template (data under `data_root`, or tmpfs), every
    /// member on the template's release plus `flags`. Holds the template's address lock
    /// for as long as the instance lives.
    pub async fn instantiate(
        &self,
        release: &Release,
        data_root: Option<&Path>,
        flags: &[String],
    ) -> Result<Instance, BenchError> {
        let root = self.dir.parent().expect("under templates root");
        let addr_lock = lock(root, &format!("addr-{}", addr_of(&self.manifest.peer_urls))).await?;
        let mut b = ClusterBuilder::new(vec![release.clone(); MEMBERS])
            .enable_v2(true)
            .flags(flags)
            .peer_urls(self.manifest.peer_urls.clone())
            .seed(self.dir.join("data"))
            .health_timeout(Duration::from_secs(120));
        if let Some(r) = data_root {
            b = b.data_root(r);
        }
        let mut cluster = b.start().await?;
        cluster.learn_member_ids().await?;
        Ok(Instance {
            cluster,
            _addr_lock: addr_lock,
        })
    }
}

/// A running copy of a template.
pub struct Instance {
    pub cluster: Cluster,
    _addr_lock: Flock<File>,
}

fn addr_of(urls: &[String]) -> String {
    urls.first()
        .and_then(|u| u.split("://").nth(1))
        .and_then(|h| h.split(':').next())
        .unwrap_or("none")
        .to_string()
}

/// Moves a published template aside with one rename (readers then see none), then deletes it.
fn remove_published(root: &Path, dir: &Path) -> Result<(), BenchError> {
    let tmp = root.join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| BenchError::io(tmp.display().to_string(), e))?;
    let name = dir
        .file_name()
        .expect("named")
        .to_string_lossy()
        .to_string();
    let aside = tmp.join(format!("{name}.removed-{}", std::process::id()));
    std::fs::rename(dir, &aside)
        .map_err(|e| BenchError::io(format!("remove {}", dir.display()), e))?;
    std::fs::remove_dir_all(&aside).map_err(|e| BenchError::io(aside.display().to_string(), e))
}

/// Fills a fresh cluster on tmpfs, stops it, copies its data dirs into `stage/data` and writes
/// the manifest (synced) there.
async fn build(
    root: &Path,
    key: &str,
    stage: &Path,
    release: &Release,
    spec: &DatasetSpec,
    quiet: bool,
) -> Result<(), BenchError> {
    let urls = peer_urls(key);
    let _addr = lock(root, &format!("addr-{}", addr_of(&urls))).await?;
    let snapshot_count = spec.snapshot_count();
    let cluster = ClusterBuilder::new(vec![release.clone(); MEMBERS])
        .enable_v2(true)
        .flags(&[format!("--snapshot-count={snapshot_count}")])
        .peer_urls(urls.clone())
        .start()
        .await?;
    let progress = Progress::new(&format!("filling {key}"), spec.target_bytes(), quiet);
    let filled = dataset::fill(&cluster, spec, &progress).await?;
    for i in 0..MEMBERS {
        cluster.stop_member(i).await;
    }
    let data = stage.join("data");
    let mut members = Vec::new();
    for m in cluster.members() {
        let to = data.join(format!("{}.etcd", m.name));
        crate::cluster::running::copy_dir(&m.data_dir, &to)
            .map_err(|e| BenchError::io(format!("copy {}", m.data_dir.display()), e))?;
        let files = member_files(&m.name, &to);
        if files.snap_files == 0 {
            return Err(BenchError::DamagedTemplate {
                dir: stage.to_path_buf(),
                reason: format!(
                    "member {} wrote no .snap file: the v2 store is not on disk",
                    m.name
                ),
            });
        }
        members.push(files);
    }
    let manifest = Manifest {
        builder_version: BUILDER_VERSION,
        release: release.name.clone(),
        release_version: release.version.to_string(),
        etcd_sha256: release.binaries["etcd"].sha256.to_string(),
        spec: spec.clone(),
        snapshot_count,
        filled,
        peer_urls: urls,
        members,
        files: hash_tree(&data)?,
    };
    let path = stage.join("manifest.json");
    let text = serde_json::to_string_pretty(&manifest).expect("serializable");
    let f = File::create(&path).map_err(|e| BenchError::io(path.display().to_string(), e))?;
    std::io::Write::write_all(&mut &f, text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| BenchError::io(path.display().to_string(), e))
}
