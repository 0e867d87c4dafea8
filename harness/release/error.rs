//! Everything that can go wrong between `binaries.lock` and a verified binary on disk.

use std::path::PathBuf;

/// Errors of the release layer. Each names the release, source, file or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The lock file cannot be read.
    #[error("{}: cannot read: {message}", path.display())]
    LockIo { path: PathBuf, message: String },
    /// The lock file is not valid TOML or breaks a rule of the format.
    #[error("{}: {message}", path.display())]
    LockInvalid { path: PathBuf, message: String },
    /// A version was asked for that the lock does not pin.
    #[error("etcd {version} is not pinned in {}; pinned: {pinned}", lock.display())]
    NotPinned {
        version: String,
        lock: PathBuf,
        pinned: String,
    },
    /// A downloaded file's sha256 differs from its pin; nothing was cached.
    #[error("etcd {release}, source {source_label}: {what} sha256 mismatch: expected {expected}, got {actual}")]
    HashMismatch {
        release: String,
        source_label: String,
        what: String,
        expected: String,
        actual: String,
    },
    /// A binary already in the cache no longer matches its pin: refused, not run.
    #[error("etcd {release}: cached binary {} has sha256 {actual}, pinned {expected}; refusing to run it (delete {} to fetch again)", path.display(), dir.display())]
    CachedBinaryTampered {
        release: String,
        path: PathBuf,
        dir: PathBuf,
        expected: String,
        actual: String,
    },
    /// One source could not deliver (network, tool, archive content).
    #[error("etcd {release}, source {source_label}: {message}")]
    Source {
        release: String,
        source_label: String,
        message: String,
    },
    /// Every source failed; lists what each said.
    #[error("etcd {release}: every source failed: {}", .failures.join("; "))]
    AllSourcesFailed {
        release: String,
        failures: Vec<String>,
    },
    /// A local build (`--binary NAME=PATH`) is unusable.
    #[error("local etcd build {name} at {}: {message}", path.display())]
    Local {
        name: String,
        path: PathBuf,
        message: String,
    },
    /// The cache directory cannot be written or locked.
    #[error("release cache {}: {message}", path.display())]
    Cache { path: PathBuf, message: String },
}

impl ReleaseError {
    pub(crate) fn cache(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        ReleaseError::Cache {
            path: path.into(),
            message: e.to_string(),
        }
    }
}

/// An error and its causes, outermost first. Steps into an `io::Error`'s wrapped error
/// (`get_ref`), which its `source()` skips: rustls and refused connections hide there.
pub fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |err| match err.downcast_ref::<std::io::Error>() {
        Some(io) => io
            .get_ref()
            .map(|inner| inner as &(dyn std::error::Error + 'static)),
        None => err.source(),
    })
}

/// An error's text with all its causes: HTTP and TLS clients hide the useful part ("connection
/// refused", "UnknownIssuer") a few levels down.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}
