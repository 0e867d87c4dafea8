//! Serializable reads may be stale by design (a member answers from its own state without
//! asking the leader), so linearizability does not bind them. They must still never invent: a
//! value a serializable read returns was written to that key by a request invoked before the
//! read completed.

use std::collections::HashMap;

use crate::history::{History, Outcome, Request};

/// Every violation, one line each.
pub fn check(history: &History) -> Vec<String> {
    // Earliest invocation of a write of (key, value) that may have taken effect.
    let mut written: HashMap<(&str, &str), u64> = HashMap::new();
    for e in &history.events {
        let succeeded = match &e.outcome {
            Outcome::Ok { succeeded, .. } => *succeeded,
            Outcome::Unknown { .. } => None,
            Outcome::Failed { .. } => continue,
        };
        for (key, value) in e.request.writes(succeeded) {
            let Some(value) = value else { continue };
            let t = written.entry((key, value)).or_insert(e.invoke_us);
            *t = (*t).min(e.invoke_us);
        }
    }
    let mut out = Vec::new();
    for e in &history.events {
        let (
            Request::Get {
                key,
                serializable: true,
            },
            Outcome::Ok { value: Some(v), .. },
        ) = (&e.request, &e.outcome)
        else {
            continue;
        };
        match written.get(&(key.as_str(), v.as_str())) {
            Some(&t) if t <= e.complete_us => {}
            Some(&t) => out.push(format!(
                "serializable read of {key} on {} returned {v:?} at {}µs, before its write was invoked at {t}µs",
                e.member, e.complete_us
            )),
            None => out.push(format!("serializable read of {key} on {} returned {v:?}, which no request wrote", e.member)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Event;

    fn ev(t: (u64, u64), request: Request, outcome: Outcome) -> Event {
        Event {
            client: 1,
            member: "m2".into(),
            invoke_us: t.0,
            complete_us: t.1,
            request,
            outcome,
        }
    }
    fn sget(v: Option<&str>) -> (Request, Outcome) {
        (
            Request::Get {
                key: "k".into(),
                serializable: true,
            },
            Outcome::Ok {
                listed: None,
                revision: 0,
                value: v.map(str::to_string),
                succeeded: None,
                kvs: vec![],
                deleted: None,
            },
        )
    }

    #[test]
    fn stale_but_real_values_pass_and_invented_ones_are_caught() {
        let put = |v: &str| Request::Put {
            key: "k".into(),
            value: v.into(),
            prev_kv: false,
        };
        let ok = Outcome::Ok {
            listed: None,
            revision: 2,
            value: None,
            succeeded: None,
            kvs: vec![],
            deleted: None,
        };
        let (g, o) = sget(Some("a"));
        let (g2, o2) = sget(None);
        let good = History {
            events: vec![
                ev((0, 5), put("a"), ok.clone()),
                ev((6, 9), put("b"), ok.clone()),
                ev((10, 12), g, o),
                ev((10, 12), g2, o2),
            ],
        };
        assert!(check(&good).is_empty(), "{:?}", check(&good));
        let (g, o) = sget(Some("zz"));
        let invented = History {
            events: vec![ev((0, 5), put("a"), ok.clone()), ev((10, 12), g, o)],
        };
        assert!(check(&invented)[0].contains("no request wrote"));
        let (g, o) = sget(Some("a"));
        let from_the_future = History {
            events: vec![ev((1, 2), g, o), ev((5, 9), put("a"), ok)],
        };
        assert!(check(&from_the_future)[0].contains("before its write was invoked"));
        let (g, o) = sget(Some("x"));
        let failed = History {
            events: vec![
                ev(
                    (0, 1),
                    put("x"),
                    Outcome::Failed {
                        refused: None,
                        error: "tcp connect error".into(),
                    },
                ),
                ev((2, 3), g, o),
            ],
        };
        assert!(check(&failed)[0].contains("no request wrote"));
    }
}
