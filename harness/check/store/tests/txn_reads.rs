//! Txns whose gets read at a revision of their own: each get judged at its revision, one
//! answered above the txn's read view caught, a txn refused whole for a get judged as a range
//! at that revision is, and its writes never happened.

use super::*;

/// `if a/2 = "y" then get a/1 at revision `at`, put a/2 = "z" else get a/2`.
fn txn_reading_at(at: i64) -> Request {
    Request::Txn {
        compares: vec![Compare {
            key: "a/2".into(),
            target: CompareTarget::Value(Some("y".into())),
        }],
        then: vec![
            TxnOp::Get {
                key: "a/1".into(),
                revision: at,
            },
            TxnOp::Put {
                key: "a/2".into(),
                value: "z".into(),
            },
        ],
        otherwise: vec![TxnOp::get("a/2")],
    }
}

fn refused(why: ReadRefusal) -> Outcome {
    Outcome::Failed {
        error: "refused".into(),
        refused: Some(why),
    }
}

/// `a/1` put at 2, `a/2` at 3, `a/1` deleted at 4; then client 2's requests in order.
fn after(requests: Vec<(Request, Outcome)>) -> Vec<Event> {
    let mut events = vec![
        ev(1, (0, 10), put("a/1", "x"), Outcome::ok(2)),
        ev(1, (20, 30), put("a/2", "y"), Outcome::ok(3)),
        ev(
            1,
            (40, 50),
            Request::Delete {
                key: "a/1".into(),
                prev_kv: false,
            },
            Outcome::Ok {
                deleted: Some(1),
                listed: None,
                revision: 4,
                value: None,
                succeeded: None,
                kvs: Vec::new(),
            },
        ),
    ];
    for (n, (request, outcome)) in requests.into_iter().enumerate() {
        let t = 100 + 20 * n as u64;
        events.push(ev(2, (t, t + 10), request, outcome));
    }
    events
}

#[test]
fn a_txn_get_at_a_past_revision_reads_the_state_there() {
    // Served at 5 (its put), so it read the store at 4, where a/1 is gone; at 3 it was "x".
    let at_3 = txn_outcome(5, true, vec![kv("a/1", Some("x"), 2)]);
    assert_passes(after(vec![(txn_reading_at(3), at_3)]));
    // The state at the txn's own revision instead of at 3.
    let at_4 = txn_outcome(5, true, vec![kv("a/1", None, 0)]);
    assert_caught(after(vec![(txn_reading_at(3), at_4)]), "read at revision 3");
}

#[test]
fn a_txn_get_answered_above_the_txn_s_revision_is_caught() {
    let answered = txn_outcome(5, true, vec![kv("a/1", None, 0)]);
    assert_caught(
        after(vec![(txn_reading_at(9), answered)]),
        "its get of a/1 at revision 9 was answered, but the txn read the store at revision 4",
    );
}

#[test]
fn a_txn_refused_for_a_get_is_judged_as_a_range_and_wrote_nothing() {
    // Refused as future at 9, beyond anything answered before: as the API promises.
    assert_passes(after(vec![(
        txn_reading_at(9),
        refused(ReadRefusal::FutureRevision),
    )]));
    // At 4, which the delete's answer carried before the txn was invoked: not in the future.
    assert_caught(
        after(vec![(
            txn_reading_at(4),
            refused(ReadRefusal::FutureRevision),
        )]),
        "failed as a future revision, but an answer completed before it was invoked carried revision 4",
    );
    // Refused, so its put of a/2 = "z" never happened: a read of it is caught.
    assert_caught(
        after(vec![
            (txn_reading_at(9), refused(ReadRefusal::FutureRevision)),
            (get("a/2"), read("a/2", 5, Some("z"), 5)),
        ]),
        "a/2",
    );
}

#[test]
fn a_txn_get_served_below_an_acknowledged_compaction_is_caught() {
    let compacted = (Request::Compact { revision: 4 }, Outcome::ok(4));
    assert_caught(
        after(vec![
            compacted.clone(),
            (
                txn_reading_at(3),
                txn_outcome(5, true, vec![kv("a/1", Some("x"), 2)]),
            ),
        ]),
        "a compaction below revision 4 was acknowledged before it was invoked",
    );
    assert_passes(after(vec![
        compacted,
        (txn_reading_at(3), refused(ReadRefusal::Compacted)),
    ]));
}
