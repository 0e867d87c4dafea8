//! Exploration on real clusters: a small fixed-seed run per adjacent release pair must find
//! nothing, and an injected on-disk corruption must be found, shrunk to a short sequence, saved
//! as a replay file that fails again when replayed.
//!
//! `ETCD_SKEW_EXPLORE_CASES` (default 1) and `ETCD_SKEW_EXPLORE_STEPS` (default 4) make the
//! per-pair runs larger.
//!
//! A failing test keeps its evidence under `target/etcd-skew-failures/<test>-<time>/`: the
//! replay file, and the failed case's artifacts copied off tmpfs; it prints the command that
//! runs the case again.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etcd_skew::explore::{
    self, artifacts, CaseConfig, CaseSetup, ExploreConfig, Replay, Step, Weights,
};

/// Where a test's replay file goes, and with it what a failure leaves: kept if the test
/// panics, removed if it passes. A `TempDir` would be deleted as the panic unwinds, and the
/// message would name a file that is gone.
struct Evidence {
    dir: PathBuf,
    /// The failed case's artifacts (a cluster temp dir, on tmpfs), to copy in on a panic.
    artifacts: Option<PathBuf>,
    /// Set once the evidence was copied and announced (by the test's own panic message).
    kept: bool,
}

impl Evidence {
    fn new(test: &str) -> Evidence {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let dir = target
            .join("etcd-skew-failures")
            .join(format!("{test}-{time}"));
        Evidence {
            dir,
            artifacts: None,
            kept: false,
        }
    }

    /// Copies the artifacts in and says where everything is and how to replay it.
    fn keep(&mut self) -> String {
        let mut lines = vec![format!("evidence kept in {}", self.dir.display())];
        if let Some(a) = &self.artifacts {
            let to = self.dir.join("artifacts");
            lines.push(match artifacts::preserve(a, &to) {
                Ok(()) => format!(
                    "artifacts copied to {} (with the WAL: {})",
                    to.display(),
                    a.display()
                ),
                Err(e) => format!("artifacts left in {} ({e})", a.display()),
            });
        }
        let replays = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"));
        for r in replays {
            lines.push(format!(
                "reproduce: cargo run --release -- replay {}",
                r.display()
            ));
        }
        self.kept = true;
        lines.join("\n")
    }
}

impl Drop for Evidence {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if !self.kept {
                eprintln!("{}", self.keep());
            }
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(older: &str, newer: &str, seed: u64, out: &std::path::Path) -> ExploreConfig {
    config_without(older, newer, seed, out, &[])
}

/// [`config`] with step kinds left out (`explore --without`).
fn config_without(
    older: &str,
    newer: &str,
    seed: u64,
    out: &std::path::Path,
    without: &[&str],
) -> ExploreConfig {
    ExploreConfig {
        setup: CaseSetup {
            older: older.into(),
            newer: newer.into(),
            traffic_seed: seed,
            clients: 8,
            rate: 1000,
            keys: 8,
            held_watches: held_watches(older, newer),
            txn_reads_at_revision: false,
        },
        cases: env_or("ETCD_SKEW_EXPLORE_CASES", 1) as u32,
        seed,
        time_budget: Duration::from_secs(120),
        shrink_budget: Duration::from_secs(180),
        max_steps: env_or("ETCD_SKEW_EXPLORE_STEPS", 4) as usize,
        weights: Weights::default().without(without.iter().copied()).unwrap(),
        fixed_config: None,
        profile: profile_for(older, newer),
        tries: 2,
        rate_runs: 0,
        inject_faults: false,
        out_dir: out.to_path_buf(),
        regressions: None,
        shard: None,
    }
}

/// Steps that reach a kept finding on 3.5.0 or 3.5.1 (`findings/`, re-checked by
/// `tests/findings.rs`): a kill inside a defragmentation (etcd#14685, about 40 % of runs) and
/// auth turned on (3.5.0's /health, etcd#13144). A smoke case of a pair with those releases
/// leaves them out, or it would pass or fail by etcd's luck.
const KNOWN_ON_3_5_0_AND_3_5_1: &[&str] = &["kill-during-defrag", "auth-toggle"];

/// Pinned releases before 3.5.22, where a member that restores a snapshot sends a watch from a
/// future revision old events (etcd#20221, kept in `findings/` and re-checked by
/// `tests/findings.rs`): a held watch meets that in any case that sends a member a snapshot,
/// so a smoke case with one of them holds none, or it would pass or fail by etcd's luck.
const BEFORE_20221_FIX: &[&str] = &["3.3.25", "3.4.23", "3.5.0", "3.5.1", "3.5.16"];

/// Pinned releases before 3.4.25 / 3.5.8, where a requested progress notification may run
/// ahead of an unsynced watcher's events (etcd#15220, kept in `findings/` and re-checked by
/// `tests/findings.rs`): the Kubernetes mix requests one every 100 ms on every collector, and
/// each collector starts unsynced from revision 1, so a smoke case with one of them sends the
/// etcd mix, or it would pass or fail by etcd's luck.
const BEFORE_15220_FIX: &[&str] = &["3.3.25", "3.4.23", "3.5.0", "3.5.1"];

/// The profile a smoke case of `older` → `newer` is held to (`None`: drawn).
fn profile_for(older: &str, newer: &str) -> Option<etcd_skew::traffic::Profile> {
    [older, newer]
        .iter()
        .any(|r| BEFORE_15220_FIX.contains(r))
        .then_some(etcd_skew::traffic::Profile::Etcd)
}

/// Does a case of `older` → `newer` hold watches ([`CaseSetup::held_watches`])?
fn held_watches(older: &str, newer: &str) -> bool {
    ![older, newer].iter().any(|r| BEFORE_20221_FIX.contains(r))
}

fn explore_pair(test: &str, older: &str, newer: &str, seed: u64) {
    let early_3_5 = [older, newer]
        .iter()
        .any(|r| *r == "3.5.0" || *r == "3.5.1");
    let without = if early_3_5 {
        KNOWN_ON_3_5_0_AND_3_5_1
    } else {
        &[]
    };
    common::releases(&[older, newer]);
    let mut evidence = Evidence::new(test);
    let mut progress = Vec::new();
    let report = explore::explore(
        common::store(),
        &config_without(older, newer, seed, &evidence.dir, without),
        &mut progress,
    );
    print!("{}", String::from_utf8_lossy(&progress));
    assert!(report.cases_run >= 1, "no case ran");
    if let Some(f) = report.failure {
        evidence.artifacts = f.artifacts;
        panic!(
            "{older} -> {newer}: shrunk to {{{}}} {:?} ({}): {}\n{}",
            f.config,
            f.steps,
            f.rate,
            f.reason,
            evidence.keep()
        );
    }
}

#[test]
fn pair_3_3_25_to_3_4_23() {
    explore_pair("pair_3_3_25_to_3_4_23", "3.3.25", "3.4.23", 101);
}

#[test]
fn pair_3_4_23_to_3_5_0() {
    explore_pair("pair_3_4_23_to_3_5_0", "3.4.23", "3.5.0", 102);
}

#[test]
fn pair_3_5_0_to_3_5_1() {
    explore_pair("pair_3_5_0_to_3_5_1", "3.5.0", "3.5.1", 103);
}

#[test]
fn pair_3_5_1_to_3_5_16() {
    explore_pair("pair_3_5_1_to_3_5_16", "3.5.1", "3.5.16", 104);
}

#[test]
fn pair_3_5_16_to_3_5_30() {
    explore_pair("pair_3_5_16_to_3_5_30", "3.5.16", "3.5.30", 105);
}

/// A value's bytes changed in one member's bbolt file while it is stopped: members diverge,
/// the oracle must say so, and shrinking must cut the sequence down to the corruption.
#[test]
fn injected_disk_corruption_is_found_and_shrunk() {
    common::releases(&["3.5.16", "3.5.30"]);
    let mut evidence = Evidence::new("injected_disk_corruption_is_found_and_shrunk");
    let mut cfg = config("3.5.16", "3.5.30", 7, &evidence.dir);
    cfg.cases = 8;
    cfg.max_steps = 4;
    cfg.inject_faults = true;
    cfg.time_budget = Duration::from_secs(300);
    // Deterministic: one run decides, and the default configuration (not drawn) keeps the
    // shrink short.
    cfg.tries = 1;
    cfg.fixed_config = Some(CaseConfig::defaults());
    // Heavy enough that most cases draw a corruption (the draws change whenever a step kind
    // is added: at weight 6, 8 cases of seed 7 once drew none).
    cfg.weights = Weights {
        corrupt: 40,
        ..Weights::default()
    };
    let mut progress = Vec::new();
    let report = explore::explore(common::store(), &cfg, &mut progress);
    print!("{}", String::from_utf8_lossy(&progress));
    let found = report.failure.expect("the corruption must be caught");
    let (steps, why, replay_path, artifacts) =
        (found.steps, found.reason, found.replay, found.artifacts);
    evidence.artifacts = artifacts.clone();
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

    // The replay file runs the same case again, and it fails the same way.
    let replay = Replay::read(&replay_path).unwrap();
    assert_eq!(replay.steps, steps);
    let again = explore::search::replay(common::store(), &replay);
    let failure = again.failure.expect("the replay fails again");
    assert!(
        failure.contains("HashKV") || failure.contains("value of"),
        "{failure}"
    );
    for a in again.artifacts.iter().chain([&artifacts]) {
        let _ = std::fs::remove_dir_all(a);
    }
}

/// A fixed case (no drawing) of `config` and `steps` on a real cluster: it must pass, and
/// every operation named in `expect_ops` must have been applied.
fn fixed_case(
    test: &str,
    older: &str,
    newer: &str,
    config: CaseConfig,
    steps: Vec<Step>,
    expect_ops: &[&str],
) {
    let (outcome, mut evidence) = run_fixed(
        test,
        (older, newer, held_watches(older, newer)),
        config,
        steps,
    );
    if let Some(f) = &outcome.failure {
        evidence.artifacts = outcome.artifacts.clone();
        panic!("{test}: {f}\n{}", evidence.keep());
    }
    for want in expect_ops {
        assert!(
            outcome
                .applied
                .iter()
                .any(|a| a.op.contains(want) && a.outcome.is_ok()),
            "no `{want}` applied"
        );
    }
}

/// Runs a fixed case of `older` → `newer` (holding watches or not), its replay file written
/// to the evidence folder first; prints what it applied.
fn run_fixed(
    test: &str,
    (older, newer, held_watches): (&str, &str, bool),
    config: CaseConfig,
    steps: Vec<Step>,
) -> (explore::CaseOutcome, Evidence) {
    common::releases(&[older, newer]);
    let evidence = Evidence::new(test);
    let replay = Replay {
        seed: 0,
        setup: CaseSetup {
            older: older.into(),
            newer: newer.into(),
            traffic_seed: 17,
            clients: 8,
            rate: 1000,
            keys: 8,
            held_watches,
            txn_reads_at_revision: false,
        },
        config,
        inject_faults: false,
        steps,
        failure: String::new(),
        fails: None,
        triage: None,
    };
    std::fs::create_dir_all(&evidence.dir).unwrap();
    replay.write(&evidence.dir.join("replay.json")).unwrap();
    let outcome = explore::search::replay(common::store(), &replay);
    for a in &outcome.applied {
        println!("[{:>6} ms] {} -> {:?}", a.start_ms, a.op, a.outcome);
    }
    (outcome, evidence)
}

/// Exploration's held watches reach etcd#20221 (`findings/`, where the targeted test and the
/// drawn replay are): on 3.5.16, a member cut off past the leader's retained log restores
/// the leader's snapshot while its held watch (from 1,000 or more revisions beyond the head)
/// is open, and that watch is sent events from below its start. (Cut off, not paused: a
/// stopped member's socket buffers may take the leader's appends, and it returns without a
/// snapshot; a pause bit 1 run in 3 here.) The same case on 3.5.30, which has the fix, passes with held watches: the check
/// is not what fails.
#[test]
fn held_watches_meet_etcd_20221_on_3_5_16_not_on_3_5_30() {
    let config = || CaseConfig {
        members: 3,
        snapshot_count: Some(100),
        snapshot_catchup_entries: Some(50),
        ..CaseConfig::defaults()
    };
    // Three seconds first: the held watches open (one opened on a stopped member is created
    // only once it has restored) and pass the first deal, whose start (1,000 beyond the head)
    // the traffic may reach within a second; the next ones start 3,000 or 8,000 beyond.
    let steps = || {
        vec![
            Step::Wait,
            Step::Wait,
            Step::Wait,
            Step::CutOffBehind(1),
            Step::Wait,
            Step::Wait,
        ]
    };
    let test = "held_watches_meet_etcd_20221_on_3_5_16_not_on_3_5_30";
    let (fixed, mut evidence) = run_fixed(test, ("3.5.30", "3.5.30", true), config(), steps());
    if let Some(f) = &fixed.failure {
        evidence.artifacts = fixed.artifacts.clone();
        panic!("3.5.30, where etcd fixed it: {f}\n{}", evidence.keep());
    }
    assert!(
        fixed
            .applied
            .iter()
            .any(|a| a.op.contains("partition m2 until")),
        "no cut-off-behind applied"
    );
    let (bug, _) = run_fixed(test, ("3.5.16", "3.5.16", true), config(), steps());
    if let Some(a) = &bug.artifacts {
        let _ = std::fs::remove_dir_all(a);
    }
    let f = bug
        .failure
        .expect("3.5.16: the finding no longer reproduces");
    assert!(
        f.contains(", held): sent") && f.contains("below its start revision"),
        "3.5.16 failed another way: {f}"
    );
}

/// Every configuration knob at once, and every long or targeted fault, on 3.5.16 → 3.5.30
/// (which have every flag): a kill storm, a follower paused for two election timeouts, both
/// directions of one peer link dropped in turn, a campaign's ten-second wait under traffic,
/// the leader paused for four election timeouts,
/// members held off past the leader's log (paused, and cut off), kills inside a
/// defragmentation and a physical compaction, a learner added and promoted, auth turned on
/// under traffic (and off again before the end), a member update, a remove followed by
/// restarts of the others. (Whether a member held off returns by snapshot
/// depends on etcd skipping log compaction while a snapshot is in flight; the snapshot path is
/// checked by `scenarios/e2e-snapshot-by-partition-*`.)
#[test]
fn every_knob_and_long_fault_on_a_real_cluster() {
    let config = CaseConfig {
        members: 3,
        snapshot_count: Some(100),
        snapshot_catchup_entries: Some(50),
        compaction_batch_limit: Some(10),
        watch_progress_notify_ms: Some(100),
        timing: Some((100, 1000)),
        auto_compaction_secs: Some(2),
        peer_tls: true,
        profile: etcd_skew::traffic::Profile::Kubernetes,
    };
    fixed_case(
        "every_knob_and_long_fault_on_a_real_cluster",
        "3.5.16",
        "3.5.30",
        config,
        vec![
            Step::KillStorm(1),
            Step::Pause(2),
            Step::DropLink(0, 1),
            Step::DropLink(1, 0),
            Step::LongWait,
            Step::PauseLeader,
            Step::PauseBehind(2),
            Step::CutOffBehind(1),
            Step::LearnerAdd(0),
            Step::LearnerPromote,
            Step::AuthToggle,
            Step::MemberUpdate(1),
            Step::KillDuringDefrag(0),
            Step::Restart(0),
            Step::KillDuringCompact(1),
            Step::Restart(1),
            Step::Upgrade(0),
            Step::AuthToggle,
            Step::RemoveRestart(2),
        ],
        &[
            "--snapshot-count=100",
            "--experimental-snapshot-catchup-entries=50",
            "--experimental-compaction-batch-limit=10",
            "--experimental-watch-progress-notify-interval=100ms",
            "--heartbeat-interval=100",
            "--auto-compaction-retention=2s",
            "peer-tls proxied",
            "pause leader for 4000",
            "pause m3 for 2000",
            "drop-link m1 m2 for",
            "drop-link m2 m1 for",
            "wait 10000",
            "pause m3 until 250 entries",
            "partition m2 until 250 entries",
            "kill-during defrag m1",
            "kill-during compact m2",
            "learner-add r1",
            "learner-promote r1",
            "member-update m2",
            "member-remove m3",
            "auth-enable",
            "auth-disable",
        ],
    );
}

/// Five members of the oldest release, where 3.4's flags do not exist (left out) and raft
/// keeps 5000 entries behind a snapshot: held off past that, members return by snapshot.
#[test]
fn five_members_of_3_3_held_behind_the_log() {
    let config = CaseConfig {
        members: 5,
        snapshot_count: Some(10),
        compaction_batch_limit: Some(1),
        ..CaseConfig::defaults()
    };
    fixed_case(
        "five_members_of_3_3_held_behind_the_log",
        "3.3.25",
        "3.4.23",
        config,
        vec![
            Step::AuthToggle,
            Step::CutOffBehind(4),
            Step::KillDuringCompact(3),
            Step::Upgrade(0),
        ],
        &[
            "--snapshot-count=10",
            "partition m5 until 5110 entries",
            "auth-enable",
        ],
    );
}

/// One member: faults that need the others to count entries or keep a quorum do nothing, and
/// the rest still runs (a kill storm is a full outage every time).
#[test]
fn one_member_with_auto_compaction() {
    let config = CaseConfig {
        members: 1,
        auto_compaction_secs: Some(2),
        ..CaseConfig::defaults()
    };
    fixed_case(
        "one_member_with_auto_compaction",
        "3.4.23",
        "3.5.16",
        config,
        vec![
            Step::AuthToggle,
            Step::KillStorm(0),
            Step::PauseBehind(0),
            Step::AuthToggle,
            Step::KillDuringDefrag(0),
            Step::Upgrade(0),
        ],
        &[
            "--auto-compaction-mode=periodic",
            "kill m1",
            "kill-during defrag m1",
            "auth-enable",
            "auth-disable",
        ],
    );
}
