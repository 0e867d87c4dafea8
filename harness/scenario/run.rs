//! Runs a scenario: every step applied, then the oracle, each printed with its outcome and the
//! observed versions; after the last step, every member's log is read for a panic or fatal line
//! (reported as a step "member logs" at the scenario's last line). A failed run keeps the
//! members' logs and data dirs and says where.

use std::io::Write;
use std::time::Instant;

use super::file::Scenario;
use crate::ops::Runner;
use crate::release::ReleaseStore;

/// One executed step, for reports.
#[derive(Clone, Debug)]
pub struct StepReport {
    pub line: usize,
    pub op: String,
    pub outcome: Result<String, String>,
    pub versions: String,
    pub seconds: f64,
}

#[derive(Clone, Debug)]
pub struct ScenarioReport {
    pub name: String,
    pub steps: Vec<StepReport>,
    /// Where the failed run's artifacts were kept.
    pub artifacts: Option<std::path::PathBuf>,
}

impl ScenarioReport {
    pub fn failure(&self) -> Option<String> {
        self.steps.iter().find_map(|s| {
            s.outcome
                .as_ref()
                .err()
                .map(|e| format!("{}:{} `{}`: {e}", self.name, s.line, s.op))
        })
    }
}

/// Runs `scenario`, printing each step to `out` as it completes.
pub async fn run(store: &ReleaseStore, scenario: &Scenario, out: &mut dyn Write) -> ScenarioReport {
    let name = scenario.path.display().to_string();
    let _ = writeln!(out, "== {name}: {}", scenario.title);
    let mut runner = Runner::new(store);
    let mut report = ScenarioReport {
        name,
        steps: Vec::new(),
        artifacts: None,
    };
    for (n, step) in scenario.steps.iter().enumerate() {
        let started = Instant::now();
        let applied = runner.apply(&step.op).await;
        let (outcome, versions) = match applied {
            Ok(what) => match runner.check().await {
                Ok(v) => (Ok(what), v),
                Err(e) => (Err(format!("{what}; then {e}")), String::new()),
            },
            Err(e) => (Err(e.to_string()), String::new()),
        };
        let outcome = match outcome {
            Ok(what) if n + 1 == scenario.steps.len() => match runner.fatal_log_lines() {
                None => Ok(what),
                Some(f) => Err(format!("{what}; then member logs: {f}")),
            },
            other => other,
        };
        let seconds = started.elapsed().as_secs_f64();
        let _ = match &outcome {
            Ok(what) => writeln!(
                out,
                "[{:>3}] {:<40} ok   {:>5.1}s  {what}\n      {versions}",
                step.line,
                step.op.to_string(),
                seconds
            ),
            Err(e) => writeln!(
                out,
                "[{:>3}] {:<40} FAIL {:>5.1}s  {e}",
                step.line,
                step.op.to_string(),
                seconds
            ),
        };
        let failed = outcome.is_err();
        report.steps.push(StepReport {
            line: step.line,
            op: step.op.to_string(),
            outcome,
            versions,
            seconds,
        });
        if failed {
            if let Some(c) = runner.cluster.as_mut() {
                let dir = c.keep_artifacts();
                let _ = writeln!(
                    out,
                    "   member logs and data dirs kept in {}",
                    dir.display()
                );
                report.artifacts = Some(dir);
            }
            break;
        }
    }
    report
}
