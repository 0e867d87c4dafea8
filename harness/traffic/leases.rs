//! A lease client: grants short leases, attaches a key to each, keeps some alive a while,
//! revokes some and abandons the others, and reads the key back at moments where its presence
//! is known: while the lease is kept alive (must be there) and after a revoke (must be gone).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, LeaseKeepAliveStream, LeaseKeeper, PutOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::clients::{connect, Endpoints, RETRY_PAUSE};
use crate::history::lease::{LeaseRecord, Observation};

pub struct LeaseClient {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<LeaseRecord>>,
}

impl LeaseClient {
    pub fn start(endpoints: Endpoints, prefix: String, seed: u64, started: Instant) -> LeaseClient {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let task =
            tokio::spawn(async move { lease_loop(endpoints, prefix, seed, s, started).await });
        LeaseClient { stop, task }
    }

    pub async fn stop(self) -> Result<Vec<LeaseRecord>, String> {
        self.stop.store(true, Ordering::SeqCst);
        self.task
            .await
            .map_err(|e| format!("the lease client failed: {e}"))
    }
}

/// Longer than the pauses `pause` and `pause-leader` draw (at most 4 election timeouts, 4 s):
/// a leader frozen past its leases' TTL revokes them when it resumes (etcd#15247, in the case
/// its fix misses; kept in `findings/lease-revoked-by-frozen-leader.scn`), and that known bug
/// would end most explorations that pause the leader.
const TTL: i64 = 5;
const BOUND: Duration = Duration::from_secs(2);

/// What a keepalive's answer says of its lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renewal {
    /// Renewed: it cannot expire before the keepalive's invocation plus the TTL.
    Renewed,
    /// TTL 0: the lease no longer exists (revoked or expired), and its keys are gone with it.
    Gone,
}

/// One lease's keep-alive stream, each keepalive answered before the next is sent, so an
/// answer is never taken for a later request's (which would date a renewal too late).
pub struct Renewer {
    keeper: LeaseKeeper,
    stream: LeaseKeepAliveStream,
}

impl Renewer {
    /// Opens the stream: etcd-client sends the first keepalive and reads its answer as it
    /// opens, so an opened stream is a renewal dated at the call. `None` if it did not open
    /// within the bound, or failed (a lease already gone fails it too; the key reads show it).
    pub async fn open(c: &mut Client, lease: i64) -> Option<Renewer> {
        let (keeper, stream) = tokio::time::timeout(BOUND, c.lease_keep_alive(lease))
            .await
            .ok()?
            .ok()?;
        Some(Renewer { keeper, stream })
    }

    /// Sends one keepalive and reads its answer; after `None` (unanswered, or the stream
    /// broke) the renewer must be dropped: a late answer would be read as the next one's.
    pub async fn renew(&mut self) -> Option<Renewal> {
        tokio::time::timeout(BOUND, self.keeper.keep_alive())
            .await
            .ok()?
            .ok()?;
        self.answer().await
    }

    async fn answer(&mut self) -> Option<Renewal> {
        let resp = tokio::time::timeout(BOUND, self.stream.message())
            .await
            .ok()?
            .ok()??;
        Some(if resp.ttl() > 0 {
            Renewal::Renewed
        } else {
            Renewal::Gone
        })
    }
}

/// A keepalive answered "no such lease": as good as a read that found its key gone.
pub fn gone(member: &str, invoke_us: u64, complete_us: u64) -> Observation {
    Observation {
        member: member.into(),
        invoke_us,
        complete_us,
        present: false,
    }
}

async fn observe(c: &mut Client, member: &str, key: &str, started: Instant) -> Option<Observation> {
    let invoke_us = started.elapsed().as_micros() as u64;
    let r = tokio::time::timeout(BOUND, c.get(key, None))
        .await
        .ok()?
        .ok()?;
    Some(Observation {
        member: member.into(),
        invoke_us,
        complete_us: started.elapsed().as_micros() as u64,
        present: !r.kvs().is_empty(),
    })
}

async fn lease_loop(
    endpoints: Endpoints,
    prefix: String,
    seed: u64,
    stop: Arc<AtomicBool>,
    started: Instant,
) -> Vec<LeaseRecord> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x1ea5e);
    let mut records = Vec::new();
    let mut n = 0;
    let now = || started.elapsed().as_micros() as u64;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let picked = {
            let eps = endpoints.read().unwrap();
            (!eps.is_empty()).then(|| eps[n % eps.len()].clone())
        };
        let Some(ep) = picked else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let member = ep.member.clone();
        let Some(mut c) = connect(&ep, Some(BOUND), false).await else {
            tokio::time::sleep(RETRY_PAUSE).await;
            continue;
        };
        let mut rec = LeaseRecord {
            key: format!("{prefix}{n}"),
            ttl_s: TTL,
            ..Default::default()
        };
        let granted_at = now();
        let Ok(Ok(g)) = tokio::time::timeout(BOUND, c.lease_grant(TTL, None)).await else {
            tokio::time::sleep(RETRY_PAUSE).await;
            continue;
        };
        rec.lease = g.id();
        rec.ttl_s = g.ttl();
        rec.renewals_us.push(granted_at);
        let put = c.put(
            rec.key.as_str(),
            "leased",
            Some(PutOptions::new().with_lease(rec.lease)),
        );
        if !matches!(tokio::time::timeout(BOUND, put).await, Ok(Ok(_))) {
            continue; // unknown whether attached: nothing to check
        }
        let mut invoke = now();
        let Some(mut renewer) = Renewer::open(&mut c, rec.lease).await else {
            records.push(rec);
            continue;
        };
        let mut renewal = Some(Renewal::Renewed);
        let mut rounds = rng.gen_range(0..3);
        loop {
            match renewal {
                Some(Renewal::Renewed) => rec.renewals_us.push(invoke),
                Some(Renewal::Gone) => {
                    rec.observations.push(gone(&member, invoke, now()));
                    break;
                }
                // Unanswered: renew no more (its late answer would be read as the next one's).
                None => break,
            }
            if rounds == 0 {
                break;
            }
            rounds -= 1;
            if let Some(o) = observe(&mut c, &member, &rec.key, started).await {
                rec.observations.push(o);
            }
            tokio::time::sleep(Duration::from_millis(400)).await;
            invoke = now();
            renewal = renewer.renew().await;
        }
        if let Some(o) = observe(&mut c, &member, &rec.key, started).await {
            rec.observations.push(o);
        }
        if rng.gen_bool(0.6) {
            let invoke = now();
            if let Ok(Ok(_)) = tokio::time::timeout(BOUND, c.lease_revoke(rec.lease)).await {
                rec.revoked = Some((invoke, now()));
                if let Some(o) = observe(&mut c, &member, &rec.key, started).await {
                    rec.observations.push(o);
                }
            }
        }
        records.push(rec);
    }
    records
}
