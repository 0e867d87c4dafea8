//! Linearizability of a recorded KV history, Wing–Gong–Lowe style (as porcupine does it),
//! partitioned per key: etcd's KV is a set of independent registers, and linearizability is
//! local, so each key is checked alone.
//!
//! Each operation is an interval [invoke, complete]. A search linearizes operations one at a
//! time: an operation may go next only if no other pending operation completed before it was
//! invoked; it must be legal for the register's state. Writes whose outcome is unknown have no
//! completion (they may take effect any time after invocation) and may also never take effect.
//! Failed requests and unknown reads changed nothing and are left out. Serializable reads may be
//! stale by design and are not checked here. Visited (linearized set, state) pairs are
//! remembered, which keeps the search polynomial on histories of bounded concurrency.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::history::{Event, History, Outcome, Request};

/// The register operation of one history event, with the value strings interned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Put(u32),
    Delete,
    Cas {
        expect: u32,
        new: u32,
        succeeded: Option<bool>,
    },
    Get(u32),
}

#[derive(Clone, Debug)]
struct Op {
    invoke: u64,
    /// `u64::MAX` for an unknown outcome.
    complete: u64,
    optional: bool,
    kind: Kind,
    /// Index of the event in the history, for reports.
    event: usize,
}

/// The verdict on one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyVerdict {
    Linearizable,
    /// No order explains the history. `stuck` are events (history indexes) none of which could
    /// go next from the longest explainable prefix; `value` is the register then.
    Violation {
        explained: usize,
        of: usize,
        value: Option<String>,
        stuck: Vec<usize>,
    },
    /// The search ran out of its time budget: neither verdict.
    GaveUp {
        explored: usize,
    },
}

/// Per-key verdicts; `BTreeMap` so reports list keys in order.
pub type Report = BTreeMap<String, KeyVerdict>;

/// Checks every key of `history`, each with `budget` of search time. Keys a txn or a prefix
/// delete touches are not checked here (a per-key split would miss a multi-key write's effect
/// on them and its atomicity across them; this register model has no mod revisions for a
/// guarded write's compares), nor ranges and compactions (at past revisions, over many keys):
/// [`super::store`] judges the whole store.
pub fn check(history: &History, budget: Duration) -> Report {
    let in_txn: HashSet<&str> = history
        .events
        .iter()
        .filter(|e| matches!(e.request, Request::Txn { .. }))
        .flat_map(|e| e.request.keys())
        .collect();
    let prefixes = history.deleted_prefixes();
    let mut per_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in history.events.iter().enumerate() {
        let single = !matches!(
            e.request,
            Request::Txn { .. }
                | Request::Range { .. }
                | Request::DeletePrefix { .. }
                | Request::Compact { .. }
                | Request::Defrag
        );
        let key = e.request.key();
        if single && !in_txn.contains(key) && !prefixes.iter().any(|p| key.starts_with(p)) {
            per_key.entry(key).or_default().push(i);
        }
    }
    per_key
        .into_iter()
        .map(|(k, idx)| (k.to_string(), check_key(&history.events, &idx, budget)))
        .collect()
}

/// The first violation, if any, as one line.
pub fn first_violation(report: &Report, history: &History) -> Option<String> {
    report.iter().find_map(|(k, v)| match v {
        KeyVerdict::Violation { explained, of, value, stuck } => {
            let ops: Vec<String> = stuck.iter().take(4).map(|&i| describe(&history.events[i])).collect();
            Some(format!(
                "key {k:?} is not linearizable: {explained} of {of} operations explained, register {value:?}, none of these can go next: {}",
                ops.join("; ")
            ))
        }
        _ => None,
    })
}

fn describe(e: &Event) -> String {
    format!(
        "client {} on {} [{}µs..{}µs] {:?} → {:?}",
        e.client, e.member, e.invoke_us, e.complete_us, e.request, e.outcome
    )
}

struct Interner(HashMap<Option<String>, u32>, Vec<Option<String>>);

impl Interner {
    fn id(&mut self, v: Option<&str>) -> u32 {
        let key = v.map(str::to_string);
        if let Some(&i) = self.0.get(&key) {
            return i;
        }
        let i = self.1.len() as u32;
        self.0.insert(key.clone(), i);
        self.1.push(key);
        i
    }
}

fn to_ops(events: &[Event], idx: &[usize], values: &mut Interner) -> Vec<Op> {
    let mut ops = Vec::new();
    for &i in idx {
        let e = &events[i];
        let (complete, optional, result) = match &e.outcome {
            Outcome::Ok {
                value, succeeded, ..
            } => (e.complete_us, false, Some((value.clone(), *succeeded))),
            Outcome::Unknown { .. } if e.request.is_write() => (u64::MAX, true, None),
            _ => continue,
        };
        let kind = match &e.request {
            Request::Put { value, .. } => Kind::Put(values.id(Some(value))),
            Request::Delete { .. } => Kind::Delete,
            Request::Cas { expect, value, .. } => Kind::Cas {
                expect: values.id(expect.as_deref()),
                new: values.id(Some(value)),
                succeeded: result.as_ref().and_then(|r| r.1),
            },
            Request::Get {
                serializable: true, ..
            } => continue,
            Request::Get { .. } => Kind::Get(values.id(result.and_then(|r| r.0).as_deref())),
            // Left to the whole-store check (`check` skips them).
            Request::Txn { .. }
            | Request::Range { .. }
            | Request::DeletePrefix { .. }
            | Request::Compact { .. }
            | Request::Defrag => continue,
        };
        ops.push(Op {
            invoke: e.invoke_us,
            complete,
            optional,
            kind,
            event: i,
        });
    }
    ops.sort_by_key(|o| o.invoke);
    ops
}

/// The register after `op`, or `None` if `op` cannot happen in state `s` (0 is "absent").
fn step(s: u32, op: &Kind) -> Option<u32> {
    match *op {
        Kind::Put(v) => Some(v),
        Kind::Delete => Some(0),
        Kind::Get(v) => (v == s).then_some(s),
        Kind::Cas {
            expect,
            new,
            succeeded,
        } => match (s == expect, succeeded) {
            (true, Some(true) | None) => Some(new),
            (false, Some(false) | None) => Some(s),
            _ => None,
        },
    }
}

fn check_key(events: &[Event], idx: &[usize], budget: Duration) -> KeyVerdict {
    let mut values = Interner(HashMap::new(), Vec::new());
    values.id(None); // 0 = absent
    let ops = to_ops(events, idx, &mut values);
    let n = ops.len();
    let required = ops.iter().filter(|o| !o.optional).count();
    let words = n.div_ceil(64).max(1);
    let started = Instant::now();
    let mut seen: HashSet<(Vec<u64>, u32)> = HashSet::new();
    // Depth-first search with an explicit stack of (linearized set, state, required done, next candidate).
    let mut stack: Vec<(Vec<u64>, u32, usize, usize)> = vec![(vec![0; words], 0, 0, 0)];
    let mut best = (0usize, 0u32, vec![0u64; words]);
    let mut explored = 0usize;
    while let Some((done, state, req_done, from)) = stack.pop() {
        if req_done == required {
            return KeyVerdict::Linearizable;
        }
        explored += 1;
        if explored % 4096 == 0 && started.elapsed() > budget {
            return KeyVerdict::GaveUp { explored };
        }
        if req_done > best.0 {
            best = (req_done, state, done.clone());
        }
        let is_done = |d: &[u64], i: usize| d[i / 64] >> (i % 64) & 1 == 1;
        // An op may go next only if invoked before every pending required op completed.
        let horizon = (0..n)
            .filter(|&i| !is_done(&done, i) && !ops[i].optional)
            .map(|i| ops[i].complete)
            .min()
            .unwrap_or(u64::MAX);
        for i in from..n {
            if ops[i].invoke > horizon {
                break;
            }
            if is_done(&done, i) {
                continue;
            }
            if let Some(next) = step(state, &ops[i].kind) {
                let mut d = done.clone();
                d[i / 64] |= 1 << (i % 64);
                if seen.insert((d.clone(), next)) {
                    // Come back to try the next candidate after this branch.
                    stack.push((done.clone(), state, req_done, i + 1));
                    let r = req_done + usize::from(!ops[i].optional);
                    stack.push((d, next, r, 0));
                    break;
                }
            }
        }
    }
    let (explained, state, done) = best;
    let is_done = |i: usize| done[i / 64] >> (i % 64) & 1 == 1;
    let horizon = (0..n)
        .filter(|&i| !is_done(i) && !ops[i].optional)
        .map(|i| ops[i].complete)
        .min()
        .unwrap_or(u64::MAX);
    let stuck = (0..n)
        .filter(|&i| !is_done(i) && ops[i].invoke <= horizon && !ops[i].optional)
        .map(|i| ops[i].event)
        .collect();
    KeyVerdict::Violation {
        explained,
        of: required,
        value: values.1[state as usize].clone(),
        stuck,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(client: u32, t: (u64, u64), request: Request, outcome: Outcome) -> Event {
        Event {
            client,
            member: "m1".into(),
            invoke_us: t.0,
            complete_us: t.1,
            request,
            outcome,
        }
    }
    fn put(v: &str) -> Request {
        Request::Put {
            key: "k".into(),
            value: v.into(),
            prev_kv: false,
        }
    }
    fn get() -> Request {
        Request::Get {
            key: "k".into(),
            serializable: false,
        }
    }
    fn cas(expect: Option<&str>, v: &str) -> Request {
        Request::Cas {
            key: "k".into(),
            expect: expect.map(str::to_string),
            value: v.into(),
        }
    }
    fn ok() -> Outcome {
        Outcome::Ok {
            listed: None,
            revision: 0,
            value: None,
            succeeded: None,
            kvs: vec![],
            deleted: None,
        }
    }
    fn read(v: Option<&str>) -> Outcome {
        Outcome::Ok {
            listed: None,
            revision: 0,
            value: v.map(str::to_string),
            succeeded: None,
            kvs: vec![],
            deleted: None,
        }
    }
    fn txn(s: bool) -> Outcome {
        Outcome::Ok {
            listed: None,
            revision: 0,
            value: None,
            succeeded: Some(s),
            kvs: vec![],
            deleted: None,
        }
    }
    fn unknown() -> Outcome {
        Outcome::Unknown {
            error: "timed out".into(),
        }
    }
    fn verdict(events: Vec<Event>) -> KeyVerdict {
        check(&History { events }, Duration::from_secs(5))
            .remove("k")
            .unwrap()
    }

    #[test]
    fn sequential_and_concurrent_histories_that_are_linearizable() {
        // put a; get a; put b (concurrent with a get that sees either).
        let h = vec![
            ev(1, (0, 10), put("a"), ok()),
            ev(2, (11, 20), get(), read(Some("a"))),
            ev(1, (21, 40), put("b"), ok()),
            ev(2, (25, 30), get(), read(Some("a"))),
            ev(3, (35, 50), get(), read(Some("b"))),
            ev(3, (51, 60), cas(Some("b"), "c"), txn(true)),
            ev(1, (61, 70), cas(Some("b"), "d"), txn(false)),
            ev(2, (71, 80), get(), read(Some("c"))),
        ];
        assert_eq!(verdict(h), KeyVerdict::Linearizable);
    }

    #[test]
    fn a_stale_linearizable_read_is_caught() {
        let h = vec![
            ev(1, (0, 10), put("a"), ok()),
            ev(1, (11, 20), put("b"), ok()),
            ev(2, (21, 30), get(), read(Some("a"))),
        ];
        match verdict(h) {
            KeyVerdict::Violation { stuck, value, .. } => {
                assert_eq!(stuck, vec![2]);
                assert_eq!(value.as_deref(), Some("b"));
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn a_read_of_a_value_never_written_is_caught() {
        let h = vec![
            ev(1, (0, 10), put("a"), ok()),
            ev(2, (11, 20), get(), read(Some("zz"))),
        ];
        assert!(matches!(verdict(h), KeyVerdict::Violation { .. }));
    }

    #[test]
    fn a_lost_acknowledged_write_is_caught() {
        // b acknowledged, then a read (after it) sees the older a.
        let h = vec![
            ev(1, (0, 5), put("a"), ok()),
            ev(2, (6, 9), put("b"), ok()),
            ev(3, (10, 12), get(), read(Some("a"))),
        ];
        assert!(matches!(verdict(h), KeyVerdict::Violation { .. }));
    }

    #[test]
    fn a_cas_that_claims_the_wrong_outcome_is_caught() {
        let h = vec![
            ev(1, (0, 5), put("a"), ok()),
            ev(2, (6, 9), cas(Some("a"), "b"), txn(false)),
            ev(3, (10, 12), get(), read(Some("a"))),
        ];
        assert!(matches!(verdict(h), KeyVerdict::Violation { .. }));
    }

    #[test]
    fn unknown_writes_may_or_may_not_have_happened() {
        let took_effect = vec![
            ev(1, (0, 5), put("a"), ok()),
            ev(2, (6, 0), put("b"), unknown()),
            ev(3, (100, 110), get(), read(Some("b"))),
        ];
        assert_eq!(verdict(took_effect), KeyVerdict::Linearizable);
        let did_not = vec![
            ev(1, (0, 5), put("a"), ok()),
            ev(2, (6, 0), put("b"), unknown()),
            ev(3, (100, 110), get(), read(Some("a"))),
        ];
        assert_eq!(verdict(did_not), KeyVerdict::Linearizable);
        // But not before it was invoked.
        let too_early = vec![
            ev(1, (0, 5), put("a"), ok()),
            ev(3, (6, 8), get(), read(Some("b"))),
            ev(2, (9, 0), put("b"), unknown()),
        ];
        assert!(matches!(verdict(too_early), KeyVerdict::Violation { .. }));
    }

    #[test]
    fn serializable_reads_and_failed_requests_are_left_out() {
        let h = vec![
            ev(1, (0, 5), put("a"), ok()),
            ev(
                2,
                (6, 9),
                Request::Get {
                    key: "k".into(),
                    serializable: true,
                },
                read(None),
            ),
            ev(
                3,
                (6, 9),
                put("x"),
                Outcome::Failed {
                    refused: None,
                    error: "tcp connect error".into(),
                },
            ),
            ev(3, (10, 12), get(), read(Some("a"))),
        ];
        assert_eq!(verdict(h), KeyVerdict::Linearizable);
    }

    #[test]
    fn many_concurrent_clients() {
        // 8 clients, 400 ops on one key, each read sees the last completed write.
        let mut h = Vec::new();
        let mut t = 0;
        for round in 0..50 {
            for c in 0..8u32 {
                let v = format!("c{c}-{round}");
                h.push(ev(c, (t + c as u64, t + 20 + c as u64), put(&v), ok()));
            }
            t += 40;
            h.push(ev(9, (t, t + 1), get(), read(Some(&format!("c7-{round}")))));
            t += 5;
        }
        assert_eq!(verdict(h), KeyVerdict::Linearizable);
    }

    /// A search that spends its budget says so (inconclusive), never passes: 12 concurrent
    /// puts and a read of a value none of them wrote make it walk every order of the puts.
    #[test]
    fn a_search_out_of_budget_is_inconclusive_never_a_pass() {
        let mut h: Vec<Event> = (0..12u32)
            .map(|c| ev(c, (0, 100), put(&format!("v{c}")), ok()))
            .collect();
        h.push(ev(99, (50, 60), get(), read(Some("never written"))));
        let history = History { events: h };
        let gave_up = check(&history, Duration::ZERO);
        let verdict = gave_up.values().next().unwrap();
        assert!(
            matches!(verdict, KeyVerdict::GaveUp { explored } if *explored >= 4096),
            "{verdict:?}"
        );
        assert_eq!(first_violation(&gave_up, &history), None);
        let full = check(&history, Duration::from_secs(60));
        assert!(
            matches!(full.values().next().unwrap(), KeyVerdict::Violation { .. }),
            "{full:?}"
        );
    }
}
