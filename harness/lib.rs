//! etcd-skew tests mixed-version etcd clusters with real processes.
//!
//! The data path, and where each step lives:
//! 1. [`release`]: `binaries.lock` → fetched, sha256-verified etcd binaries in a cache.
//! 2. [`cluster`]: releases → a running local cluster of members on loopback ports.
//! 3. [`ops`]: operations act on the cluster and on the [`model`] (upgrade, kill, partition,
//!    restore…), while [`traffic`] records a [`history`];
//! 4. [`check`]: pure verdicts on what the cluster reports and on the history;
//! 5. [`scenario`] runs declarative procedures step by step, [`explore`] runs random ones and
//!    shrinks failures; both print each step and keep a failed run's artifacts (logs, history,
//!    SVG timeline, replay file).

pub mod bench;
pub mod check;
pub mod cluster;
pub mod explore;
pub mod history;
pub mod model;
pub mod ops;
pub mod release;
pub mod scenario;
pub mod traffic;
pub mod validate;
