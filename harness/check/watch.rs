//! Watch checks against the recorded history: events arrive in revision order without gaps or
//! duplicates, across the watcher's moves between members, and each matches a write that was
//! made (same key, value and revision as acknowledged); a progress notification never runs
//! ahead of the events (bookmarkable); each event's is-create flag and previous key-value
//! agree with the key's events before it (is-create, prev-kv); the short-lived watches beside
//! it agree with it ([`super::short_watch`]).

use std::collections::{BTreeMap, HashMap};

use crate::history::{History, Outcome, PrevProbe, WatchEvent, WatchLog};

/// Every violation, one line each.
pub fn check(log: &WatchLog, history: &History) -> Vec<String> {
    let mut out = judge(log, &Written::of(history));
    out.extend(agreed(log));
    out
}

/// What the history says was written: what a watch may show, and what it must.
#[derive(Default)]
struct Written<'a> {
    /// Puts by (key, value) (values are unique per write), at their revision if acknowledged.
    writes: HashMap<(&'a str, &'a str), Option<i64>>,
    /// Keys a delete that did not fail may have deleted.
    deletes: HashMap<&'a str, usize>,
    /// Prefixes an unknown prefix delete may have deleted any key under.
    unknown_prefixes: Vec<&'a str>,
    /// Acknowledged puts by revision: a watch over the revision must show them.
    acked: BTreeMap<i64, Vec<(&'a str, &'a str)>>,
    /// Keys surely deleted by acknowledged writes, by revision: likewise.
    acked_deletes: BTreeMap<i64, Vec<&'a str>>,
}

impl<'a> Written<'a> {
    fn of(history: &'a History) -> Written<'a> {
        let mut w = Written::default();
        for e in &history.events {
            let (revision, succeeded) = match &e.outcome {
                Outcome::Ok {
                    revision,
                    succeeded,
                    ..
                } => (Some(*revision), *succeeded),
                // Might have taken effect: may show up, at a revision we do not know.
                Outcome::Unknown { .. } => (None, None),
                // Failed: must never show up.
                Outcome::Failed { .. } => continue,
            };
            // A txn's writes are those of the branch it took (both, if not known).
            for (key, value) in e.request.writes(succeeded) {
                match value {
                    Some(value) => {
                        w.writes.insert((key, value), revision);
                        if let Some(r) = revision {
                            w.acked.entry(r).or_default().push((key, value));
                        }
                    }
                    None => *w.deletes.entry(key).or_default() += 1,
                }
            }
            for key in e.deleted_keys() {
                *w.deletes.entry(key).or_default() += 1;
            }
            if let Some(r) = revision {
                let gone = e.acknowledged_deletes();
                if !gone.is_empty() {
                    w.acked_deletes.entry(r).or_default().extend(gone);
                }
            }
            if let (Some(p), None) = (e.request.deleted_prefix(), revision) {
                w.unknown_prefixes.push(p);
            }
        }
        w
    }
}

/// [`check`] against the history's writes, indexed once for the watch and its collectors.
fn judge(log: &WatchLog, written: &Written) -> Vec<String> {
    let mut out = Vec::new();
    for w in log.events.windows(2) {
        // A txn's writes share one revision (distinct keys); anything else goes forward.
        let same_txn = w[1].revision == w[0].revision && w[1].key != w[0].key;
        if w[1].revision <= w[0].revision && !same_txn {
            out.push(format!(
                "watch event at revision {} ({} on {}) after revision {} ({}): out of order or duplicated",
                w[1].revision, w[1].key, w[1].member, w[0].revision, w[0].key
            ));
        }
    }
    for ev in &log.events {
        match &ev.value {
            Some(v) => match written.writes.get(&(ev.key.as_str(), v.as_str())) {
                None => out.push(format!("watch event {} = {v:?} at revision {} matches no write in the history", ev.key, ev.revision)),
                Some(Some(r)) if *r != ev.revision => out.push(format!(
                    "watch event {} = {v:?} at revision {}, but the write was acknowledged at revision {r}",
                    ev.key, ev.revision
                )),
                _ => {}
            },
            None if !written.deletes.contains_key(ev.key.as_str())
                && !written.unknown_prefixes.iter().any(|p| ev.key.starts_with(p)) =>
            {
                out.push(format!("watch delete of {} at revision {} matches no delete in the history", ev.key, ev.revision))
            }
            None => {}
        }
    }
    out.extend(atomic(&log.events));
    out.extend(bookmarks(log));
    out.extend(created_and_prev(log));
    out.extend(prev_kv_withheld(&log.prev_probes));
    out.extend(super::short_watch::check(log));
    out.extend(collectors(log, written));
    out.extend(gaps(log, written));
    out
}

/// Reliable: every acknowledged write inside the watched range was delivered, puts and
/// deletes alike (outside the ranges a compaction made it skip).
fn gaps(log: &WatchLog, written: &Written) -> Vec<String> {
    let mut out = Vec::new();
    let Some(last) = log.events.last().map(|e| e.revision) else {
        return out;
    };
    let seen = sent(&log.events);
    let missed = |r: i64, key: &str| {
        !seen.contains(&(r, key)) && !log.compacted.iter().any(|(a, b)| (*a..*b).contains(&r))
    };
    let watched = log.start_revision..=last;
    for (r, puts) in written.acked.range(watched.clone()) {
        for (key, value) in puts.iter().filter(|(key, _)| missed(*r, key)) {
            out.push(format!(
                "watch missed {key} = {value:?} acknowledged at revision {r} (watched {}..={last})",
                log.start_revision
            ));
        }
    }
    for (r, keys) in written.acked_deletes.range(watched) {
        for key in keys.iter().filter(|key| missed(*r, key)) {
            out.push(format!(
                "watch missed the delete of {key} acknowledged at revision {r} (watched {}..={last})",
                log.start_revision
            ));
        }
    }
    out
}

/// What a watch was sent, by (revision, key).
pub(super) fn sent(events: &[WatchEvent]) -> std::collections::HashSet<(i64, &str)> {
    events
        .iter()
        .map(|e| (e.revision, e.key.as_str()))
        .collect()
}

/// Atomic: a revision's events all come in one watch response, never split over two (etcd's
/// API guarantees; its robustness suite's `validateAtomic`). At most one line.
pub(super) fn atomic(events: &[WatchEvent]) -> Option<String> {
    let split = events
        .windows(2)
        .find(|w| w[1].opens_response && w[1].revision == w[0].revision && w[1].key != w[0].key)?;
    Some(format!(
        "watch events of revision {} split over two responses ({} on {}, then {} on {} in the next one): not atomic",
        split[0].revision, split[0].key, split[0].member, split[1].key, split[1].member
    ))
}

/// The watcher and the collectors, merged as etcd's robustness suite merges its watches: one
/// event per key and revision whichever watch sent it (two watches that disagree on it are a
/// violation), and each watch sent every event of the merged history inside what it covered
/// (from its start to its last event, outside its compacted gaps): reliable against what any
/// watch saw, which reaches the writes whose outcome the client never learnt. At most
/// [`DISAGREEMENTS_SHOWN`] disagreements and one miss per watch.
fn agreed(log: &WatchLog) -> Vec<String> {
    let watches: Vec<&WatchLog> = std::iter::once(log).chain(&log.members).collect();
    let name = |w: &WatchLog| match w.resumes.first() {
        Some((member, _)) if !std::ptr::eq(w, log) => format!("the collector pinned to {member}"),
        _ => "the watch".to_string(),
    };
    let mut out = Vec::new();
    let mut disagreements = 0;
    let mut merged: BTreeMap<(i64, &str), (&WatchEvent, &WatchLog)> = BTreeMap::new();
    for w in &watches {
        for e in &w.events {
            let (had, by) = *merged.entry((e.revision, e.key.as_str())).or_insert((e, w));
            if had.value != e.value {
                disagreements += 1;
            }
            if had.value != e.value && disagreements <= DISAGREEMENTS_SHOWN {
                out.push(format!(
                    "{} sent {} = {:?} at revision {} (on {}), {} sent {:?} (on {}): watches disagree",
                    name(w), e.key, e.value, e.revision, e.member, name(by), had.value, had.member
                ));
            }
        }
    }
    if disagreements > DISAGREEMENTS_SHOWN {
        out.push(format!(
            "watches disagree on {} more events",
            disagreements - DISAGREEMENTS_SHOWN
        ));
    }
    for w in &watches {
        let Some(last) = w.events.last().map(|e| e.revision) else {
            continue;
        };
        let got = sent(&w.events);
        let missed = merged
            .range((w.start_revision, "")..)
            .find(|((r, key), _)| {
                *r <= last
                    && !got.contains(&(*r, *key))
                    && !w.compacted.iter().any(|(a, b)| (*a..*b).contains(r))
            });
        if let Some(((r, key), (e, by))) = missed {
            out.push(format!(
                "{} missed {key} = {:?} at revision {r}, which {} was sent (on {}; watched {}..={last})",
                name(w), e.value, name(by), e.member, w.start_revision
            ));
        }
    }
    out
}

/// A diverged cluster disagrees on every event after the divergence: the first few say where.
const DISAGREEMENTS_SHOWN: usize = 3;

/// Each member's pinned collector, judged as the watch is.
fn collectors(log: &WatchLog, written: &Written) -> Vec<String> {
    let mut out = Vec::new();
    for m in &log.members {
        let on = m.resumes.first().map_or("?", |(member, _)| member.as_str());
        if let Some(s) = &m.stalled {
            out.push(format!(
                "the collector pinned to {}: its watch stream stalled at revision {} while {} was at revision {} (nothing sent for {} ms after the traffic stopped)",
                s.member, s.reached, s.member, s.member_revision, s.quiet_ms
            ));
        }
        out.extend(
            judge(m, written)
                .into_iter()
                .map(|v| format!("the collector pinned to {on}: {v}")),
        );
    }
    out
}

/// Prev-kv: an event sent without the previous key-value asked for, whose member still served
/// that key-value just below the event's revision afterwards (so it was not compacted away).
pub(super) fn prev_kv_withheld(probes: &[PrevProbe]) -> Vec<String> {
    probes
        .iter()
        .filter_map(|p| {
            let kv = p.served.as_ref()?;
            Some(format!(
                "watch event {} at revision {} (on {}, event {} of its stream) came without its previous key-value, which {} still served at revision {}: {:?} (mod revision {})",
                p.key, p.revision, p.member, p.nth + 1, p.member, p.revision - 1, kv.value, kv.mod_revision
            ))
        })
        .collect()
}

/// Bookmarkable: after a progress notification at revision `R`, every event is above `R`
/// (the notification promised everything up to `R` had been sent).
fn bookmarks(log: &WatchLog) -> Vec<String> {
    let mut out = Vec::new();
    for p in &log.progress {
        if let Some(e) = log.events[p.after.min(log.events.len())..]
            .iter()
            .find(|e| e.revision <= p.revision)
        {
            out.push(format!(
                "progress notification at revision {} (on {}) before the watch event at revision {} ({} on {}): it ran ahead of the events",
                p.revision, p.member, e.revision, e.key, e.member
            ));
        }
    }
    out
}

/// Is-create and prev-kv: each key's state as its own events leave it (unknown before its
/// first event in the watch and across a compacted gap), against what the next event says it
/// was: created only if it was absent, a previous key-value (when sent: etcd sends none for a
/// previous revision already compacted) equal to it, a delete only of a present key.
fn created_and_prev(log: &WatchLog) -> Vec<String> {
    let mut out = Vec::new();
    // key -> (revision of its last event, its value then: None if deleted).
    let mut last: HashMap<&str, (i64, Option<&str>)> = HashMap::new();
    let gap_between = |a: i64, b: i64| log.compacted.iter().any(|(from, to)| *from <= b && *to > a);
    for e in &log.events {
        let before = last
            .get(e.key.as_str())
            .filter(|(r, _)| !gap_between(*r, e.revision))
            .map(|(r, v)| (*r, *v));
        last.insert(&e.key, (e.revision, e.value.as_deref()));
        let Some((prev_revision, prev_value)) = before else {
            continue;
        };
        let was = match prev_value {
            Some(v) => format!("{v:?} (mod revision {prev_revision})"),
            None => format!("absent (deleted at revision {prev_revision})"),
        };
        let at = format!("watch event {} at revision {}", e.key, e.revision);
        if e.value.is_some() && e.created != prev_value.is_none() {
            out.push(format!(
                "{at}: is-create {}, but the key was {was} before it",
                e.created
            ));
        }
        if e.value.is_none() && prev_value.is_none() {
            out.push(format!("{at}: a delete, but the key was {was} before it"));
        }
        if let Some(p) = &e.prev {
            if prev_value != Some(p.value.as_str()) || p.mod_revision != prev_revision {
                out.push(format!(
                    "{at}: prev_kv {:?} (mod revision {}), but the key was {was} before it",
                    p.value, p.mod_revision
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
