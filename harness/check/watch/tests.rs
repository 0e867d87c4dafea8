use super::*;
use crate::history::{Event, Request, WatchEvent};

mod merged;

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
        v.iter().any(|l| l
            .contains("prev_kv \"1\" (mod revision 2), but the key was \"2\" (mod revision 4)")),
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
