//! A maintainer's own etcd build (`--binary dev=/path/to/bin`): its version is whatever its
//! `etcd --version` says, and its hashes are taken when it is registered, so a rebuild in the
//! middle of a run is noticed instead of silently mixing two builds.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::run_bounded;
use crate::release::digest::sha256_file;
use crate::release::error::ReleaseError;
use crate::release::installed::{PinnedBinary, Release};
use crate::release::version::Version;

/// Registers the build at `path`: a folder holding `etcd` (and `etcdctl`, `etcdutl` if built),
/// or the `etcd` binary itself.
pub fn register(name: &str, path: &Path) -> Result<Release, ReleaseError> {
    let err = |m: String| ReleaseError::Local {
        name: name.into(),
        path: path.into(),
        message: m,
    };
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    };
    let etcd = if path.is_dir() {
        dir.join("etcd")
    } else {
        path.to_path_buf()
    };
    if !etcd.is_file() {
        return Err(err("no etcd binary there".into()));
    }
    let scratch = tempfile::tempdir().map_err(|e| err(e.to_string()))?;
    let out = run_bounded(
        Command::new(&etcd).arg("--version"),
        scratch.path(),
        Duration::from_secs(30),
    )
    .map_err(err)?;
    let version = Version::from_version_output(&out).ok_or_else(|| {
        err(format!(
            "`etcd --version` printed no version line: {:?}",
            out.trim()
        ))
    })?;
    let mut binaries = BTreeMap::new();
    for b in ["etcd", "etcdctl", "etcdutl"] {
        let p = if b == "etcd" {
            etcd.clone()
        } else {
            dir.join(b)
        };
        if p.is_file() {
            let sha256 = sha256_file(&p).map_err(|e| err(e.to_string()))?;
            binaries.insert(b.to_string(), PinnedBinary { path: p, sha256 });
        }
    }
    Ok(Release {
        name: name.into(),
        version,
        source: format!("local {}", dir.display()),
        binaries,
    })
}
