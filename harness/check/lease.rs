//! Lease checks: a key attached to a lease disappears once the lease is revoked, and never
//! before the lease could have expired (its last renewal plus the TTL; etcd may keep it longer,
//! e.g. leases are extended when leadership changes, never shorter).

use crate::history::LeaseRecord;

/// Every violation, one line each.
pub fn check(records: &[LeaseRecord]) -> Vec<String> {
    let mut out = Vec::new();
    for r in records {
        let ttl_us = r.ttl_s as u64 * 1_000_000;
        for o in &r.observations {
            let revoked_before = r.revoked.is_some_and(|(_, done)| o.invoke_us > done);
            let revoke_started = r.revoked.is_some_and(|(inv, _)| o.complete_us >= inv);
            // The last renewal invoked before this read started: expiry is no earlier than it
            // plus the TTL.
            let renewed = r
                .renewals_us
                .iter()
                .filter(|&&t| t <= o.invoke_us)
                .max()
                .copied();
            let surely_alive =
                renewed.is_some_and(|t| o.complete_us < t + ttl_us) && !revoke_started;
            if revoked_before && o.present {
                out.push(format!(
                    "lease {:x}: key {} still present through {} after the revoke was acknowledged",
                    r.lease, r.key, o.member
                ));
            }
            if surely_alive && !o.present {
                out.push(format!(
                    "lease {:x}: key {} gone early through {} ({} ms after the last renewal, TTL {} s)",
                    r.lease,
                    r.key,
                    o.member,
                    (o.complete_us - renewed.unwrap_or(0)) / 1000,
                    r.ttl_s
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::lease::Observation;

    fn obs(at_ms: u64, present: bool) -> Observation {
        Observation {
            member: "m1".into(),
            invoke_us: at_ms * 1000,
            complete_us: at_ms * 1000 + 500,
            present,
        }
    }

    fn rec(observations: Vec<Observation>, revoked: Option<(u64, u64)>) -> LeaseRecord {
        LeaseRecord {
            lease: 7,
            key: "L/1".into(),
            ttl_s: 2,
            renewals_us: vec![0, 1_000_000],
            revoked,
            observations,
        }
    }

    #[test]
    fn present_while_alive_and_gone_after_revoke_passes() {
        let r = rec(
            vec![obs(500, true), obs(2500, true), obs(3200, false)],
            Some((3_000_000, 3_100_000)),
        );
        assert!(check(&[r]).is_empty());
        // Abandoned: present until expiry, then either way.
        let r = rec(
            vec![obs(2900, true), obs(3500, false), obs(5000, true)],
            None,
        );
        assert!(check(&[r]).is_empty());
    }

    #[test]
    fn early_disappearance_and_a_revoked_survivor_are_caught() {
        let early = rec(vec![obs(2000, false)], None);
        assert!(check(&[early])[0].contains("gone early"));
        let survivor = rec(vec![obs(3200, true)], Some((3_000_000, 3_100_000)));
        assert!(check(&[survivor])[0].contains("still present"));
    }
}
