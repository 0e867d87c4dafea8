//! A release whose binaries are on disk and verified: what clusters run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::digest::sha256_file;
use super::error::ReleaseError;
use super::lock::Sha256;
use super::version::Version;

/// One verified binary and the hash it must keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinnedBinary {
    pub path: PathBuf,
    pub sha256: Sha256,
}

/// A runnable release: a pinned version from the cache, or a maintainer's local build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    /// What the user calls it: the version (`3.5.16`) or a local build's name (`dev`).
    pub name: String,
    /// What its `etcd` reports; negotiation rules key on this.
    pub version: Version,
    /// Where it came from: a lock source label, or `local /path`.
    pub source: String,
    pub binaries: BTreeMap<String, PinnedBinary>,
}

impl Release {
    pub fn etcd(&self) -> &Path {
        &self.binaries["etcd"].path
    }

    pub fn binary(&self, name: &str) -> Option<&Path> {
        self.binaries.get(name).map(|b| b.path.as_path())
    }

    /// Re-checks every binary against its pin: called before each process start, so a binary
    /// swapped on disk after it was fetched is refused rather than run. Files whose inode,
    /// size, mtime and ctime are unchanged since a successful check are not hashed again (ctime
    /// cannot be set back by a writer).
    pub fn verify(&self) -> Result<(), ReleaseError> {
        for b in self.binaries.values() {
            let stamp = file_stamp(&b.path);
            let memo_key = (b.path.clone(), b.sha256.clone());
            if stamp.is_some() && VERIFIED.lock().unwrap().get(&memo_key) == stamp.as_ref() {
                continue;
            }
            let actual = sha256_file(&b.path).map_err(|e| ReleaseError::cache(&b.path, e))?;
            if actual != b.sha256 {
                return Err(ReleaseError::CachedBinaryTampered {
                    release: self.name.clone(),
                    path: b.path.clone(),
                    dir: b.path.parent().unwrap_or(Path::new("/")).to_owned(),
                    expected: b.sha256.to_string(),
                    actual: actual.to_string(),
                });
            }
            if let Some(s) = stamp {
                VERIFIED.lock().unwrap().insert(memo_key, s);
            }
        }
        Ok(())
    }
}

type Stamp = (u64, u64, u64, i64, i64, i64, i64);

/// Files that matched a given hash, and the stamp they had then.
static VERIFIED: std::sync::LazyLock<Mutex<BTreeMap<(PathBuf, Sha256), Stamp>>> =
    std::sync::LazyLock::new(|| Mutex::new(BTreeMap::new()));

fn file_stamp(p: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).ok()?;
    Some((
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    ))
}
