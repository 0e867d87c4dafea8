//! Lease operations: a group of leases granted through one member, each with a key attached,
//! kept alive from the harness until revoked; and the check that no key of a lease that was
//! kept alive is gone. It targets etcd#15247: a leader stalled past its leases' TTL counts them
//! expired when it runs again and revokes them, although clients kept them alive through the
//! new leader meanwhile.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use etcd_client::{Client, GetOptions, PutOptions};
use tokio::task::JoinSet;

use super::error::{disagree, StepError};
use super::op::{args, Op, Refs, Target};
use super::runner::Runner;
use crate::check;
use crate::cluster::member::{bounded_rpc, REQUEST_TIMEOUT};
use crate::history::lease::{LeaseRecord, Observation};
use crate::traffic::leases::{gone, Renewal, Renewer};

/// Keys of leases held by a scenario live under this prefix; the oracle leaves them to the
/// lease check (they vanish with their lease, which the model does not follow).
pub const LEASE_PREFIX: &str = "lease/";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lease {
    /// `count` leases of `ttl_s` seconds through a member, a key `lease/NAME/i` on each, kept
    /// alive through the same member every `ttl_s / 5` seconds.
    Grant {
        name: String,
        ttl_s: i64,
        count: usize,
        via: Option<Target>,
    },
    /// Every key of the group is read through every live voting member: none may be gone while
    /// its lease was kept alive (its last renewal plus the TTL not passed).
    Expect { name: String },
    /// Keepalives stop, every lease is revoked, and its key must be gone.
    Revoke { name: String },
}

impl fmt::Display for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lease::Grant {
                name,
                ttl_s,
                count,
                via,
            } => {
                write!(f, "lease-grant {name} {ttl_s} {count}")?;
                via.as_ref().map_or(Ok(()), |v| write!(f, " via {v}"))
            }
            Lease::Expect { name } => write!(f, "expect-leases {name}"),
            Lease::Revoke { name } => write!(f, "lease-revoke {name}"),
        }
    }
}

pub fn parse(verb: &str, a: &[&str]) -> Result<Op, String> {
    let usage = super::registry::find(verb).map_or("", |v| v.usage);
    let op = match verb {
        "lease-grant" => {
            let (a, via) = args::split_via(a)?;
            let [name, ttl, count] = a else {
                return Err(format!(
                    "`lease-grant` takes a name, a TTL and a count: {usage}"
                ));
            };
            let ttl_s = ttl
                .parse()
                .ok()
                .filter(|t| *t >= 2)
                .ok_or_else(|| format!("lease-grant: {ttl:?} is not a TTL of 2 s or more"))?;
            let count = count
                .parse()
                .ok()
                .filter(|c| (1..=1000).contains(c))
                .ok_or_else(|| format!("lease-grant: {count:?} is not a count of 1 to 1000"))?;
            Lease::Grant {
                name: name.to_string(),
                ttl_s,
                count,
                via,
            }
        }
        "expect-leases" | "lease-revoke" => {
            args::exactly(verb, a, 1, usage)?;
            let name = a[0].to_string();
            if verb == "expect-leases" {
                Lease::Expect { name }
            } else {
                Lease::Revoke { name }
            }
        }
        other => return Err(format!("not a lease step: {other}")),
    };
    Ok(op.into())
}

impl Lease {
    pub fn refs(&self) -> Refs<'_> {
        match self {
            Lease::Grant { via: Some(t), .. } => Refs::default().with_members([t]),
            _ => Refs::default(),
        }
    }
}

/// A group of leases being kept alive. Dropping it aborts the keepalive tasks.
pub struct KeptLeases {
    records: Arc<Mutex<Vec<LeaseRecord>>>,
    keepers: JoinSet<()>,
    /// The time base of every record's microseconds.
    started: Instant,
    client: Client,
    /// The member they were granted and are kept alive through.
    member: String,
}

impl KeptLeases {
    fn records(&self) -> Vec<LeaseRecord> {
        self.records.lock().unwrap().clone()
    }

    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }
}

/// Keeps lease `i` of a group alive: every `interval`, one keepalive, dated by its invocation
/// when answered; a TTL-0 answer (the lease is gone) is recorded and ends the keeper; an
/// unanswered one reopens the stream.
async fn keep_alive(
    mut client: Client,
    member: String,
    records: Arc<Mutex<Vec<LeaseRecord>>>,
    i: usize,
    interval: Duration,
    started: Instant,
) {
    let id = records.lock().unwrap()[i].lease;
    let now = || started.elapsed().as_micros() as u64;
    let mut renewer: Option<Renewer> = None;
    loop {
        tokio::time::sleep(interval).await;
        let invoke = now();
        let answer = match renewer.as_mut() {
            Some(r) => r.renew().await,
            None => {
                renewer = Renewer::open(&mut client, id).await;
                renewer.as_ref().map(|_| Renewal::Renewed)
            }
        };
        match answer {
            Some(Renewal::Renewed) => records.lock().unwrap()[i].renewals_us.push(invoke),
            Some(Renewal::Gone) => {
                records.lock().unwrap()[i]
                    .observations
                    .push(gone(&member, invoke, now()));
                return;
            }
            None => renewer = None,
        }
    }
}

impl Runner<'_> {
    pub(super) async fn apply_lease(&mut self, op: &Lease) -> Result<String, StepError> {
        match op {
            Lease::Grant {
                name,
                ttl_s,
                count,
                via,
            } => self.grant_leases(name, *ttl_s, *count, via).await,
            Lease::Expect { name } => self.expect_leases(name).await,
            Lease::Revoke { name } => self.revoke_leases(name).await,
        }
    }

    fn kept(&self, name: &str) -> Result<&KeptLeases, StepError> {
        self.leases
            .get(name)
            .ok_or_else(|| StepError::precondition(format!("no leases named {name}")))
    }

    async fn grant_leases(
        &mut self,
        name: &str,
        ttl_s: i64,
        count: usize,
        via: &Option<Target>,
    ) -> Result<String, StepError> {
        if self.leases.contains_key(name) {
            return Err(StepError::precondition(format!(
                "leases named {name} are already held"
            )));
        }
        let i = self.via(via).await?;
        let m = self.cluster()?.member(i);
        let member = m.name.clone();
        let mut client = m.client().await?;
        let started = Instant::now();
        let mut records = Vec::with_capacity(count);
        for n in 0..count {
            let key = format!("{LEASE_PREFIX}{name}/{n}");
            let invoke = started.elapsed().as_micros() as u64;
            let g = bounded(&member, "lease grant", client.lease_grant(ttl_s, None)).await?;
            let put = client.put(
                key.as_str(),
                "leased",
                Some(PutOptions::new().with_lease(g.id())),
            );
            bounded(&member, "put with a lease", put).await?;
            records.push(LeaseRecord {
                lease: g.id(),
                key,
                ttl_s: g.ttl(),
                renewals_us: vec![invoke],
                ..Default::default()
            });
        }
        let records = Arc::new(Mutex::new(records));
        let interval = Duration::from_millis(ttl_s as u64 * 200);
        let mut keepers = JoinSet::new();
        for n in 0..count {
            keepers.spawn(keep_alive(
                client.clone(),
                member.clone(),
                records.clone(),
                n,
                interval,
                started,
            ));
        }
        self.leases.insert(
            name.to_string(),
            KeptLeases {
                records,
                keepers,
                started,
                client,
                member: member.clone(),
            },
        );
        Ok(format!(
            "{count} leases of {ttl_s} s granted through {member}, kept alive every {} ms",
            interval.as_millis()
        ))
    }

    /// Reads the group's keys through every live member, then judges every record with the
    /// lease check.
    async fn expect_leases(&mut self, name: &str) -> Result<String, StepError> {
        let c = self.cluster()?;
        let kept = self.kept(name)?;
        let prefix = format!("{LEASE_PREFIX}{name}/");
        let mut reads: Vec<(String, u64, u64, Vec<String>)> = Vec::new();
        // Voting members only: a learner answers serializably, and may not have applied a key
        // yet, which would read as gone.
        for i in c.live().into_iter().filter(|&i| !self.is_learner(i)) {
            let m = c.member(i);
            let p = prefix.clone();
            let invoke = kept.now_us();
            let r = m
                .rpc("range the lease keys", |mut cl| async move {
                    let opts = GetOptions::new().with_prefix().with_keys_only();
                    cl.get(p, Some(opts)).await
                })
                .await?;
            let keys = r
                .kvs()
                .iter()
                .map(|kv| String::from_utf8_lossy(kv.key()).into_owned())
                .collect();
            reads.push((m.name.clone(), invoke, kept.now_us(), keys));
        }
        let mut records = kept.records.lock().unwrap();
        for rec in records.iter_mut() {
            for (member, invoke_us, complete_us, keys) in &reads {
                rec.observations.push(Observation {
                    member: member.clone(),
                    invoke_us: *invoke_us,
                    complete_us: *complete_us,
                    present: keys.contains(&rec.key),
                });
            }
        }
        let violations = check::lease::check(&records);
        let total = records.len();
        let gone = records.iter().filter(|r| gone_now(r)).count();
        drop(records);
        if !violations.is_empty() {
            let shown: Vec<&str> = violations.iter().take(3).map(String::as_str).collect();
            return Err(disagree(
                format!("leases {name}"),
                format!("all {total} kept alive, every key present"),
                format!("{} violations, e.g. {}", violations.len(), shown.join("; ")),
            ));
        }
        Ok(format!(
            "{total} leases checked through {} members: none gone while kept alive ({gone} gone after their TTL)",
            reads.len()
        ))
    }

    async fn revoke_leases(&mut self, name: &str) -> Result<String, StepError> {
        let mut kept = self
            .leases
            .remove(name)
            .ok_or_else(|| StepError::precondition(format!("no leases named {name}")))?;
        kept.keepers.shutdown().await;
        let member = kept.member.clone();
        let mut revoked = 0;
        for rec in kept.records() {
            let lease = kept.client.lease_revoke(rec.lease);
            // A lease already gone (expired) fails its revoke: the key check below judges.
            if let Ok(Ok(_)) = tokio::time::timeout(REQUEST_TIMEOUT, lease).await {
                revoked += 1;
            }
        }
        let prefix = format!("{LEASE_PREFIX}{name}/");
        let left = bounded(
            &member,
            "range the lease keys",
            kept.client.get(
                prefix,
                Some(GetOptions::new().with_prefix().with_count_only()),
            ),
        )
        .await?
        .count();
        if left > 0 {
            return Err(disagree(
                format!("leases {name} after the revoke"),
                "no key left",
                format!("{left} keys left"),
            ));
        }
        Ok(format!("{revoked} leases revoked, no key left"))
    }
}

/// The record's last observation found the key gone.
fn gone_now(r: &LeaseRecord) -> bool {
    r.observations.last().is_some_and(|o| !o.present)
}

/// One lease RPC with the harness's request deadline; a failure is the cluster layer's.
async fn bounded<T>(
    member: &str,
    op: &str,
    f: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, StepError> {
    Ok(bounded_rpc(member, op, f).await?)
}

#[cfg(test)]
mod tests {
    use super::super::op::parse_line;

    #[test]
    fn lines_round_trip_through_display() {
        for l in [
            "lease-grant lk 5 100 via follower",
            "lease-grant lk 3 1",
            "expect-leases lk",
            "lease-revoke lk",
        ] {
            assert_eq!(parse_line(l).unwrap().to_string(), l);
        }
        assert!(parse_line("lease-grant lk 1 10")
            .unwrap_err()
            .contains("TTL of 2 s or more"));
        assert!(parse_line("lease-grant lk 5 0")
            .unwrap_err()
            .contains("count of 1 to 1000"));
        assert!(parse_line("lease-grant lk 5")
            .unwrap_err()
            .contains("a name, a TTL and a count"));
    }
}
