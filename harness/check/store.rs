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
//! - **compares**: a txn took the branch its compares select on the state it was applied to;
//! - **real time**: an operation that completed before another was invoked sits at a lower
//!   position (serializable gets excepted); an unknown write whose value was seen sits at the
//!   revision it was seen at, after everything that completed before it was invoked.
//!
//! An unknown write whose value no read or watch saw did not happen where the watch covered
//! the store (it would have delivered it). Where the watch did not cover (before it started, a
//! compacted gap), such a write may hide: a judgement it could change is counted *undecided*,
//! never passed.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::history::{CompareTarget, Event, History, Outcome, ReadKv, Request, WatchLog};

/// What the check concluded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreVerdict {
    /// Every violation, one line each (the first few of the real-time ones).
    pub violations: Vec<String>,
    /// Reads and compares the recorded evidence cannot decide.
    pub undecided: usize,
}

/// One key's changes: the value after the change at each revision (`None`: deleted).
type KeyTimeline = BTreeMap<i64, Option<String>>;

/// The store as the evidence shows it.
#[derive(Default)]
struct Timeline {
    keys: HashMap<String, KeyTimeline>,
    /// The revision each (key, value) was written at.
    written_at: HashMap<(String, String), i64>,
}

impl Timeline {
    /// Records that `key` was `value` from `revision` on, per `source`; a disagreement is a
    /// violation.
    fn insert(
        &mut self,
        key: &str,
        revision: i64,
        value: Option<&str>,
        source: &str,
        out: &mut Vec<String>,
    ) {
        let changes = self.keys.entry(key.to_string()).or_default();
        match changes.get(&revision) {
            Some(had) if had.as_deref() != value => out.push(format!(
                "{source} shows {key} = {} at revision {revision}, but it was {} there",
                show(value),
                show(had.as_deref())
            )),
            Some(_) => {}
            None => {
                changes.insert(revision, value.map(str::to_string));
            }
        }
        if let Some(v) = value {
            let at = self
                .written_at
                .entry((key.to_string(), v.to_string()))
                .or_insert(revision);
            if *at != revision {
                out.push(format!(
                    "{source} shows {key} = {v:?} written at revision {revision}, but it was written at {at}"
                ));
            }
        }
    }

    /// The key at `revision`: its value (`None`: absent) and mod revision (0 if absent), with
    /// the revision of the change that made it so (0: none recorded).
    fn at(&self, key: &str, revision: i64) -> (Option<&str>, i64, i64) {
        match self
            .keys
            .get(key)
            .and_then(|c| c.range(..=revision).next_back())
        {
            Some((r, Some(v))) => (Some(v.as_str()), *r, *r),
            Some((r, None)) => (None, 0, *r),
            None => (None, 0, 0),
        }
    }
}

fn show(v: Option<&str>) -> String {
    v.map_or("<absent>".into(), |v| format!("{v:?}"))
}

/// The revisions the watch delivered everything of: from its start to its last event, less
/// compacted gaps.
struct Coverage<'a>(&'a WatchLog, i64);

impl Coverage<'_> {
    /// Is every revision in `(after, upto]` covered?
    fn covers(&self, after: i64, upto: i64) -> bool {
        let (log, last) = (self.0, self.1);
        upto <= after
            || (after + 1 >= log.start_revision
                && upto <= last
                && !log
                    .compacted
                    .iter()
                    .any(|(a, b)| *a <= upto && *b > after + 1))
    }
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
        Request::Delete { .. } => deleted.unwrap_or(0) > 0,
        Request::Get { .. } => false,
        Request::Txn { .. } => {
            let writes = e.request.writes(*succeeded);
            writes.iter().any(|(_, v)| v.is_some()) || deleted.unwrap_or(0) > 0
        }
    }
}

/// The compares of a Cas or Txn, as (key, target).
fn compares(r: &Request) -> Vec<(&str, CompareTarget)> {
    match r {
        Request::Cas { key, expect, .. } => vec![(key, CompareTarget::Value(expect.clone()))],
        Request::Txn { compares, .. } => compares
            .iter()
            .map(|c| (c.key.as_str(), c.target.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

/// Does `target` hold on a key with `value` and `mod_revision`? (`None` if the timeline
/// cannot tell: version and create revision need the key's whole life.)
fn holds(target: &CompareTarget, value: Option<&str>, mod_revision: i64) -> Option<bool> {
    match target {
        CompareTarget::Value(expect) => Some(expect.as_deref() == value),
        CompareTarget::ModRevision(r) => Some(*r == mod_revision),
        CompareTarget::Version(_) | CompareTarget::CreateRevision(_) => None,
    }
}

/// Checks `history` (one epoch's, with its read-back) against the `watch` of the same keys.
pub fn check(history: &History, watch: &WatchLog) -> StoreVerdict {
    let mut out = Vec::new();
    let mut timeline = Timeline::default();
    let events = &history.events;
    // Writes that may have happened, by (key, value); and keys an unknown write may have
    // deleted.
    let mut may_have: HashSet<(&str, &str)> = HashSet::new();
    let mut unknown_deletes: HashSet<&str> = HashSet::new();
    let mut unknown_puts: HashSet<&str> = HashSet::new();
    for e in events {
        let succeeded = match &e.outcome {
            Outcome::Ok { succeeded, .. } => *succeeded,
            Outcome::Unknown { .. } => None,
            Outcome::Failed { .. } => continue,
        };
        for (k, v) in e.request.writes(succeeded) {
            match (v, &e.outcome) {
                (Some(v), _) => {
                    may_have.insert((k, v));
                    if matches!(e.outcome, Outcome::Unknown { .. }) {
                        unknown_puts.insert(k);
                    }
                }
                (None, Outcome::Unknown { .. }) => {
                    unknown_deletes.insert(k);
                }
                (None, _) => {}
            }
        }
        if let (Outcome::Ok { revision, .. }, true) = (&e.outcome, creates_revision(e)) {
            for (k, v) in e.request.writes(succeeded) {
                let source = format!("the write acknowledged to client {}", e.client);
                timeline.insert(k, *revision, v, &source, &mut out);
            }
        }
    }
    for ev in &watch.events {
        let source = format!("the watch on {}", ev.member);
        timeline.insert(&ev.key, ev.revision, ev.value.as_deref(), &source, &mut out);
    }
    for e in events {
        if let Outcome::Ok { kvs, .. } = &e.outcome {
            for kv in kvs.iter().filter(|kv| kv.value.is_some()) {
                let source = format!("a read by client {} on {}", e.client, e.member);
                timeline.insert(
                    &kv.key,
                    kv.mod_revision,
                    kv.value.as_deref(),
                    &source,
                    &mut out,
                );
            }
        }
    }
    // Nothing seen was invented, or written by a write that failed.
    for (k, changes) in &timeline.keys {
        for (r, v) in changes {
            if let Some(v) = v {
                if !may_have.contains(&(k.as_str(), v.as_str())) {
                    out.push(format!("{k} = {v:?} at revision {r} was seen, but no write of it may have happened"));
                }
            }
        }
    }
    let last = watch.events.last().map_or(0, |e| e.revision);
    let coverage = Coverage(watch, last);
    // May a write the evidence does not show sit in `(after, upto]` on `key`?
    let hidden = |key: &str, after: i64, upto: i64| {
        (unknown_puts.contains(key) || unknown_deletes.contains(key))
            && !coverage.covers(after, upto)
    };
    let mut undecided = 0;
    for (i, e) in events.iter().enumerate() {
        let Outcome::Ok {
            revision,
            succeeded,
            kvs,
            ..
        } = &e.outcome
        else {
            continue;
        };
        if *revision == 0 {
            continue;
        }
        // The state the request saw: before its own change, if it made one.
        let view = if creates_revision(e) {
            revision - 1
        } else {
            *revision
        };
        for kv in kvs {
            match judge_read(&timeline, kv, view, &hidden) {
                Judged::Agrees => {}
                Judged::Undecided => undecided += 1,
                Judged::Differs(why) => out.push(format!(
                    "event {i}: client {} on {} ({}) read at revision {view}: {why}",
                    e.client,
                    e.member,
                    describe(&e.request)
                )),
            }
        }
        let cmps = compares(&e.request);
        if cmps.is_empty() {
            continue;
        }
        let mut all = Some(true);
        let mut decidable = true;
        for (k, target) in &cmps {
            let (value, mod_revision, changed) = timeline.at(k, view);
            decidable &= !hidden(k, changed, view);
            all = match (all, holds(target, value, mod_revision)) {
                (Some(a), Some(h)) => Some(a && h),
                _ => None,
            };
        }
        match (all, decidable) {
            (Some(held), true) if Some(held) != *succeeded => out.push(format!(
                "event {i}: client {} on {} ({}) at revision {revision}: {} branch taken, but on the state at revision {view} its compares {}",
                e.client,
                e.member,
                describe(&e.request),
                if *succeeded == Some(true) { "then" } else { "else" },
                if held { "hold" } else { "do not hold" }
            )),
            (Some(_), true) => {}
            _ => undecided += 1,
        }
    }
    out.extend(real_time(events, &timeline));
    StoreVerdict {
        violations: out,
        undecided,
    }
}

enum Judged {
    Agrees,
    Undecided,
    Differs(String),
}

fn judge_read(
    timeline: &Timeline,
    kv: &ReadKv,
    view: i64,
    hidden: &impl Fn(&str, i64, i64) -> bool,
) -> Judged {
    let (value, mod_revision, changed) = timeline.at(&kv.key, view);
    if kv.value.as_deref() == value && kv.mod_revision == mod_revision {
        return Judged::Agrees;
    }
    if kv.mod_revision > view {
        return Judged::Differs(format!(
            "{} = {} has mod revision {}, after the revision it was served at",
            kv.key,
            show(kv.value.as_deref()),
            kv.mod_revision
        ));
    }
    // Read absent where the timeline has a value: a delete no evidence shows may explain it.
    if kv.value.is_none() && hidden(&kv.key, changed, view) {
        return Judged::Undecided;
    }
    Judged::Differs(format!(
        "{} = {} (mod revision {}), but the store held {} (mod revision {mod_revision})",
        kv.key,
        show(kv.value.as_deref()),
        kv.mod_revision,
        show(value)
    ))
}

/// Where an operation sits in the order the revisions give: a change at revision `r` at `2r`,
/// a read served at `R` at `2R + 1`.
fn position(e: &Event, timeline: &Timeline) -> Option<i64> {
    match &e.outcome {
        Outcome::Ok { revision, .. } if *revision > 0 => {
            if let Request::Get {
                serializable: true, ..
            } = e.request
            {
                return None;
            }
            Some(if creates_revision(e) {
                2 * revision
            } else {
                2 * revision + 1
            })
        }
        // An unknown write sits where its value was seen, if it was.
        Outcome::Unknown { .. } => e.request.writes(None).iter().find_map(|(k, v)| {
            let at = timeline
                .written_at
                .get(&(k.to_string(), (*v)?.to_string()))?;
            Some(2 * at)
        }),
        _ => None,
    }
}

/// Operations that completed before another was invoked sit before it. At most 3 violations.
fn real_time(events: &[Event], timeline: &Timeline) -> Vec<String> {
    let ops: Vec<(usize, i64)> = events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| Some((i, position(e, timeline)?)))
        .collect();
    let mut by_completion: Vec<(u64, usize, i64)> = ops
        .iter()
        .filter(|(i, _)| matches!(events[*i].outcome, Outcome::Ok { .. }))
        .map(|&(i, p)| (events[i].complete_us, i, p))
        .collect();
    by_completion.sort();
    let mut by_invocation = ops.clone();
    by_invocation.sort_by_key(|&(i, _)| events[i].invoke_us);
    let (mut next, mut latest): (usize, Option<(i64, usize)>) = (0, None);
    let mut out = Vec::new();
    for (i, p) in by_invocation {
        while next < by_completion.len() && by_completion[next].0 < events[i].invoke_us {
            let (_, j, q) = by_completion[next];
            if latest.is_none_or(|(m, _)| q > m) {
                latest = Some((q, j));
            }
            next += 1;
        }
        if let Some((q, j)) = latest.filter(|(q, _)| *q > p) {
            out.push(format!(
                "real time: event {j} (client {} on {}, {}) completed at {} µs at revision {}, before event {i} (client {} on {}, {}) was invoked at {} µs, which sits at revision {}",
                events[j].client, events[j].member, describe(&events[j].request), events[j].complete_us, q / 2,
                events[i].client, events[i].member, describe(&events[i].request), events[i].invoke_us, p / 2
            ));
            if out.len() == 3 {
                break;
            }
        }
    }
    out
}

fn describe(r: &Request) -> String {
    match r {
        Request::Put { key, value } => format!("put {key} = {value:?}"),
        Request::Delete { key } => format!("delete {key}"),
        Request::Cas { key, expect, value } => {
            format!("cas {key}: {} → {value:?}", show(expect.as_deref()))
        }
        Request::Get { key, serializable } => {
            format!(
                "get {key}{}",
                if *serializable { " (serializable)" } else { "" }
            )
        }
        Request::Txn { .. } => format!("txn on {}", r.keys().join(", ")),
    }
}

#[cfg(test)]
mod tests;
