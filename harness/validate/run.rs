//! The phases of one validation, in order: the compatibility diff, the template instances,
//! the kept findings, the catch-up benchmark when asked, the explorations. Each reads the
//! config, the plan and the clock, and fills its part of the report.

use std::time::{Duration, Instant};

use super::plan::{BugCase, Plan};
use super::probes::{catch_up, compat_of};
use super::report::{
    ExplorationResult, ExploreFinding, KnownBugResult, Outcome, Recorded, Report, ScenarioResult,
};
use super::{budget_spent, not_mine, Clock, Progress, ValidateConfig, ValidateError};
use crate::explore::{self, CaseSetup, ExploreConfig, FailRate, Weights};
use crate::release::{Release, ReleaseStore};

/// One validation under way: what every phase reads, and the report the phases fill.
pub(super) struct Run<'a> {
    pub(super) store: &'a ReleaseStore,
    pub(super) cfg: &'a ValidateConfig,
    pub(super) clock: Clock,
    pub(super) rt: tokio::runtime::Runtime,
    pub(super) plan: Plan,
    pub(super) report: Report,
    pub(super) progress: &'a mut dyn Progress,
    pub(super) from: Release,
    pub(super) to: Release,
}

impl Run<'_> {
    /// Unit 0: the compatibility diff, first (cheap, and what an operator reads first).
    pub(super) fn compat(&mut self) {
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
    pub(super) fn scenarios(&mut self) {
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
    pub(super) fn known_bugs(&mut self) -> Result<(), ValidateError> {
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
    pub(super) fn catch_up(&mut self) {
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
    pub(super) fn explorations(&mut self) {
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
                    left_open: 0,
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
                    result.left_open = r.left_open;
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
            held_watches: cfg.held_watches,
            txn_reads_at_revision: false,
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
        profile: None,
        tries: cfg.tries,
        rate_runs: cfg.rate_runs,
        inject_faults: cfg.inject_faults,
        out_dir: cfg.out_dir.clone(),
        regressions: None,
        shard: cfg.shard,
    }
}
