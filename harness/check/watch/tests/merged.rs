//! Atomic (a revision never split over two responses) and the merged watches: agreement on
//! every event, and each watch carrying what any of them was sent.

use super::*;

/// `events` with a response opening at each index in `opens`.
fn responses(mut events: Vec<WatchEvent>, opens: &[usize]) -> Vec<WatchEvent> {
    for (i, e) in events.iter_mut().enumerate() {
        e.opens_response = opens.contains(&i);
    }
    events
}

#[test]
fn a_txn_s_revision_split_over_two_responses_is_not_atomic() {
    // A txn wrote a and b at revision 6; c follows at 7.
    let events = vec![
        ev("a", Some("1"), 6),
        ev("b", Some("2"), 6),
        ev("c", Some("3"), 7),
    ];
    // Whole revisions per response, and logs written before boundaries were recorded: atomic.
    assert_eq!(atomic(&responses(events.clone(), &[0, 2])), None);
    assert_eq!(atomic(&responses(events.clone(), &[0])), None);
    assert_eq!(atomic(&events), None);
    // Revision 6 split: b comes in the next response.
    assert_eq!(
        atomic(&responses(events.clone(), &[0, 1])).as_deref(),
        Some("watch events of revision 6 split over two responses (a on m2, then b on m2 in the next one): not atomic")
    );
    // check() judges the watcher, its collectors and its short watches so.
    let h = History {
        events: vec![put("a", "1", 6), put("b", "2", 6), put("c", "3", 7)],
    };
    let mut log = WatchLog {
        events: responses(events.clone(), &[0, 2]),
        start_revision: 6,
        ..Default::default()
    };
    assert_eq!(check(&log, &h), Vec::<String>::new());
    log.members = vec![WatchLog {
        events: responses(events.clone(), &[0, 1]),
        start_revision: 6,
        resumes: vec![("m3".into(), 6)],
        ..Default::default()
    }];
    let v = check(&log, &h);
    assert!(
        v.iter()
            .any(|l| l.starts_with("the collector pinned to m3: watch events of revision 6 split")),
        "{v:?}"
    );
    log.members.clear();
    log.short = vec![crate::history::ShortWatch {
        member: "m2".into(),
        key: "".into(),
        prefix: true,
        start_revision: 6,
        head: 5,
        filter: crate::history::WatchFilter::None,
        prev_kv: false,
        resumed: false,
        held: false,
        events: responses(events, &[0, 1]),
        compacted: None,
        prev_probes: Vec::new(),
    }];
    let v = check(&log, &h);
    assert!(
        v.iter()
            .any(|l| l.contains("): watch events of revision 6 split over two responses")),
        "{v:?}"
    );
}

/// Writes whose outcome the client never learnt (timed out) may show up anywhere: the
/// acknowledged-write gap check cannot say a watch missed one, the merged history can.
#[test]
fn watches_must_agree_on_and_each_carry_what_any_of_them_was_sent() {
    let unknown = |key: &str, value: &str| Event {
        outcome: Outcome::Unknown {
            error: "timed out".into(),
        },
        ..put(key, value, 0)
    };
    let h = History {
        events: vec![
            put("a", "1", 5),
            unknown("b", "2"),
            unknown("b", "9"),
            put("a", "3", 7),
        ],
    };
    let whole = vec![
        ev("a", Some("1"), 5),
        ev("b", Some("2"), 6),
        ev("a", Some("3"), 7),
    ];
    let pinned = |member: &str, events: Vec<WatchEvent>| WatchLog {
        events,
        start_revision: 5,
        resumes: vec![(member.into(), 5)],
        ..Default::default()
    };
    let mut log = WatchLog {
        events: whole.clone(),
        start_revision: 5,
        members: vec![pinned("m1", whole.clone()), pinned("m3", whole.clone())],
        ..Default::default()
    };
    assert_eq!(check(&log, &h), Vec::<String>::new());
    // m3 never sent b's unknown write, which the others were sent.
    log.members[1] = pinned("m3", vec![whole[0].clone(), whole[2].clone()]);
    assert_eq!(
        check(&log, &h),
        vec!["the collector pinned to m3 missed b = Some(\"2\") at revision 6, which the watch was sent (on m2; watched 5..=7)"]
    );
    // A compacted gap over revision 6 excuses it.
    log.members[1].compacted = vec![(6, 7)];
    assert_eq!(check(&log, &h), Vec::<String>::new());
    // m3 was sent the other unknown write at the same revision: the watches disagree.
    log.members[1] = pinned(
        "m3",
        vec![whole[0].clone(), ev("b", Some("9"), 6), whole[2].clone()],
    );
    let v = check(&log, &h);
    assert!(
        v.iter().any(|l| l.contains("the collector pinned to m3 sent b = Some(\"9\") at revision 6 (on m2), the watch sent Some(\"2\") (on m2): watches disagree")),
        "{v:?}"
    );
}

/// A diverged cluster disagrees on every later event: the first few are shown, the rest counted.
#[test]
fn disagreements_are_shown_a_few_and_counted() {
    let mine: Vec<WatchEvent> = (1..=5)
        .map(|r| ev("a", Some(&format!("x{r}")), r))
        .collect();
    let theirs: Vec<WatchEvent> = (1..=5)
        .map(|r| ev("a", Some(&format!("y{r}")), r))
        .collect();
    let log = WatchLog {
        events: mine,
        start_revision: 1,
        members: vec![WatchLog {
            events: theirs,
            start_revision: 1,
            resumes: vec![("m3".into(), 1)],
            ..Default::default()
        }],
        ..Default::default()
    };
    let v = agreed(&log);
    assert_eq!(
        v.iter().filter(|l| l.ends_with("watches disagree")).count(),
        3,
        "{v:?}"
    );
    assert!(
        v.contains(&"watches disagree on 2 more events".to_string()),
        "{v:?}"
    );
}
