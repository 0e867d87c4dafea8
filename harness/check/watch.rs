//! Watch checks against the recorded history: events arrive in revision order without gaps or
//! duplicates, across the watcher's moves between members, and each matches a write that was
//! made (same key, value and revision as acknowledged); a progress notification never runs
//! ahead of the events (bookmarkable); each event's is-create flag and previous key-value
//! agree with the key's events before it (is-create, prev-kv); the short-lived watches beside
//! it agree with it ([`super::short_watch`]).

use std::collections::{BTreeMap, HashMap};

use crate::history::{History, Outcome, PrevProbe, WatchLog};

/// Every violation, one line each.
pub fn check(log: &WatchLog, history: &History) -> Vec<String> {
    judge(log, &Written::of(history))
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
    let seen: std::collections::HashSet<(i64, &str)> = log
        .events
        .iter()
        .map(|e| (e.revision, e.key.as_str()))
        .collect();
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
                prev_kv: false,
            },
            outcome: Outcome::Ok {
                listed: None,
                revision,
                value: None,
                succeeded: None,
                kvs: vec![],
                deleted: None,
            },
        }
    }
    fn ev(key: &str, value: Option<&str>, revision: i64) -> WatchEvent {
        WatchEvent::at("m2", key, value, revision)
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
    fn a_collector_pinned_to_a_member_is_judged_as_the_watch_is() {
        let whole = vec![
            ev("a", Some("1"), 5),
            ev("b", Some("2"), 6),
            ev("a", Some("3"), 7),
        ];
        let pinned = |events: Vec<WatchEvent>| WatchLog {
            events,
            start_revision: 5,
            resumes: vec![("m3".into(), 5)],
            ..Default::default()
        };
        let mut log = pinned(whole.clone());
        log.members = vec![pinned(whole.clone()), pinned(whole.clone())];
        assert_eq!(check(&log, &history()), Vec::<String>::new());
        log.members[1] = pinned(vec![whole[0].clone(), whole[2].clone()]);
        let v = check(&log, &history());
        assert!(
            v.iter()
                .any(|l| l.starts_with("the collector pinned to m3: watch missed b")),
            "{v:?}"
        );
    }

    /// A collector whose stream stood still while its member had the revision is a gap even
    /// though every event it did deliver is right.
    #[test]
    fn a_stalled_collector_is_caught() {
        let whole = vec![ev("a", Some("1"), 5), ev("b", Some("2"), 6)];
        let pinned = |stalled: Option<crate::history::Stall>| WatchLog {
            events: whole[..1].to_vec(),
            start_revision: 5,
            resumes: vec![("m2".into(), 5)],
            stalled,
            ..Default::default()
        };
        let mut log = WatchLog {
            events: whole.clone(),
            start_revision: 5,
            members: vec![pinned(None)],
            ..Default::default()
        };
        let h = History {
            events: history().events[..2].to_vec(),
        };
        assert_eq!(check(&log, &h), Vec::<String>::new());
        log.members[0] = pinned(Some(crate::history::Stall {
            member: "m2".into(),
            reached: 5,
            member_revision: 6,
            quiet_ms: 2000,
        }));
        assert_eq!(
            check(&log, &h),
            vec!["the collector pinned to m2: its watch stream stalled at revision 5 while m2 was at revision 6 (nothing sent for 2000 ms after the traffic stopped)"]
        );
    }

    /// An event sent without its previous key-value is a violation only if its member still
    /// served that key-value afterwards; one refused as compacted explains it.
    #[test]
    fn a_withheld_previous_key_value_is_caught_and_a_compacted_one_is_not() {
        let probe = |served: Option<&str>| PrevProbe {
            member: "m2".into(),
            key: "a".into(),
            revision: 7,
            nth: 2,
            served: served.map(|v| crate::history::PrevKv {
                value: v.into(),
                mod_revision: 5,
            }),
        };
        let mut log = WatchLog {
            events: vec![
                ev("a", Some("1"), 5),
                ev("b", Some("2"), 6),
                ev("a", Some("3"), 7),
            ],
            start_revision: 5,
            prev_probes: vec![probe(None)],
            ..Default::default()
        };
        assert_eq!(check(&log, &history()), Vec::<String>::new());
        log.prev_probes = vec![probe(Some("1"))];
        assert_eq!(
            check(&log, &history()),
            vec!["watch event a at revision 7 (on m2, event 3 of its stream) came without its previous key-value, which m2 still served at revision 6: \"1\" (mod revision 5)"]
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

    /// A delete acknowledged as having deleted its key must be watched as much as a put; a
    /// delete of an absent key (deleted 0) makes no event and is not required.
    #[test]
    fn a_missed_acknowledged_delete_is_a_gap() {
        let deleted = |request: Request, n: i64, revision: i64| Event {
            outcome: Outcome::Ok {
                listed: None,
                revision,
                value: None,
                succeeded: Some(true),
                kvs: vec![],
                deleted: Some(n),
            },
            request,
            ..put("x", "x", 0)
        };
        let delete = |key: &str| Request::Delete {
            key: key.into(),
            prev_kv: false,
        };
        let guarded = Request::Txn {
            compares: vec![],
            then: vec![crate::history::TxnOp::Delete { key: "b".into() }],
            otherwise: vec![],
        };
        let h = History {
            events: vec![
                put("a", "1", 5),
                put("b", "2", 6),
                deleted(delete("a"), 1, 7),
                deleted(delete("c"), 0, 7),
                deleted(guarded, 1, 8),
                put("a", "3", 9),
            ],
        };
        let mut created = ev("a", Some("3"), 9);
        created.created = true;
        let whole = vec![
            ev("a", Some("1"), 5),
            ev("b", Some("2"), 6),
            ev("a", None, 7),
            ev("b", None, 8),
            created,
        ];
        let log = |events: Vec<WatchEvent>| WatchLog {
            events,
            start_revision: 5,
            ..Default::default()
        };
        assert_eq!(check(&log(whole.clone()), &h), Vec::<String>::new());
        for (gone, says) in [
            (2, "missed the delete of a acknowledged at revision 7"),
            (3, "missed the delete of b acknowledged at revision 8"),
        ] {
            let mut events = whole.clone();
            events.remove(gone);
            let v = check(&log(events), &h);
            assert!(v.iter().any(|l| l.contains(says)), "{v:?}");
        }
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
                listed: None,
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

    /// `ev` with its is-create flag and previous key-value.
    fn ev2(
        key: &str,
        value: Option<&str>,
        revision: i64,
        created: bool,
        prev: Option<(&str, i64)>,
    ) -> WatchEvent {
        WatchEvent {
            created,
            prev: prev.map(|(v, r)| crate::history::PrevKv {
                value: v.into(),
                mod_revision: r,
            }),
            ..ev(key, value, revision)
        }
    }

    fn log_of(events: Vec<WatchEvent>) -> WatchLog {
        WatchLog {
            events,
            start_revision: 2,
            ..WatchLog::default()
        }
    }

    /// a created, updated, deleted and created again; b created once.
    fn good_events() -> Vec<WatchEvent> {
        vec![
            ev2("a", Some("1"), 2, true, None),
            ev2("b", Some("x"), 3, true, None),
            ev2("a", Some("2"), 4, false, Some(("1", 2))),
            ev2("a", None, 5, false, Some(("2", 4))),
            ev2("a", Some("3"), 6, true, None),
            // prev_kv left out: its revision may have been compacted.
            ev2("b", Some("y"), 7, false, None),
        ]
    }

    #[test]
    fn is_create_and_prev_kv_that_agree_with_the_keys_events_pass() {
        let log = log_of(good_events());
        assert_eq!(created_and_prev(&log), Vec::<String>::new());
    }

    #[test]
    fn a_wrong_is_create_flag_is_caught() {
        let mut events = good_events();
        events[2].created = true;
        let v = created_and_prev(&log_of(events));
        assert!(
            v.iter()
                .any(|l| l.contains("a at revision 4: is-create true, but the key was \"1\"")),
            "{v:?}"
        );
        let mut events = good_events();
        events[4].created = false;
        let v = created_and_prev(&log_of(events));
        assert!(
            v.iter()
                .any(|l| l.contains("a at revision 6: is-create false, but the key was absent")),
            "{v:?}"
        );
    }

    #[test]
    fn a_wrong_prev_kv_or_a_delete_of_an_absent_key_is_caught() {
        let mut events = good_events();
        events[3] = ev2("a", None, 5, false, Some(("1", 2)));
        let v = created_and_prev(&log_of(events));
        assert!(
            v.iter().any(|l| l.contains(
                "prev_kv \"1\" (mod revision 2), but the key was \"2\" (mod revision 4)"
            )),
            "{v:?}"
        );
        let mut events = good_events();
        events.push(ev2("a", None, 8, false, None));
        events.push(ev2("a", None, 9, false, None));
        let v = created_and_prev(&log_of(events));
        assert!(
            v.iter()
                .any(|l| l.contains("a at revision 9: a delete, but the key was absent")),
            "{v:?}"
        );
    }

    #[test]
    fn a_compacted_gap_leaves_a_keys_state_unknown() {
        let mut log = log_of(vec![
            ev2("a", Some("1"), 2, true, None),
            // a deleted and created again inside the gap: a create on a key last seen present.
            ev2("a", Some("5"), 9, true, None),
        ]);
        log.compacted.push((3, 8));
        assert_eq!(created_and_prev(&log), Vec::<String>::new());
        log.compacted.clear();
        assert_eq!(created_and_prev(&log).len(), 1);
    }

    #[test]
    fn a_progress_notification_ahead_of_events_is_caught() {
        let progress = |revision, after| crate::history::Progress {
            member: "m2".into(),
            revision,
            after,
        };
        let mut log = log_of(good_events());
        // At 4 after the event at 4, at 3 after the last: no later event is at or below.
        log.progress = vec![progress(4, 3), progress(3, 6)];
        assert_eq!(bookmarks(&log), Vec::<String>::new());
        log.progress = vec![progress(5, 3)];
        let v = bookmarks(&log);
        assert!(
            v.iter().any(|l| l.contains(
                "progress notification at revision 5 (on m2) before the watch event at revision 5"
            )),
            "{v:?}"
        );
    }

    #[test]
    fn deletes_by_a_prefix_delete_are_explained_and_others_are_not() {
        let mut h = history();
        let mut prefix_delete = put("a", "x", 8);
        prefix_delete.request = Request::DeletePrefix { prefix: "a".into() };
        prefix_delete.outcome = Outcome::Ok {
            listed: None,
            revision: 8,
            value: None,
            succeeded: None,
            kvs: vec![crate::history::ReadKv {
                key: "a".into(),
                value: Some("3".into()),
                mod_revision: 7,
                ..Default::default()
            }],
            deleted: Some(1),
        };
        h.events.push(prefix_delete.clone());
        let log = |deleted: &str| WatchLog {
            events: vec![
                ev("a", Some("1"), 5),
                ev("b", Some("2"), 6),
                ev("a", Some("3"), 7),
                ev(deleted, None, 8),
            ],
            start_revision: 5,
            ..Default::default()
        };
        assert_eq!(check(&log("a"), &h), Vec::<String>::new());
        let v = check(&log("b"), &h);
        assert!(
            v.iter()
                .any(|l| l.contains("watch delete of b at revision 8 matches no delete")),
            "{v:?}"
        );
        // Unknown: it may have deleted any key under its prefix, and only there.
        let last = h.events.len() - 1;
        h.events[last].outcome = Outcome::Unknown {
            error: "timed out".into(),
        };
        assert_eq!(check(&log("a"), &h), Vec::<String>::new());
        assert_eq!(check(&log("b"), &h).len(), 1);
    }
}
