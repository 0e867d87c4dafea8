//! Order: reads at a revision (ranges, txns' gets) and their refusals against what completed
//! before them, and real time against the positions the revisions give.

use super::creates_revision;
use super::timeline::{show, Timeline};
use crate::history::{Event, Outcome, ReadRefusal, Request};

/// Reads at a revision (a range's, a txn's gets') against what completed before they were
/// invoked: a linearizable one must not fail as a future revision at a revision an earlier
/// answer already carried, nor succeed below a compaction acknowledged before it. A txn is
/// refused whole for one get it cannot serve, and which one is not recorded: its refusal as
/// future is a violation only if every get it asked at a revision was below what it saw.
pub(super) fn refusals(events: &[Event]) -> Vec<String> {
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
        let reads = read_at(e);
        if reads.is_empty() {
            continue;
        }
        let (seen, compacted) = before(e.invoke_us);
        let why = match &e.outcome {
            Outcome::Failed {
                refused: Some(ReadRefusal::FutureRevision),
                ..
            } if reads.iter().all(|at| *at <= seen) => format!(
                "failed as a future revision, but an answer completed before it was invoked carried revision {seen}"
            ),
            Outcome::Ok { .. } if reads.iter().any(|at| *at < compacted) => format!(
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

/// The revisions a linearizable request read at, where it asked for some: a range's, or the
/// gets of a txn's taken branch (of both, where it was refused and took none).
fn read_at(e: &Event) -> Vec<i64> {
    let asked = match (&e.request, &e.outcome) {
        (
            Request::Range {
                revision,
                serializable: false,
                ..
            },
            _,
        ) => vec![*revision],
        (Request::Txn { .. }, Outcome::Ok { succeeded, .. }) => {
            e.request.read_revisions(*succeeded)
        }
        (Request::Txn { .. }, _) => e.request.read_revisions(None),
        _ => Vec::new(),
    };
    asked.into_iter().filter(|r| *r > 0).collect()
}

/// Where an operation sits in the order the revisions give: a change at revision `r` at `2r`,
/// a read served at `R` at `2R + 1`.
pub(super) fn position(e: &Event, timeline: &Timeline) -> Option<i64> {
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
pub(super) fn real_time(events: &[Event], timeline: &Timeline) -> Vec<String> {
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

pub(super) fn describe(r: &Request) -> String {
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
