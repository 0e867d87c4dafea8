//! What a case records of its operations, for the timeline and the artifacts: each applied
//! operation with its times, outcome and the members after it. Plain data, written by the case
//! ([`super::case`]) and drawn by the timeline ([`super::timeline`]), which so depend on this
//! module and not on each other.

use serde::Serialize;

/// One applied operation, for the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct Applied {
    pub step: usize,
    pub op: String,
    /// Milliseconds since the case started.
    pub start_ms: u64,
    pub end_ms: u64,
    pub outcome: Result<String, String>,
    /// `m1=3.5.16/3.4 …` as the oracle observed it after the step (empty if it failed).
    pub versions: String,
    /// Every member after the step, for the timeline.
    pub members: Vec<MemberState>,
    /// The model's cluster version after the step.
    pub cluster_version: Option<String>,
}

/// One member at one moment of the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct MemberState {
    pub name: String,
    pub release: String,
    /// `running`, `paused` or `down`.
    pub state: &'static str,
    pub leader: bool,
}
