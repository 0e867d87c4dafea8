//! The checks over one stretch of recorded traffic, in one fixed order, down to the first
//! failure: revisions, stale reads, the whole store (with its revisions), per-key
//! linearizability (of the keys no multi-key txn touched), the watch, the leases. Records in, verdict
//! out: the order is part of the verdict (a history that breaks revisions is not searched for a
//! linearization, which could take the whole budget to say the same thing less clearly).

use std::time::Duration;

use super::{lease, linearizable, revisions, stale, store, watch};
use crate::history::{History, LeaseRecord, WatchLog};

/// What the chain concluded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainVerdict {
    /// The first failure, one line (`None`: every check passed).
    pub failure: Option<String>,
    /// Keys whose linearizability search ran out of budget, with the states it explored:
    /// neither passed nor failed, for the caller to report.
    pub gave_up: Vec<(String, usize)>,
    /// Reads and compares the whole-store check could not decide (see [`store`]): neither
    /// passed nor failed, for the caller to report.
    pub undecided: usize,
}

/// Runs every check on `history` (with the reads that follow it), the `watch` that followed the
/// same keys and the `leases`, giving the linearizability search `budget` per key.
pub fn first_failure(
    history: &History,
    watch: &WatchLog,
    leases: &[LeaseRecord],
    budget: Duration,
) -> ChainVerdict {
    let mut verdict = ChainVerdict {
        failure: revisions::check(history)
            .into_iter()
            .next()
            .or_else(|| stale::check(history).into_iter().next()),
        gave_up: Vec::new(),
        undecided: 0,
    };
    if verdict.failure.is_none() {
        let whole = store::check(history, watch);
        verdict.failure = whole.violations.into_iter().next();
        verdict.undecided = whole.undecided;
    }
    if verdict.failure.is_none() {
        let report = linearizable::check(history, budget);
        verdict.failure = linearizable::first_violation(&report, history);
        verdict.gave_up = report
            .iter()
            .filter_map(|(k, v)| match v {
                linearizable::KeyVerdict::GaveUp { explored } => Some((k.clone(), *explored)),
                _ => None,
            })
            .collect();
    }
    verdict.failure = verdict
        .failure
        .or_else(|| watch::check(watch, history).into_iter().next())
        .or_else(|| lease::check(leases).into_iter().next());
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::lease::Observation;
    use crate::history::{Event, Outcome, Request, WatchEvent};

    fn put(client: u32, value: &str, at: u64, revision: i64) -> Event {
        Event {
            client,
            member: "m1".into(),
            invoke_us: at,
            complete_us: at + 1,
            request: Request::Put {
                key: "k".into(),
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

    fn get(at: u64, revision: i64, value: Option<&str>) -> Event {
        Event {
            client: 9,
            member: "m2".into(),
            invoke_us: at,
            complete_us: at + 1,
            request: Request::Get {
                key: "k".into(),
                serializable: false,
            },
            outcome: Outcome::Ok {
                listed: None,
                revision,
                value: value.map(str::to_string),
                succeeded: None,
                kvs: vec![],
                deleted: None,
            },
        }
    }

    fn watched(value: &str, revision: i64) -> WatchEvent {
        WatchEvent::at("m1", "k", Some(value), revision)
    }

    fn history() -> History {
        History {
            events: vec![
                put(1, "a", 10, 2),
                put(2, "b", 20, 3),
                get(30, 3, Some("b")),
            ],
        }
    }

    fn watch_log() -> WatchLog {
        WatchLog {
            events: vec![watched("a", 2), watched("b", 3)],
            start_revision: 2,
            resumes: vec![("m1".into(), 2)],
            compacted: vec![],
            progress: vec![],
            short: vec![],
            members: vec![],
            stalled: None,
            prev_probes: vec![],
        }
    }

    const BUDGET: Duration = Duration::from_secs(5);

    #[test]
    fn a_consistent_record_passes() {
        let v = first_failure(&history(), &watch_log(), &[], BUDGET);
        assert_eq!(v, ChainVerdict::default());
    }

    #[test]
    fn a_read_of_an_overwritten_value_fails_linearizability() {
        let mut h = history();
        h.events[2] = get(30, 3, Some("a"));
        let v = first_failure(&h, &watch_log(), &[], BUDGET);
        let f = v.failure.expect("fails");
        assert!(f.contains("not linearizable"), "{f}");
    }

    #[test]
    fn a_missed_watch_event_fails_once_the_history_passes() {
        let mut w = watch_log();
        w.events.remove(0);
        let v = first_failure(&history(), &w, &[], BUDGET);
        let f = v.failure.expect("the missed event");
        assert!(f.starts_with("watch missed k = \"a\""), "{f}");
    }

    #[test]
    fn revisions_come_first() {
        // Two acknowledged writes at one revision, and a watch that missed one: the chain names
        // the revisions, the earlier check.
        let mut h = history();
        h.events[1] = put(2, "b", 20, 2);
        let mut w = watch_log();
        w.events.clear();
        let first = first_failure(&h, &w, &[], BUDGET).failure.expect("fails");
        assert_eq!(
            Some(first),
            revisions::check(&h).into_iter().next(),
            "the revision check's line first"
        );
    }

    #[test]
    fn a_revoked_lease_whose_key_stays_fails() {
        let leases = [LeaseRecord {
            lease: 0x7,
            key: "L/1".into(),
            ttl_s: 2,
            renewals_us: vec![0],
            revoked: Some((100, 200)),
            observations: vec![Observation {
                member: "m3".into(),
                invoke_us: 300,
                complete_us: 310,
                present: true,
            }],
        }];
        let f = first_failure(&history(), &watch_log(), &leases, BUDGET)
            .failure
            .expect("fails");
        assert!(f.contains("lease 7"), "{f}");
    }
}
