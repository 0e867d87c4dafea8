//! Revision checks on a recorded history: a client never sees the store go back in time, and
//! no two acknowledged writes share a revision (each committed write creates exactly one).

use std::collections::BTreeMap;

use crate::history::{History, Outcome};

/// Every violation found, one line each.
pub fn check(history: &History) -> Vec<String> {
    let mut out = Vec::new();
    // Per client, responses to linearizable requests carry non-decreasing revisions: a later
    // request is served after the earlier one completed. (Serializable reads may be served by a
    // member that lags; the final read-back has no revision.)
    let mut last: BTreeMap<u32, (i64, usize)> = BTreeMap::new();
    // Writes that create a revision: puts, successful txns that write, deletes that delete.
    let mut by_revision: BTreeMap<i64, usize> = BTreeMap::new();
    for (i, e) in history.events.iter().enumerate() {
        let Outcome::Ok { revision, .. } = &e.outcome else {
            continue;
        };
        // Serializable gets and ranges alike (the explore test that first sent serializable
        // ranges failed here when its client moved to a member that lagged).
        if *revision == 0 || e.request.is_serializable() {
            continue;
        }
        if let Some(&(prev, j)) = last.get(&e.client) {
            if *revision < prev {
                out.push(format!(
                    "client {} went back in time: event {i} ({:?} on {}) at revision {revision} after event {j} at {prev}",
                    e.client, e.request, e.member
                ));
            }
        }
        last.insert(e.client, (*revision, i));
        if super::store::creates_revision(e) {
            if let Some(j) = by_revision.insert(*revision, i) {
                out.push(format!(
                    "events {j} and {i} were both acknowledged as the write at revision {revision}"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Event, Request};

    fn ev(client: u32, request: Request, revision: i64, succeeded: Option<bool>) -> Event {
        Event {
            client,
            member: "m1".into(),
            invoke_us: 0,
            complete_us: 1,
            request,
            outcome: Outcome::Ok {
                listed: None,
                revision,
                value: None,
                succeeded,
                kvs: vec![],
                deleted: None,
            },
        }
    }
    fn put(k: &str) -> Request {
        Request::Put {
            key: k.into(),
            value: "v".into(),
            prev_kv: false,
        }
    }

    #[test]
    fn good_history_passes() {
        let h = History {
            events: vec![
                ev(1, put("a"), 2, None),
                ev(2, put("b"), 3, None),
                ev(
                    1,
                    Request::Get {
                        key: "a".into(),
                        serializable: false,
                    },
                    3,
                    None,
                ),
                ev(
                    2,
                    Request::Cas {
                        key: "a".into(),
                        expect: None,
                        value: "x".into(),
                    },
                    3,
                    Some(false),
                ),
                ev(
                    1,
                    Request::Get {
                        key: "a".into(),
                        serializable: true,
                    },
                    1,
                    None,
                ),
            ],
        };
        assert!(check(&h).is_empty(), "{:?}", check(&h));
    }

    #[test]
    fn going_back_and_shared_revisions_are_caught() {
        let h = History {
            events: vec![
                ev(1, put("a"), 5, None),
                ev(
                    1,
                    Request::Get {
                        key: "a".into(),
                        serializable: false,
                    },
                    4,
                    None,
                ),
            ],
        };
        assert!(check(&h)[0].contains("went back in time"));
        let h = History {
            events: vec![ev(1, put("a"), 5, None), ev(2, put("b"), 5, None)],
        };
        assert!(check(&h)[0].contains("both acknowledged"));
    }

    fn range(serializable: bool) -> Request {
        Request::Range {
            prefix: "k/".into(),
            start: "k/".into(),
            revision: 0,
            limit: 0,
            keys_only: false,
            serializable,
        }
    }

    #[test]
    fn a_serializable_range_may_lag_a_linearizable_one_may_not() {
        let put = Request::Put {
            key: "k/1".into(),
            value: "v".into(),
            prev_kv: false,
        };
        let lagging = History {
            events: vec![ev(1, put.clone(), 7, None), ev(1, range(true), 5, None)],
        };
        assert_eq!(check(&lagging), Vec::<String>::new());
        let back = History {
            events: vec![ev(1, put, 7, None), ev(1, range(false), 5, None)],
        };
        assert!(check(&back)[0].contains("client 1 went back in time"));
    }
}
