//! Watch checks against the recorded history: events arrive in revision order without gaps or
//! duplicates, across the watcher's moves between members, and each matches a write that was
//! made (same key, value and revision as acknowledged).

use std::collections::{BTreeMap, HashMap};

use crate::history::{History, Outcome, WatchLog};

/// Every violation, one line each.
pub fn check(log: &WatchLog, history: &History) -> Vec<String> {
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
    // Writes by (key, value): values are unique per write.
    let mut writes: HashMap<(&str, &str), Option<i64>> = HashMap::new();
    let mut deletes: HashMap<&str, usize> = HashMap::new();
    let mut acked: BTreeMap<i64, Vec<(&str, &str)>> = BTreeMap::new();
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
                    writes.insert((key, value), revision);
                    if let Some(r) = revision {
                        acked.entry(r).or_default().push((key, value));
                    }
                }
                None => *deletes.entry(key).or_default() += 1,
            }
        }
    }
    for ev in &log.events {
        match &ev.value {
            Some(v) => match writes.get(&(ev.key.as_str(), v.as_str())) {
                None => out.push(format!("watch event {} = {v:?} at revision {} matches no write in the history", ev.key, ev.revision)),
                Some(Some(r)) if *r != ev.revision => out.push(format!(
                    "watch event {} = {v:?} at revision {}, but the write was acknowledged at revision {r}",
                    ev.key, ev.revision
                )),
                _ => {}
            },
            None if !deletes.contains_key(ev.key.as_str()) => {
                out.push(format!("watch delete of {} at revision {} matches no delete in the history", ev.key, ev.revision))
            }
            None => {}
        }
    }
    // No gaps: every acknowledged write inside the watched range was delivered.
    let Some(last) = log.events.last().map(|e| e.revision) else {
        return out;
    };
    let seen: std::collections::HashSet<(i64, &str)> = log
        .events
        .iter()
        .map(|e| (e.revision, e.key.as_str()))
        .collect();
    let compacted = |r: i64| log.compacted.iter().any(|(a, b)| (*a..*b).contains(&r));
    let acked = acked
        .range(log.start_revision..=last)
        .flat_map(|(r, w)| w.iter().map(move |kv| (r, kv)));
    for (r, (key, value)) in acked {
        if !seen.contains(&(*r, *key)) && !compacted(*r) {
            out.push(format!(
                "watch missed {key} = {value:?} acknowledged at revision {r} (watched {}..={last})",
                log.start_revision
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Event, Request, WatchEvent};

    fn put(key: &str, value: &str, revision: i64) -> Event {
        Event {
            client: 1,
            member: "m1".into(),
            invoke_us: 0,
            complete_us: 1,
            request: Request::Put {
                key: key.into(),
                value: value.into(),
            },
            outcome: Outcome::Ok {
                revision,
                value: None,
                succeeded: None,
                kvs: vec![],
                deleted: None,
            },
        }
    }
    fn ev(key: &str, value: Option<&str>, revision: i64) -> WatchEvent {
        WatchEvent {
            member: "m2".into(),
            revision,
            key: key.into(),
            value: value.map(str::to_string),
            at_us: 0,
        }
    }
    fn history() -> History {
        History {
            events: vec![put("a", "1", 5), put("b", "2", 6), put("a", "3", 7)],
        }
    }

    #[test]
    fn a_complete_ordered_watch_passes() {
        let log = WatchLog {
            events: vec![
                ev("a", Some("1"), 5),
                ev("b", Some("2"), 6),
                ev("a", Some("3"), 7),
            ],
            start_revision: 5,
            ..Default::default()
        };
        assert!(
            check(&log, &history()).is_empty(),
            "{:?}",
            check(&log, &history())
        );
    }

    #[test]
    fn gaps_duplicates_and_inventions_are_caught() {
        let gap = WatchLog {
            events: vec![ev("a", Some("1"), 5), ev("a", Some("3"), 7)],
            start_revision: 5,
            ..Default::default()
        };
        assert!(check(&gap, &history())[0].contains("missed b"));
        let dup = WatchLog {
            events: vec![
                ev("a", Some("1"), 5),
                ev("a", Some("1"), 5),
                ev("b", Some("2"), 6),
                ev("a", Some("3"), 7),
            ],
            start_revision: 5,
            ..Default::default()
        };
        assert!(check(&dup, &history())[0].contains("out of order or duplicated"));
        let wrong_rev = WatchLog {
            events: vec![ev("a", Some("1"), 6)],
            start_revision: 5,
            ..Default::default()
        };
        assert!(check(&wrong_rev, &history())
            .iter()
            .any(|v| v.contains("acknowledged at revision 5")));
        let invented = WatchLog {
            events: vec![ev("a", Some("zz"), 5)],
            start_revision: 5,
            ..Default::default()
        };
        assert!(check(&invented, &history())[0].contains("matches no write"));
    }

    #[test]
    fn a_failed_write_must_never_show_up() {
        let mut h = history();
        h.events.push(Event {
            client: 2,
            member: "m1".into(),
            invoke_us: 0,
            complete_us: 1,
            request: Request::Cas {
                key: "a".into(),
                expect: Some("zz".into()),
                value: "nope".into(),
            },
            outcome: Outcome::Ok {
                revision: 7,
                value: None,
                succeeded: Some(false),
                kvs: vec![],
                deleted: None,
            },
        });
        let log = WatchLog {
            events: vec![ev("a", Some("nope"), 8)],
            start_revision: 8,
            ..Default::default()
        };
        assert!(
            check(&log, &h)[0].contains("matches no write"),
            "{:?}",
            check(&log, &h)
        );
    }

    #[test]
    fn compacted_ranges_are_not_gaps() {
        let log = WatchLog {
            events: vec![ev("a", Some("1"), 5), ev("a", Some("3"), 7)],
            start_revision: 5,
            compacted: vec![(6, 7)],
            ..Default::default()
        };
        assert!(check(&log, &history()).is_empty());
    }

    #[test]
    fn a_txn_s_events_share_a_revision_but_one_key_twice_does_not() {
        let log = |keys: [&str; 2]| WatchLog {
            events: vec![ev(keys[0], Some("x"), 5), ev(keys[1], Some("y"), 5)],
            start_revision: 5,
            ..WatchLog::default()
        };
        let ordered = |l: Vec<String>| !l.iter().any(|m| m.contains("out of order"));
        assert!(ordered(check(&log(["a", "b"]), &History::default())));
        assert!(!ordered(check(&log(["a", "a"]), &History::default())));
    }
}
