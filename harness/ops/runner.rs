//! Drives one cluster and its model through a sequence of operations: resolves member
//! references, hands each operation to its family, and runs the oracle after it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::error::StepError;
use super::op::{Hold, Op, Target};
use super::oracle;
use crate::check::logs;
use crate::check::verdict::Convergence;
use crate::cluster::Cluster;
use crate::model::Model;
use crate::release::{Release, ReleaseStore};

/// The longest a fault is held waiting for entries to pass: without traffic, or without a
/// quorum, they never do, and the fault is repaired anyway.
pub const HOLD_ENTRIES_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the oracle waits for etcd to agree with the model after a step.
pub const AGREEMENT_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Runner<'a> {
    pub(super) store: &'a ReleaseStore,
    /// Keys under this prefix belong to concurrent traffic, checked by its history instead.
    pub traffic_prefix: Option<String>,
    /// Traffic writes while the oracle observes: HashKV is compared as
    /// [`Convergence::Moving`], else as [`Convergence::Settled`].
    pub traffic_running: bool,
    /// The revision of the last compaction.
    pub(super) compacted: i64,
    pub cluster: Option<Cluster>,
    pub model: Model,
    /// Snapshot files by name, and whether they are raw backends (restored with
    /// `--skip-hash-check`).
    pub(super) snapshots: BTreeMap<String, (PathBuf, bool)>,
    pub(super) last_revisions: BTreeMap<String, i64>,
    /// Lease groups kept alive by `lease-grant`, by name.
    pub(super) leases: BTreeMap<String, super::lease::KeptLeases>,
    /// Every random choice of an operation (marker values) comes from here, so a replay with
    /// the same seed is the same run.
    rng: StdRng,
}

impl<'a> Runner<'a> {
    pub fn new(store: &'a ReleaseStore) -> Runner<'a> {
        Runner::with_seed(store, 0)
    }

    pub fn with_seed(store: &'a ReleaseStore, seed: u64) -> Runner<'a> {
        Runner {
            store,
            traffic_prefix: None,
            traffic_running: false,
            compacted: 0,
            cluster: None,
            model: Model::default(),
            snapshots: BTreeMap::new(),
            last_revisions: BTreeMap::new(),
            leases: BTreeMap::new(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The first member log with a panic or fatal line (outside starts refused as predicted),
    /// as a failure naming the member and its first few such lines: checked when a run ends.
    pub fn fatal_log_lines(&self) -> Option<String> {
        let c = self.cluster.as_ref()?;
        c.members().iter().find_map(|m| {
            let log = std::fs::read_to_string(&m.log_path).unwrap_or_default();
            let lines = logs::fatal_lines(&log, 3);
            (!lines.is_empty()).then(|| {
                format!(
                    "member {} ({}) logged a panic or fatal line: {}",
                    m.name,
                    m.release.name,
                    lines.join(" | ")
                )
            })
        })
    }

    /// A marker value unique within the run, drawn from the run's seed.
    pub(super) fn marker(&mut self, what: &str) -> String {
        format!("{what}-{:08x}", self.rng.gen::<u32>())
    }

    /// A number drawn from the run's seed in `range` (fault timings).
    pub(super) fn draw(&mut self, range: std::ops::RangeInclusive<u64>) -> u64 {
        self.rng.gen_range(range)
    }

    /// Holds a fault (or a `wait`) in place: for its time, or until the cluster's raft index, read
    /// through a live voting member other than `held_off`, has grown by the count (bounded by
    /// [`HOLD_ENTRIES_TIMEOUT`]). Returns what was held, for the step's outcome.
    pub(super) async fn hold(&self, hold: &Hold, held_off: Option<usize>) -> String {
        let count = match *hold {
            Hold::For { millis } => {
                tokio::time::sleep(Duration::from_millis(millis)).await;
                return format!("{millis} ms");
            }
            Hold::Entries { count } => count,
        };
        let started = tokio::time::Instant::now();
        let counters = self.cluster.as_ref().map_or(0, |c| {
            c.live()
                .into_iter()
                .filter(|&i| Some(i) != held_off && !self.is_learner(i))
                .count()
        });
        if counters == 0 {
            return "no entries: no other live voting member to count them".into();
        }
        let index = || async {
            let c = self.cluster.as_ref()?;
            for i in c.live() {
                if Some(i) == held_off || self.is_learner(i) {
                    continue;
                }
                let status = tokio::time::timeout(Duration::from_secs(1), c.member(i).status());
                if let Ok(Ok(s)) = status.await {
                    return Some(s.raft_index);
                }
            }
            None
        };
        let mut first = None;
        let mut passed = 0;
        while started.elapsed() < HOLD_ENTRIES_TIMEOUT {
            if let Some(now) = index().await {
                let from = *first.get_or_insert(now);
                passed = now.saturating_sub(from);
                if passed >= count {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let secs = started.elapsed().as_secs_f64();
        if passed >= count {
            format!("{passed} entries ({secs:.1} s)")
        } else {
            format!("{secs:.0} s, only {passed} of {count} entries passed")
        }
    }

    pub(super) fn cluster(&self) -> Result<&Cluster, StepError> {
        self.cluster.as_ref().ok_or_else(|| {
            StepError::precondition("no cluster yet: the first step must be `cluster`")
        })
    }

    pub(super) fn cluster_mut(&mut self) -> Result<&mut Cluster, StepError> {
        self.cluster.as_mut().ok_or_else(|| {
            StepError::precondition("no cluster yet: the first step must be `cluster`")
        })
    }

    pub(super) fn resolve_release(&self, name: &str) -> Result<Release, StepError> {
        Ok(tokio::task::block_in_place(|| self.store.resolve(name))?)
    }

    /// The index of a member reference.
    pub(super) async fn index(&self, t: &Target) -> Result<usize, StepError> {
        let c = self.cluster()?;
        match t {
            Target::Named(n) => c
                .index_of(n)
                .ok_or_else(|| StepError::precondition(format!("no member {n}"))),
            Target::Leader => Ok(c.leader(Duration::from_secs(15)).await?),
            Target::Follower => {
                let leader = c.leader(Duration::from_secs(15)).await?;
                c.live()
                    .into_iter()
                    .find(|&i| i != leader && !self.is_learner(i))
                    .ok_or_else(|| StepError::precondition("no live follower"))
            }
        }
    }

    /// The member to send a request through: the one named, or the first live voting member.
    pub(super) async fn via(&self, t: &Option<Target>) -> Result<usize, StepError> {
        match t {
            Some(t) => self.index(t).await,
            None => self
                .cluster()?
                .live()
                .into_iter()
                .find(|&i| !self.is_learner(i))
                .ok_or_else(|| StepError::precondition("no live member")),
        }
    }

    /// A live voting member other than `i`, to send membership changes through.
    pub(super) fn other_live(&self, i: usize) -> Result<usize, StepError> {
        let c = self.cluster()?;
        c.live()
            .into_iter()
            .find(|&j| j != i && !self.is_learner(j))
            .ok_or_else(|| StepError::precondition("no other live member"))
    }

    pub(super) fn is_learner(&self, i: usize) -> bool {
        let name = self.name(i);
        self.model.members.get(&name).is_some_and(|m| m.learner)
    }

    pub(super) fn name(&self, i: usize) -> String {
        self.cluster
            .as_ref()
            .map(|c| c.member(i).name.clone())
            .unwrap_or_default()
    }

    /// Applies one operation; returns a one-line outcome.
    pub async fn apply(&mut self, op: &Op) -> Result<String, StepError> {
        match op {
            Op::Lifecycle(o) => self.apply_lifecycle(o).await,
            Op::Data(o) => self.apply_data(o).await,
            Op::Membership(o) => self.apply_membership(o).await,
            Op::Backup(o) => self.apply_backup(o).await,
            Op::Fault(o) => self.apply_fault(o).await,
            Op::Security(o) => self.apply_security(o).await,
            Op::Expect(o) => self.apply_expect(o).await,
            Op::Lease(o) => self.apply_lease(o).await,
        }
    }

    /// The oracle: waits until etcd agrees with the model. Returns a summary of versions.
    pub async fn check(&mut self) -> Result<String, StepError> {
        let Some(c) = self.cluster.as_ref() else {
            return Ok(String::new());
        };
        match oracle::check(
            c,
            &self.model,
            self.traffic_prefix.as_deref(),
            if self.traffic_running {
                Convergence::Moving
            } else {
                Convergence::Settled
            },
            &mut self.last_revisions,
            AGREEMENT_TIMEOUT,
        )
        .await
        {
            Ok(obs) => Ok(oracle::summary(&obs)),
            Err(m) => Err(StepError::Disagree(m)),
        }
    }
}
