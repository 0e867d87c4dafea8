//! An epoch: one stretch of traffic between restores, with its KV clients, watcher and lease
//! client, each on its own key prefix. A disaster restore loses the writes after its snapshot by
//! design, so each epoch's record is closed, read back and checked on its own before the next
//! starts.

use std::time::{Duration, Instant};

use super::setup::CaseSetup;
use crate::check::chain;
use crate::cluster::Cluster;
use crate::history::{Event, History, LeaseRecord, Outcome, ReadKv, Request, WatchLog};
use crate::traffic::leases::LeaseClient;
use crate::traffic::watcher::Watcher;
use crate::traffic::{Endpoint, Endpoints, Profile, Traffic, TrafficConfig};

/// How long the linearizability search may take per key.
const LINEARIZABLE_BUDGET: Duration = Duration::from_secs(20);

/// Running traffic of one epoch.
pub struct Epoch {
    traffic: Traffic,
    watcher: Watcher,
    leases: LeaseClient,
    prefix: String,
}

/// Everything the epochs recorded, for the checks and the artifacts.
#[derive(Default)]
pub struct Recorded {
    pub history: History,
    pub watches: Vec<WatchLog>,
    pub leases: Vec<LeaseRecord>,
    /// Time the checks of every epoch took: what a case spends judging, not running.
    pub checking: Duration,
    /// Reads and compares the whole-store check could not decide, and keys whose
    /// linearizability search ran out of budget: neither passed nor failed, so the case line
    /// says so.
    pub undecided: usize,
    pub inconclusive: usize,
}

/// The members traffic may use now: `live`, the live voting members, with the credentials
/// the cluster's requests carry (auth may have been turned on or off). Called after every
/// operation.
pub fn refresh(endpoints: &Endpoints, cluster: &Cluster, live: &[usize]) {
    let live: Vec<Endpoint> = live
        .iter()
        .map(|&i| Endpoint::of(cluster.member(i)))
        .collect();
    *endpoints.write().unwrap() = live;
}

/// Microseconds on the case's clock.
fn now_us(started: Instant) -> u64 {
    started.elapsed().as_micros() as u64
}

impl Epoch {
    /// Starts epoch number `n`'s traffic (keys `k/<n>/…`, leases `k/L<n>/…`), every random
    /// choice drawn from the case's traffic seed.
    pub fn start(
        setup: &CaseSetup,
        profile: Profile,
        endpoints: &Endpoints,
        n: usize,
        started: Instant,
    ) -> Epoch {
        let prefix = format!("k/{n}/");
        let cfg = TrafficConfig {
            clients: setup.clients,
            rate: setup.rate,
            keys: setup.keys,
            seed: setup.traffic_seed.wrapping_add(n as u64),
            request_timeout: Duration::from_secs(3),
            prefix: prefix.clone(),
            profile,
            txn_reads_at_revision: setup.txn_reads_at_revision,
        };
        Epoch {
            traffic: Traffic::start(endpoints.clone(), cfg, started),
            watcher: Watcher::start(
                endpoints.clone(),
                prefix.clone(),
                started,
                (profile.requests_progress(), setup.held_watches),
            ),
            leases: LeaseClient::start(
                endpoints.clone(),
                format!("k/L{n}/"),
                setup.traffic_seed,
                started,
            ),
            prefix,
        }
    }

    /// Ends the epoch: stops its traffic, reads every key back through every live member (so a
    /// lost acknowledged write shows up as a read the history cannot explain), checks the
    /// history, the watch and the leases, and adds them to `all`. `readers` are the live voting
    /// members; none without a quorum, where the reads could only time out (the case failed
    /// before healing).
    pub async fn close(
        self,
        cluster: &Cluster,
        readers: Vec<usize>,
        keys: usize,
        started: Instant,
        all: &mut Recorded,
    ) -> Option<String> {
        let mut history = match self.traffic.stop().await {
            Ok(h) => h,
            Err(e) => return Some(e),
        };
        let leases = match self.leases.stop().await {
            Ok(l) => l,
            Err(e) => return Some(e),
        };
        let end_revision = match readers.first() {
            Some(&i) => sentinel(cluster, i, &self.prefix, started, &mut history).await,
            None => 0,
        };
        let watch = match self.watcher.stop_at(end_revision).await {
            Ok(w) => w,
            Err(e) => return Some(format!("{}: {e}", self.prefix)),
        };
        for i in readers {
            read_back(cluster, i, &self.prefix, keys, started, &mut history).await;
        }
        let t0 = Instant::now();
        let verdict = chain::first_failure(&history, &watch, &leases, LINEARIZABLE_BUDGET);
        all.checking += t0.elapsed();
        all.undecided += verdict.undecided;
        all.inconclusive += verdict.gave_up.len();
        for (k, explored) in &verdict.gave_up {
            tracing::warn!("linearizability of {k:?}: gave up after {explored} states");
        }
        if verdict.undecided > 0 {
            tracing::warn!(
                "{}: {} reads or compares undecided (an unknown write may hide where the watch did not cover)",
                self.prefix,
                verdict.undecided
            );
        }
        all.history.events.extend(history.events);
        all.watches.push(watch);
        all.leases.extend(leases);
        verdict.failure.map(|f| format!("{}: {f}", self.prefix))
    }
}

/// A sentinel write under the watched prefix through member `i` marks the end: the watch
/// must deliver it, and with it every acknowledged write before it. Its revision (0 if the
/// write failed: then the watch is only stopped).
async fn sentinel(
    cluster: &Cluster,
    i: usize,
    prefix: &str,
    started: Instant,
    history: &mut History,
) -> i64 {
    let m = cluster.member(i);
    let key = format!("{prefix}end");
    let invoke_us = now_us(started);
    let Ok(revision) = m.put(&key, "end-of-epoch").await else {
        return 0;
    };
    history.events.push(Event {
        client: u32::MAX,
        member: m.name.clone(),
        invoke_us,
        complete_us: now_us(started),
        request: Request::Put {
            key,
            value: "end-of-epoch".into(),
            prev_kv: false,
        },
        outcome: Outcome::ok(revision),
    });
    revision
}

/// Reads every key of the epoch through member `i` into the history, as linearizable gets.
async fn read_back(
    cluster: &Cluster,
    i: usize,
    prefix: &str,
    keys: usize,
    started: Instant,
    history: &mut History,
) {
    let m = cluster.member(i);
    for k in 0..keys {
        let key = format!("{prefix}{k}");
        let invoke_us = now_us(started);
        let outcome = match m.get_revisioned(&key).await {
            Ok((revision, kv)) => Outcome::Ok {
                revision,
                value: kv.as_ref().map(|(v, _)| v.clone()),
                succeeded: None,
                kvs: vec![ReadKv {
                    key: key.clone(),
                    mod_revision: kv.as_ref().map_or(0, |(_, r)| *r),
                    value: kv.map(|(v, _)| v),
                    ..ReadKv::default()
                }],
                deleted: None,
                listed: None,
            },
            Err(e) => Outcome::failed(e.to_string()),
        };
        history.events.push(Event {
            client: u32::MAX,
            member: m.name.clone(),
            invoke_us,
            complete_us: now_us(started),
            request: Request::Get {
                key,
                serializable: false,
            },
            outcome,
        });
    }
}
