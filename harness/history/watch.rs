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
    /// A put that created the key (its create revision is its mod revision).
    #[serde(default)]
    pub created: bool,
    /// The key as it was before (`prev_kv`); `None` when etcd sent none (a create, or a
    /// previous revision already compacted).
    #[serde(default)]
    pub prev: Option<PrevKv>,
}

/// A watch event's previous key-value: its value and mod revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrevKv {
    pub value: String,
    pub mod_revision: i64,
}

/// A progress notification: every event up to `revision` has been sent, so none of the
/// events after the first `after` of the log may be at or below it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub member: String,
    pub revision: i64,
    pub after: usize,
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
    /// Progress notifications, periodic and requested, in arrival order.
    #[serde(default)]
    pub progress: Vec<Progress>,
}
