//! Checks: pure verdicts. Over an [`Observation`] of the cluster ([`verdict`]): versions against
//! the model, data against acknowledged writes, HashKV convergence, monotonic revisions. Over
//! recorded traffic: [`linearizable`], [`revisions`], [`stale`] reads, [`watch`] (and the
//! [`short_watch`]es beside it), [`lease`], run
//! in order to the first failure by [`chain`]. Over member logs: [`logs`]. Records come from [`crate::history`] alone.

pub mod chain;
pub mod lease;
pub mod linearizable;
pub mod logs;
pub mod observation;
pub mod revisions;
pub mod short_watch;
pub mod stale;
pub mod store;
pub mod verdict;
pub mod watch;

pub use observation::{MemberObservation, Observation};
pub use verdict::Mismatch;
