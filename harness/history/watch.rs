//! What a watcher saw: every event it was sent, where it (re)started, and the compacted gaps.
//! The watcher writes it; the watch check reads it; `watch.json` in a failed case's artifacts.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchEvent {
    pub member: String,
    /// The key's mod revision: the revision of the write.
    pub revision: i64,
    pub key: String,
    /// `None` for a delete.
    pub value: Option<String>,
    pub at_us: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchLog {
    pub events: Vec<WatchEvent>,
    /// The first revision the watch covers.
    pub start_revision: i64,
    /// (member, revision) at every (re)start of the watch.
    pub resumes: Vec<(String, i64)>,
    /// Revision ranges [from, to) skipped because they were compacted.
    pub compacted: Vec<(i64, i64)>,
}
