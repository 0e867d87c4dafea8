//! Exploration: proptest draws step sequences from a seed, each runs as a real case, and a
//! failure is shrunk (proptest drops and simplifies steps, re-running real clusters) within a
//! wall-clock budget. The shrunk case is saved as a replay file, its seed in proptest's
//! regression file, and its artifacts kept.

use std::cell::RefCell;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};

use super::case::{run_case, CaseOutcome};
use super::plan::{sequence, Step, Weights};
use super::replay::Replay;
use super::setup::CaseSetup;
use crate::release::ReleaseStore;

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
    pub inject_faults: bool,
    /// Where replay files go.
    pub out_dir: PathBuf,
    /// proptest's regression file (seeds of failing cases), if any.
    pub regressions: Option<PathBuf>,
}

#[derive(Debug, Default)]
pub struct ExploreReport {
    pub cases_run: u32,
    pub shrink_runs: u32,
    pub ops_applied: usize,
    pub requests: usize,
    pub elapsed: Duration,
    /// The minimal failing case, its message, replay file and artifacts.
    pub failure: Option<(Vec<Step>, String, PathBuf, Option<PathBuf>)>,
}

/// Runs the exploration; progress lines go to `progress`.
pub fn explore(
    store: &ReleaseStore,
    cfg: &ExploreConfig,
    progress: &mut dyn Write,
) -> ExploreReport {
    let rt = runtime();
    let mut runner = test_runner(cfg);
    let started = Instant::now();
    let state = RefCell::new((
        ExploreReport::default(),
        None::<(Vec<Step>, CaseOutcome)>,
        false,
        progress,
    ));
    let strategy = sequence(&cfg.weights, cfg.max_steps);
    let result = runner.run(&strategy, |steps| {
        let mut st = state.borrow_mut();
        let shrinking = st.2;
        if !shrinking && started.elapsed() > cfg.time_budget {
            return Ok(()); // budget spent: remaining cases pass unrun
        }
        let n = st.0.cases_run + st.0.shrink_runs + 1;
        // One traffic seed for every case and shrink run, the one the replay file records: a
        // shrunk case then runs with the traffic it failed with.
        let outcome = rt.block_on(run_case(store, &cfg.setup, &steps, cfg.inject_faults));
        if shrinking {
            st.0.shrink_runs += 1;
        } else {
            st.0.cases_run += 1;
        }
        st.0.ops_applied += outcome.applied.len();
        st.0.requests += outcome.requests;
        let list: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
        let verdict = outcome.failure.as_deref().map_or("ok".to_string(), |f| {
            format!("FAIL: {}", f.lines().next().unwrap_or(""))
        });
        let _ = writeln!(
            st.3,
            "{} {n:>3} [{:>5.1}s, {} ops, {} requests, {} writes acked, {} watch events, {} leases] {} -> {verdict}",
            if shrinking { "shrink" } else { "case  " },
            outcome.elapsed.as_secs_f64(),
            outcome.applied.len(),
            outcome.requests,
            outcome.writes_acknowledged,
            outcome.watch_events,
            outcome.leases,
            list.join(", "),
        );
        match outcome.failure.clone() {
            None => Ok(()),
            Some(f) => {
                st.2 = true;
                // Keep only the latest failure's artifacts: it is the smallest so far.
                if let Some((_, old)) = st.1.take() {
                    if let Some(dir) = old.artifacts {
                        let _ = std::fs::remove_dir_all(dir);
                    }
                }
                st.1 = Some((steps.clone(), outcome));
                Err(TestCaseError::fail(f))
            }
        }
    });
    let (mut report, last_failure, _, _) = state.into_inner();
    report.elapsed = started.elapsed();
    if let Err(TestError::Fail(reason, minimal)) = result {
        report.failure = Some(save_failure(cfg, minimal, reason.to_string(), last_failure));
    }
    report
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

/// Writes the minimal case's replay file and keeps the artifacts of the last failing run if it
/// was that case (else they belong to a bigger one: removed).
fn save_failure(
    cfg: &ExploreConfig,
    minimal: Vec<Step>,
    reason: String,
    last_failure: Option<(Vec<Step>, CaseOutcome)>,
) -> (Vec<Step>, String, PathBuf, Option<PathBuf>) {
    let _ = std::fs::create_dir_all(&cfg.out_dir);
    let path = cfg.out_dir.join(format!(
        "replay-{}-{}-seed{}.json",
        cfg.setup.older, cfg.setup.newer, cfg.seed
    ));
    let artifacts = match last_failure {
        Some((steps, o)) if steps == minimal => o.artifacts,
        Some((_, o)) => {
            if let Some(d) = o.artifacts {
                let _ = std::fs::remove_dir_all(d);
            }
            None
        }
        None => None,
    };
    let replay = Replay {
        seed: cfg.seed,
        setup: cfg.setup.clone(),
        inject_faults: cfg.inject_faults,
        steps: minimal.clone(),
        failure: reason.clone(),
    };
    let _ = replay.write(&path);
    (minimal, reason, path, artifacts)
}

/// Runs a replay file's case once.
pub fn replay(store: &ReleaseStore, r: &Replay) -> CaseOutcome {
    runtime().block_on(run_case(store, &r.setup, &r.steps, r.inject_faults))
}
