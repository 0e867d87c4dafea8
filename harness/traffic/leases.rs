//! A lease client: grants short leases, attaches a key to each, keeps some alive a while,
//! revokes some and abandons the others, and reads the key back at moments where its presence
//! is known: while the lease is kept alive (must be there) and after a revoke (must be gone).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, PutOptions};
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

const TTL: i64 = 2;
const BOUND: Duration = Duration::from_secs(2);

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
        let Some((member, url)) = picked else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Some(mut c) = connect(&url, Some(BOUND), false).await else {
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
        let Ok(Ok((mut keeper, mut stream))) =
            tokio::time::timeout(BOUND, c.lease_keep_alive(rec.lease)).await
        else {
            records.push(rec);
            continue;
        };
        for _ in 0..rng.gen_range(0..3) {
            if let Some(o) = observe(&mut c, &member, &rec.key, started).await {
                rec.observations.push(o);
            }
            tokio::time::sleep(Duration::from_millis(400)).await;
            let invoke = now();
            let renewed = async {
                keeper.keep_alive().await?;
                stream.message().await
            };
            match tokio::time::timeout(BOUND, renewed).await {
                Ok(Ok(Some(resp))) if resp.ttl() > 0 => rec.renewals_us.push(invoke),
                // A late answer could be read as the next keepalive's and date a renewal too
                // late: after any unanswered keepalive, renew no more.
                _ => break,
            }
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
