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
    /// The first event of the watch response it came in (atomic: a revision's events are never
    /// split over two responses). Absent in logs written before it was recorded: no boundary.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub opens_response: bool,
}

#[cfg(test)]
impl WatchEvent {
    /// An event of a hand-made log: not a create, no previous key-value.
    pub fn at(member: &str, key: &str, value: Option<&str>, revision: i64) -> WatchEvent {
        WatchEvent {
            member: member.into(),
            revision,
            key: key.into(),
            value: value.map(str::to_string),
            at_us: 0,
            created: false,
            prev: None,
            opens_response: false,
        }
    }
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
    /// The short-lived watches that ran beside this one, in the order they started: judged
    /// against this log, which saw every event of the prefix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub short: Vec<ShortWatch>,
    /// One collector per member, each pinned to its member from revision 1: every member's
    /// own watch stream, judged as this one is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<WatchLog>,
    /// Set when the watch's stream stood still while its member already had the store's last
    /// revision (a collector judged at the end of the traffic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stalled: Option<Stall>,
    /// Its last few events sent without the previous key-value it asked for, probed on their
    /// member when the watch stopped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prev_probes: Vec<PrevProbe>,
}

/// A watch event sent without the previous key-value the watch asked for (not a create), and
/// what its member served afterwards for the key just below the event's revision. etcd means
/// to leave the previous key-value out only where that revision is already compacted, and
/// compaction only moves forward: one still served then is one the watch should have been
/// sent. (etcd's `recvLoop` registers a new watcher before it marks it as wanting previous
/// key-values, so the first events of a stream may race past that mark: `nth` tells them.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrevProbe {
    pub member: String,
    pub key: String,
    pub revision: i64,
    /// Its position among the events of its stream (0: the first the stream sent).
    #[serde(default)]
    pub nth: usize,
    /// What the member served at `revision - 1`; `None`: refused as compacted (or absent).
    pub served: Option<PrevKv>,
}

/// A watch stream that delivered nothing for `quiet_ms` while open on a member whose own
/// revision was already `member_revision`, past the `reached` it had delivered everything up
/// to: an etcd watch that stopped sending (reliable: no gaps), told apart from a member that is
/// itself behind, and from a watch still catching up (which moves).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stall {
    pub member: String,
    pub reached: i64,
    pub member_revision: i64,
    pub quiet_ms: u64,
}

/// A short-lived watch, as an apiserver opens them (from a list's revision) and a client
/// resumes them (from the revision after the last event it saw): on one member, from a drawn
/// start revision (compacted, past, current or future), over one key or the whole prefix,
/// perhaps without puts or without deletes, perhaps with previous key-values; cancelled after
/// a while.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShortWatch {
    pub member: String,
    /// One key, or every key under it when `prefix`.
    pub key: String,
    pub prefix: bool,
    pub start_revision: i64,
    /// The revision the case's watcher had delivered everything up to when this one was drawn:
    /// its start is past, current (`head + 1`) or future against it.
    pub head: i64,
    pub filter: WatchFilter,
    pub prev_kv: bool,
    /// Resumed where the previous short watch (same key, filter and options) stood.
    pub resumed: bool,
    /// Held open on its member from far beyond the head (`traffic::short_watch::held_loop`),
    /// across whatever the case does to the member meanwhile, instead of cancelled soon.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
    /// What it was sent, in order.
    pub events: Vec<WatchEvent>,
    /// Cancelled by etcd as compacted: the compact revision it named.
    pub compacted: Option<i64>,
    /// As [`WatchLog::prev_probes`], when it asked for previous key-values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prev_probes: Vec<PrevProbe>,
}

/// Which events a watch asked not to be sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WatchFilter {
    #[default]
    None,
    NoPut,
    NoDelete,
}

impl WatchFilter {
    /// Does an event (a put, or a delete when `value` is `None`) pass it?
    pub fn passes(self, value: Option<&str>) -> bool {
        match self {
            WatchFilter::None => true,
            WatchFilter::NoPut => value.is_none(),
            WatchFilter::NoDelete => value.is_some(),
        }
    }
}

impl ShortWatch {
    /// Does `key` fall in what it watches?
    pub fn selects(&self, key: &str) -> bool {
        if self.prefix {
            key.starts_with(&self.key)
        } else {
            key == self.key
        }
    }
}
