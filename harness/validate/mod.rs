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

pub mod render;
pub mod report;
pub mod surface;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::explore::{self, CaseSetup, ExploreConfig, FailRate, Replay, Shard, Weights};
use crate::release::compat;
use crate::release::{Release, ReleaseError, ReleaseStore};
use crate::scenario::template::{self, Instance};
use crate::scenario::{ReleaseRef, ScenarioError, Template};
use report::{
    CatchUpResult, CompatResult, ExplorationResult, ExploreFinding, FlagChanges, KnownBugResult,
    Outcome, Recorded, Report, ScenarioResult, Side,
};

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
        match explore::artifacts::preserve(artifacts, &to) {
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
struct Clock {
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

fn budget_spent() -> Outcome {
    Outcome::NotRun {
        reason: "budget spent".into(),
    }
}

fn not_mine(shard: Shard) -> Outcome {
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
    let plan = plan(store, cfg, &from, &to)?;
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

    let mut run = Run {
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

/// One validation under way: what every phase reads, and the report the phases fill.
struct Run<'a> {
    store: &'a ReleaseStore,
    cfg: &'a ValidateConfig,
    clock: Clock,
    rt: tokio::runtime::Runtime,
    plan: Plan,
    report: Report,
    progress: &'a mut dyn Progress,
    from: Release,
    to: Release,
}

impl Run<'_> {
    /// Unit 0: the compatibility diff, first (cheap, and what an operator reads first).
    fn compat(&mut self) {
        let Run {
            cfg,
            clock,
            rt,
            report,
            progress,
            from,
            to,
            ..
        } = self;
        if !cfg.parts.compat || !cfg.owns(0) {
            return;
        }
        progress.begin("compatibility diff", clock.spent(), cfg.budget);
        let c = rt.block_on(compat_of(from, to));
        let outcome = if c.errors.is_empty() {
            Outcome::Passed
        } else {
            Outcome::NotRun {
                reason: c.errors.join("; "),
            }
        };
        progress.end("compatibility diff", &outcome);
        report.compat = Some(c);
    }

    /// Every template instance, while 60 % of the budget is left (all of it without
    /// explorations).
    fn scenarios(&mut self) {
        let Run {
            store,
            cfg,
            clock,
            rt,
            plan,
            report,
            progress,
            ..
        } = self;
        for (i, inst) in plan.instances.iter().enumerate() {
            let unit = 1 + i;
            let reproduce = format!(
                "{} run --pair {}:{} {}",
                cfg.command,
                inst.from,
                inst.to,
                inst.scenario.path.display()
            );
            let mut result = ScenarioResult {
                name: inst.name.clone(),
                section: inst.section,
                title: inst.scenario.title.clone(),
                outcome: Outcome::NotRun {
                    reason: "not asked".into(),
                },
                seconds: 0.0,
                steps_run: 0,
                failed_step: None,
                artifacts: None,
                reproduce,
            };
            if !cfg.parts.scenarios {
            } else if let Some(s) = cfg.shard.filter(|_| !cfg.owns(unit)) {
                result.outcome = not_mine(s);
            } else if !clock.may_start(if cfg.parts.explore { 0.6 } else { 1.0 }) {
                result.outcome = budget_spent();
            } else {
                progress.begin(&result.name, clock.spent(), cfg.budget);
                let started = Instant::now();
                let r = rt.block_on(crate::scenario::run(
                    store,
                    &inst.scenario,
                    progress.detail(),
                ));
                result.seconds = started.elapsed().as_secs_f64();
                result.steps_run = r.steps.len();
                result.artifacts = r
                    .artifacts
                    .as_ref()
                    .map(|p| cfg.keep(p, &result.name).display().to_string());
                result.outcome = match r.steps.iter().find(|s| s.outcome.is_err()) {
                    Some(s) => {
                        result.failed_step = Some(format!("line {}: {}", s.line, s.op));
                        Outcome::Failed {
                            reason: s.outcome.clone().err().unwrap_or_default(),
                        }
                    }
                    None => Outcome::Passed,
                };
                progress.end(&result.name, &result.outcome);
            }
            report.scenarios.push(result);
        }
    }

    /// Every kept finding on each release it concerns, while 75 % of the budget is left.
    fn known_bugs(&mut self) -> Result<(), ValidateError> {
        let Run {
            store,
            cfg,
            clock,
            rt,
            plan,
            report,
            progress,
            ..
        } = self;
        let first_bug_unit = 1 + plan.instances.len();
        for (i, bug) in plan.known_bugs.iter().enumerate() {
            let unit = first_bug_unit + i;
            let mut result = KnownBugResult {
                file: bug.path.display().to_string(),
                release: bug.release.clone(),
                summary: bug.summary.clone(),
                etcd_issue: bug.etcd_issue.clone(),
                recorded: bug.recorded.clone(),
                outcome: Outcome::NotRun {
                    reason: "not asked".into(),
                },
                runs: FailRate::default(),
                reproduce: match &bug.case {
                    BugCase::Replay(_) => format!(
                        "{} replay {} --releases {} --tries {}",
                        cfg.command,
                        bug.path.display(),
                        bug.release,
                        cfg.known_bug_runs.max(1)
                    ),
                    BugCase::Scenario(_) => format!(
                        "{} run --pair {r}:{r} {}",
                        cfg.command,
                        bug.path.display(),
                        r = bug.release
                    ),
                },
            };
            let name = format!("known bug {} on {}", bug.file_name(), bug.release);
            if !cfg.parts.known_bugs {
                continue; // not asked: the section says so
            } else if let Recorded::PassesOn { .. } = bug.recorded {
                result.outcome = Outcome::NotRun {
                    reason: "recorded as passing on this release".into(),
                };
            } else if let Some(s) = cfg.shard.filter(|_| !cfg.owns(unit)) {
                result.outcome = not_mine(s);
            } else {
                progress.begin(&name, clock.spent(), cfg.budget);
                let mut outcome = budget_spent();
                for _ in 0..cfg.known_bug_runs.max(1) {
                    if !clock.may_start(if cfg.parts.explore { 0.75 } else { 1.0 }) {
                        break;
                    }
                    let (failure, artifacts) = match &bug.case {
                        BugCase::Replay(r) => {
                            let o =
                                explore::search::replay(store, &r.on(&bug.release, &bug.release));
                            (o.failure, o.artifacts)
                        }
                        BugCase::Scenario(t) => {
                            let r = plan.side(&bug.release);
                            let s = t.instantiate(r, r, &store.names()).map_err(Box::new)?;
                            let report =
                                rt.block_on(crate::scenario::run(store, &s, progress.detail()));
                            (report.failure(), report.artifacts)
                        }
                    };
                    result.runs.runs += 1;
                    if let Some(f) = failure {
                        result.runs.failed += 1;
                        outcome = Outcome::Failed {
                            reason: format!(
                                "reproduced: {}{}",
                                f.lines().next().unwrap_or(""),
                                artifacts
                                    .map(|a| format!(
                                        " (artifacts: {})",
                                        cfg.keep(&a, &name).display()
                                    ))
                                    .unwrap_or_default()
                            ),
                        };
                        break;
                    }
                    outcome = Outcome::Passed;
                }
                progress.end(&name, &outcome);
                result.outcome = outcome;
            }
            report.known_bugs.push(result);
        }
        Ok(())
    }

    /// The catch-up benchmark, when asked (not budgeted: its size is the user's choice).
    fn catch_up(&mut self) {
        let Run {
            store,
            cfg,
            clock,
            rt,
            report,
            progress,
            from,
            to,
            ..
        } = self;
        if let Some(mb) = cfg.catch_up_mb.filter(|_| cfg.owns(0)) {
            progress.begin(
                &format!("catch-up on {mb} MB of v2 data"),
                clock.spent(),
                cfg.budget,
            );
            let c = rt.block_on(catch_up(store, from, to, mb, &cfg.out_dir));
            progress.end(&format!("catch-up on {mb} MB of v2 data"), &c.outcome);
            report.catch_up = Some(c);
        }
    }

    /// The pair, then each release alone, sharing the time left.
    fn explorations(&mut self) {
        let Run {
            store,
            cfg,
            clock,
            plan,
            report,
            progress,
            ..
        } = self;
        if cfg.parts.explore {
            let targets = plan.targets();
            let left = clock.left();
            for (older, newer, share) in targets {
                let target = if older == newer {
                    format!("{} alone", older.name)
                } else {
                    format!("{}→{}", older.name, newer.name)
                };
                let time = left.mul_f64(share);
                let mut result = ExplorationResult {
                    target: target.clone(),
                    older: older.name.clone(),
                    newer: newer.name.clone(),
                    outcome: budget_spent(),
                    seed: cfg.seed,
                    cases: Vec::new(),
                    shrink_runs: 0,
                    operations: 0,
                    requests: 0,
                    configs: Vec::new(),
                    seconds: 0.0,
                    finding: None,
                };
                // Below half a minute not even one case of a few steps fits.
                if time >= Duration::from_secs(30) {
                    progress.begin(&format!("explore {target}"), clock.spent(), cfg.budget);
                    let e = explore_config(cfg, &older.name, &newer.name, time);
                    let r = explore::explore(store, &e, progress.detail());
                    result.cases = r.cases;
                    result.shrink_runs = r.shrink_runs;
                    result.operations = r.ops_applied;
                    result.requests = r.requests;
                    result.configs = r.configs.into_iter().collect();
                    result.seconds = r.elapsed.as_secs_f64();
                    result.outcome = match &r.failure {
                        // A step the harness could not run is its own bug: exit 2, not a finding.
                        Some(f) if f.precondition => {
                            report.harness_errors.push(format!(
                                "explore {target}: a step the harness could not run ({}); replay {}",
                                f.reason.lines().next().unwrap_or(""),
                                f.replay.display()
                            ));
                            Outcome::NotRun {
                                reason: "the harness failed a precondition (see harness errors)"
                                    .into(),
                            }
                        }
                        Some(f) => Outcome::Failed {
                            reason: f.reason.lines().next().unwrap_or("").to_string(),
                        },
                        None if result.cases.is_empty() => budget_spent(),
                        None => Outcome::Passed,
                    };
                    let kept = r
                        .failure
                        .as_ref()
                        .and_then(|f| f.artifacts.as_ref())
                        .map(|a| cfg.keep(a, &format!("explore {target}")));
                    result.finding = r.failure.map(|f| ExploreFinding {
                        reason: f.reason.clone(),
                        config: f.config.to_string(),
                        steps: f.steps.iter().map(|s| s.to_string()).collect(),
                        rate: f.rate,
                        reproduce: format!("{} replay {}", cfg.command, f.replay.display()),
                        replay: f.replay.display().to_string(),
                        timeline_svg: kept
                            .as_ref()
                            .and_then(|a| std::fs::read_to_string(a.join("timeline.svg")).ok()),
                        artifacts: kept.as_ref().map(|a| a.display().to_string()),
                    });
                    progress.end(&format!("explore {target}"), &result.outcome);
                }
                report.explorations.push(result);
            }
        }
    }
}

fn explore_config(cfg: &ValidateConfig, older: &str, newer: &str, time: Duration) -> ExploreConfig {
    ExploreConfig {
        setup: CaseSetup {
            older: older.into(),
            newer: newer.into(),
            traffic_seed: cfg.seed,
            clients: 16,
            rate: 0,
            keys: 16,
        },
        cases: 10_000,
        seed: cfg.seed,
        time_budget: time,
        shrink_budget: time,
        max_steps: 8,
        weights: Weights {
            corrupt: if cfg.inject_faults { 30 } else { 0 },
            ..Weights::default()
        },
        fixed_config: None,
        tries: cfg.tries,
        rate_runs: cfg.rate_runs,
        inject_faults: cfg.inject_faults,
        out_dir: cfg.out_dir.clone(),
        regressions: None,
        shard: cfg.shard,
    }
}

/// How a kept finding runs: an exploration replay file, or a scenario template.
pub enum BugCase {
    Replay(Box<Replay>),
    Scenario(Box<Template>),
}

/// A kept finding to check on one release.
pub struct PlannedBug {
    pub path: PathBuf,
    pub case: BugCase,
    pub release: String,
    pub summary: String,
    pub etcd_issue: String,
    pub recorded: Recorded,
}

impl PlannedBug {
    fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The units of a validation, in the order shards number them.
pub struct Plan {
    pub instances: Vec<Instance>,
    pub known_bugs: Vec<PlannedBug>,
    from: ReleaseRef,
    to: ReleaseRef,
}

impl Plan {
    /// The pair's side named `name`.
    fn side(&self, name: &str) -> &ReleaseRef {
        if self.to.name == name {
            &self.to
        } else {
            &self.from
        }
    }

    /// Exploration targets with their share of the time left: the pair, then each alone.
    fn targets(&self) -> Vec<(ReleaseRef, ReleaseRef, f64)> {
        if self.from == self.to {
            return vec![(self.from.clone(), self.from.clone(), 1.0)];
        }
        vec![
            // Shares of the time left when explorations begin.
            (self.from.clone(), self.to.clone(), 0.5),
            (self.from.clone(), self.from.clone(), 0.25),
            (self.to.clone(), self.to.clone(), 0.25),
        ]
    }

    /// The names of the units, in shard order (for listings and tests).
    pub fn unit_names(&self) -> Vec<String> {
        let mut v = vec!["compatibility diff".to_string()];
        v.extend(self.instances.iter().map(|i| i.name.clone()));
        v.extend(
            self.known_bugs
                .iter()
                .map(|b| format!("known bug {} on {}", b.file_name(), b.release)),
        );
        v
    }
}

/// Every unit a validation of `from → to` has: template instances, kept findings per release.
pub fn plan(
    store: &ReleaseStore,
    cfg: &ValidateConfig,
    from: &Release,
    to: &Release,
) -> Result<Plan, ValidateError> {
    let known = store.names();
    let (f, t) = (
        ReleaseRef::new(&from.name, from.version.clone()),
        ReleaseRef::new(&to.name, to.version.clone()),
    );
    let templates = Template::load_dir(&cfg.templates).map_err(Box::new)?;
    let instances = template::instances(&templates, &f, &t, &known).map_err(Box::new)?;
    let known_bugs = known_bugs(&cfg.findings, &[&f, &t])?;
    Ok(Plan {
        instances,
        known_bugs,
        from: f,
        to: t,
    })
}

/// Kept findings (`findings/*.json` with a triage) for each release, in file order.
fn known_bugs(dir: &Path, releases: &[&ReleaseRef]) -> Result<Vec<PlannedBug>, ValidateError> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "scn"))
            .collect(),
        Err(_) => Vec::new(),
    };
    paths.sort();
    let mut out = Vec::new();
    let mut sides: Vec<&ReleaseRef> = releases.to_vec();
    sides.dedup();
    let names: Vec<&str> = sides.iter().map(|r| r.name.as_str()).collect();
    for path in paths {
        if path.extension().is_some_and(|x| x == "scn") {
            let t = Template::load(&path).map_err(Box::new)?;
            let Some(issue) = t.finding.clone() else {
                continue;
            };
            for r in sides.iter().filter(|r| t.applies_alone(&r.version)) {
                out.push(PlannedBug {
                    path: path.clone(),
                    release: r.name.clone(),
                    summary: t.name.replace('-', " "),
                    etcd_issue: issue.clone(),
                    recorded: Recorded::Predicted {
                        fails: t.expected_to_fail(&r.version),
                    },
                    case: BugCase::Scenario(Box::new(t.clone())),
                });
            }
            continue;
        }
        let replay = Replay::read(&path).map_err(|message| ValidateError::Finding {
            path: path.clone(),
            message,
        })?;
        let Some(triage) = replay.triage.clone() else {
            continue;
        };
        for name in &names {
            let on = |list: &[explore::replay::OnRelease]| {
                list.iter()
                    .find(|o| o.pair() == (*name, *name))
                    .map(|o| o.rate)
            };
            let recorded = match (on(&triage.fails_on), on(&triage.passes_on)) {
                (Some(rate), _) => Recorded::FailsOn { rate },
                (None, Some(rate)) => Recorded::PassesOn { rate },
                (None, None) => Recorded::Unknown,
            };
            out.push(PlannedBug {
                path: path.clone(),
                case: BugCase::Replay(Box::new(replay.clone())),
                release: name.to_string(),
                summary: triage.summary.clone(),
                etcd_issue: triage.etcd_issue.clone(),
                recorded,
            });
        }
    }
    Ok(out)
}

/// The flag diff (from the binaries' help) and the surface diff (from one running member of
/// each); what could not be read goes to `errors`.
async fn compat_of(from: &Release, to: &Release) -> CompatResult {
    let mut errors = Vec::new();
    let flags = match (compat::help_of(from), compat::help_of(to)) {
        (Ok(a), Ok(b)) => {
            let d = compat::diff(&a, &b);
            let shown = |d: &Option<String>| format!("'{}'", d.as_deref().unwrap_or(""));
            Some(FlagChanges {
                removed: d.removed,
                added: d.added,
                renamed: d
                    .renamed
                    .iter()
                    .map(|r| format!("{} → {}", r.older, r.newer))
                    .collect(),
                defaults_changed: d
                    .defaults_changed
                    .iter()
                    .map(|c| format!("{}: {} → {}", c.flag, shown(&c.older), shown(&c.newer)))
                    .collect(),
            })
        }
        (a, b) => {
            for e in [a.err(), b.err()].into_iter().flatten() {
                let chain: Vec<String> = crate::release::error::causes(&e)
                    .map(|c| c.to_string())
                    .collect();
                errors.push(format!("flags: {}", chain.join(": ")));
            }
            None
        }
    };
    let surface = match (surface::probe(from).await, surface::probe(to).await) {
        (Ok(a), Ok(b)) => Some(surface::diff(&a, &b)),
        (a, b) => {
            for e in [a.err(), b.err()].into_iter().flatten() {
                errors.push(format!("metrics and endpoints: {e}"));
            }
            None
        }
    };
    CompatResult {
        flags,
        surface,
        errors,
    }
}

/// The catch-up benchmark's upgrade and baseline cases once each at `mb` MB of v2 data (the
/// dataset template is built once and cached), with its plot.
async fn catch_up(
    store: &ReleaseStore,
    from: &Release,
    to: &Release,
    mb: u32,
    out: &Path,
) -> CatchUpResult {
    use crate::bench::{
        catch_up::MeasureOptions,
        cli::sample,
        dataset::DatasetSpec,
        spec::{Case, Pair},
        template::Template,
    };
    let mut result = CatchUpResult {
        mb,
        outcome: Outcome::Passed,
        samples: Vec::new(),
        plot_svg: None,
    };
    let run = async {
        let pair = Pair::resolve(store, &from.name, &to.name)?;
        let t = Template::ensure(
            store.root(),
            &pair.from,
            &DatasetSpec { mb, v3_keys: 0 },
            true,
        )
        .await?;
        let mut samples = Vec::new();
        for case in [Case::Upgrade, Case::Baseline] {
            samples.push(sample(&t, &pair, case, None, &MeasureOptions::default()).await?);
        }
        let points = crate::bench::report::points(&samples);
        std::fs::create_dir_all(out)
            .map_err(|e| crate::bench::error::BenchError::io(out.display().to_string(), e))?;
        let (svg, _) = crate::bench::plot::write(&points, &out.join("catch-up"))?;
        Ok::<_, crate::bench::error::BenchError>((samples, std::fs::read_to_string(svg).ok()))
    };
    match run.await {
        Ok((samples, svg)) => {
            result.samples = samples
                .iter()
                .map(|s| (s.case.to_string(), s.seconds))
                .collect();
            result.plot_svg = svg;
        }
        Err(e) => {
            result.outcome = Outcome::NotRun {
                reason: format!("the benchmark could not run: {e}"),
            }
        }
    }
    result
}
