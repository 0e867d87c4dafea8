//! Linearizability of the whole history against one model of the store with revisions: the
//! check multi-key txns need (a per-key split cannot see a txn's writes to other keys, nor
//! judge its compares on them), and the one etcd's API promises in its own terms.
//!
//! etcd orders every change by one revision counter, and every answer carries the revision it
//! was served at (the response header's). So the linearization is not searched for: it is
//! read off the answers, as etcd's robustness model does. A write that created revision `r`
//! sits at `r`; a read (or a write that changed nothing: a txn whose branch wrote nothing, a
//! delete of an absent key) served at revision `R` sits just after `r = R`. The check is then:
//!
//! - **one timeline per key**: the acknowledged writes at their revisions, every watch event,
//!   and every key a read returned at its mod revision must agree (one value per key and
//!   revision, one revision per value: values are unique per write), and a value read or
//!   watched must come from a write that may have happened;
//! - **reads**: every key a get or a txn's get returned equals the timeline's state at the
//!   revision it was served at (serializable gets too: they may lag in time, never in content);
//!   a range at revision `R` (0: the one it was served at) returned exactly the keys present
//!   at `R` in its span, each as it was at `R` (a keys-only range: its mod revision), and
//!   counted them all; a range at a revision above the one it was served at must have failed
//!   as a future revision, and a linearizable one must not fail so at a revision a request
//!   that completed before it already had; nor succeed below a compaction acknowledged before
//!   it was invoked;
//! - **compares**: a txn took the branch its compares select on the state it was applied to;
//! - **real time**: an operation that completed before another was invoked sits at a lower
//!   position (serializable gets excepted); an unknown write whose value was seen sits at the
//!   revision it was seen at, after everything that completed before it was invoked.
//!
//! An unknown write whose value no read or watch saw did not happen where the watch covered
//! the store (it would have delivered it). Where the watch did not cover (before it started, a
//! compacted gap), such a write may hide: a judgement it could change is counted *undecided*,
//! never passed.

mod judge;
mod order;
mod timeline;

use std::collections::HashSet;

use crate::history::{Event, History, Outcome, Request, WatchLog};
use judge::Judge;
use order::{real_time, refusals};
use timeline::{Coverage, Timeline};

/// What the check concluded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreVerdict {
    /// Every violation, one line each (the first few of the real-time ones).
    pub violations: Vec<String>,
    /// Reads and compares the recorded evidence cannot decide.
    pub undecided: usize,
}

/// Did `e` create a revision (and so its writes sit at its header revision)?
pub(crate) fn creates_revision(e: &Event) -> bool {
    let Outcome::Ok {
        succeeded, deleted, ..
    } = &e.outcome
    else {
        return false;
    };
    match &e.request {
        Request::Put { .. } => true,
        Request::Cas { .. } => *succeeded == Some(true),
        Request::Delete { .. } | Request::DeletePrefix { .. } => deleted.unwrap_or(0) > 0,
        Request::Get { .. } | Request::Range { .. } | Request::Compact { .. } | Request::Defrag => {
            false
        }
        Request::Txn { .. } => {
            let writes = e.request.writes(*succeeded);
            writes.iter().any(|(_, v)| v.is_some()) || deleted.unwrap_or(0) > 0
        }
    }
}

/// Checks `history` (one epoch's, with its read-back) against the `watch` of the same keys.
pub fn check(history: &History, watch: &WatchLog) -> StoreVerdict {
    let mut out = Vec::new();
    let events = &history.events;
    let possible = Possible::of(events);
    let timeline = evidence(events, watch, &mut out);
    // Nothing seen was invented, or written by a write that failed.
    for (k, changes) in &timeline.keys {
        for (r, v) in changes {
            if let Some(v) = v {
                if !possible.may_have.contains(&(k.as_str(), v.as_str())) {
                    out.push(format!("{k} = {v:?} at revision {r} was seen, but no write of it may have happened"));
                }
            }
        }
    }
    let last = watch.events.last().map_or(0, |e| e.revision);
    let coverage = Coverage(watch, last);
    // May a write the evidence does not show sit in `(after, upto]` on `key`?
    let hidden = |key: &str, after: i64, upto: i64| {
        possible.unknown_on(key) && !coverage.covers(after, upto)
    };
    // Every key a write may have touched, in key order: what a range may have to return.
    let written_keys: std::collections::BTreeSet<&str> = timeline
        .keys
        .keys()
        .map(String::as_str)
        .chain(possible.may_have.iter().map(|(k, _)| *k))
        .chain(possible.unknown_deletes.iter().copied())
        .collect();
    let judge = Judge {
        timeline: &timeline,
        written_keys: &written_keys,
        hidden: &hidden,
    };
    let mut undecided = 0;
    for (i, e) in events.iter().enumerate() {
        undecided += judge.event(i, e, &mut out);
    }
    out.extend(refusals(events));
    out.extend(real_time(events, &timeline));
    StoreVerdict {
        violations: out,
        undecided,
    }
}

/// The writes that may have happened, by (key, value), and what the unknown ones leave open:
/// keys an unknown write may have put or deleted, prefixes an unknown prefix delete may have
/// deleted any key under.
#[derive(Default)]
struct Possible<'a> {
    may_have: HashSet<(&'a str, &'a str)>,
    unknown_deletes: HashSet<&'a str>,
    unknown_puts: HashSet<&'a str>,
    unknown_prefixes: Vec<&'a str>,
}

impl<'a> Possible<'a> {
    fn of(events: &'a [Event]) -> Possible<'a> {
        let mut p = Possible::default();
        for e in events {
            let succeeded = match &e.outcome {
                Outcome::Ok { succeeded, .. } => *succeeded,
                Outcome::Unknown { .. } => None,
                Outcome::Failed { .. } => continue,
            };
            let unknown = matches!(e.outcome, Outcome::Unknown { .. });
            for (k, v) in e.request.writes(succeeded) {
                match v {
                    Some(v) => {
                        p.may_have.insert((k, v));
                        if unknown {
                            p.unknown_puts.insert(k);
                        }
                    }
                    None if unknown => {
                        p.unknown_deletes.insert(k);
                    }
                    None => {}
                }
            }
            if let (Some(prefix), true) = (e.request.deleted_prefix(), unknown) {
                p.unknown_prefixes.push(prefix);
            }
        }
        p
    }

    /// May an unknown write have changed `key`?
    fn unknown_on(&self, key: &str) -> bool {
        self.unknown_puts.contains(key)
            || self.unknown_deletes.contains(key)
            || self.unknown_prefixes.iter().any(|p| key.starts_with(p))
    }
}

/// Every key's changes as the evidence shows them: acknowledged writes at their revisions,
/// the watch's events, and every value read (or returned as a write's previous key-value) at
/// its mod revision. Two sources disagreeing on one revision is a violation in `out`.
fn evidence(events: &[Event], watch: &WatchLog, out: &mut Vec<String>) -> Timeline {
    let mut timeline = Timeline::default();
    for e in events {
        if let (
            Outcome::Ok {
                revision,
                succeeded,
                ..
            },
            true,
        ) = (&e.outcome, creates_revision(e))
        {
            let source = format!("the write acknowledged to client {}", e.client);
            for (k, v) in e.request.writes(*succeeded) {
                timeline.insert(k, *revision, v, &source, out);
            }
            for k in e.deleted_keys() {
                timeline.insert(k, *revision, None, &source, out);
            }
        }
    }
    for ev in &watch.events {
        let source = format!("the watch on {}", ev.member);
        timeline.insert(&ev.key, ev.revision, ev.value.as_deref(), &source, out);
    }
    for e in events {
        if let Outcome::Ok { kvs, .. } = &e.outcome {
            // A value is a read's, or the previous key-value of a write that asked for it.
            for kv in kvs.iter().filter(|kv| kv.value.is_some()) {
                let source = format!("a read by client {} on {}", e.client, e.member);
                timeline.insert(&kv.key, kv.mod_revision, kv.value.as_deref(), &source, out);
            }
        }
    }
    timeline
}

#[cfg(test)]
mod tests;
