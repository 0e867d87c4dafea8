//! `validate FROM TO`: everything the harness knows for one release pair, within a budget, as
//! one [`report`]: the compatibility diff of the two binaries (flags, [`surface`]), every
//! scenario template that applies to the pair, the kept findings of either release replayed
//! on it, and exploration of the pair and of each release alone. Rendered by [`render`].
//!
//! The budget is wall-clock for the whole run. Scenarios may start until 60 % of it is spent
//! (75 % for kept findings), explorations share what is left (half to the pair, a quarter to
//! each release alone); a unit that cannot start in time is reported "not run: budget spent",
//! never as passed. Units are numbered in one deterministic order so `--shard K/N` splits them,
//! and explorations split their cases the same way.

pub mod plan;
mod probes;
pub mod render;
pub mod report;
mod run;
pub mod surface;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::explore::Shard;
use crate::release::{Release, ReleaseError, ReleaseStore};
use crate::scenario::ScenarioError;
use report::{Outcome, Report, Side};

/// What to run.
#[derive(Clone, Debug)]
pub struct ValidateConfig {
    pub from: String,
    pub to: String,
    pub budget: Duration,
    pub templates: PathBuf,
    pub findings: PathBuf,
    /// Replay files of explorations go here.
    pub out_dir: PathBuf,
    /// Failed runs' member logs, data dirs and records are moved here from tmpfs (which does
    /// not survive a reboot, and holds them in memory), without the WAL segments.
    pub keep_dir: PathBuf,
    pub seed: u64,
    pub shard: Option<Shard>,
    /// Draw on-disk corruption in explorations: a failure the checks must catch (self-test).
    pub inject_faults: bool,
    /// Explorations hold watches from far beyond the head ([`crate::explore::CaseSetup`]).
    pub held_watches: bool,
    /// Shrink tries and fail-rate re-runs of an exploration's failure.
    pub tries: u32,
    pub rate_runs: u32,
    /// Runs of a kept finding per release (stopping at the first failure).
    pub known_bug_runs: u32,
    pub parts: Parts,
    /// What a reproduce command starts with (`etcd-skew`, plus `--binary` options).
    pub command: String,
    /// Run the catch-up benchmark at this v2 size (MB), once upgrade and once baseline.
    pub catch_up_mb: Option<u32>,
}

impl ValidateConfig {
    /// Moves a failed run's artifacts from tmpfs into `keep_dir/NAME`; returns where they are
    /// (still on tmpfs if the copy failed, which is logged).
    fn keep(&self, artifacts: &Path, name: &str) -> PathBuf {
        let to = self.keep_dir.join(name.replace(['/', ' ', '→'], "_"));
        match crate::explore::artifacts::preserve(artifacts, &to) {
            Ok(()) => {
                let _ = std::fs::remove_dir_all(artifacts);
                to
            }
            Err(e) => {
                tracing::warn!("keeping {} in {}: {e}", artifacts.display(), to.display());
                artifacts.to_path_buf()
            }
        }
    }

    /// Whether unit `unit` (in plan order) is this run's: every unit unless sharded.
    fn owns(&self, unit: usize) -> bool {
        self.shard.is_none_or(|s| s.owns(unit))
    }
}

/// Which parts run (all by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts {
    pub compat: bool,
    pub scenarios: bool,
    pub known_bugs: bool,
    pub explore: bool,
}

impl Default for Parts {
    fn default() -> Self {
        Parts {
            compat: true,
            scenarios: true,
            known_bugs: true,
            explore: true,
        }
    }
}

/// Why a validation could not start (the report cannot be written at all).
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error("release {name}")]
    Release {
        name: String,
        #[source]
        source: Box<ReleaseError>,
    },
    #[error("{from} → {to}: the pair must be an upgrade (FROM older than TO)")]
    NotAnUpgrade { from: String, to: String },
    #[error(transparent)]
    Template(#[from] Box<ScenarioError>),
    #[error("finding {path}: {message}")]
    Finding { path: PathBuf, message: String },
}

/// What the run shows as it goes: a unit starting and ending, and detail lines (scenario
/// steps, exploration cases).
pub trait Progress {
    fn begin(&mut self, unit: &str, spent: Duration, budget: Duration);
    fn end(&mut self, unit: &str, outcome: &Outcome);
    fn detail(&mut self) -> &mut dyn Write;
}

/// The wall clock of a validation.
pub(super) struct Clock {
    started: Instant,
    budget: Duration,
}

impl Clock {
    fn spent(&self) -> Duration {
        self.started.elapsed()
    }
    /// Whether work may still start when it must start before `share` of the budget.
    fn may_start(&self, share: f64) -> bool {
        self.spent() < self.budget.mul_f64(share)
    }
    fn left(&self) -> Duration {
        self.budget.saturating_sub(self.spent())
    }
}

pub(super) fn budget_spent() -> Outcome {
    Outcome::NotRun {
        reason: "budget spent".into(),
    }
}

pub(super) fn not_mine(shard: Shard) -> Outcome {
    Outcome::NotRun {
        reason: format!("another shard's (this is {shard})"),
    }
}

fn side(r: &Release) -> Side {
    Side {
        name: r.name.clone(),
        version: r.version.to_string(),
        source: r.source.clone(),
    }
}

/// Runs the validation; errors only when it cannot start.
pub fn validate(
    store: &ReleaseStore,
    cfg: &ValidateConfig,
    progress: &mut dyn Progress,
) -> Result<Report, ValidateError> {
    let clock = Clock {
        started: Instant::now(),
        budget: cfg.budget,
    };
    let resolve = |name: &str| {
        store
            .resolve(name)
            .map_err(|source| ValidateError::Release {
                name: name.into(),
                source: Box::new(source),
            })
    };
    let (from, to) = (resolve(&cfg.from)?, resolve(&cfg.to)?);
    if from.version >= to.version && from.name != to.name {
        return Err(ValidateError::NotAnUpgrade {
            from: cfg.from.clone(),
            to: cfg.to.clone(),
        });
    }
    let plan = plan::plan(store, cfg, &from, &to)?;
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let report = Report {
        from: side(&from),
        to: side(&to),
        budget_secs: cfg.budget.as_secs(),
        elapsed_secs: 0.0,
        shards: cfg.shard.into_iter().collect(),
        scenarios: Vec::new(),
        explorations: Vec::new(),
        known_bugs: Vec::new(),
        known_bugs_checked: cfg.parts.known_bugs,
        compat: None,
        catch_up: None,
        harness_errors: Vec::new(),
    };

    let mut run = run::Run {
        store,
        cfg,
        clock,
        rt,
        plan,
        report,
        progress,
        from,
        to,
    };
    run.compat();
    run.scenarios();
    run.known_bugs()?;
    run.catch_up();
    run.explorations();
    run.report.elapsed_secs = run.clock.spent().as_secs_f64();
    Ok(run.report)
}
