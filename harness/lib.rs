//! etcd-skew tests mixed-version etcd clusters with real processes.
//!
//! The data path, and where each step lives:
//! 1. [`release`]: `binaries.lock` → fetched, sha256-verified etcd binaries in a cache.
//! 2. [`cluster`]: releases → a running local cluster of members on loopback ports.
//! 3. operations act on the cluster (upgrade, kill, pause, restore…), and
//! 4. checks judge what the cluster reports against a model, and
//! 5. a report tells what happened.

pub mod check;
pub mod cluster;
pub mod explore;
pub mod model;
pub mod ops;
pub mod release;
pub mod scenario;
pub mod traffic;
