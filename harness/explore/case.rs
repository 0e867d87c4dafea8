//! One exploration case on a real cluster: boot the older release, start traffic, apply each
//! step through the same operations and oracle the scenarios use, heal, read every key back
//! through every member, and check the history. Artifacts of a failed case are kept.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::plan::Step;
use crate::check::chain;
use crate::cluster::Cluster;
use crate::history::{Event, History, LeaseRecord, Outcome, Request, WatchLog};
use crate::model::rules;
use crate::ops::{Op, Runner, Target};
use crate::release::ReleaseStore;
use crate::traffic::leases::LeaseClient;
use crate::traffic::watcher::Watcher;
use crate::traffic::{Endpoints, Traffic, TrafficConfig};

/// What a case needs besides its steps.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct CaseSetup {
    /// Older and newer release of the pair under test.
    pub older: String,
    pub newer: String,
    pub members: usize,
    pub traffic_seed: u64,
    pub clients: usize,
    /// Requests per second over all clients (0: unlimited).
    pub rate: u32,
    pub keys: usize,
}

/// One applied operation, for the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct Applied {
    pub step: usize,
    pub op: String,
    /// Milliseconds since the case started.
    pub start_ms: u64,
    pub end_ms: u64,
    pub outcome: Result<String, String>,
    /// `m1=3.5.16/3.4 …` as the oracle observed it after the step (empty if it failed).
    pub versions: String,
    /// Every member after the step, for the timeline.
    pub members: Vec<MemberState>,
    /// The model's cluster version after the step.
    pub cluster_version: Option<String>,
}

/// One member at one moment of the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct MemberState {
    pub name: String,
    pub release: String,
    /// `running`, `paused` or `down`.
    pub state: &'static str,
    pub leader: bool,
}

/// Every member's release and state, and who leads (one bounded Status call).
async fn member_states(runner: &Runner<'_>) -> Vec<MemberState> {
    let Some(c) = runner.cluster.as_ref() else {
        return vec![];
    };
    let mut leader = 0;
    if let Some(&i) = c.live().first() {
        if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_secs(1), c.member(i).status()).await
        {
            leader = s.leader;
        }
    }
    c.members()
        .iter()
        .map(|m| MemberState {
            name: m.name.clone(),
            release: m.release.name.clone(),
            state: if m.is_paused() {
                "paused"
            } else if m.is_running() {
                "running"
            } else {
                "down"
            },
            leader: leader != 0 && m.id == Some(leader),
        })
        .collect()
}

#[derive(Debug)]
pub struct CaseOutcome {
    pub applied: Vec<Applied>,
    pub failure: Option<String>,
    pub requests: usize,
    pub writes_acknowledged: usize,
    pub watch_events: usize,
    pub leases: usize,
    pub elapsed: Duration,
    /// Kept member logs, data dirs, history and timeline of a failed case.
    pub artifacts: Option<PathBuf>,
}

/// One stretch of traffic between restores: KV clients, a watcher and a lease client, each
/// on its own key prefix.
struct Epoch {
    traffic: Traffic,
    watcher: Watcher,
    leases: LeaseClient,
    prefix: String,
}

/// Everything the epochs recorded, for the checks and the artifacts.
#[derive(Default)]
struct Recorded {
    history: History,
    watches: Vec<WatchLog>,
    leases: Vec<LeaseRecord>,
}

fn start_traffic(
    setup: &CaseSetup,
    endpoints: &Endpoints,
    epoch: usize,
    started: Instant,
) -> Epoch {
    let prefix = format!("k/{epoch}/");
    let cfg = TrafficConfig {
        clients: setup.clients,
        rate: setup.rate,
        keys: setup.keys,
        seed: setup.traffic_seed.wrapping_add(epoch as u64),
        request_timeout: Duration::from_secs(3),
        prefix: prefix.clone(),
    };
    Epoch {
        traffic: Traffic::start(endpoints.clone(), cfg, started),
        watcher: Watcher::start(endpoints.clone(), prefix.clone(), started),
        leases: LeaseClient::start(
            endpoints.clone(),
            format!("k/L{epoch}/"),
            setup.traffic_seed,
            started,
        ),
        prefix,
    }
}

fn refresh(endpoints: &Endpoints, cluster: &Cluster) {
    let live: Vec<(String, String)> = cluster
        .live()
        .into_iter()
        .map(|i| {
            (
                cluster.member(i).name.clone(),
                cluster.member(i).client_url.clone(),
            )
        })
        .collect();
    *endpoints.write().unwrap() = live;
}

/// Ends an epoch of traffic: stops it, reads every key back through every live member (so a
/// lost acknowledged write shows up as a read the history cannot explain), and checks the
/// history (revisions, linearizability), the watch and the leases.
async fn close_epoch(
    epoch: Epoch,
    cluster: &Cluster,
    quorum: bool,
    keys: usize,
    started: Instant,
    all: &mut Recorded,
) -> Option<String> {
    let mut history = match epoch.traffic.stop().await {
        Ok(h) => h,
        Err(e) => return Some(e),
    };
    let leases = match epoch.leases.stop().await {
        Ok(l) => l,
        Err(e) => return Some(e),
    };
    // Without a quorum the reads could only time out: skip them (the run failed before healing).
    let readers = if quorum { cluster.live() } else { Vec::new() };
    // A sentinel write under the watched prefix marks the end: the watch must deliver it, and
    // with it every acknowledged write before it.
    let mut end_revision = 0;
    if let Some(&i) = readers.first() {
        let m = cluster.member(i);
        let key = format!("{}end", epoch.prefix);
        let invoke_us = started.elapsed().as_micros() as u64;
        if let Ok(revision) = m.put(&key, "end-of-epoch").await {
            end_revision = revision;
            history.events.push(Event {
                client: u32::MAX,
                member: m.name.clone(),
                invoke_us,
                complete_us: started.elapsed().as_micros() as u64,
                request: Request::Put {
                    key,
                    value: "end-of-epoch".into(),
                },
                outcome: Outcome::Ok {
                    revision,
                    value: None,
                    succeeded: None,
                },
            });
        }
    }
    let watch = match epoch.watcher.stop_at(end_revision).await {
        Ok(w) => w,
        Err(e) => return Some(format!("{}: {e}", epoch.prefix)),
    };
    for i in readers {
        let m = cluster.member(i);
        for k in 0..keys {
            let key = format!("{}{k}", epoch.prefix);
            let invoke_us = started.elapsed().as_micros() as u64;
            let outcome = match m.get(&key).await {
                Ok(value) => Outcome::Ok {
                    revision: 0,
                    value,
                    succeeded: None,
                },
                Err(e) => Outcome::Failed {
                    error: e.to_string(),
                },
            };
            let complete_us = started.elapsed().as_micros() as u64;
            history.events.push(Event {
                client: u32::MAX,
                member: m.name.clone(),
                invoke_us,
                complete_us,
                request: Request::Get {
                    key,
                    serializable: false,
                },
                outcome,
            });
        }
    }
    let verdict = chain::first_failure(&history, &watch, &leases, Duration::from_secs(20));
    for (k, explored) in &verdict.gave_up {
        tracing::warn!("linearizability of {k:?}: gave up after {explored} states");
    }
    let failure = verdict.failure.map(|f| format!("{}: {f}", epoch.prefix));
    all.history.events.extend(history.events);
    all.watches.push(watch);
    all.leases.extend(leases);
    failure
}

/// Runs `steps` on a fresh cluster. Never panics on a cluster failure: it is the outcome.
pub async fn run_case(
    store: &ReleaseStore,
    setup: &CaseSetup,
    steps: &[Step],
    inject_faults: bool,
) -> CaseOutcome {
    let started = Instant::now();
    let mut runner = Runner::new(store);
    runner.traffic_prefix = Some("k/".into());
    let mut applied = Vec::new();
    let mut recorded = Recorded::default();
    let endpoints: Endpoints = Arc::new(RwLock::new(Vec::new()));
    let mut failure = None;
    macro_rules! record {
        ($applied:expr, $step:expr, $op:expr, $t0:expr, $outcome:expr, $versions:expr $(,)?) => {{
            let members = member_states(&runner).await;
            let cluster_version = runner.model.cluster_version.map(|v| v.to_string());
            $applied.push(Applied {
                step: $step,
                op: $op,
                start_ms: $t0.duration_since(started).as_millis() as u64,
                end_ms: started.elapsed().as_millis() as u64,
                outcome: $outcome,
                versions: $versions,
                members,
                cluster_version,
            });
        }};
    }

    let boot = Op::Cluster {
        releases: vec![setup.older.clone(); setup.members],
        v2: false,
        tls: false,
        proxied: true,
    };
    let t0 = Instant::now();
    if let Err(e) = runner.apply(&boot).await {
        record!(
            applied,
            0,
            boot.to_string(),
            t0,
            Err(e.to_string()),
            String::new(),
        );
        return CaseOutcome {
            applied,
            failure: Some(format!("boot: {e}")),
            requests: 0,
            writes_acknowledged: 0,
            watch_events: 0,
            leases: 0,
            elapsed: started.elapsed(),
            artifacts: None,
        };
    }
    record!(
        applied,
        0,
        boot.to_string(),
        t0,
        Ok("booted".into()),
        String::new(),
    );
    refresh(&endpoints, runner.cluster.as_ref().unwrap());
    let mut epoch_no = 0;
    let mut epoch = Some(start_traffic(setup, &endpoints, epoch_no, started));
    let mut replaced = 0;
    let mut have_snapshot = false;

    'steps: for (n, step) in steps.iter().enumerate() {
        if matches!(step, Step::CorruptValue(_)) && !inject_faults {
            continue;
        }
        let ops = translate(&runner, setup, step, &mut replaced, have_snapshot);
        if matches!(step, Step::DisasterRestore) && !ops.is_empty() {
            // Writes after the snapshot are lost by design: check this epoch's history first.
            if let Some(e) = epoch.take() {
                if let Some(f) = close_epoch(
                    e,
                    runner.cluster.as_ref().unwrap(),
                    runner.model.has_quorum(),
                    setup.keys,
                    started,
                    &mut recorded,
                )
                .await
                {
                    failure = Some(f);
                    break 'steps;
                }
            }
        }
        for op in ops {
            let t0 = Instant::now();
            let result = match runner.apply(&op).await {
                Ok(what) => match runner.check().await {
                    Ok(v) => Ok((what, v)),
                    Err(e) => Err(format!("{what}; then {e}")),
                },
                Err(e) => Err(e.to_string()),
            };
            if let Some(c) = runner.cluster.as_ref() {
                refresh(&endpoints, c);
            }
            match result {
                Ok((what, versions)) => record!(
                    applied,
                    n + 1,
                    format!("{step}: {op}"),
                    t0,
                    Ok(what),
                    versions,
                ),
                Err(e) => {
                    record!(
                        applied,
                        n + 1,
                        format!("{step}: {op}"),
                        t0,
                        Err(e.clone()),
                        String::new(),
                    );
                    failure = Some(format!("step {} `{step}` ({op}): {e}", n + 1));
                    break 'steps;
                }
            }
            if matches!(op, Op::SnapshotSave { .. }) {
                have_snapshot = true;
            }
            if matches!(op, Op::Pause { .. }) {
                // The fault's duration: about two election timeouts of the member frozen.
                tokio::time::sleep(Duration::from_millis(1000)).await;
            }
        }
        if matches!(step, Step::Wait) {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        if matches!(step, Step::DisasterRestore) && epoch.is_none() {
            epoch_no += 1;
            epoch = Some(start_traffic(setup, &endpoints, epoch_no, started));
        }
    }

    if failure.is_none() {
        for op in heal(&runner, setup) {
            let t0 = Instant::now();
            let result = match runner.apply(&op).await {
                Ok(what) => runner
                    .check()
                    .await
                    .map(|v| (what, v))
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Some(c) = runner.cluster.as_ref() {
                refresh(&endpoints, c);
            }
            match result {
                Ok((what, v)) => record!(
                    applied,
                    steps.len() + 1,
                    format!("heal: {op}"),
                    t0,
                    Ok(what),
                    v,
                ),
                Err(e) => {
                    record!(
                        applied,
                        steps.len() + 1,
                        format!("heal: {op}"),
                        t0,
                        Err(e.clone()),
                        String::new(),
                    );
                    failure = Some(format!("heal `{op}`: {e}"));
                    break;
                }
            }
        }
    }
    if let (Some(e), Some(c)) = (epoch.take(), runner.cluster.as_ref()) {
        let f = close_epoch(
            e,
            c,
            runner.model.has_quorum(),
            setup.keys,
            started,
            &mut recorded,
        )
        .await;
        failure = failure.or(f);
    }
    let mut artifacts = None;
    if failure.is_some() {
        if let Some(c) = runner.cluster.as_mut() {
            let dir = c.keep_artifacts();
            let _ = recorded.history.write_jsonl(&dir.join("history.jsonl"));
            let _ = std::fs::write(
                dir.join("watch.json"),
                serde_json::to_vec_pretty(&recorded.watches).unwrap_or_default(),
            );
            let _ = std::fs::write(
                dir.join("leases.json"),
                serde_json::to_vec_pretty(&recorded.leases).unwrap_or_default(),
            );
            let _ = std::fs::write(
                dir.join("timeline.json"),
                serde_json::to_vec_pretty(&applied).unwrap_or_default(),
            );
            let _ = std::fs::write(dir.join("timeline.svg"), super::timeline::svg(&applied));
            artifacts = Some(dir);
        }
    }
    CaseOutcome {
        requests: recorded.history.events.len(),
        writes_acknowledged: recorded.history.writes_acknowledged(),
        watch_events: recorded.watches.iter().map(|w| w.events.len()).sum(),
        leases: recorded.leases.len(),
        applied,
        failure,
        elapsed: started.elapsed(),
        artifacts,
    }
}

fn member(runner: &Runner, i: u8) -> Option<(String, String, bool)> {
    let c = runner.cluster.as_ref()?;
    let n = c.members().len();
    if n == 0 {
        return None;
    }
    let m = c.member(i as usize % n);
    let running = runner
        .model
        .members
        .get(&m.name)
        .is_some_and(|mm| mm.running);
    Some((m.name.clone(), m.release.name.clone(), running))
}

/// How long a network fault lasts before it is repaired.
const FAULT_MS: u64 = 1500;

/// The operations a step means in the current state (empty: nothing to do).
fn translate(
    runner: &Runner,
    setup: &CaseSetup,
    step: &Step,
    replaced: &mut usize,
    have_snapshot: bool,
) -> Vec<Op> {
    let model = &runner.model;
    let quorum = model.has_quorum();
    let named = |n: &str| Target::Named(n.to_string());
    let swap = |i: u8, to: &str| -> Vec<Op> {
        match member(runner, i) {
            Some((_, r, _)) if r == to => vec![],
            Some((name, _, true)) if quorum => vec![Op::Upgrade {
                member: named(&name),
                release: to.into(),
            }],
            Some((name, _, false)) => vec![Op::Start {
                member: named(&name),
                release: Some(to.into()),
                flags: vec![],
            }],
            _ => vec![],
        }
    };
    match step {
        Step::Upgrade(i) => swap(*i, &setup.newer),
        Step::Downgrade(i) => swap(*i, &setup.older),
        Step::RollingUpgrade => {
            let n = runner.cluster.as_ref().map_or(0, |c| c.members().len());
            (0..n as u8).flat_map(|i| swap(i, &setup.newer)).collect()
        }
        Step::KillLeader if quorum => vec![Op::Kill {
            member: Target::Leader,
        }],
        Step::Kill(i) => match member(runner, *i) {
            Some((name, _, true)) => vec![Op::Kill {
                member: named(&name),
            }],
            _ => vec![],
        },
        Step::Restart(i) => match member(runner, *i) {
            Some((name, _, true)) => vec![
                Op::Stop {
                    member: named(&name),
                },
                Op::Start {
                    member: named(&name),
                    release: None,
                    flags: vec![],
                },
            ],
            Some((name, _, false)) => vec![start_op(runner, setup, &name)],
            None => vec![],
        },
        Step::Pause(i) => match member(runner, *i) {
            Some((name, _, true)) => vec![
                Op::Pause {
                    member: named(&name),
                },
                Op::Resume {
                    member: named(&name),
                },
            ],
            _ => vec![],
        },
        Step::MoveLeader if quorum => vec![Op::MoveLeaderAway {
            member: Target::Leader,
        }],
        Step::SnapshotSave if quorum => vec![Op::SnapshotSave {
            name: "last".into(),
            from: Target::Leader,
        }],
        // Restore restarts every member on its own binary: only when each would be allowed to.
        Step::DisasterRestore
            if have_snapshot
                && model.members.values().all(|m| {
                    m.started_once
                        && rules::may_start(&m.binary, model.cluster_version, false, &[]).is_ok()
                }) =>
        {
            // With everyone up, the majority is lost for real first (a follower, then the
            // leader, killed); then every member is restored from the last snapshot.
            let restore = Op::Restore {
                name: "last".into(),
            };
            if model.members.values().all(|m| m.running) {
                vec![
                    Op::Kill {
                        member: Target::Follower,
                    },
                    Op::Kill {
                        member: Target::Leader,
                    },
                    restore,
                ]
            } else {
                vec![restore]
            }
        }
        Step::MemberReplace(i) if model.members.values().all(|m| m.running) => {
            match member(runner, *i) {
                Some((name, release, _)) => {
                    *replaced += 1;
                    vec![
                        Op::MemberRemove {
                            member: named(&name),
                        },
                        Op::MemberAdd {
                            name: format!("r{replaced}"),
                            release,
                            via: None,
                            no_start: false,
                        },
                    ]
                }
                None => vec![],
            }
        }
        Step::Partition(i) if quorum => match member(runner, *i) {
            Some((name, _, true)) => vec![Op::Partition {
                member: named(&name),
                millis: FAULT_MS,
            }],
            _ => vec![],
        },
        Step::PartitionLeader if quorum => vec![Op::Partition {
            member: Target::Leader,
            millis: FAULT_MS,
        }],
        Step::DropLink(a, b) if quorum => match (member(runner, *a), member(runner, *b)) {
            (Some((x, _, true)), Some((y, _, true))) if x != y => {
                vec![Op::DropLink {
                    from: named(&x),
                    to: named(&y),
                    millis: FAULT_MS,
                }]
            }
            _ => vec![],
        },
        Step::Slow(i) if quorum => match member(runner, *i) {
            Some((name, _, true)) => vec![Op::Slow {
                member: named(&name),
                delay_ms: 100,
                millis: FAULT_MS,
            }],
            _ => vec![],
        },
        Step::Compact if quorum => vec![Op::Compact],
        Step::Defrag(i) => match member(runner, *i) {
            Some((name, _, true)) if quorum => vec![Op::Defrag {
                member: named(&name),
            }],
            _ => vec![],
        },
        Step::CorruptValue(i) if quorum && model.members.values().all(|m| m.running) => {
            match member(runner, *i) {
                Some((name, _, true)) => vec![Op::CorruptValue {
                    member: named(&name),
                }],
                _ => vec![],
            }
        }
        _ => vec![],
    }
}

/// Starts a stopped member with its release, or with the newer one if the model predicts its
/// own would be refused (a downgrade that could not happen).
fn start_op(runner: &Runner, setup: &CaseSetup, name: &str) -> Op {
    let m = runner
        .cluster
        .as_ref()
        .and_then(|c| c.index_of(name).map(|i| c.member(i)));
    let refused = m.is_some_and(|m| {
        rules::may_start(&m.release.version, runner.model.cluster_version, false, &[]).is_err()
    });
    let release = refused.then(|| setup.newer.clone());
    Op::Start {
        member: Target::Named(name.into()),
        release,
        flags: vec![],
    }
}

/// Brings every member back: resume the paused, start the stopped.
fn heal(runner: &Runner, setup: &CaseSetup) -> Vec<Op> {
    let Some(c) = runner.cluster.as_ref() else {
        return vec![];
    };
    let mut ops = Vec::new();
    for m in c.members() {
        let known = runner.model.members.get(&m.name);
        if m.is_paused() {
            ops.push(Op::Resume {
                member: Target::Named(m.name.clone()),
            });
        } else if known.is_some_and(|k| !k.running) && known.is_some_and(|k| k.started_once) {
            ops.push(start_op(runner, setup, &m.name));
        }
    }
    ops
}
