//! The download path for real, against a local HTTP server laid out like GitHub releases:
//! good hash, bad hash, 404, truncated body, fall-through between sources, concurrent fetches
//! sharing one download, a tampered cache, and `lock add` from a published SHA256SUMS.

mod common;

use std::io::Write;
use std::path::Path;

use common::http::{Reply, Server};
use etcd_skew::release::digest::sha256_bytes;
use etcd_skew::release::pin::{self, PinFrom};
use etcd_skew::release::source::FetchConfig;
use etcd_skew::release::{CacheState, Lock, ReleaseError, ReleaseStore, Version};

const V: &str = "9.9.9";
const TARBALL: &str = "/v9.9.9/etcd-v9.9.9-linux-amd64.tar.gz";

/// A release tarball whose `etcd` is a script printing a version line, like the real layout.
fn tarball() -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for name in ["etcd", "etcdctl", "etcdutl", "README.md"] {
        let body = format!("#!/bin/sh\necho 'etcd Version: {V}'\n# {name}\n");
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o755);
        tar.append_data(
            &mut h,
            format!("etcd-v{V}-linux-amd64/{name}"),
            body.as_bytes(),
        )
        .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

fn lock_text(sources: &[(&str, &str)]) -> String {
    let mut t = format!(
        "[[release]]\nversion = \"{V}\"\nbinaries = [\"etcd\", \"etcdctl\", \"etcdutl\"]\n"
    );
    for (base, sha) in sources {
        t += &format!("[[release.source]]\nkind = \"github\"\nbase_url = \"{base}\"\narchive_sha256 = \"{sha}\"\n");
    }
    t
}

fn store(cache: &Path, lock: &str, base: &str) -> ReleaseStore {
    let lock = Lock::parse(Path::new("test.lock"), lock).unwrap();
    let cfg = FetchConfig {
        github_base: base.to_string(),
        ..FetchConfig::from_env()
    };
    ReleaseStore::open(lock, cache.to_path_buf(), cfg)
}

/// The tarball served under `/<dir>` (cut short if `truncated`), an empty cache, and a lock
/// pinning that one source to `pin` (default: the tarball's real hash).
struct Served {
    server: Server,
    cache: tempfile::TempDir,
    lock: String,
    path: String,
}

fn served(dir: &str, truncated: bool, pin: Option<&str>) -> Served {
    let server = Server::start();
    let body = tarball();
    let sha = sha256_bytes(&body);
    let path = format!("/{dir}{TARBALL}");
    server.route(
        &path,
        if truncated {
            Reply::Truncated(body)
        } else {
            Reply::Body(body)
        },
    );
    let lock = lock_text(&[(
        &format!("{}/{dir}", server.base),
        pin.unwrap_or(sha.as_str()),
    )]);
    Served {
        server,
        cache: tempfile::tempdir().unwrap(),
        lock,
        path,
    }
}

impl Served {
    /// A store on the shared cache; each call opens its own lock-file descriptors, as a
    /// separate process would.
    fn store(&self) -> ReleaseStore {
        store(self.cache.path(), &self.lock, "")
    }

    fn downloads(&self) -> usize {
        self.server.hits(&self.path)
    }
}

fn assert_nothing_cached(cache: &Path) {
    assert!(
        !cache.join("releases").join(V).exists(),
        "a failed fetch left a release in the cache"
    );
    let leftovers: Vec<_> = std::fs::read_dir(cache.join("tmp"))
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(
        leftovers.is_empty(),
        "a failed fetch left temp files: {leftovers:?}"
    );
}

fn v() -> Version {
    V.parse().unwrap()
}

#[test]
fn good_hash_is_fetched_once_and_cached() {
    let served = served("good", false, None);
    let s = served.store();
    assert_eq!(s.state(&v()), CacheState::Missing);
    let r = s.fetch(&v()).unwrap();
    assert_eq!(r.version, v());
    let out = std::process::Command::new(r.etcd())
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("etcd Version: 9.9.9"));
    assert!(matches!(s.state(&v()), CacheState::Cached { .. }));
    s.fetch(&v()).unwrap();
    assert_eq!(
        served.downloads(),
        1,
        "the second fetch must come from the cache"
    );
}

#[test]
fn bad_hash_is_refused_and_leaves_nothing() {
    let wrong = "1111111111111111111111111111111111111111111111111111111111111111";
    let served = served("good", false, Some(wrong));
    let e = served.store().fetch(&v()).unwrap_err().to_string();
    assert!(
        e.contains("9.9.9") && e.contains("sha256 mismatch") && e.contains(wrong),
        "{e}"
    );
    assert!(
        e.contains(sha256_bytes(&tarball()).as_str()),
        "the actual hash is named: {e}"
    );
    assert_nothing_cached(served.cache.path());
}

#[test]
fn http_404_names_the_url_and_status() {
    let server = Server::start();
    let cache = tempfile::tempdir().unwrap();
    let sha = sha256_bytes(&tarball());
    // No base_url: the global mirror setting is used.
    let lock = format!(
        "[[release]]\nversion = \"{V}\"\nbinaries = [\"etcd\", \"etcdctl\"]\n[[release.source]]\nkind = \"github\"\narchive_sha256 = \"{sha}\"\n"
    );
    let s = store(cache.path(), &lock, &format!("{}/mirror", server.base));
    let e = s.fetch(&v()).unwrap_err().to_string();
    assert!(
        e.contains("404") && e.contains(&format!("/mirror{TARBALL}")) && e.contains("github"),
        "{e}"
    );
    assert_nothing_cached(cache.path());
}

#[test]
fn truncated_body_is_an_error() {
    let served = served("cut", true, None);
    let e = served.store().fetch(&v()).unwrap_err().to_string();
    assert!(e.contains("body"), "{e}");
    assert_nothing_cached(served.cache.path());
}

#[test]
fn a_failing_source_falls_through_and_all_failures_are_listed() {
    let server = Server::start();
    let body = tarball();
    let sha = sha256_bytes(&body);
    server.route(&format!("/good{TARBALL}"), Reply::Body(body));
    let cache = tempfile::tempdir().unwrap();
    let missing = format!("{}/missing", server.base);
    let good = format!("{}/good", server.base);
    let s = store(
        cache.path(),
        &lock_text(&[(&missing, sha.as_str()), (&good, sha.as_str())]),
        "",
    );
    assert_eq!(s.fetch(&v()).unwrap().source, format!("github {good}"));

    let cache = tempfile::tempdir().unwrap();
    let s = store(
        cache.path(),
        &lock_text(&[
            (&missing, sha.as_str()),
            (&format!("{}/also-missing", server.base), sha.as_str()),
        ]),
        "",
    );
    let e = s.fetch(&v()).unwrap_err();
    match &e {
        ReleaseError::AllSourcesFailed { failures, .. } => assert_eq!(failures.len(), 2, "{e}"),
        other => panic!("expected every source to fail: {other}"),
    }
    assert!(
        e.to_string().contains("/missing/") && e.to_string().contains("/also-missing/"),
        "{e}"
    );
}

#[test]
fn concurrent_fetches_share_one_download() {
    let served = served("good", false, None);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let s = served.store();
            std::thread::spawn(move || {
                s.fetch(&v())
                    .map(|r| r.etcd().to_path_buf())
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    let paths: Vec<_> = threads
        .into_iter()
        .map(|t| t.join().unwrap().unwrap())
        .collect();
    assert!(paths.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(served.downloads(), 1);
}

#[test]
fn a_tampered_cached_binary_is_refused() {
    let served = served("good", false, None);
    let s = served.store();
    let r = s.fetch(&v()).unwrap();
    r.verify().unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(r.etcd())
        .unwrap();
    f.write_all(b"echo pwned\n").unwrap();
    drop(f);
    let e = r.verify().unwrap_err();
    assert!(
        matches!(e, ReleaseError::CachedBinaryTampered { .. }),
        "{e}"
    );
    let e = s.fetch(&v()).unwrap_err().to_string();
    assert!(
        e.contains("refusing to run") && e.contains("bin/etcd"),
        "{e}"
    );
}

#[test]
fn a_tampered_pinned_release_is_refused_before_it_runs() {
    // A real pinned release, copied into a private cache, then altered.
    let real = common::releases(&["3.4.23"]).remove(0);
    let cache = tempfile::tempdir().unwrap();
    let src_dir = real.etcd().parent().unwrap().parent().unwrap();
    let dst = cache.path().join("releases/3.4.23");
    std::fs::create_dir_all(dst.join("bin")).unwrap();
    std::fs::copy(src_dir.join("manifest.json"), dst.join("manifest.json")).unwrap();
    for b in ["etcd", "etcdctl"] {
        std::fs::copy(src_dir.join("bin").join(b), dst.join("bin").join(b)).unwrap();
    }
    let lock = Lock::load(&Lock::default_path()).unwrap();
    let s = ReleaseStore::open(lock, cache.path().to_path_buf(), FetchConfig::from_env());
    s.resolve("3.4.23").unwrap();
    let etcd = dst.join("bin/etcd");
    let mut bytes = std::fs::read(&etcd).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&etcd, bytes).unwrap();
    let e = s.resolve("3.4.23").unwrap_err().to_string();
    assert!(e.contains("3.4.23") && e.contains("refusing to run"), "{e}");
}

#[test]
fn lock_add_pins_from_published_sha256sums() {
    let server = Server::start();
    let body = tarball();
    let sha = sha256_bytes(&body);
    server.route(TARBALL, Reply::Body(body));
    server.route(
        &format!("/v{V}/SHA256SUMS"),
        Reply::Body(format!("{sha}  etcd-v{V}-linux-amd64.tar.gz\n").into_bytes()),
    );
    let dir = tempfile::tempdir().unwrap();
    let lock_path = dir.path().join("binaries.lock");
    std::fs::write(&lock_path, "# my pins\n").unwrap();
    let lock = Lock::load(&lock_path).unwrap();
    let s = ReleaseStore::open(
        lock.clone(),
        dir.path().join("cache"),
        FetchConfig {
            github_base: server.base.clone(),
            ..FetchConfig::from_env()
        },
    );
    let pinned = pin::pin(&s, &v(), &PinFrom::Github).unwrap();
    pin::write(&lock, &pinned).unwrap();
    let text = std::fs::read_to_string(&lock_path).unwrap();
    assert!(text.starts_with("# my pins"), "comments are kept");
    let reread = Lock::load(&lock_path).unwrap();
    let r = reread.get(&v()).unwrap();
    assert_eq!(
        r.sources[0].binary_pins().len(),
        3,
        "every binary is pinned: {text}"
    );
    // Pinning it again is refused, and the file is left as it was.
    assert!(pin::write(&reread, &pinned).is_err());
    assert_eq!(std::fs::read_to_string(&lock_path).unwrap(), text);
}

#[test]
fn lock_add_refuses_a_tarball_that_differs_from_sha256sums() {
    let server = Server::start();
    server.route(TARBALL, Reply::Body(tarball()));
    let other = "2222222222222222222222222222222222222222222222222222222222222222";
    server.route(
        &format!("/v{V}/SHA256SUMS"),
        Reply::Body(format!("{other}  etcd-v{V}-linux-amd64.tar.gz\n").into_bytes()),
    );
    let dir = tempfile::tempdir().unwrap();
    let lock = Lock::parse(&dir.path().join("binaries.lock"), "").unwrap();
    let s = ReleaseStore::open(
        lock,
        dir.path().join("cache"),
        FetchConfig {
            github_base: server.base.clone(),
            ..FetchConfig::from_env()
        },
    );
    let e = pin::pin(&s, &v(), &PinFrom::Github)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sha256 mismatch") && e.contains(other), "{e}");
}

#[test]
fn a_local_build_reports_its_own_version() {
    let real = common::releases(&["3.5.16"]).remove(0);
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(real.etcd(), dir.path().join("etcd")).unwrap();
    let mut s = ReleaseStore::from_env().unwrap();
    let dev = s.register_local("dev", dir.path()).unwrap();
    assert_eq!(dev.version, real.version);
    assert_eq!(s.resolve("dev").unwrap().etcd(), dir.path().join("etcd"));
    let e = s
        .register_local("nope", &dir.path().join("missing"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope") && e.contains("no etcd binary"), "{e}");
}
