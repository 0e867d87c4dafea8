//! Ranges at a revision, with limits, keys only, refused as compacted or future; compares
//! and reads of version and create revision.

use super::*;

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
