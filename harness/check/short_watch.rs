//! Short-lived watches judged against the case's watcher, which saw every event of the prefix
//! in the revisions it covers: a short watch starts where it asked (no event below its start
//! revision, a compaction cancel only for a start below the compact revision), is ordered and
//! unique, sends only what it selects and its filter lets through, agrees with the watcher on
//! every event (value, is-create, previous key-value; none unasked), and misses nothing the
//! watcher saw between its start and its last event (reliable). A resumed watch is one more
//! short watch: that it starts where asked is what resuming promises.

use std::collections::HashMap;

use crate::history::{ShortWatch, WatchEvent, WatchLog};

/// Every violation, one line each.
pub fn check(log: &WatchLog) -> Vec<String> {
    let mut seen: HashMap<(i64, &str), &WatchEvent> = HashMap::new();
    for e in &log.events {
        seen.entry((e.revision, e.key.as_str())).or_insert(e);
    }
    let last = log.events.last().map_or(0, |e| e.revision);
    let covered = |r: i64| {
        r >= log.start_revision
            && r <= last
            && !log.compacted.iter().any(|(a, b)| (*a..*b).contains(&r))
    };
    let mut out = Vec::new();
    for (i, w) in log.short.iter().enumerate() {
        let say = |what: String| {
            format!(
                "short watch {i} ({} from revision {} on {}, {:?}{}{}{}): {what}",
                if w.prefix { "prefix" } else { "key" },
                w.start_revision,
                w.member,
                w.filter,
                if w.prev_kv { ", prev_kv" } else { "" },
                if w.resumed { ", resumed" } else { "" },
                if w.held { ", held" } else { "" },
            )
        };
        let name = || format!("{:?}", w.key);
        if let Some(c) = w.compacted {
            if c <= w.start_revision {
                out.push(say(format!(
                    "cancelled as compacted at revision {c}, but it started at {} ({})",
                    w.start_revision,
                    name()
                )));
            }
        }
        out.extend(own(w).into_iter().map(&say));
        for e in w.events.iter().filter(|e| covered(e.revision)) {
            match seen.get(&(e.revision, e.key.as_str())) {
                None => out.push(say(format!(
                    "sent {} at revision {}, which the case's watcher never saw",
                    e.key, e.revision
                ))),
                Some(m) if m.value != e.value || m.created != e.created => out.push(say(format!(
                    "sent {} = {:?} (create {}) at revision {}, the case's watcher {:?} (create {})",
                    e.key, e.value, e.created, e.revision, m.value, m.created
                ))),
                Some(m) if w.prev_kv && e.prev.is_some() && m.prev.is_some() && m.prev != e.prev => {
                    out.push(say(format!(
                        "sent {} at revision {} with previous {:?}, the case's watcher {:?}",
                        e.key, e.revision, e.prev, m.prev
                    )))
                }
                _ => {}
            }
        }
        // Reliable: everything the watcher saw that it selects, from its start to its last
        // event (responses are recorded whole, and a revision is never split over two: the
        // atomic check).
        let Some(upto) = w.events.last().map(|e| e.revision) else {
            continue;
        };
        let got = super::watch::sent(&w.events);
        let missed = log.events.iter().find(|m| {
            m.revision >= w.start_revision
                && m.revision <= upto
                && covered(m.revision)
                && w.selects(&m.key)
                && w.filter.passes(m.value.as_deref())
                && !got.contains(&(m.revision, m.key.as_str()))
        });
        if let Some(m) = missed {
            out.push(say(format!(
                "missed {} = {:?} at revision {} (it was sent up to revision {upto})",
                m.key, m.value, m.revision
            )));
        }
    }
    out
}

/// What a short watch's own events must be: at or above its start, ordered and unique, within
/// what it selects and its filter, with no previous key-value it did not ask for. At most one
/// line per property.
fn own(w: &ShortWatch) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(e) = w.events.iter().find(|e| e.revision < w.start_revision) {
        out.push(format!(
            "sent {} at revision {}, below its start revision",
            e.key, e.revision
        ));
    }
    if let Some(p) = w.events.windows(2).find(|p| {
        p[1].revision < p[0].revision || (p[1].revision == p[0].revision && p[1].key == p[0].key)
    }) {
        out.push(format!(
            "sent revision {} ({}) after revision {} ({}): out of order or duplicated",
            p[1].revision, p[1].key, p[0].revision, p[0].key
        ));
    }
    out.extend(super::watch::atomic(&w.events));
    if let Some(e) = w.events.iter().find(|e| !w.selects(&e.key)) {
        out.push(format!("sent {}, which it does not watch", e.key));
    }
    if let Some(e) = w
        .events
        .iter()
        .find(|e| !w.filter.passes(e.value.as_deref()))
    {
        out.push(format!(
            "sent {} at revision {}, which its filter excludes",
            e.key, e.revision
        ));
    }
    if let Some(e) = w.events.iter().find(|e| !w.prev_kv && e.prev.is_some()) {
        out.push(format!(
            "sent {} at revision {} with a previous key-value it did not ask for",
            e.key, e.revision
        ));
    }
    out.extend(
        super::watch::prev_kv_withheld(&w.prev_probes)
            .into_iter()
            .take(1),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::WatchFilter;

    fn ev(key: &str, value: Option<&str>, revision: i64) -> WatchEvent {
        WatchEvent::at("m1", key, value, revision)
    }

    /// The case's watcher: k/1 at 5, k/2 at 6, k/1 deleted at 7, k/2 at 8 and k/1 at 8 (a
    /// txn), k/2 at 9.
    fn main_log(short: Vec<ShortWatch>) -> WatchLog {
        WatchLog {
            events: vec![
                ev("k/1", Some("a"), 5),
                ev("k/2", Some("b"), 6),
                ev("k/1", None, 7),
                ev("k/1", Some("c"), 8),
                ev("k/2", Some("d"), 8),
                ev("k/2", Some("e"), 9),
            ],
            start_revision: 5,
            short,
            ..WatchLog::default()
        }
    }

    fn short(key: &str, prefix: bool, start: i64, events: Vec<WatchEvent>) -> ShortWatch {
        ShortWatch {
            member: "m2".into(),
            key: key.into(),
            prefix,
            start_revision: start,
            head: 9,
            filter: WatchFilter::None,
            prev_kv: false,
            resumed: false,
            held: false,
            events,
            compacted: None,
            prev_probes: vec![],
        }
    }

    fn whole(start: i64) -> Vec<WatchEvent> {
        main_log(vec![])
            .events
            .into_iter()
            .filter(|e| e.revision >= start)
            .collect()
    }

    #[test]
    fn short_watches_that_agree_with_the_watcher_pass() {
        let mut no_put = short("k/1", false, 5, vec![ev("k/1", None, 7)]);
        no_put.filter = WatchFilter::NoPut;
        let mut compacted = short("k/", true, 2, vec![]);
        compacted.compacted = Some(4);
        let mut resumed = short("k/", true, 8, whole(8));
        resumed.resumed = true;
        let log = main_log(vec![
            short("k/", true, 5, whole(5)),
            short("k/", true, 6, whole(6)[..2].to_vec()),
            short("k/2", false, 7, vec![ev("k/2", Some("d"), 8)]),
            no_put,
            compacted,
            resumed,
            // A future start: nothing yet.
            short("k/", true, 40, vec![]),
        ]);
        assert_eq!(check(&log), Vec::<String>::new());
    }

    #[test]
    fn each_broken_promise_of_a_short_watch_is_caught() {
        let cases: Vec<(ShortWatch, &str)> = vec![
            (short("k/", true, 6, whole(5)), "below its start revision"),
            (
                short(
                    "k/",
                    true,
                    5,
                    vec![ev("k/1", Some("a"), 5), ev("k/2", Some("e"), 9)],
                ),
                "missed k/2 = Some(\"b\") at revision 6",
            ),
            (
                short(
                    "k/",
                    true,
                    5,
                    vec![ev("k/2", Some("b"), 6), ev("k/1", Some("a"), 5)],
                ),
                "out of order or duplicated",
            ),
            (
                short("k/1", false, 5, vec![ev("k/2", Some("b"), 6)]),
                "which it does not watch",
            ),
            (
                {
                    let mut w = short("k/1", false, 5, vec![ev("k/1", Some("a"), 5)]);
                    w.filter = WatchFilter::NoPut;
                    w
                },
                "which its filter excludes",
            ),
            (
                short("k/1", false, 5, vec![ev("k/1", Some("z"), 5)]),
                "the case's watcher Some(\"a\")",
            ),
            (
                short("k/1", false, 5, vec![ev("k/1", Some("q"), 6)]),
                "which the case's watcher never saw",
            ),
            (
                {
                    let mut w = short("k/1", false, 5, vec![]);
                    w.compacted = Some(5);
                    w
                },
                "cancelled as compacted at revision 5, but it started at 5",
            ),
            (
                {
                    let mut e = ev("k/1", Some("a"), 5);
                    e.prev = Some(crate::history::PrevKv {
                        value: "x".into(),
                        mod_revision: 2,
                    });
                    short("k/1", false, 5, vec![e])
                },
                "a previous key-value it did not ask for",
            ),
            (
                {
                    let mut w = short("k/1", false, 5, vec![ev("k/1", Some("a"), 5)]);
                    w.prev_kv = true;
                    w.prev_probes = vec![crate::history::PrevProbe {
                        member: "m2".into(),
                        key: "k/1".into(),
                        revision: 5,
                        nth: 0,
                        served: Some(crate::history::PrevKv {
                            value: "x".into(),
                            mod_revision: 2,
                        }),
                    }];
                    w
                },
                "came without its previous key-value, which m2 still served at revision 4",
            ),
        ];
        for (w, says) in cases {
            let v = check(&main_log(vec![w.clone()]));
            assert!(
                v.iter().any(|l| l.contains(says)),
                "{w:?}: expected {says:?}, got {v:?}"
            );
        }
    }
}
