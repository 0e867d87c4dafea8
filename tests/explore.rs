//! Exploration on real clusters: a small fixed-seed run per adjacent release pair must find
//! nothing, and an injected on-disk corruption must be found, shrunk to a short sequence, saved
//! as a replay file that fails again when replayed.
//!
//! `ETCD_SKEW_EXPLORE_CASES` (default 1) and `ETCD_SKEW_EXPLORE_STEPS` (default 4) make the
//! per-pair runs larger.

mod common;

use std::time::Duration;

use etcd_skew::explore::{self, CaseSetup, ExploreConfig, Replay, Step, Weights};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(older: &str, newer: &str, seed: u64, out: &std::path::Path) -> ExploreConfig {
    ExploreConfig {
        setup: CaseSetup {
            older: older.into(),
            newer: newer.into(),
            members: 3,
            traffic_seed: seed,
            clients: 8,
            rate: 1000,
            keys: 8,
        },
        cases: env_or("ETCD_SKEW_EXPLORE_CASES", 1) as u32,
        seed,
        time_budget: Duration::from_secs(120),
        shrink_budget: Duration::from_secs(180),
        max_steps: env_or("ETCD_SKEW_EXPLORE_STEPS", 4) as usize,
        weights: Weights::default(),
        inject_faults: false,
        out_dir: out.to_path_buf(),
        regressions: None,
    }
}

fn explore_pair(older: &str, newer: &str, seed: u64) {
    common::releases(&[older, newer]);
    let out = tempfile::tempdir().unwrap();
    let mut progress = Vec::new();
    let report = explore::explore(
        common::store(),
        &config(older, newer, seed, out.path()),
        &mut progress,
    );
    print!("{}", String::from_utf8_lossy(&progress));
    assert!(report.cases_run >= 1, "no case ran");
    if let Some((steps, why, replay, artifacts)) = report.failure {
        panic!(
            "{older} -> {newer}: shrunk to {steps:?}: {why}\nreplay: {}\nartifacts: {artifacts:?}",
            replay.display()
        );
    }
}

#[test]
fn pair_3_3_25_to_3_4_23() {
    explore_pair("3.3.25", "3.4.23", 101);
}

#[test]
fn pair_3_4_23_to_3_5_0() {
    explore_pair("3.4.23", "3.5.0", 102);
}

#[test]
fn pair_3_5_0_to_3_5_1() {
    explore_pair("3.5.0", "3.5.1", 103);
}

#[test]
fn pair_3_5_1_to_3_5_16() {
    explore_pair("3.5.1", "3.5.16", 104);
}

#[test]
fn pair_3_5_16_to_3_5_30() {
    explore_pair("3.5.16", "3.5.30", 105);
}

/// A value's bytes changed in one member's bbolt file while it is stopped: members diverge,
/// the oracle must say so, and shrinking must cut the sequence down to the corruption.
#[test]
fn injected_disk_corruption_is_found_and_shrunk() {
    common::releases(&["3.5.16", "3.5.30"]);
    let out = tempfile::tempdir().unwrap();
    let mut cfg = config("3.5.16", "3.5.30", 7, out.path());
    cfg.cases = 8;
    cfg.max_steps = 4;
    cfg.inject_faults = true;
    cfg.time_budget = Duration::from_secs(300);
    cfg.weights = Weights {
        corrupt: 6,
        ..Weights::default()
    };
    let mut progress = Vec::new();
    let report = explore::explore(common::store(), &cfg, &mut progress);
    print!("{}", String::from_utf8_lossy(&progress));
    let (steps, why, replay_path, artifacts) =
        report.failure.expect("the corruption must be caught");
    assert!(why.contains("HashKV") || why.contains("value of"), "{why}");
    assert!(steps.len() <= 2, "not shrunk: {steps:?}");
    assert!(
        steps.iter().any(|s| matches!(s, Step::CorruptValue(_))),
        "{steps:?}"
    );
    let artifacts = artifacts.expect("the minimal case keeps its artifacts");
    for f in [
        "history.jsonl",
        "timeline.svg",
        "timeline.json",
        "logs/m1.log",
    ] {
        assert!(
            artifacts.join(f).exists(),
            "{f} missing in {}",
            artifacts.display()
        );
    }
    let _ = std::fs::remove_dir_all(&artifacts);

    // The replay file runs the same case again, and it fails the same way.
    let replay = Replay::read(&replay_path).unwrap();
    assert_eq!(replay.steps, steps);
    let again = explore::search::replay(common::store(), &replay);
    let failure = again.failure.expect("the replay fails again");
    assert!(
        failure.contains("HashKV") || failure.contains("value of"),
        "{failure}"
    );
    if let Some(a) = again.artifacts {
        let _ = std::fs::remove_dir_all(a);
    }
}
