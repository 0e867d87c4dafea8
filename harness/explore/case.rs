//! One exploration case on a real cluster: boot the older release, start traffic, apply each
//! step through the same operations and oracle the scenarios use, heal, read every key back
//! through every member, check the history, and read every member's log for a panic or fatal
//! line. Artifacts of a failed case are kept.
//!
//! The pieces live apart: what a step means ([`super::translate`], pure), an epoch's traffic
//! ([`super::epoch`]), the checks over its records ([`crate::check::chain`]), the files a
//! failure leaves ([`super::artifacts`]). This file only runs them in order.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::artifacts;
use super::config::CaseConfig;
use super::epoch::{refresh, Epoch, Recorded};
use super::plan::Step;
use super::record::{Applied, MemberState};
use super::setup::CaseSetup;
use super::translate::{heal, translate, MemberView, Memory, View};
use crate::ops::op::{Backup, Lifecycle};
use crate::ops::{Op, Runner, StepError};
use crate::release::ReleaseStore;
use crate::traffic::Endpoints;

#[derive(Debug)]
pub struct CaseOutcome {
    /// The failure was a step the harness could not run in the state it met (a precondition,
    /// `StepError::Precondition`): a translation bug to fix, never an etcd finding, and never
    /// what a shrink may converge to.
    pub precondition: bool,
    /// The configuration as it ran on the case's releases (knobs they lack dropped).
    pub config: Option<CaseConfig>,
    pub applied: Vec<Applied>,
    pub failure: Option<String>,
    pub requests: usize,
    pub writes_acknowledged: usize,
    pub watch_events: usize,
    pub leases: usize,
    pub elapsed: Duration,
    /// Of `elapsed`, the time the checks took.
    pub checking: Duration,
    /// What the checks could not decide (see [`super::epoch::Recorded`]).
    pub undecided: usize,
    pub inconclusive: usize,
    /// Kept member logs, data dirs, history and timeline of a failed case.
    pub artifacts: Option<PathBuf>,
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

/// The members as translation sees them: names and releases from the cluster, running from
/// the model (what the oracle predicts), paused from the process.
fn members_view(runner: &Runner<'_>) -> Vec<MemberView> {
    let Some(c) = runner.cluster.as_ref() else {
        return vec![];
    };
    c.members()
        .iter()
        .map(|m| MemberView {
            name: m.name.clone(),
            release: m.release.name.clone(),
            version: m.release.version.clone(),
            running: runner
                .model
                .members
                .get(&m.name)
                .is_some_and(|mm| mm.running),
            paused: m.is_paused(),
        })
        .collect()
}

/// A case under way: the runner with its cluster and model, the epoch of traffic, and what was
/// recorded so far.
struct Case<'a> {
    store: &'a ReleaseStore,
    setup: &'a CaseSetup,
    config: &'a CaseConfig,
    /// The etcd flags `config` renders for the case's releases, and what it means there.
    flags: Vec<String>,
    effective: Option<CaseConfig>,
    /// A step failed its precondition (see [`CaseOutcome::precondition`]).
    precondition: bool,
    runner: Runner<'a>,
    started: Instant,
    applied: Vec<Applied>,
    endpoints: Endpoints,
    epoch: Option<Epoch>,
    epochs: usize,
    memory: Memory,
    recorded: Recorded,
}

impl<'a> Case<'a> {
    fn new(store: &'a ReleaseStore, setup: &'a CaseSetup, config: &'a CaseConfig) -> Case<'a> {
        let mut runner = Runner::with_seed(store, setup.traffic_seed);
        runner.traffic_prefix = Some("k/".into());
        Case {
            store,
            setup,
            config,
            flags: Vec::new(),
            effective: None,
            precondition: false,
            runner,
            started: Instant::now(),
            applied: Vec::new(),
            endpoints: Arc::new(RwLock::new(Vec::new())),
            epoch: None,
            epochs: 0,
            memory: Memory::default(),
            recorded: Recorded::default(),
        }
    }

    /// Appends an operation begun at `t0` to the timeline; `outcome` is (what it did, the
    /// versions the oracle observed) or why it failed.
    async fn log(
        &mut self,
        step: usize,
        op: String,
        t0: Instant,
        outcome: Result<(String, String), String>,
    ) {
        let members = member_states(&self.runner).await;
        let (outcome, versions) = match outcome {
            Ok((what, versions)) => (Ok(what), versions),
            Err(e) => (Err(e), String::new()),
        };
        self.applied.push(Applied {
            step,
            op,
            start_ms: t0.duration_since(self.started).as_millis() as u64,
            end_ms: self.started.elapsed().as_millis() as u64,
            outcome,
            versions,
            members,
            cluster_version: self.runner.model.cluster_version.map(|v| v.to_string()),
        });
    }

    /// Boots the older release behind peer-link proxies and starts the first epoch's traffic.
    async fn boot(&mut self) -> Result<(), String> {
        let mut versions = Vec::new();
        for r in [&self.setup.older, &self.setup.newer] {
            let release = tokio::task::block_in_place(|| self.store.resolve(r));
            versions.push(release.map_err(|e| e.to_string())?.version);
        }
        let versions: Vec<_> = versions.iter().collect();
        self.flags = self.config.flags(&versions);
        self.effective = Some(self.config.effective(&versions));
        let boot = Op::Lifecycle(Lifecycle::Cluster {
            releases: vec![self.setup.older.clone(); self.config.member_count()],
            v2: false,
            tls: false,
            peer_tls: self.config.peer_tls,
            proxied: true,
            flags: self.flags.clone(),
            member_flags: vec![],
        });
        let t0 = Instant::now();
        // The oracle too: the first step must meet the cluster the model describes. A member
        // killed before the leader decided the cluster version leaves it undecided ("3.0.0")
        // until every member is back (the every-knob test with peer TLS, whose slower boot
        // let a kill storm start first, failed so).
        let booted = match self.runner.apply(&boot).await {
            Ok(_) => self.runner.check().await,
            Err(e) => Err(e),
        };
        if let Err(e) = booted {
            self.log(0, boot.to_string(), t0, Err(e.to_string())).await;
            return Err(e.to_string());
        }
        let booted = Ok(("booted".to_string(), String::new()));
        self.log(0, boot.to_string(), t0, booted).await;
        self.refresh();
        self.epoch = Some(Epoch::start(
            self.setup,
            self.config.profile,
            &self.endpoints,
            0,
            self.started,
        ));
        self.runner.traffic_running = true;
        Ok(())
    }

    /// Applies one operation, then the oracle's check; points traffic at the members now live
    /// and logs it. `Err` says what failed.
    async fn apply(&mut self, step: usize, label: String, op: &Op) -> Result<(), String> {
        let t0 = Instant::now();
        let result = match self.runner.apply(op).await {
            Ok(what) => match self.runner.check().await {
                Ok(v) => Ok((what, v)),
                Err(e) => Err(format!("{what}; then {e}")),
            },
            Err(e) => {
                self.precondition |= matches!(e, StepError::Precondition(_));
                Err(e.to_string())
            }
        };
        self.refresh();
        let failed = result.as_ref().err().cloned();
        self.log(step, label, t0, result).await;
        failed.map_or(Ok(()), Err)
    }

    /// Points traffic at the live voting members (learners serve no linearizable request).
    fn refresh(&self) {
        if let Some(c) = self.runner.cluster.as_ref() {
            refresh(&self.endpoints, c, &self.voters());
        }
    }

    /// The live members that vote, as the model knows them.
    fn voters(&self) -> Vec<usize> {
        let Some(c) = self.runner.cluster.as_ref() else {
            return vec![];
        };
        c.live()
            .into_iter()
            .filter(|&i| {
                let name = &c.member(i).name;
                !self
                    .runner
                    .model
                    .members
                    .get(name)
                    .is_some_and(|m| m.learner)
            })
            .collect()
    }

    fn view_ops(&mut self, f: impl FnOnce(&View, &CaseSetup, &mut Memory) -> Vec<Op>) -> Vec<Op> {
        let members = members_view(&self.runner);
        let view = View {
            members: &members,
            model: &self.runner.model,
            config: self.config,
            flags: &self.flags,
        };
        f(&view, self.setup, &mut self.memory)
    }

    /// Runs every step; the first failure ends the case.
    async fn steps(&mut self, steps: &[Step], inject_faults: bool) -> Option<String> {
        for (n, step) in steps.iter().enumerate() {
            if matches!(step, Step::CorruptValue(_)) && !inject_faults {
                continue;
            }
            let ops = self.view_ops(|v, s, m| translate(v, s, step, m));
            if matches!(step, Step::DisasterRestore) && !ops.is_empty() {
                // Writes after the snapshot are lost by design: check this epoch's history first.
                if let Some(f) = self.close_epoch().await {
                    return Some(f);
                }
            }
            for op in &ops {
                if let Err(e) = self.apply(n + 1, format!("{step}: {op}"), op).await {
                    return Some(format!("step {} `{step}` ({op}): {e}", n + 1));
                }
                if matches!(op, Op::Backup(Backup::SnapshotSave { .. })) {
                    self.memory.have_snapshot = true;
                }
            }
            if matches!(step, Step::DisasterRestore) && self.epoch.is_none() {
                self.epochs += 1;
                let e = Epoch::start(
                    self.setup,
                    self.config.profile,
                    &self.endpoints,
                    self.epochs,
                    self.started,
                );
                self.epoch = Some(e);
                self.runner.traffic_running = true;
            }
        }
        None
    }

    /// Brings every member back (logged as step `step`).
    async fn heal(&mut self, step: usize) -> Option<String> {
        let ops = self.view_ops(|v, s, _| heal(v, s));
        for op in &ops {
            if let Err(e) = self.apply(step, format!("heal: {op}"), op).await {
                return Some(format!("heal `{op}`: {e}"));
            }
        }
        None
    }

    /// The end of a healed case, traffic stopped: every member at one HashKV and one compact
    /// revision ([`crate::check::verdict::Convergence::Settled`]; under traffic a member
    /// behind the log may lag one compaction), logged as step `step`.
    async fn settled(&mut self, step: usize) -> Option<String> {
        if !self.runner.model.has_quorum() {
            return None;
        }
        let t0 = Instant::now();
        let result = self.runner.check().await;
        let failed = result.as_ref().err().map(|e| format!("end of case: {e}"));
        let logged = result
            .map(|v| ("settled".to_string(), v))
            .map_err(|e| e.to_string());
        self.log(step, "end of case".into(), t0, logged).await;
        failed
    }

    /// Closes the running epoch, if any: its read-back and checks.
    async fn close_epoch(&mut self) -> Option<String> {
        let readers = if self.runner.model.has_quorum() {
            self.voters()
        } else {
            Vec::new()
        };
        let (e, c) = (self.epoch.take()?, self.runner.cluster.as_ref()?);
        self.runner.traffic_running = false;
        e.close(
            c,
            readers,
            self.setup.keys,
            self.started,
            &mut self.recorded,
        )
        .await
    }

    /// The outcome; a failed case keeps its cluster's temp dir and writes its records there.
    fn finish(mut self, failure: Option<String>) -> CaseOutcome {
        let mut artifacts = None;
        if failure.is_some() {
            if let Some(c) = self.runner.cluster.as_mut() {
                let dir = c.keep_artifacts();
                if let Err(e) = artifacts::write(&dir, &self.recorded, &self.applied) {
                    tracing::warn!("artifacts in {}: {e}", dir.display());
                }
                artifacts = Some(dir);
            }
        }
        CaseOutcome {
            precondition: self.precondition && failure.is_some(),
            config: self.effective,
            requests: self.recorded.history.events.len(),
            writes_acknowledged: self.recorded.history.writes_acknowledged(),
            watch_events: self.recorded.watches.iter().map(|w| w.events.len()).sum(),
            leases: self.recorded.leases.len(),
            applied: self.applied,
            failure,
            elapsed: self.started.elapsed(),
            checking: self.recorded.checking,
            undecided: self.recorded.undecided,
            inconclusive: self.recorded.inconclusive,
            artifacts,
        }
    }
}

/// Runs `steps` on a fresh cluster. Never panics on a cluster failure: it is the outcome.
pub async fn run_case(
    store: &ReleaseStore,
    setup: &CaseSetup,
    config: &CaseConfig,
    steps: &[Step],
    inject_faults: bool,
) -> CaseOutcome {
    let mut case = Case::new(store, setup, config);
    if let Err(e) = case.boot().await {
        return case.finish(Some(format!("boot: {e}")));
    }
    let mut failure = case.steps(steps, inject_faults).await;
    if failure.is_none() {
        failure = case.heal(steps.len() + 1).await;
    }
    let last = case.close_epoch().await;
    let mut failure = failure.or(last);
    if failure.is_none() {
        failure = case.settled(steps.len() + 2).await;
    }
    let failure = failure.or_else(|| case.runner.fatal_log_lines());
    case.finish(failure)
}
