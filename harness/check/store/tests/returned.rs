//! What writes return: previous key-values of puts and deletes, and what prefix deletes
//! deleted.

use super::*;

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
