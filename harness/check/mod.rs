//! Checks: pure verdicts over an [`Observation`] — versions against the model, data against
//! acknowledged writes, HashKV convergence, monotonic revisions.

pub mod lease;
pub mod linearizable;
pub mod observation;
pub mod revisions;
pub mod verdict;
pub mod watch;

pub use observation::{MemberObservation, Observation};
pub use verdict::Mismatch;
