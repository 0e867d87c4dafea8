//! The recorded KV history: every request a client issued, when it was invoked and when it
//! completed, and what came back. The traffic writes it; the checkers read it; the file format
//! is JSON lines, one [`Event`] per line.

use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::EtcdRefusal;

/// A KV request. Values are unique per write (`c<client>-<n>`), so a read names the write it saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// A put; with `prev_kv` its answer carries the key as it was before (in `kvs`, absent
    /// too), which must be the state just below the put's revision.
    Put {
        key: String,
        value: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        prev_kv: bool,
    },
    /// A delete; with `prev_kv` its answer carries the key as it was before (in `kvs`: what it
    /// deleted, or absent when it deleted nothing).
    Delete {
        key: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        prev_kv: bool,
    },
    /// A delete of every key starting with `prefix`, asking for what it deleted: its answer's
    /// `kvs` are the keys it deleted as they were (`prev_kv`), `deleted` their count. The keys
    /// are not in the request: an unknown one may have deleted any key under the prefix.
    DeletePrefix {
        prefix: String,
    },
    /// Txn: if the key's value equals `expect` (absent: `None`) then put `value`.
    Cas {
        key: String,
        expect: Option<String>,
        value: String,
    },
    Get {
        key: String,
        serializable: bool,
    },
    /// A txn: if every compare holds, `then`, else `otherwise`; each branch of up to four ops
    /// on distinct keys, gets first (so a get never sees its own txn's writes).
    Txn {
        compares: Vec<Compare>,
        then: Vec<TxnOp>,
        otherwise: Vec<TxnOp>,
    },
    /// A range over the keys `[start, end of prefix)`: a list (`start == prefix`) or a page of
    /// one (`start` just after the previous page's last key); at `revision` (0: the current
    /// one), at most `limit` keys (0: all), keys and revisions only if `keys_only`.
    Range {
        prefix: String,
        start: String,
        revision: i64,
        limit: i64,
        keys_only: bool,
        serializable: bool,
    },
    /// Compaction of every revision below `revision` (as the Kubernetes apiserver does it, at a
    /// revision near the head). Changes no key; a range below it must fail as compacted.
    Compact {
        revision: i64,
    },
    /// Defragmentation of the backend of the member the client is bound to (as operators of a
    /// Kubernetes cluster schedule it): changes no key, and blocks that member's applies while
    /// it runs. Its answer is recorded with revision 0: a defrag's header is the member's own,
    /// not a linearizable revision, so it has no place in the real-time order.
    Defrag,
}

/// How the API promises a range at a revision fails (`rpctypes`: both `OutOfRange`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadRefusal {
    /// `etcdserver: mvcc: required revision has been compacted`.
    Compacted,
    /// `etcdserver: mvcc: required revision is a future revision`.
    FutureRevision,
}

impl ReadRefusal {
    /// The read refusal a gRPC status message stands for (etcd's descriptions, one table:
    /// [`EtcdRefusal`]).
    pub fn from_grpc(message: &str) -> Option<ReadRefusal> {
        match EtcdRefusal::from_grpc(message)? {
            EtcdRefusal::Compacted => Some(ReadRefusal::Compacted),
            EtcdRefusal::FutureRevision => Some(ReadRefusal::FutureRevision),
            _ => None,
        }
    }
}

/// What a range answered besides its keys: how many keys matched in all, and whether more
/// than `limit` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listed {
    pub count: i64,
    pub more: bool,
}

/// One compare of a [`Request::Txn`], always `=`: the key's value (absent: `None`, as etcd's
/// `version = 0`), mod revision, version or create revision (0 for an absent key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compare {
    pub key: String,
    #[serde(flatten)]
    pub target: CompareTarget,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "target", content = "expect", rename_all = "snake_case")]
pub enum CompareTarget {
    Value(Option<String>),
    ModRevision(i64),
    Version(i64),
    CreateRevision(i64),
}

/// One op of a txn branch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum TxnOp {
    Put {
        key: String,
        value: String,
    },
    Delete {
        key: String,
    },
    /// A get at the txn's own revision, or at `revision` (a past one, perhaps compacted, or a
    /// future one): etcd checks every range of the branch it takes before any of its writes,
    /// and refuses the whole txn for one it cannot serve.
    Get {
        key: String,
        #[serde(default, skip_serializing_if = "is_zero")]
        revision: i64,
    },
}

fn is_zero(r: &i64) -> bool {
    *r == 0
}

impl TxnOp {
    /// A get at the txn's own revision.
    pub fn get(key: impl Into<String>) -> TxnOp {
        TxnOp::Get {
            key: key.into(),
            revision: 0,
        }
    }

    pub fn key(&self) -> &str {
        match self {
            TxnOp::Put { key, .. } | TxnOp::Delete { key } | TxnOp::Get { key, .. } => key,
        }
    }

    pub fn is_write(&self) -> bool {
        !matches!(self, TxnOp::Get { .. })
    }
}

/// A key as a read returned it: its value (`None`: absent) and mod revision (0 if absent). A
/// keys-only range returns no values: its keys come with `value: None` and their mod revision.
/// `version` (puts since it was created) and `create_revision`: 0 if absent or not recorded
/// (the harness's own read-back does not record them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadKv {
    pub key: String,
    pub value: Option<String>,
    pub mod_revision: i64,
    #[serde(default)]
    pub version: i64,
    #[serde(default)]
    pub create_revision: i64,
}

impl Request {
    /// The key of a single-key request; a txn's first key (see [`Request::keys`]).
    pub fn key(&self) -> &str {
        match self {
            Request::Put { key, .. }
            | Request::Delete { key, .. }
            | Request::Cas { key, .. }
            | Request::Get { key, .. } => key,
            Request::Txn { .. } => self.keys().first().copied().unwrap_or(""),
            Request::Range { prefix, .. } | Request::DeletePrefix { prefix } => prefix,
            Request::Compact { .. } | Request::Defrag => "",
        }
    }

    /// Every key the request touches (compares included), in order, without repeats.
    pub fn keys(&self) -> Vec<&str> {
        let mut out: Vec<&str> = match self {
            Request::Txn {
                compares,
                then,
                otherwise,
            } => compares
                .iter()
                .map(|c| c.key.as_str())
                .chain(then.iter().chain(otherwise).map(TxnOp::key))
                .collect(),
            Request::Put { key, .. }
            | Request::Delete { key, .. }
            | Request::Cas { key, .. }
            | Request::Get { key, .. } => vec![key.as_str()],
            // A range or a prefix delete touches keys it does not name; a compaction, none.
            Request::Range { .. }
            | Request::DeletePrefix { .. }
            | Request::Compact { .. }
            | Request::Defrag => Vec::new(),
        };
        let mut seen = std::collections::HashSet::new();
        out.retain(|k| seen.insert(*k));
        out
    }

    /// May it change the store? (A txn if either branch writes.)
    pub fn is_write(&self) -> bool {
        match self {
            Request::Get { .. }
            | Request::Range { .. }
            | Request::Compact { .. }
            | Request::Defrag => false,
            Request::Txn {
                then, otherwise, ..
            } => then.iter().chain(otherwise).any(TxnOp::is_write),
            _ => true,
        }
    }

    /// The revisions a txn's gets read at, in the order of the branch `succeeded` took (0: the
    /// txn's own): what its recorded `kvs` line up with. Both branches' when not known. Empty
    /// for any other request.
    pub fn read_revisions(&self, succeeded: Option<bool>) -> Vec<i64> {
        let Request::Txn {
            then, otherwise, ..
        } = self
        else {
            return Vec::new();
        };
        let ops: Vec<&TxnOp> = match succeeded {
            Some(true) => then.iter().collect(),
            Some(false) => otherwise.iter().collect(),
            None => then.iter().chain(otherwise).collect(),
        };
        ops.into_iter()
            .filter_map(|op| match op {
                TxnOp::Get { revision, .. } => Some(*revision),
                _ => None,
            })
            .collect()
    }

    /// The writes it makes, `(key, value)` (`None`: a delete), when a txn's compare went
    /// `succeeded` (`None`: not known, and then both branches' writes may have happened). A
    /// prefix delete names none: see [`Request::deleted_prefix`] and [`Event::deleted_keys`].
    pub fn writes(&self, succeeded: Option<bool>) -> Vec<(&str, Option<&str>)> {
        fn branch(ops: &[TxnOp]) -> Vec<(&str, Option<&str>)> {
            ops.iter()
                .filter_map(|op| match op {
                    TxnOp::Put { key, value } => Some((key.as_str(), Some(value.as_str()))),
                    TxnOp::Delete { key } => Some((key.as_str(), None)),
                    TxnOp::Get { .. } => None,
                })
                .collect()
        }
        match self {
            Request::Put { key, value, .. } => vec![(key, Some(value))],
            Request::Delete { key, .. } => vec![(key, None)],
            Request::Cas { key, value, .. } if succeeded != Some(false) => {
                vec![(key, Some(value))]
            }
            Request::Cas { .. }
            | Request::Get { .. }
            | Request::Range { .. }
            | Request::DeletePrefix { .. }
            | Request::Compact { .. }
            | Request::Defrag => Vec::new(),
            Request::Txn {
                then, otherwise, ..
            } => match succeeded {
                Some(true) => branch(then),
                Some(false) => branch(otherwise),
                None => [branch(then), branch(otherwise)].concat(),
            },
        }
    }

    /// The prefix a prefix delete deletes under: any key there, if its outcome is unknown.
    pub fn deleted_prefix(&self) -> Option<&str> {
        match self {
            Request::DeletePrefix { prefix } => Some(prefix),
            _ => None,
        }
    }

    /// Does it touch more than one key (a per-key split cannot judge it)?
    pub fn is_multi_key(&self) -> bool {
        self.keys().len() > 1
    }

    /// Is it served from the member's own state, without asking the leader (and so may lag)?
    pub fn is_serializable(&self) -> bool {
        matches!(
            self,
            Request::Get {
                serializable: true,
                ..
            } | Request::Range {
                serializable: true,
                ..
            }
        )
    }
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Acknowledged. `revision` is the response header's; `value` what a get read; `succeeded`
    /// whether a txn's compare held.
    Ok {
        revision: i64,
        value: Option<String>,
        succeeded: Option<bool>,
        /// What the reads returned, whole: a get's key (absent too), a txn's gets in branch
        /// order, the previous key of a put or delete with `prev_kv`. Empty for other writes.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        kvs: Vec<ReadKv>,
        /// Keys a delete removed (a delete of an absent key creates no revision).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deleted: Option<i64>,
        /// A range's count and `more` flag.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        listed: Option<Listed>,
    },
    /// Known not to have taken effect (never sent, or rejected before execution); `refused`
    /// says how, when it is a refusal the API promises for a range at a revision.
    Failed {
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refused: Option<ReadRefusal>,
    },
    /// Sent, no answer (timeout, connection lost): may or may not have taken effect.
    Unknown { error: String },
}

impl Outcome {
    /// Acknowledged at `revision`, with nothing read or deleted (a put's answer).
    pub fn ok(revision: i64) -> Outcome {
        Outcome::Ok {
            revision,
            value: None,
            succeeded: None,
            kvs: Vec::new(),
            deleted: None,
            listed: None,
        }
    }

    /// Known not to have taken effect, for `error`.
    pub fn failed(error: impl Into<String>) -> Outcome {
        Outcome::Failed {
            error: error.into(),
            refused: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub client: u32,
    pub member: String,
    /// Microseconds since the traffic started.
    pub invoke_us: u64,
    pub complete_us: u64,
    #[serde(flatten)]
    pub request: Request,
    pub outcome: Outcome,
}

impl Event {
    /// The keys an acknowledged prefix delete deleted (its previous key-values), at its
    /// header revision; none for any other request or outcome.
    pub fn deleted_keys(&self) -> impl Iterator<Item = &str> {
        let kvs = match (&self.request, &self.outcome) {
            (Request::DeletePrefix { .. }, Outcome::Ok { kvs, .. }) => kvs.as_slice(),
            _ => &[],
        };
        kvs.iter().map(|kv| kv.key.as_str())
    }

    /// The keys an acknowledged write surely deleted at its header revision, so a watch over
    /// that revision must carry their delete events: a prefix delete's, and the deletes of a
    /// delete or a txn branch that deleted as many keys as it has delete ops (a delete of an
    /// absent key creates no event, and is told apart only by that count).
    pub fn acknowledged_deletes(&self) -> Vec<&str> {
        let Outcome::Ok {
            succeeded,
            deleted: Some(n),
            ..
        } = &self.outcome
        else {
            return Vec::new();
        };
        if self.request.deleted_prefix().is_some() {
            return self.deleted_keys().collect();
        }
        let keys: Vec<&str> = self
            .request
            .writes(*succeeded)
            .into_iter()
            .filter_map(|(key, value)| value.is_none().then_some(key))
            .collect();
        if keys.len() as i64 == *n {
            keys
        } else {
            Vec::new()
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    pub events: Vec<Event>,
}

impl History {
    pub fn write_jsonl(&self, path: &Path) -> std::io::Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        for e in &self.events {
            serde_json::to_writer(&mut f, e)?;
            f.write_all(b"\n")?;
        }
        f.flush()
    }

    pub fn read_jsonl(path: &Path) -> std::io::Result<History> {
        let f = std::io::BufReader::new(std::fs::File::open(path)?);
        let mut events = Vec::new();
        for (n, line) in f.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let e = serde_json::from_str(&line).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}:{}: {e}", path.display(), n + 1),
                )
            })?;
            events.push(e);
        }
        Ok(History { events })
    }

    /// The prefix deletes' prefixes: keys a per-key split cannot judge alone.
    pub fn deleted_prefixes(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| e.request.deleted_prefix())
            .collect()
    }

    pub fn writes_acknowledged(&self) -> usize {
        self.events
            .iter()
            .filter(|e| e.request.is_write() && matches!(e.outcome, Outcome::Ok { .. }))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json_lines() {
        let h = History {
            events: vec![Event {
                client: 1,
                member: "m1".into(),
                invoke_us: 5,
                complete_us: 9,
                request: Request::Cas {
                    key: "k".into(),
                    expect: None,
                    value: "c1-1".into(),
                },
                outcome: Outcome::Ok {
                    revision: 4,
                    value: None,
                    succeeded: Some(true),
                    kvs: vec![],
                    deleted: None,
                    listed: None,
                },
            }],
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.jsonl");
        h.write_jsonl(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.contains("\"op\":\"cas\"") && text.contains("\"status\":\"ok\""),
            "{text}"
        );
        assert_eq!(History::read_jsonl(&p).unwrap(), h);
    }
}
