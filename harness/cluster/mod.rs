//! Clusters: releases → running members on loopback.
//!
//! [`ports`] reserves ports, [`flags`] renders each release's command line, [`process`]
//! supervises one etcd process, [`member`] is one member and its queries, [`running`] the
//! cluster, [`wait`] the deadline-bounded polls everything waits with. What operators do to a
//! running cluster: [`membership`] (add, remove, migrate, move leadership), [`snapshot`]
//! (backup, disaster restore), [`auth`], [`tls`] (PKI and rotation), [`v2`] (the v2 API).
//! [`proxy`] sits on the peer links and [`faults`] uses it: partition, one-way drop, delay.

pub mod auth;
pub mod error;
pub mod faults;
pub mod flags;
pub mod member;
pub mod membership;
pub mod pki;
pub mod ports;
pub mod process;
pub mod proxy;
pub mod rotation;
pub mod running;
pub mod snapshot;
pub mod v2;
pub mod wait;

pub use error::{ClusterError, RpcFailure};
pub use flags::{InitialState, Timing, TlsFlags};
pub use member::{HashKv, Member, MemberStatus, VersionInfo};
pub use running::{Cluster, ClusterBuilder};
