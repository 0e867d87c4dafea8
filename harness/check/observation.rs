//! What the harness saw of a cluster at one moment: the input of every check. Gathered by the
//! scenario runner from the live cluster; checks themselves never touch one.

use std::collections::BTreeMap;

use crate::release::{MinorVersion, Version};

/// One running member as seen from outside.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberObservation {
    /// `/version` `etcdserver`; `None` if it did not answer.
    pub server: Option<Version>,
    /// `/version` `etcdcluster`, parsed (`None`: undecided or no answer).
    pub cluster: Option<MinorVersion>,
    pub raw_cluster: String,
    /// Values of the model's keys read through this member.
    pub values: BTreeMap<String, Option<String>>,
    /// v3 keys this member holds that the model has never seen written.
    pub unknown_keys: Vec<String>,
    /// HashKV at [`Observation::hash_revision`] and the member's current revision.
    pub hash: Option<u32>,
    /// The revision the member last compacted at (HashKV's `compact_revision`): compaction
    /// goes through raft, so every member ends at the same one.
    pub compact_revision: Option<i64>,
    pub revision: i64,
    /// What went wrong while observing, if anything.
    pub errors: Vec<String>,
    /// A learner: it serves only Status and serializable ranges (`isRPCSupportedForLearner`),
    /// so its data is read serializably and it has no HashKV.
    pub learner: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    pub members: BTreeMap<String, MemberObservation>,
    /// The revision every member's HashKV was taken at (the lowest current revision).
    pub hash_revision: i64,
}
