//! The `explore` and `replay` commands: the CLI edge of `harness/explore/` (options, progress
//! and summary lines, exit status).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use etcd_skew::explore::{self, CaseConfig, CaseSetup, ExploreConfig, Replay, Weights};
use etcd_skew::release::ReleaseStore;

use super::parse_duration;

/// `explore`'s options.
#[derive(clap::Args)]
pub struct ExploreArgs {
    /// The pair (or set: adjacent pairs) under test, oldest first: 3.4.23,3.5.16.
    #[arg(long, default_value = "3.4.23,3.5.16")]
    releases: String,
    #[arg(long, default_value_t = 10)]
    cases: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Wall-clock budget for running cases, e.g. 10m, 90s.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    time_budget: Duration,
    /// Wall-clock budget for shrinking a failure.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    shrink_budget: Duration,
    /// Longest step sequence.
    #[arg(long, default_value_t = 8)]
    max_steps: usize,
    /// Concurrent traffic clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Traffic requests per second over all clients (0: as fast as answered).
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// Also draw fault-injection steps (on-disk corruption) to see the checks catch them.
    #[arg(long)]
    inject_faults: bool,
    /// Runs of a shrink candidate, any failing of which keeps it (flaky failures).
    #[arg(long, default_value_t = 3)]
    tries: u32,
    /// Re-runs of the minimal failing case that measure its fail rate.
    #[arg(long, default_value_t = 5)]
    rate_runs: u32,
    /// Run every case in the default configuration (3 members, etcd's defaults) instead of
    /// drawing one per case.
    #[arg(long)]
    default_config: bool,
    /// Campaign cases: up to 16 steps with long stretches of traffic (10 s waits).
    #[arg(long)]
    campaign: bool,
    /// Step kinds never to draw, as steps print (kill-during-defrag,pause-leader): to explore a
    /// release past a kept finding that one kind reaches within minutes.
    #[arg(long, value_delimiter = ',')]
    without: Vec<String>,
    /// One traffic profile for every case (etcd, kubernetes) instead of drawing it with the
    /// configuration: to explore a release past a kept finding one profile reaches.
    #[arg(long)]
    profile: Option<etcd_skew::traffic::Profile>,
    /// Hold no watch from far beyond the head: to explore a release before 3.5.22 past
    /// etcd#20221, which held watches reach whenever a member restores a snapshot.
    #[arg(long)]
    no_held_watches: bool,
    /// Multi-key txns also read at a revision of their own (past, compacted or future), so that
    /// some are refused whole: every pinned release then diverges at once (etcd#18667).
    #[arg(long)]
    txn_reads_at_revision: bool,
    /// Where replay files go.
    #[arg(long, default_value = "explore-out")]
    out: PathBuf,
    /// Run only shard K of N of the cases (CI matrices); shards together run every case.
    #[arg(long, value_name = "K/N")]
    shard: Option<explore::Shard>,
}

pub fn explore_cmd(store: &ReleaseStore, args: ExploreArgs) -> Result<()> {
    let ExploreArgs {
        releases,
        cases,
        seed,
        time_budget,
        shrink_budget,
        max_steps,
        clients,
        rate,
        inject_faults,
        tries,
        rate_runs,
        default_config,
        campaign,
        without,
        profile,
        no_held_watches,
        txn_reads_at_revision,
        out,
        shard,
    } = args;
    let max_steps = if campaign {
        max_steps.max(16)
    } else {
        max_steps
    };
    let base = if campaign {
        Weights::campaign()
    } else {
        Weights::default()
    }
    .without(without.iter().map(String::as_str))
    .context("--without")?;

    let mut list = Vec::new();
    for r in releases.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        list.push((r.to_string(), store.resolve(r)?.version));
    }
    let pairs = explore::release_pairs(&list).context("--releases")?;
    let mut failed = false;
    for (older, newer) in &pairs {
        let cfg = ExploreConfig {
            setup: CaseSetup {
                older: older.clone(),
                newer: newer.clone(),
                traffic_seed: seed,
                clients,
                rate,
                keys: 16,
                held_watches: !no_held_watches,
                txn_reads_at_revision,
            },
            cases,
            seed,
            time_budget,
            shrink_budget,
            max_steps,
            weights: Weights {
                corrupt: if inject_faults { 3 } else { 0 },
                ..base.clone()
            },
            fixed_config: default_config.then(CaseConfig::defaults),
            profile,
            tries,
            rate_runs,
            inject_faults,
            out_dir: out.clone(),
            regressions: Some(out.join("explore.proptest-regressions")),
            shard,
        };
        let left_out = if without.is_empty() {
            String::new()
        } else {
            format!(", without {}", without.join(","))
        };
        println!("== explore {older} -> {newer}: {cases} cases, seed {seed}{left_out}");
        let report = explore::explore(store, &cfg, &mut std::io::stdout());
        failed |= summarize(&report);
    }
    if failed {
        bail!("exploration found a failure");
    }
    Ok(())
}

/// Prints a pair's summary lines (and its failure, shrunk, with how to replay it); whether it
/// failed.
fn summarize(report: &explore::ExploreReport) -> bool {
    let minutes = report.elapsed.as_secs_f64() / 60.0;
    println!(
            "{} cases ({} shrink runs), {} operations, {} requests in {:.1} min: {:.1} operations/min, {:.0} cases/hour",
            report.cases_run,
            report.shrink_runs,
            report.ops_applied,
            report.requests,
            minutes,
            report.ops_applied as f64 / minutes.max(1e-9),
            (report.cases_run + report.shrink_runs) as f64 / (minutes / 60.0).max(1e-9),
        );
    println!(
        "checks: {:.1} s of {:.1} s in cases ({:.1}%)",
        report.checking.as_secs_f64(),
        report.run_time.as_secs_f64(),
        100.0 * report.checking.as_secs_f64() / report.run_time.as_secs_f64().max(1e-9),
    );
    if report.left_open > 0 {
        println!(
            "{} of {} cases passed with checks left open (undecided or inconclusive: their case lines say which)",
            report.left_open, report.cases_run
        );
    }
    if let Some(f) = &report.failure {
        let list: Vec<String> = f.steps.iter().map(|s| s.to_string()).collect();
        if f.precondition {
            println!("a step the harness could not run: a harness bug, not etcd's");
        }
        println!(
            "FAILED ({}), shrunk to {{{}}} [{}]: {}",
            f.rate,
            f.config,
            list.join(", "),
            f.reason
        );
        println!("replay: etcd-skew replay {}", f.replay.display());
        if let Some(a) = &f.artifacts {
            println!(
                "artifacts (logs, history.jsonl, timeline.svg): {}",
                a.display()
            );
        }
    }
    report.failure.is_some()
}

pub fn replay_cmd(
    store: &ReleaseStore,
    file: PathBuf,
    releases: Option<String>,
    tries: u32,
) -> Result<()> {
    let r = Replay::read(&file).map_err(anyhow::Error::msg)?;
    let Some(list) = releases else {
        return replay_once(store, &r, tries.max(1));
    };
    let mut pairs = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (older, newer) = item.split_once(':').unwrap_or((item, item));
        for name in [older, newer] {
            store
                .resolve(name)
                .with_context(|| format!("--releases {item}"))?;
        }
        pairs.push((older.to_string(), newer.to_string()));
    }
    println!(
        "{} on {{{}}} [{}]",
        file.display(),
        r.config,
        r.steps
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (older, newer) in pairs {
        let (rate, first) = runs(store, &r.on(&older, &newer), tries.max(1), |_, _| {});
        let pair = if older == newer {
            older
        } else {
            format!("{older} -> {newer}")
        };
        match first {
            Some((f, artifacts)) => {
                println!("{pair}: {rate}: {}", first_line(&f));
                if let Some(a) = artifacts {
                    println!("  artifacts: {}", a.display());
                }
            }
            None => println!("{pair}: {rate} (passes)"),
        }
    }
    Ok(())
}

/// Runs the case `tries` times, calling `each` with every run's number and outcome; returns the
/// rate and the first failure with its kept artifacts (those of passing or later failing runs
/// are removed).
fn runs(
    store: &ReleaseStore,
    r: &Replay,
    tries: u32,
    mut each: impl FnMut(u32, &explore::CaseOutcome),
) -> (explore::FailRate, Option<(String, Option<PathBuf>)>) {
    let mut rate = explore::FailRate::default();
    let mut first = None;
    for t in 1..=tries {
        let o = explore::search::replay(store, r);
        each(t, &o);
        rate.runs += 1;
        match o.failure {
            Some(f) if first.is_none() => {
                rate.failed += 1;
                first = Some((f, o.artifacts));
            }
            failure => {
                rate.failed += u32::from(failure.is_some());
                if let Some(a) = o.artifacts {
                    let _ = std::fs::remove_dir_all(a);
                }
            }
        }
    }
    (rate, first)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Runs the case on its own releases `tries` times, printing the first run's steps and every
/// run's verdict; fails if any run fails.
fn replay_once(store: &ReleaseStore, r: &Replay, tries: u32) -> Result<()> {
    println!("configuration: {}", r.config);
    let (rate, first) = runs(store, r, tries, |t, o| {
        if t == 1 {
            for a in &o.applied {
                let res = match &a.outcome {
                    Ok(s) => format!("ok   {s}"),
                    Err(e) => format!("FAIL {e}"),
                };
                println!("[{:>6} ms] {:<50} {res}", a.start_ms, a.op);
            }
        }
        match &o.failure {
            Some(f) => println!("run {t}/{tries}: FAIL {}", first_line(f)),
            None => println!("run {t}/{tries}: passed ({} requests)", o.requests),
        }
    });
    match first {
        Some((f, artifacts)) => {
            if let Some(a) = artifacts {
                println!("artifacts: {}", a.display());
            }
            bail!("replay failed ({rate}): {f}")
        }
        None => Ok(()),
    }
}
