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

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::history::{
    CompareTarget, Event, History, Listed, Outcome, ReadKv, ReadRefusal, Request, WatchLog,
};

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

impl Timeline {
    /// The key's life at `revision`: its version (puts since it was created), its create
    /// revision (0: absent), and the revision of the delete before that creation (0: none
    /// recorded), after which every change must be known for the first two to be.
    fn life(&self, key: &str, revision: i64) -> (i64, i64, i64) {
        let Some(changes) = self.keys.get(key) else {
            return (0, 0, 0);
        };
        let (mut version, mut created) = (0, 0);
        for (r, v) in changes.range(..=revision).rev() {
            if v.is_none() {
                return (version, created, *r);
            }
            version += 1;
            created = *r;
        }
        (version, created, 0)
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

/// Does `target` hold on a key with `value` and `mod_revision`, `version` and
/// `create_revision`?
fn holds(
    target: &CompareTarget,
    (value, mod_revision): (Option<&str>, i64),
    (version, create_revision): (i64, i64),
) -> bool {
    match target {
        CompareTarget::Value(expect) => expect.as_deref() == value,
        CompareTarget::ModRevision(r) => *r == mod_revision,
        CompareTarget::Version(v) => *v == version,
        CompareTarget::CreateRevision(r) => *r == create_revision,
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

/// What one acknowledged request is judged against.
struct Judge<'a, H: Fn(&str, i64, i64) -> bool> {
    timeline: &'a Timeline,
    written_keys: &'a std::collections::BTreeSet<&'a str>,
    /// May a write the evidence does not show sit in `(after, upto]` on `key`?
    hidden: &'a H,
}

impl<H: Fn(&str, i64, i64) -> bool> Judge<'_, H> {
    /// Judges event `i`'s reads, listing and compares against the state it saw, pushing
    /// violations into `out`; returns how many it could not decide.
    fn event(&self, i: usize, e: &Event, out: &mut Vec<String>) -> usize {
        let Outcome::Ok {
            revision,
            succeeded,
            kvs,
            ..
        } = &e.outcome
        else {
            return 0;
        };
        if *revision == 0 {
            return 0;
        }
        let who = format!(
            "client {} on {} ({})",
            e.client,
            e.member,
            describe(&e.request)
        );
        // The state the request saw: before its own change, if it made one; a range's at the
        // revision it asked for.
        let view = match &e.request {
            Request::Range { revision: at, .. } if *at > 0 => *at,
            _ if creates_revision(e) => revision - 1,
            _ => *revision,
        };
        if let Some((range, listed)) = listing(e, view) {
            let (bad, unsure) = judge_range(
                &range,
                (*revision, kvs, listed),
                self.timeline,
                self.written_keys,
                self.hidden,
            );
            out.extend(
                bad.into_iter()
                    .map(|why| format!("event {i}: {who} served at revision {revision}: {why}")),
            );
            return unsure;
        }
        let mut undecided = 0;
        for kv in kvs {
            match judge_read(self.timeline, kv, view, false, self.hidden) {
                Judged::Agrees => {}
                Judged::Undecided => undecided += 1,
                Judged::Differs(why) => {
                    out.push(format!("event {i}: {who} read at revision {view}: {why}"))
                }
            }
        }
        let cmps = compares(&e.request);
        if cmps.is_empty() {
            return undecided;
        }
        match compares_hold(self.timeline, &cmps, view, self.hidden) {
            Some(held) if Some(held) != *succeeded => out.push(format!(
                "event {i}: {who} at revision {revision}: {} branch taken, but on the state at revision {view} its compares {}",
                if *succeeded == Some(true) { "then" } else { "else" },
                if held { "hold" } else { "do not hold" }
            )),
            Some(_) => {}
            None => undecided += 1,
        }
        undecided
    }
}

/// A range, or a prefix delete as the range just below its revision (none, if it deleted
/// nothing, at its own) that it returned and counted: with what it said it listed.
fn listing(e: &Event, view: i64) -> Option<(std::borrow::Cow<'_, Request>, Option<Listed>)> {
    let Outcome::Ok {
        listed, deleted, ..
    } = &e.outcome
    else {
        return None;
    };
    match &e.request {
        Request::Range { .. } => Some((std::borrow::Cow::Borrowed(&e.request), *listed)),
        Request::DeletePrefix { prefix } => Some((
            std::borrow::Cow::Owned(Request::Range {
                prefix: prefix.clone(),
                start: prefix.clone(),
                revision: view,
                limit: 0,
                keys_only: false,
                serializable: false,
            }),
            Some(Listed {
                count: deleted.unwrap_or_default(),
                more: false,
            }),
        )),
        _ => None,
    }
}

/// Whether every compare holds on the state at `view`; `None` if a write the evidence does
/// not show may hide there (a version or create revision is known only if the key's whole
/// life is).
fn compares_hold(
    timeline: &Timeline,
    cmps: &[(&str, CompareTarget)],
    view: i64,
    hidden: &impl Fn(&str, i64, i64) -> bool,
) -> Option<bool> {
    let mut held = true;
    for (k, target) in cmps {
        let (value, mod_revision, changed) = timeline.at(k, view);
        let (version, created, since) = timeline.life(k, view);
        let known_since = match target {
            CompareTarget::Version(_) | CompareTarget::CreateRevision(_) => since,
            _ => changed,
        };
        if hidden(k, known_since, view) {
            return None;
        }
        held &= holds(target, (value, mod_revision), (version, created));
    }
    Some(held)
}

enum Judged {
    Agrees,
    Undecided,
    Differs(String),
}

/// A key as read at `view`, against the timeline; `keys_only`: the read returned no value, so
/// its mod revision alone says what it saw (one value per revision).
fn judge_read(
    timeline: &Timeline,
    kv: &ReadKv,
    view: i64,
    keys_only: bool,
    hidden: &impl Fn(&str, i64, i64) -> bool,
) -> Judged {
    let (value, mod_revision, changed) = timeline.at(&kv.key, view);
    if kv.mod_revision == mod_revision && (keys_only || kv.value.as_deref() == value) {
        // Where the read recorded them, its version and create revision must be the key's
        // life too (known if no write may hide since the delete before its creation).
        let (version, created, since) = timeline.life(&kv.key, view);
        if kv.version > 0 && (kv.version, kv.create_revision) != (version, created) {
            if hidden(&kv.key, since, view) {
                return Judged::Undecided;
            }
            return Judged::Differs(format!(
                "{} = {} has version {} and create revision {}, but its writes give version {version} and create revision {created}",
                kv.key,
                show(kv.value.as_deref()),
                kv.version,
                kv.create_revision
            ));
        }
        return Judged::Agrees;
    }
    if keys_only && kv.mod_revision == 0 && hidden(&kv.key, changed, view) {
        return Judged::Undecided;
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

/// A successful range: what it returned and counted against the keys present at the revision
/// it read. Returns the violations and the number of undecided judgements.
fn judge_range(
    r: &Request,
    (served, kvs, listed): (i64, &[ReadKv], Option<Listed>),
    timeline: &Timeline,
    written_keys: &std::collections::BTreeSet<&str>,
    hidden: &impl Fn(&str, i64, i64) -> bool,
) -> (Vec<String>, usize) {
    let Request::Range {
        prefix,
        start,
        revision,
        keys_only,
        ..
    } = r
    else {
        return (Vec::new(), 0);
    };
    let (mut bad, mut unsure) = (Vec::new(), 0);
    if *revision > served {
        bad.push(format!(
            "it read revision {revision}, a future one, instead of failing"
        ));
        return (bad, unsure);
    }
    let view = if *revision > 0 { *revision } else { served };
    let in_span = |k: &str| k.starts_with(prefix.as_str()) && k >= start.as_str();
    if let Some(k) = kvs.iter().find(|kv| !in_span(&kv.key)) {
        bad.push(format!("it returned {}, outside its range", k.key));
    }
    if kvs.windows(2).any(|w| w[0].key >= w[1].key) {
        bad.push("its keys are not in ascending order".into());
    }
    let mut judge = |kv: &ReadKv, bad: &mut Vec<String>| match judge_read(
        timeline, kv, view, *keys_only, hidden,
    ) {
        Judged::Agrees => {}
        Judged::Undecided => unsure += 1,
        Judged::Differs(why) => bad.push(format!("at revision {view}: {why}")),
    };
    for kv in kvs {
        judge(kv, &mut bad);
    }
    // Keys present at `view` that it should have returned: every one in its span, up to its
    // last key if it stopped at its limit.
    let more = listed.is_some_and(|l| l.more);
    let upto = if more {
        kvs.last().map(|kv| kv.key.as_str())
    } else {
        None
    };
    let returned: HashSet<&str> = kvs.iter().map(|kv| kv.key.as_str()).collect();
    let mut present = 0;
    let mut count_decidable = true;
    for &k in written_keys.iter().filter(|k| in_span(k)) {
        let (value, _, changed) = timeline.at(k, view);
        count_decidable &= !hidden(k, changed, view);
        if value.is_none() {
            continue;
        }
        present += 1;
        let expected = upto.is_none_or(|last| k <= last);
        if expected && !returned.contains(k) {
            let absent = ReadKv {
                key: k.to_string(),
                ..ReadKv::default()
            };
            judge(&absent, &mut bad);
        }
    }
    if let Some(l) = listed {
        if l.more != (l.count > kvs.len() as i64) {
            bad.push(format!(
                "it returned {} keys of {} but said more = {}",
                kvs.len(),
                l.count,
                l.more
            ));
        }
        if l.count != present {
            if count_decidable {
                bad.push(format!(
                    "it counted {} keys, but {present} were present at revision {view}",
                    l.count
                ));
            } else {
                unsure += 1;
            }
        }
    }
    (bad, unsure)
}

/// Ranges at a revision against what completed before they were invoked: a linearizable one
/// must not fail as a future revision at a revision an earlier answer already carried, nor
/// succeed below a compaction acknowledged before it.
fn refusals(events: &[Event]) -> Vec<String> {
    // (completion, header revision, compacted-below), by completion.
    let mut done: Vec<(u64, i64, i64)> = events
        .iter()
        .filter(|e| !e.request.is_serializable())
        .filter_map(|e| match (&e.outcome, &e.request) {
            (Outcome::Ok { revision, .. }, Request::Compact { revision: below }) => {
                Some((e.complete_us, *revision, *below))
            }
            (Outcome::Ok { revision, .. }, _) => Some((e.complete_us, *revision, 0)),
            _ => None,
        })
        .collect();
    done.sort_unstable();
    let mut highest = Vec::with_capacity(done.len());
    let (mut rev, mut compacted) = (0, 0);
    for &(t, r, c) in &done {
        rev = i64::max(rev, r);
        compacted = i64::max(compacted, c);
        highest.push((t, rev, compacted));
    }
    // The highest revision and compaction completed before `t`.
    let before = |t: u64| {
        let n = highest.partition_point(|&(c, _, _)| c < t);
        n.checked_sub(1)
            .map_or((0, 0), |i| (highest[i].1, highest[i].2))
    };
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let Request::Range {
            revision: at,
            serializable: false,
            ..
        } = &e.request
        else {
            continue;
        };
        if *at == 0 {
            continue;
        }
        let (seen, compacted) = before(e.invoke_us);
        let why = match &e.outcome {
            Outcome::Failed {
                refused: Some(ReadRefusal::FutureRevision),
                ..
            } if *at <= seen => format!(
                "failed as a future revision, but an answer completed before it was invoked carried revision {seen}"
            ),
            Outcome::Ok { .. } if *at < compacted => format!(
                "succeeded, but a compaction below revision {compacted} was acknowledged before it was invoked"
            ),
            _ => continue,
        };
        out.push(format!(
            "event {i}: client {} on {} ({}): {why}",
            e.client,
            e.member,
            describe(&e.request)
        ));
    }
    out
}

/// Where an operation sits in the order the revisions give: a change at revision `r` at `2r`,
/// a read served at `R` at `2R + 1`.
fn position(e: &Event, timeline: &Timeline) -> Option<i64> {
    match &e.outcome {
        Outcome::Ok { revision, .. } if *revision > 0 => {
            if e.request.is_serializable() {
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
        Request::Put { key, value, .. } => format!("put {key} = {value:?}"),
        Request::Delete { key, .. } => format!("delete {key}"),
        Request::DeletePrefix { prefix } => format!("delete prefix {prefix}"),
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
        Request::Range {
            prefix,
            start,
            revision,
            limit,
            keys_only,
            serializable,
        } => {
            let mut d = format!("range {start}..{prefix}*");
            if *revision > 0 {
                d += &format!(" at revision {revision}");
            }
            if *limit > 0 {
                d += &format!(" limit {limit}");
            }
            if *keys_only {
                d += " keys-only";
            }
            if *serializable {
                d += " (serializable)";
            }
            d
        }
        Request::Compact { revision } => format!("compact below {revision}"),
        Request::Defrag => "defrag".into(),
    }
}

#[cfg(test)]
mod tests;
