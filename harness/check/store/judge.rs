//! One acknowledged request judged against the timeline: a read's keys, a range's span and
//! count, a txn's compares.

use std::collections::{BTreeSet, HashSet};

use super::creates_revision;
use super::order::describe;
use super::timeline::{show, Timeline};
use crate::history::{CompareTarget, Event, Listed, Outcome, ReadKv, Request};

/// The compares of a Cas or Txn, as (key, target).
pub(super) fn compares(r: &Request) -> Vec<(&str, CompareTarget)> {
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
pub(super) fn holds(
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

/// What one acknowledged request is judged against.
pub(super) struct Judge<'a, H: Fn(&str, i64, i64) -> bool> {
    pub(super) timeline: &'a Timeline,
    pub(super) written_keys: &'a BTreeSet<&'a str>,
    /// May a write the evidence does not show sit in `(after, upto]` on `key`?
    pub(super) hidden: &'a H,
}

impl<H: Fn(&str, i64, i64) -> bool> Judge<'_, H> {
    /// Judges event `i`'s reads, listing and compares against the state it saw, pushing
    /// violations into `out`; returns how many it could not decide.
    pub(super) fn event(&self, i: usize, e: &Event, out: &mut Vec<String>) -> usize {
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
        // A txn's gets, each at its own revision where it asked for one.
        let asked = e.request.read_revisions(*succeeded);
        for (n, kv) in kvs.iter().enumerate() {
            let at = asked.get(n).copied().filter(|r| *r > 0).unwrap_or(view);
            if at > view {
                out.push(format!(
                    "event {i}: {who} at revision {revision}: its get of {} at revision {at} was answered, but the txn read the store at revision {view}: it must have been refused as a future revision",
                    kv.key
                ));
                continue;
            }
            match judge_read(self.timeline, kv, at, false, self.hidden) {
                Judged::Agrees => {}
                Judged::Undecided => undecided += 1,
                Judged::Differs(why) => {
                    out.push(format!("event {i}: {who} read at revision {at}: {why}"))
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
pub(super) fn listing(
    e: &Event,
    view: i64,
) -> Option<(std::borrow::Cow<'_, Request>, Option<Listed>)> {
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
pub(super) fn compares_hold(
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

pub(super) enum Judged {
    Agrees,
    Undecided,
    Differs(String),
}

/// A key as read at `view`, against the timeline; `keys_only`: the read returned no value, so
/// its mod revision alone says what it saw (one value per revision).
pub(super) fn judge_read(
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
pub(super) fn judge_range(
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
