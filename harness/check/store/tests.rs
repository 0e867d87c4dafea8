//! Hand-made histories: every good one passes, every bad one is caught.

use super::*;
use crate::check::linearizable;
use crate::history::{Compare, TxnOp, WatchEvent};

fn ev(client: u32, t: (u64, u64), request: Request, outcome: Outcome) -> Event {
    Event {
        client,
        member: format!("m{}", client % 3 + 1),
        invoke_us: t.0,
        complete_us: t.1,
        request,
        outcome,
    }
}

fn put(key: &str, value: &str) -> Request {
    put_asking(key, value, false)
}

fn put_asking(key: &str, value: &str, prev_kv: bool) -> Request {
    Request::Put {
        key: key.into(),
        value: value.into(),
        prev_kv,
    }
}

fn get(key: &str) -> Request {
    Request::Get {
        key: key.into(),
        serializable: false,
    }
}

fn kv(key: &str, value: Option<&str>, mod_revision: i64) -> ReadKv {
    ReadKv {
        key: key.into(),
        value: value.map(str::to_string),
        mod_revision,
        ..ReadKv::default()
    }
}

/// A get's answer: served at `revision`, `value` with its mod revision.
fn read(key: &str, revision: i64, value: Option<&str>, mod_revision: i64) -> Outcome {
    Outcome::Ok {
        listed: None,
        revision,
        value: value.map(str::to_string),
        succeeded: None,
        kvs: vec![kv(key, value, mod_revision)],
        deleted: None,
    }
}

fn txn_outcome(revision: i64, succeeded: bool, kvs: Vec<ReadKv>) -> Outcome {
    Outcome::Ok {
        listed: None,
        revision,
        value: None,
        succeeded: Some(succeeded),
        kvs,
        deleted: Some(0),
    }
}

fn unknown() -> Outcome {
    Outcome::Unknown {
        error: "timed out".into(),
    }
}

/// `txn: if a = expect then put a, put b (and get c) else get a`.
fn txn(expect: Option<&str>, a: &str, b: &str) -> Request {
    Request::Txn {
        compares: vec![Compare {
            key: "a".into(),
            target: CompareTarget::Value(expect.map(str::to_string)),
        }],
        then: vec![
            TxnOp::Get { key: "c".into() },
            TxnOp::Put {
                key: "a".into(),
                value: a.into(),
            },
            TxnOp::Put {
                key: "b".into(),
                value: b.into(),
            },
        ],
        otherwise: vec![TxnOp::Get { key: "a".into() }],
    }
}

fn check_all(events: Vec<Event>) -> StoreVerdict {
    check(&History { events }, &WatchLog::default())
}

fn assert_passes(events: Vec<Event>) {
    let v = check_all(events);
    assert!(v.violations.is_empty(), "{:#?}", v.violations);
}

fn assert_caught(events: Vec<Event>, says: &str) {
    let v = check_all(events);
    assert!(
        v.violations.iter().any(|l| l.contains(says)),
        "expected a violation saying {says:?}, got {:#?}",
        v.violations
    );
}

#[test]
fn a_sequential_history_with_a_multi_key_txn_passes() {
    assert_passes(vec![
        ev(1, (0, 10), put("a", "1"), Outcome::ok(2)),
        ev(
            2,
            (20, 30),
            txn(Some("1"), "2", "3"),
            txn_outcome(3, true, vec![kv("c", None, 0)]),
        ),
        ev(3, (40, 50), get("b"), read("b", 3, Some("3"), 3)),
        ev(
            1,
            (60, 70),
            txn(Some("1"), "4", "5"),
            txn_outcome(3, false, vec![kv("a", Some("2"), 3)]),
        ),
        ev(2, (80, 90), get("a"), read("a", 3, Some("2"), 3)),
    ]);
}

#[test]
fn concurrent_operations_may_take_effect_in_either_order() {
    // The put and the read overlap: the read may come first (and see nothing) or after.
    assert_passes(vec![
        ev(1, (0, 100), put("a", "1"), Outcome::ok(2)),
        ev(2, (10, 20), get("a"), read("a", 1, None, 0)),
        ev(3, (30, 40), get("a"), read("a", 2, Some("1"), 2)),
    ]);
}

#[test]
fn unknown_writes_happened_where_seen_and_nowhere_else() {
    assert_passes(vec![
        ev(1, (0, 10), put("a", "1"), unknown()),
        ev(2, (5, 8), put("a", "lost"), unknown()),
        ev(3, (20, 30), get("a"), read("a", 2, Some("1"), 2)),
    ]);
}

#[test]
fn a_serializable_read_may_lag_but_not_invent() {
    let lagging = Request::Get {
        key: "a".into(),
        serializable: true,
    };
    assert_passes(vec![
        ev(1, (0, 10), put("a", "1"), Outcome::ok(2)),
        ev(2, (20, 30), lagging.clone(), read("a", 1, None, 0)),
    ]);
    assert_caught(
        vec![
            ev(1, (0, 10), put("a", "1"), Outcome::ok(2)),
            ev(1, (11, 12), put("a", "2"), Outcome::ok(3)),
            ev(2, (20, 30), lagging, read("a", 3, Some("1"), 2)),
        ],
        "but the store held \"2\"",
    );
}

/// The txn writes a and b atomically at revision 2. A read sees its a; a later read of b is
/// served at revision 1, before the txn. Per key, each alone is linearizable (the txn's put of
/// b may take effect after the read of b), which a per-key split wrongly passes; as one store
/// it is not: the txn took effect before the first read completed.
#[test]
fn a_multi_key_txn_read_half_applied_is_caught_where_a_per_key_split_passes() {
    let txn_put_ab = Request::Txn {
        compares: vec![],
        then: vec![
            TxnOp::Put {
                key: "a".into(),
                value: "1".into(),
            },
            TxnOp::Put {
                key: "b".into(),
                value: "1".into(),
            },
        ],
        otherwise: vec![],
    };
    let events = vec![
        ev(1, (0, 100), txn_put_ab, txn_outcome(2, true, vec![])),
        ev(2, (10, 20), get("a"), read("a", 2, Some("1"), 2)),
        ev(2, (30, 40), get("b"), read("b", 1, None, 0)),
    ];
    assert_caught(events.clone(), "real time: event 1");
    // The per-key split: the txn as one put per key, over the same interval.
    let mut split = events;
    split[0].request = put("a", "1");
    split.push(ev(1, (0, 100), put("b", "1"), Outcome::ok(2)));
    let report = linearizable::check(
        &History { events: split },
        std::time::Duration::from_secs(5),
    );
    assert!(
        report
            .values()
            .all(|v| *v == linearizable::KeyVerdict::Linearizable),
        "{report:?}"
    );
}

#[test]
fn a_stale_linearizable_read_is_caught() {
    assert_caught(
        vec![
            ev(1, (0, 10), put("a", "1"), Outcome::ok(2)),
            ev(2, (20, 30), get("a"), read("a", 1, None, 0)),
        ],
        "real time: event 0",
    );
}

#[test]
fn a_read_that_disagrees_with_its_revision_is_caught() {
    assert_caught(
        vec![
            ev(1, (0, 10), put("a", "1"), Outcome::ok(2)),
            ev(1, (20, 30), put("a", "2"), Outcome::ok(3)),
            ev(2, (40, 50), get("a"), read("a", 3, Some("1"), 2)),
        ],
        "but the store held \"2\" (mod revision 3)",
    );
    assert_caught(
        vec![
            ev(1, (0, 10), put("a", "1"), Outcome::ok(2)),
            ev(2, (40, 50), get("a"), read("a", 1, Some("1"), 2)),
        ],
        "after the revision it was served at",
    );
}

#[test]
fn a_txn_that_took_the_wrong_branch_is_caught() {
    // a = 1 when the txn ran, so its compare held: the else branch is wrong.
    assert_caught(
        vec![
            ev(1, (0, 10), put("a", "1"), Outcome::ok(2)),
            ev(
                2,
                (20, 30),
                txn(Some("1"), "2", "3"),
                txn_outcome(2, false, vec![kv("a", Some("1"), 2)]),
            ),
        ],
        "else branch taken, but on the state at revision 2 its compares hold",
    );
    // And the then branch where the compare failed.
    assert_caught(
        vec![
            ev(1, (0, 10), put("a", "1"), Outcome::ok(2)),
            ev(
                2,
                (20, 30),
                txn(Some("0"), "2", "3"),
                txn_outcome(3, true, vec![kv("c", None, 0)]),
            ),
        ],
        "then branch taken, but on the state at revision 2 its compares do not hold",
    );
}

#[test]
fn a_txn_get_sees_the_state_before_the_txn() {
    assert_caught(
        vec![
            ev(1, (0, 10), put("c", "1"), Outcome::ok(2)),
            ev(
                2,
                (20, 30),
                txn(None, "2", "3"),
                txn_outcome(3, true, vec![kv("c", None, 0)]),
            ),
        ],
        "c = <absent> (mod revision 0), but the store held \"1\"",
    );
}

#[test]
fn values_never_written_or_from_failed_writes_are_caught() {
    assert_caught(
        vec![ev(2, (20, 30), get("a"), read("a", 5, Some("ghost"), 4))],
        "no write of it may have happened",
    );
    assert_caught(
        vec![
            ev(
                1,
                (0, 10),
                put("a", "1"),
                Outcome::Failed {
                    refused: None,
                    error: "refused".into(),
                },
            ),
            ev(2, (20, 30), get("a"), read("a", 5, Some("1"), 4)),
        ],
        "no write of it may have happened",
    );
}

#[test]
fn the_watch_must_agree_with_the_acknowledged_writes() {
    let history = History {
        events: vec![
            ev(1, (0, 10), put("a", "1"), Outcome::ok(2)),
            ev(2, (0, 10), put("a", "2"), Outcome::ok(3)),
        ],
    };
    let watched = |value: &str, revision| WatchEvent {
        member: "m1".into(),
        revision,
        key: "a".into(),
        value: Some(value.into()),
        at_us: 0,
        created: false,
        prev: None,
    };
    let good = WatchLog {
        events: vec![watched("1", 2), watched("2", 3)],
        start_revision: 2,
        ..WatchLog::default()
    };
    assert!(check(&history, &good).violations.is_empty());
    let swapped = WatchLog {
        events: vec![watched("2", 2), watched("1", 3)],
        start_revision: 2,
        ..WatchLog::default()
    };
    let v = check(&history, &swapped).violations;
    assert!(
        v.iter()
            .any(|l| l.contains("the watch on m1 shows a = \"2\" at revision 2")),
        "{v:#?}"
    );
}

/// A read of nothing where the timeline has a value: an unknown delete may explain it where
/// no watch covered, and cannot where one did.
#[test]
fn an_unknown_delete_leaves_a_read_undecided_only_outside_the_watch() {
    let history = History {
        events: vec![
            ev(1, (0, 10), put("a", "1"), Outcome::ok(2)),
            ev(
                2,
                (20, 30),
                Request::Delete {
                    key: "a".into(),
                    prev_kv: false,
                },
                unknown(),
            ),
            ev(3, (40, 50), get("a"), read("a", 3, None, 0)),
        ],
    };
    let v = check(&history, &WatchLog::default());
    assert!(v.violations.is_empty(), "{:#?}", v.violations);
    assert_eq!(v.undecided, 1);
    // The watch covered revisions 2..=3 and showed no delete: the read is wrong.
    let covered = WatchLog {
        events: vec![
            WatchEvent {
                member: "m1".into(),
                revision: 2,
                key: "a".into(),
                value: Some("1".into()),
                at_us: 0,
                created: false,
                prev: None,
            },
            WatchEvent {
                member: "m1".into(),
                revision: 3,
                key: "other".into(),
                value: Some("x".into()),
                at_us: 0,
                created: false,
                prev: None,
            },
        ],
        start_revision: 2,
        ..WatchLog::default()
    };
    let mut history = history;
    history
        .events
        .push(ev(4, (0, 10), put("other", "x"), Outcome::ok(3)));
    let v = check(&history, &covered);
    assert_eq!(v.undecided, 0);
    assert!(
        v.violations.iter().any(|l| l.contains("a = <absent>")),
        "{:#?}",
        v.violations
    );
}

fn range(start: &str, revision: i64, limit: i64, keys_only: bool) -> Request {
    Request::Range {
        prefix: "a/".into(),
        start: start.into(),
        revision,
        limit,
        keys_only,
        serializable: false,
    }
}

/// A range's answer: served at `revision`, `kvs`, `count` keys in all, `more` past its limit.
fn listed(revision: i64, kvs: Vec<ReadKv>, count: i64, more: bool) -> Outcome {
    Outcome::Ok {
        listed: Some(Listed { count, more }),
        revision,
        value: None,
        succeeded: None,
        kvs,
        deleted: None,
    }
}

fn refused(why: ReadRefusal) -> Outcome {
    Outcome::Failed {
        error: "refused".into(),
        refused: Some(why),
    }
}

/// Client `client` deleted `key` (it was there) at `revision`.
fn deleted(client: u32, t: (u64, u64), key: &str, revision: i64) -> Event {
    let outcome = Outcome::Ok {
        deleted: Some(1),
        listed: None,
        revision,
        value: None,
        succeeded: None,
        kvs: Vec::new(),
    };
    ev(
        client,
        t,
        Request::Delete {
            key: key.into(),
            prev_kv: false,
        },
        outcome,
    )
}

/// `a/1` at 2, `a/2` at 3, `a/1` deleted at 4, then the given ranges.
fn with_ranges(ranges: Vec<(Request, Outcome)>) -> Vec<Event> {
    let mut events = vec![
        ev(1, (0, 10), put("a/1", "x"), Outcome::ok(2)),
        ev(1, (20, 30), put("a/2", "y"), Outcome::ok(3)),
        deleted(1, (40, 50), "a/1", 4),
    ];
    for (n, (request, outcome)) in ranges.into_iter().enumerate() {
        let t = 100 + 20 * n as u64;
        events.push(ev(2, (t, t + 10), request, outcome));
    }
    events
}

#[test]
fn ranges_that_return_the_state_at_their_revision_pass() {
    assert_passes(with_ranges(vec![
        // Now: only a/2.
        (
            range("a/", 0, 0, false),
            listed(4, vec![kv("a/2", Some("y"), 3)], 1, false),
        ),
        // At revision 3: both, whole, paginated and keys-only.
        (
            range("a/", 3, 0, false),
            listed(
                4,
                vec![kv("a/1", Some("x"), 2), kv("a/2", Some("y"), 3)],
                2,
                false,
            ),
        ),
        (
            range("a/", 3, 1, false),
            listed(4, vec![kv("a/1", Some("x"), 2)], 2, true),
        ),
        (
            range("a/1\0", 3, 1, false),
            listed(4, vec![kv("a/2", Some("y"), 3)], 1, false),
        ),
        (
            range("a/", 3, 0, true),
            listed(4, vec![kv("a/1", None, 2), kv("a/2", None, 3)], 2, false),
        ),
        // Before any write, and a future revision refused.
        (range("a/", 1, 0, false), listed(4, vec![], 0, false)),
        (
            range("a/", 9, 0, false),
            refused(ReadRefusal::FutureRevision),
        ),
    ]));
}

#[test]
fn a_range_missing_a_key_present_at_its_revision_is_caught() {
    assert_caught(
        with_ranges(vec![(
            range("a/", 3, 0, false),
            listed(4, vec![kv("a/2", Some("y"), 3)], 2, false),
        )]),
        "a/1 = <absent>",
    );
}

#[test]
fn a_range_returning_a_deleted_key_is_caught() {
    assert_caught(
        with_ranges(vec![(
            range("a/", 0, 0, false),
            listed(
                4,
                vec![kv("a/1", Some("x"), 2), kv("a/2", Some("y"), 3)],
                2,
                false,
            ),
        )]),
        "a/1 = \"x\"",
    );
}

#[test]
fn a_range_with_a_wrong_count_or_more_flag_is_caught() {
    assert_caught(
        with_ranges(vec![(
            range("a/", 3, 1, false),
            listed(4, vec![kv("a/1", Some("x"), 2)], 1, true),
        )]),
        "it counted 1 keys, but 2 were present",
    );
    assert_caught(
        with_ranges(vec![(
            range("a/", 3, 1, false),
            listed(4, vec![kv("a/1", Some("x"), 2)], 2, false),
        )]),
        "said more = false",
    );
}

#[test]
fn a_keys_only_range_with_a_wrong_mod_revision_is_caught() {
    assert_caught(
        with_ranges(vec![(
            range("a/", 3, 0, true),
            listed(4, vec![kv("a/1", None, 2), kv("a/2", None, 2)], 2, false),
        )]),
        "a/2 = <absent> (mod revision 2)",
    );
}

#[test]
fn a_range_outside_its_span_or_out_of_order_is_caught() {
    assert_caught(
        with_ranges(vec![(
            range("a/2", 3, 0, false),
            listed(
                4,
                vec![kv("a/1", Some("x"), 2), kv("a/2", Some("y"), 3)],
                1,
                false,
            ),
        )]),
        "outside its range",
    );
    assert_caught(
        with_ranges(vec![(
            range("a/", 3, 0, false),
            listed(
                4,
                vec![kv("a/2", Some("y"), 3), kv("a/1", Some("x"), 2)],
                2,
                false,
            ),
        )]),
        "not in ascending order",
    );
}

#[test]
fn a_future_revision_read_instead_of_refused_is_caught() {
    assert_caught(
        with_ranges(vec![(
            range("a/", 9, 0, false),
            listed(4, vec![kv("a/2", Some("y"), 3)], 1, false),
        )]),
        "a future one, instead of failing",
    );
}

#[test]
fn a_future_refusal_below_a_revision_already_answered_is_caught() {
    // The delete at 4 completed before the range was invoked: revision 4 is not in the future.
    assert_caught(
        with_ranges(vec![(
            range("a/", 4, 0, false),
            refused(ReadRefusal::FutureRevision),
        )]),
        "failed as a future revision, but an answer completed before it was invoked carried revision 4",
    );
}

#[test]
fn a_range_served_below_an_acknowledged_compaction_is_caught() {
    let events = with_ranges(vec![
        (Request::Compact { revision: 4 }, Outcome::ok(4)),
        (
            range("a/", 3, 0, false),
            listed(
                4,
                vec![kv("a/1", Some("x"), 2), kv("a/2", Some("y"), 3)],
                2,
                false,
            ),
        ),
    ]);
    assert_caught(
        events,
        "a compaction below revision 4 was acknowledged before it was invoked",
    );
    // Refused as compacted: as the API promises.
    assert_passes(with_ranges(vec![
        (Request::Compact { revision: 4 }, Outcome::ok(4)),
        (range("a/", 3, 0, false), refused(ReadRefusal::Compacted)),
        (
            range("a/", 4, 0, false),
            listed(4, vec![kv("a/2", Some("y"), 3)], 1, false),
        ),
    ]));
}

/// `a` put at 2 and 3, deleted at 4, put again at 5: at 3 it is at version 2, created at 2;
/// at 5 at version 1, created at 5.
fn a_life() -> Vec<Event> {
    vec![
        ev(1, (0, 10), put("a", "1"), Outcome::ok(2)),
        ev(1, (20, 30), put("a", "2"), Outcome::ok(3)),
        deleted(1, (40, 50), "a", 4),
        ev(1, (60, 70), put("a", "3"), Outcome::ok(5)),
    ]
}

/// `if <target on a> then put b`, invoked at `t`, applied at `revision`.
fn txn_on_a(target: CompareTarget, t: u64, revision: i64, succeeded: bool) -> Event {
    ev(
        2,
        (t, t + 5),
        Request::Txn {
            compares: vec![Compare {
                key: "a".into(),
                target,
            }],
            then: vec![TxnOp::Put {
                key: "b".into(),
                value: format!("b{revision}"),
            }],
            otherwise: vec![],
        },
        txn_outcome(revision, succeeded, vec![]),
    )
}

fn read_life(t: u64, revision: i64, value: &str, mod_revision: i64, life: (i64, i64)) -> Event {
    let mut o = read("a", revision, Some(value), mod_revision);
    if let Outcome::Ok { kvs, .. } = &mut o {
        (kvs[0].version, kvs[0].create_revision) = life;
    }
    ev(3, (t, t + 5), get("a"), o)
}

#[test]
fn compares_and_reads_of_version_and_create_revision_that_agree_pass() {
    let mut events = a_life();
    events.insert(2, read_life(32, 3, "2", 3, (2, 2)));
    events.push(txn_on_a(CompareTarget::Version(1), 80, 6, true));
    events.push(txn_on_a(CompareTarget::CreateRevision(5), 90, 7, true));
    events.push(txn_on_a(CompareTarget::CreateRevision(2), 100, 7, false));
    events.push(read_life(110, 7, "3", 5, (1, 5)));
    assert_passes(events);
}

#[test]
fn a_compare_on_version_or_create_revision_taking_the_wrong_branch_is_caught() {
    let mut events = a_life();
    // a was created again at 5: version 1, not 2.
    events.push(txn_on_a(CompareTarget::Version(2), 80, 6, true));
    assert_caught(
        events,
        "then branch taken, but on the state at revision 5 its compares do not hold",
    );
    let mut events = a_life();
    events.push(txn_on_a(CompareTarget::CreateRevision(5), 80, 5, false));
    assert_caught(
        events,
        "else branch taken, but on the state at revision 5 its compares hold",
    );
}

#[test]
fn a_read_with_the_wrong_version_or_create_revision_is_caught() {
    let mut events = a_life();
    // The version of the key's first life, after it was deleted and created again.
    events.push(read_life(80, 5, "3", 5, (3, 2)));
    assert_caught(
        events,
        "a = \"3\" has version 3 and create revision 2, but its writes give version 1 and create revision 5",
    );
}

/// The answer of a put or delete with `prev_kv` at `revision`: its previous key `prev`.
fn with_prev(revision: i64, prev: ReadKv, deleted: Option<i64>) -> Outcome {
    Outcome::Ok {
        listed: None,
        revision,
        value: None,
        succeeded: None,
        kvs: vec![prev],
        deleted,
    }
}

fn put_prev(key: &str, value: &str) -> Request {
    put_asking(key, value, true)
}

fn delete_prev(key: &str) -> Request {
    Request::Delete {
        key: key.into(),
        prev_kv: true,
    }
}

/// `a` = 1 at 2, = 2 at 3 (prev 1), deleted at 4 (prev 2), deleted again at 4 (nothing, prev
/// absent), = 3 at 5 (prev absent).
fn prev_kv_history(prevs: [ReadKv; 4]) -> Vec<Event> {
    let [p3, p4, p4_again, p5] = prevs;
    vec![
        ev(1, (0, 10), put("a", "1"), Outcome::ok(2)),
        ev(1, (20, 30), put_prev("a", "2"), with_prev(3, p3, None)),
        ev(2, (40, 50), delete_prev("a"), with_prev(4, p4, Some(1))),
        ev(
            2,
            (60, 70),
            delete_prev("a"),
            with_prev(4, p4_again, Some(0)),
        ),
        ev(1, (80, 90), put_prev("a", "3"), with_prev(5, p5, None)),
    ]
}

/// The true previous key-values of [`prev_kv_history`].
fn true_prevs() -> [ReadKv; 4] {
    [
        kv("a", Some("1"), 2),
        kv("a", Some("2"), 3),
        kv("a", None, 0),
        kv("a", None, 0),
    ]
}

#[test]
fn previous_key_values_of_puts_and_deletes_that_agree_pass() {
    assert_passes(prev_kv_history(true_prevs()));
}

#[test]
fn a_wrong_previous_key_value_is_caught() {
    let wrong = [
        // The put at 3 claims a was absent before it (it was 1).
        (0, kv("a", None, 0), "put a = \"2\""),
        // The delete at 4 claims it removed the value of revision 2, not 3's.
        (1, kv("a", Some("1"), 2), "delete a"),
        // The delete that deleted nothing claims a key was there.
        (2, kv("a", Some("2"), 3), "delete a"),
        // The put at 5 claims the deleted key was still there.
        (3, kv("a", Some("2"), 3), "put a = \"3\""),
    ];
    for (n, prev, says) in wrong {
        let mut prevs = true_prevs();
        prevs[n] = prev;
        assert_caught(prev_kv_history(prevs), says);
    }
}

/// `p/1` at 2, `p/12` at 3, `p/2` at 4; a delete of prefix `p/1` at 5 answering `deleted`
/// keys as they were (`kvs`); then gets of `p/12` and `p/2` at 5.
fn prefix_delete_history(kvs: Vec<ReadKv>, deleted: i64, p12_after: Option<&str>) -> Vec<Event> {
    let answer = Outcome::Ok {
        listed: None,
        revision: 5,
        value: None,
        succeeded: None,
        kvs,
        deleted: Some(deleted),
    };
    let p12_mod = if p12_after.is_some() { 3 } else { 0 };
    vec![
        ev(1, (0, 10), put("p/1", "x"), Outcome::ok(2)),
        ev(1, (20, 30), put("p/12", "y"), Outcome::ok(3)),
        ev(1, (40, 50), put("p/2", "z"), Outcome::ok(4)),
        ev(2, (60, 70), delete_prefix("p/1"), answer),
        ev(
            3,
            (80, 90),
            get("p/12"),
            read("p/12", 5, p12_after, p12_mod),
        ),
        ev(3, (100, 110), get("p/2"), read("p/2", 5, Some("z"), 4)),
    ]
}

fn delete_prefix(prefix: &str) -> Request {
    Request::DeletePrefix {
        prefix: prefix.into(),
    }
}

fn both_deleted() -> Vec<ReadKv> {
    vec![kv("p/1", Some("x"), 2), kv("p/12", Some("y"), 3)]
}

#[test]
fn a_prefix_delete_that_deleted_every_key_under_it_passes() {
    assert_passes(prefix_delete_history(both_deleted(), 2, None));
    // A per-key split leaves the keys under a deleted prefix to this check: its register
    // model would see `p/12` vanish with no delete of it.
    let report = linearizable::check(
        &History {
            events: prefix_delete_history(both_deleted(), 2, None),
        },
        std::time::Duration::from_secs(1),
    );
    assert_eq!(report.keys().collect::<Vec<_>>(), ["p/2"]);
}

#[test]
fn a_prefix_delete_that_missed_miscounted_or_overreached_is_caught() {
    // It left p/12 in place, and said so: the key present just below its revision is missing
    // from what it deleted.
    assert_caught(
        prefix_delete_history(vec![kv("p/1", Some("x"), 2)], 1, Some("y")),
        "delete prefix p/1",
    );
    // It said it deleted both, but p/12 is still there after it.
    assert_caught(
        prefix_delete_history(both_deleted(), 2, Some("y")),
        "p/12 = \"y\" (mod revision 3), but the store held <absent>",
    );
    // It counted three.
    assert_caught(
        prefix_delete_history(both_deleted(), 3, None),
        "it counted 3 keys, but 2 were present at revision 4",
    );
    // It deleted p/2, outside its prefix.
    let mut overreach = both_deleted();
    overreach.push(kv("p/2", Some("z"), 4));
    assert_caught(
        prefix_delete_history(overreach, 3, None),
        "it returned p/2, outside its range",
    );
    // It returned a value p/12 never had.
    assert_caught(
        prefix_delete_history(
            vec![kv("p/1", Some("x"), 2), kv("p/12", Some("x"), 3)],
            2,
            None,
        ),
        "p/12",
    );
}

#[test]
fn an_unknown_prefix_delete_may_have_deleted_any_key_under_it() {
    let mut events = prefix_delete_history(both_deleted(), 2, None);
    events[3].outcome = unknown();
    let v = check_all(events);
    assert!(v.violations.is_empty(), "{:#?}", v.violations);
    assert_eq!(
        v.undecided, 1,
        "the read of p/12 as absent: no watch covered"
    );
}
