//! The `validate` and `merge` commands: the CLI edge of `harness/validate/` (options, progress
//! on a terminal or plain lines, the report files, exit status 0 / 1 / 2).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use etcd_skew::explore::Shard;
use etcd_skew::release::ReleaseStore;
use etcd_skew::validate::report::{merge, Outcome, Report};
use etcd_skew::validate::{self, render, Parts, Progress, ValidateConfig};
use indicatif::{ProgressBar, ProgressStyle};

use super::parse_duration;

#[derive(clap::Args)]
pub struct ValidateArgs {
    /// The release upgraded from (a pinned version or a --binary name).
    from: String,
    /// The release upgraded to.
    to: String,
    /// Wall-clock budget for the whole validation, e.g. 20m, 90s.
    #[arg(long, default_value = "20m", value_parser = parse_duration)]
    budget: Duration,
    /// Where report.json, report.md, report.html, junit.xml, validate.log, replays/ and the
    /// failed runs' artifacts/ go.
    #[arg(long, default_value = "validate-out")]
    out: PathBuf,
    /// Scenario templates to instantiate for the pair.
    #[arg(long, default_value = "scenarios/templates")]
    templates: PathBuf,
    /// Kept findings (replay files with a triage) to check on either release.
    #[arg(long, default_value = "findings")]
    findings: PathBuf,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Run only shard K of N of the work (CI matrices); `merge` joins the shards' reports.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Only these parts: comma-separated from compat, scenarios, known-bugs, explore.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Draw on-disk corruption in explorations (a failure the checks must catch: a self-test).
    #[arg(long)]
    inject_faults: bool,
    /// Explorations hold no watch from far beyond the head (they find etcd#20221 on releases
    /// before 3.5.22 whenever a member restores a snapshot).
    #[arg(long)]
    no_held_watches: bool,
    /// Runs of a shrink candidate of an exploration's failure.
    #[arg(long, default_value_t = 3)]
    tries: u32,
    /// Re-runs of an exploration's minimal failing case, for its fail rate.
    #[arg(long, default_value_t = 3)]
    rate_runs: u32,
    /// Runs of each kept finding per release (stops at the first failure).
    #[arg(long, default_value_t = 3)]
    known_bug_runs: u32,
    /// Also run the catch-up benchmark at this v2 dataset size (MB): upgrade and baseline.
    #[arg(long, value_name = "MB")]
    catch_up: Option<u32>,
}

/// Progress on a terminal: a spinner with the unit, budget spent and findings so far; plain
/// lines otherwise. Scenario steps and exploration cases go to `validate.log`.
struct Shown {
    bar: Option<ProgressBar>,
    log: std::fs::File,
    findings: usize,
}

impl Progress for Shown {
    fn begin(&mut self, unit: &str, spent: Duration, budget: Duration) {
        let line = format!(
            "[{:>4}s of {}s, {} findings] {unit}",
            spent.as_secs(),
            budget.as_secs(),
            self.findings
        );
        let _ = writeln!(self.log, "== {line}");
        match &self.bar {
            Some(b) => b.set_message(line),
            None => println!("{line}"),
        }
    }

    fn end(&mut self, unit: &str, outcome: &Outcome) {
        if outcome.failed() {
            self.findings += 1;
        }
        let verdict = match outcome {
            Outcome::Passed => "passed".to_string(),
            Outcome::Failed { reason } => {
                format!("FAILED: {}", reason.lines().next().unwrap_or(""))
            }
            Outcome::NotRun { reason } => format!("not run: {reason}"),
        };
        let line = format!("  {unit}: {verdict}");
        let _ = writeln!(self.log, "{line}");
        match &self.bar {
            Some(b) => b.println(line),
            None => println!("{line}"),
        }
    }

    fn detail(&mut self) -> &mut dyn Write {
        &mut self.log
    }
}

/// Writes `text` to `dir/name` through a temporary file and a rename: a reader never sees a
/// half-written report.
fn write_atomic(dir: &Path, name: &str, text: &str) -> Result<()> {
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", dir.join(name).display()))?;
    tmp.persist(dir.join(name))
        .with_context(|| format!("writing {}", dir.join(name).display()))?;
    Ok(())
}

/// Writes every format of `report` into `out` and prints the terminal summary.
fn publish(report: &Report, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let json = serde_json::to_string_pretty(report).context("report to JSON")?;
    write_atomic(out, "report.json", &json)?;
    write_atomic(out, "report.md", &render::markdown(report))?;
    write_atomic(out, "report.html", &render::html(report))?;
    write_atomic(out, "junit.xml", &render::junit(report))?;
    print!("{}", render::summary(report));
    println!(
        "report: {} (also report.md, report.json, junit.xml)",
        out.join("report.html").display()
    );
    Ok(())
}

fn parts(only: &[String]) -> Result<Parts> {
    if only.is_empty() {
        return Ok(Parts::default());
    }
    let mut p = Parts {
        compat: false,
        scenarios: false,
        known_bugs: false,
        explore: false,
    };
    for o in only {
        match o.trim() {
            "compat" => p.compat = true,
            "scenarios" => p.scenarios = true,
            "known-bugs" => p.known_bugs = true,
            "explore" => p.explore = true,
            other => {
                anyhow::bail!("--only {other:?}: expected compat, scenarios, known-bugs or explore")
            }
        }
    }
    Ok(p)
}

/// Runs a validation; returns the exit status (0 no findings, 1 findings, 2 harness error).
pub fn validate_cmd(store: &ReleaseStore, binaries: &[String], args: ValidateArgs) -> Result<i32> {
    let parts = parts(&args.only)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let log_path = args.out.join("validate.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let mut command = "etcd-skew".to_string();
    for b in binaries {
        command.push_str(&format!(" --binary {b}"));
    }
    let cfg = ValidateConfig {
        from: args.from,
        to: args.to,
        budget: args.budget,
        templates: args.templates,
        findings: args.findings,
        out_dir: args.out.join("replays"),
        keep_dir: args.out.join("artifacts"),
        seed: args.seed,
        shard: args.shard,
        inject_faults: args.inject_faults,
        held_watches: !args.no_held_watches,
        tries: args.tries,
        rate_runs: args.rate_runs,
        known_bug_runs: args.known_bug_runs,
        parts,
        command,
        catch_up_mb: args.catch_up,
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}").expect("template"),
        );
        b.enable_steady_tick(Duration::from_millis(200));
        b
    });
    println!(
        "validate {} → {} within {}s (steps and cases: {})",
        cfg.from,
        cfg.to,
        cfg.budget.as_secs(),
        log_path.display()
    );
    let mut shown = Shown {
        bar,
        log,
        findings: 0,
    };
    let report = validate::validate(store, &cfg, &mut shown)?;
    if let Some(b) = &shown.bar {
        b.finish_and_clear();
    }
    publish(&report, &args.out)?;
    Ok(report.exit_code())
}

/// Joins shard reports (`DIR/report.json` each) into one report in `out`.
pub fn merge_cmd(dirs: &[PathBuf], out: &Path) -> Result<i32> {
    let mut reports = Vec::new();
    for d in dirs {
        let path = d.join("report.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let r: Report =
            serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?;
        reports.push(r);
    }
    let merged = merge(reports)?;
    publish(&merged, out)?;
    Ok(merged.exit_code())
}
