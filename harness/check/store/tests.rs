//! Hand-made histories: every good one passes, every bad one is caught.

use super::*;
use crate::check::linearizable;
use crate::history::{Compare, CompareTarget, Listed, ReadKv, ReadRefusal, TxnOp, WatchEvent};

mod ranges;
mod returned;
mod txn_reads;

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
            TxnOp::get("c"),
            TxnOp::Put {
                key: "a".into(),
                value: a.into(),
            },
            TxnOp::Put {
                key: "b".into(),
                value: b.into(),
            },
        ],
        otherwise: vec![TxnOp::get("a")],
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
    let watched = |value: &str, revision| WatchEvent::at("m1", "a", Some(value), revision);
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
            WatchEvent::at("m1", "a", Some("1"), 2),
            WatchEvent::at("m1", "other", Some("x"), 3),
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
