//! Exploration: proptest draws (configuration, step sequence) cases from a seed, each runs as a
//! real case, and a failure is shrunk (proptest drops and simplifies steps and moves the
//! configuration toward etcd's defaults, re-running real clusters) within a wall-clock budget.
//!
//! etcd's bugs are often flaky: the 3.5.0 HashKV divergence after a SIGKILL fails about 2 runs
//! in 3. A shrink candidate that passes once is no evidence it lost the bug, so while
//! shrinking a candidate counts as failing if any of `tries` runs fails; the minimal case is
//! then re-run to measure its rate, which its replay file records ("fails n of m"). The
//! shrunk case is saved as a replay file, its seed in proptest's regression file, and its
//! artifacts kept.

use std::cell::RefCell;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};

use super::case::{run_case, CaseOutcome};
use super::config::{config, CaseConfig};
use super::plan::{sequence, Step, Weights};
use super::replay::{FailRate, Replay};
use super::setup::CaseSetup;
use super::shard::Shard;
use crate::release::ReleaseStore;
use crate::traffic::Profile;

#[derive(Clone, Debug)]
pub struct ExploreConfig {
    pub setup: CaseSetup,
    pub cases: u32,
    pub seed: u64,
    /// Wall-clock budget for generating and running cases (shrinking has its own).
    pub time_budget: Duration,
    pub shrink_budget: Duration,
    pub max_steps: usize,
    pub weights: Weights,
    /// One configuration for every case instead of drawing one per case.
    pub fixed_config: Option<CaseConfig>,
    /// One traffic profile for every case instead of drawing it with the configuration: to
    /// explore a release past a kept finding one profile reaches (etcd#15220 with the
    /// Kubernetes mix's progress requests, before 3.4.25 / 3.5.8).
    pub profile: Option<Profile>,
    /// Runs of a shrink candidate, any failing of which keeps it (k, at least 1).
    pub tries: u32,
    /// Runs of the minimal case that measure its fail rate (0: none beyond the shrink).
    pub rate_runs: u32,
    pub inject_faults: bool,
    /// Where replay files go.
    pub out_dir: PathBuf,
    /// proptest's regression file (seeds of failing cases), if any.
    pub regressions: Option<PathBuf>,
    /// Run only this shard's cases (every case is still drawn, so shards split one run).
    pub shard: Option<Shard>,
}

/// The minimal failing case of an exploration.
#[derive(Debug)]
pub struct Finding {
    pub config: CaseConfig,
    pub steps: Vec<Step>,
    /// What failed, first line first.
    pub reason: String,
    pub replay: PathBuf,
    /// The kept member logs, history and timeline of a failing run of the minimal case.
    pub artifacts: Option<PathBuf>,
    /// Its fail rate over the re-runs (and the run that found it).
    pub rate: FailRate,
    /// The failure is a step the harness could not run (`CaseOutcome::precondition`): a
    /// harness bug to fix, not an etcd finding.
    pub precondition: bool,
}

#[derive(Debug, Default)]
pub struct ExploreReport {
    pub cases_run: u32,
    pub shrink_runs: u32,
    pub ops_applied: usize,
    pub requests: usize,
    pub elapsed: Duration,
    /// The time every run took, and of it the time its checks took.
    pub run_time: Duration,
    pub checking: Duration,
    pub failure: Option<Finding>,
    /// The indices (in draw order, from 0) of the cases this run ran: what a shard covered.
    pub cases: Vec<u32>,
    /// The configurations the cases ran in, as their case lines show them.
    pub configs: std::collections::BTreeSet<String>,
    /// Cases that passed with something their checks could not decide (reads or compares an
    /// unknown write may hide from, keys whose linearizability search spent its budget):
    /// counted apart, never as plain passes.
    pub left_open: u32,
}

/// One case as proptest draws it.
type Drawn = (CaseConfig, Vec<Step>);

/// Runs the exploration on real clusters; progress lines go to `progress`.
pub fn explore(
    store: &ReleaseStore,
    cfg: &ExploreConfig,
    progress: &mut dyn Write,
) -> ExploreReport {
    let rt = runtime();
    search(cfg, progress, |config, steps| {
        rt.block_on(run_case(
            store,
            &cfg.setup,
            config,
            steps,
            cfg.inject_faults,
        ))
    })
}

/// What the search remembers between runs.
struct State<'p> {
    report: ExploreReport,
    /// The smallest failing case so far and the outcome of its failing run.
    last_failure: Option<(Drawn, CaseOutcome)>,
    shrinking: bool,
    progress: &'p mut dyn Write,
}

impl State<'_> {
    /// Counts a run and prints its case line.
    fn record(&mut self, drawn: &Drawn, outcome: &CaseOutcome, try_of: Option<(u32, u32)>) {
        if self.shrinking {
            self.report.shrink_runs += 1;
        } else {
            self.report.cases_run += 1;
            let shown = outcome.config.as_ref().unwrap_or(&drawn.0).to_string();
            self.report.configs.insert(shown);
            if outcome.failure.is_none() && undecided_note(outcome).is_some() {
                self.report.left_open += 1;
            }
        }
        self.report.ops_applied += outcome.applied.len();
        self.report.requests += outcome.requests;
        self.report.run_time += outcome.elapsed;
        self.report.checking += outcome.checking;
        let n = self.report.cases_run + self.report.shrink_runs;
        let list: Vec<String> = drawn.1.iter().map(|s| s.to_string()).collect();
        let verdict = match outcome.failure.as_deref() {
            Some(f) => format!("FAIL: {}", f.lines().next().unwrap_or("")),
            None => undecided_note(outcome).map_or("ok".into(), |n| format!("ok ({n})")),
        };
        let kind = if self.shrinking { "shrink" } else { "case  " };
        let tries = try_of.map_or(String::new(), |(t, k)| format!(" try {t}/{k}"));
        let _ = writeln!(
            self.progress,
            "{kind} {n:>3}{tries} [{:>5.1}s, checks {:.2}s, {} ops, {} requests, {} writes acked, {} watch events, {} leases] {{{}}} {} -> {verdict}",
            outcome.elapsed.as_secs_f64(),
            outcome.checking.as_secs_f64(),
            outcome.applied.len(),
            outcome.requests,
            outcome.writes_acknowledged,
            outcome.watch_events,
            outcome.leases,
            outcome.config.as_ref().unwrap_or(&drawn.0),
            list.join(", "),
        );
    }

    /// Keeps `outcome` as the smallest failure so far (dropping the previous one's artifacts).
    fn keep_failure(&mut self, drawn: &Drawn, outcome: CaseOutcome) {
        if let Some((_, old)) = self.last_failure.take() {
            remove_artifacts(&old);
        }
        self.last_failure = Some((drawn.clone(), outcome));
    }
}

/// What a passing case's checks left open, if anything: never shown as a plain pass.
fn undecided_note(o: &CaseOutcome) -> Option<String> {
    let mut parts = Vec::new();
    if o.undecided > 0 {
        parts.push(format!("{} reads or compares undecided", o.undecided));
    }
    if o.inconclusive > 0 {
        parts.push(format!(
            "{} keys' linearizability inconclusive (search budget spent)",
            o.inconclusive
        ));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

fn remove_artifacts(o: &CaseOutcome) {
    if let Some(dir) = &o.artifacts {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The search itself, over any way of running a case: `run` is a real cluster in
/// [`explore`], and a pure stand-in in the tests of the shrinking logic.
pub fn search(
    cfg: &ExploreConfig,
    progress: &mut dyn Write,
    mut run: impl FnMut(&CaseConfig, &[Step]) -> CaseOutcome,
) -> ExploreReport {
    let mut runner = test_runner(cfg);
    let started = Instant::now();
    let tries = cfg.tries.max(1);
    let state = RefCell::new(State {
        report: ExploreReport::default(),
        last_failure: None,
        shrinking: false,
        progress,
    });
    let configs = match &cfg.fixed_config {
        Some(c) => proptest::strategy::Just(c.clone()).boxed(),
        None => config(),
    };
    let profile = cfg.profile;
    let configs = configs.prop_map(move |mut c| {
        c.profile = profile.unwrap_or(c.profile);
        c
    });
    let strategy = (configs, sequence(&cfg.weights, cfg.max_steps));
    let run = RefCell::new(&mut run);
    let drawn_cases = std::cell::Cell::new(0u32);
    let result = runner.run(&strategy, |drawn| {
        let mut st = state.borrow_mut();
        if !st.shrinking {
            let index = drawn_cases.get();
            drawn_cases.set(index + 1);
            if started.elapsed() > cfg.time_budget {
                return Ok(()); // budget spent: remaining cases pass unrun
            }
            if cfg.shard.is_some_and(|s| !s.owns(index as usize)) {
                return Ok(()); // another shard's case
            }
            st.report.cases.push(index);
        }
        // Each run draws the traffic from the one seed the replay file records: a shrunk case
        // runs with the traffic it failed with.
        let k = if st.shrinking { tries } else { 1 };
        for t in 1..=k {
            let outcome = (run.borrow_mut())(&drawn.0, &drawn.1);
            st.record(&drawn, &outcome, (k > 1).then_some((t, k)));
            // A step the harness could not run is a translation bug, not the failure being
            // shrunk: a candidate failing that way does not replace it.
            let unrelated = st.shrinking
                && outcome.precondition
                && !st
                    .last_failure
                    .as_ref()
                    .is_some_and(|(_, o)| o.precondition);
            if unrelated {
                remove_artifacts(&outcome);
                continue;
            }
            if let Some(f) = outcome.failure.clone() {
                st.shrinking = true;
                st.keep_failure(&drawn, outcome);
                return Err(TestCaseError::fail(f));
            }
        }
        Ok(())
    });
    let mut st = state.into_inner();
    let mut report = std::mem::take(&mut st.report);
    if let Err(TestError::Fail(reason, minimal)) = result {
        let precondition = st
            .last_failure
            .as_ref()
            .is_some_and(|(_, o)| o.precondition);
        let (rate, artifacts) = measure(cfg, &minimal, st, &mut report, &mut *run.borrow_mut());
        let mut f = save_failure(cfg, minimal, reason.to_string(), rate, artifacts);
        f.precondition = precondition;
        report.failure = Some(f);
    }
    report.elapsed = started.elapsed();
    report
}

/// Re-runs the minimal case `cfg.rate_runs` times for its fail rate (counting the run that
/// made it minimal); returns the rate and the artifacts of one failing run of it.
fn measure(
    cfg: &ExploreConfig,
    minimal: &Drawn,
    mut st: State<'_>,
    report: &mut ExploreReport,
    run: &mut impl FnMut(&CaseConfig, &[Step]) -> CaseOutcome,
) -> (FailRate, Option<PathBuf>) {
    let mut artifacts = match st.last_failure.take() {
        Some((drawn, o)) if &drawn == minimal => o.artifacts,
        Some((_, o)) => {
            remove_artifacts(&o);
            None
        }
        None => None,
    };
    let mut rate = FailRate { failed: 1, runs: 1 };
    for t in 1..=cfg.rate_runs {
        let outcome = run(&minimal.0, &minimal.1);
        report.shrink_runs += 1;
        report.ops_applied += outcome.applied.len();
        report.requests += outcome.requests;
        report.run_time += outcome.elapsed;
        report.checking += outcome.checking;
        rate.runs += 1;
        let verdict = match &outcome.failure {
            Some(f) => {
                rate.failed += 1;
                format!("FAIL: {}", f.lines().next().unwrap_or(""))
            }
            None => "ok".into(),
        };
        let _ = writeln!(
            st.progress,
            "rate   {t}/{} [{:>5.1}s] -> {verdict}",
            cfg.rate_runs,
            outcome.elapsed.as_secs_f64()
        );
        if outcome.failure.is_some() && artifacts.is_none() {
            artifacts = outcome.artifacts;
        } else {
            remove_artifacts(&outcome);
        }
    }
    (rate, artifacts)
}

/// The 2-thread runtime cases run on (the machine's cores are shared with etcd).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// proptest's runner, drawing every case from `cfg.seed` (ChaCha, so a seed means the same
/// sequences on every machine), within the shrink budget.
fn test_runner(cfg: &ExploreConfig) -> TestRunner {
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&cfg.seed.to_le_bytes());
    let config = Config {
        cases: cfg.cases,
        max_shrink_time: cfg.shrink_budget.as_millis() as u32,
        max_shrink_iters: 64,
        failure_persistence: cfg.regressions.as_ref().map(|p| {
            Box::new(FileFailurePersistence::Direct(Box::leak(
                p.display().to_string().into_boxed_str(),
            ))) as _
        }),
        rng_algorithm: RngAlgorithm::ChaCha,
        ..Config::default()
    };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    )
}

/// Writes the minimal case's replay file.
fn save_failure(
    cfg: &ExploreConfig,
    (config, steps): Drawn,
    reason: String,
    rate: FailRate,
    artifacts: Option<PathBuf>,
) -> Finding {
    let _ = std::fs::create_dir_all(&cfg.out_dir);
    let path = cfg.out_dir.join(format!(
        "replay-{}-{}-seed{}.json",
        cfg.setup.older, cfg.setup.newer, cfg.seed
    ));
    let replay = Replay {
        seed: cfg.seed,
        setup: cfg.setup.clone(),
        config: config.clone(),
        inject_faults: cfg.inject_faults,
        steps: steps.clone(),
        failure: reason.clone(),
        fails: Some(rate),
        triage: None,
    };
    if let Err(e) = replay.write(&path) {
        tracing::warn!("replay file {}: {e}", path.display());
    }
    Finding {
        config,
        steps,
        reason,
        replay: path,
        artifacts,
        rate,
        precondition: false,
    }
}

/// Runs a replay file's case once.
pub fn replay(store: &ReleaseStore, r: &Replay) -> CaseOutcome {
    runtime().block_on(run_case(
        store,
        &r.setup,
        &r.config,
        &r.steps,
        r.inject_faults,
    ))
}

#[cfg(test)]
mod tests;
