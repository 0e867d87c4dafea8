use super::*;
use rand::{Rng, SeedableRng};

fn cfg(tries: u32) -> ExploreConfig {
    ExploreConfig {
        setup: CaseSetup {
            older: "3.5.0".into(),
            newer: "3.5.0".into(),
            traffic_seed: 1,
            clients: 1,
            rate: 0,
            keys: 1,
            held_watches: false,
            txn_reads_at_revision: false,
        },
        // Enough that every seed draws a biting case (a corruption step, then the coin).
        cases: 256,
        seed: 5,
        time_budget: Duration::from_secs(60),
        shrink_budget: Duration::from_secs(60),
        max_steps: 8,
        weights: Weights {
            corrupt: 3,
            ..Weights::default()
        },
        fixed_config: None,
        profile: None,
        tries,
        rate_runs: 6,
        inject_faults: true,
        // One dir per config: the tests run in parallel and each removes its own (a
        // shared per-process dir was removed under another test's replay file).
        out_dir: tempfile::tempdir().unwrap().keep(),
        regressions: None,
        shard: None,
    }
}

fn outcome(failure: Option<String>) -> CaseOutcome {
    CaseOutcome {
        precondition: false,
        config: None,
        applied: vec![],
        failure,
        requests: 0,
        writes_acknowledged: 0,
        watch_events: 0,
        leases: 0,
        elapsed: Duration::ZERO,
        checking: Duration::ZERO,
        undecided: 0,
        inconclusive: 0,
        artifacts: None,
    }
}

/// A stand-in for a flaky etcd bug: a case with a corruption step fails one run in three
/// (a seeded coin), whatever else it holds and whatever its configuration.
fn flaky(seed: u64) -> impl FnMut(&CaseConfig, &[Step]) -> CaseOutcome {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    move |_, steps| {
        let bites = steps.iter().any(|s| matches!(s, Step::CorruptValue(_)));
        outcome((bites && rng.gen_ratio(1, 3)).then(|| "HashKV differs".to_string()))
    }
}

#[test]
fn a_failure_that_bites_one_run_in_three_is_still_shrunk() {
    let (mut shrunk, mut defaults) = (0, 0);
    for seed in 0..8 {
        let c = cfg(8);
        let report = search(&c, &mut std::io::sink(), flaky(seed));
        let f = report.failure.expect("found");
        let _ = std::fs::remove_dir_all(&c.out_dir);
        assert!(f.rate.runs == 7 && f.rate.failed >= 1, "{:?}", f.rate);
        if f.steps.len() == 1 && matches!(f.steps[0], Step::CorruptValue(_)) {
            shrunk += 1;
        }
        // The configuration does not matter to this failure: it shrinks to the defaults.
        if f.config == CaseConfig::defaults() {
            defaults += 1;
        }
    }
    // With 8 tries a passing candidate hides the bug with probability (2/3)^8 < 4 %.
    assert!(shrunk >= 6, "shrunk to one step in only {shrunk} of 8");
    assert!(
        defaults >= 6,
        "configuration at the defaults in only {defaults} of 8"
    );
}

#[test]
fn shards_together_run_exactly_the_cases_of_one_run() {
    // Cases that never fail, recorded as drawn: every shard draws them all from one seed.
    let drawn = |shard: Option<Shard>| {
        let mut c = cfg(1);
        c.cases = 40;
        c.shard = shard;
        let mut seen = Vec::new();
        let report = search(&c, &mut std::io::sink(), |config, steps| {
            seen.push(format!("{config} {steps:?}"));
            outcome(None)
        });
        assert_eq!(report.cases.len(), seen.len());
        (report.cases, seen)
    };
    let (all_idx, all) = drawn(None);
    let (one_idx, one) = drawn(Some("1/2".parse().unwrap()));
    let (two_idx, two) = drawn(Some("2/2".parse().unwrap()));
    assert_eq!(all_idx, (0..40).collect::<Vec<u32>>());
    assert!(one_idx.iter().all(|i| i % 2 == 0) && two_idx.iter().all(|i| i % 2 == 1));
    let mut merged: Vec<(u32, String)> = one_idx
        .into_iter()
        .zip(one)
        .chain(two_idx.into_iter().zip(two))
        .collect();
    merged.sort();
    let merged: Vec<String> = merged.into_iter().map(|(_, c)| c).collect();
    assert_eq!(merged, all);
}

/// `--profile` holds every case to one traffic profile, while the rest of the
/// configuration is still drawn; without it both profiles come up.
#[test]
fn a_fixed_profile_holds_for_every_case() {
    let profiles = |profile: Option<Profile>| {
        let mut c = cfg(1);
        c.cases = 40;
        c.profile = profile;
        let mut seen = std::collections::BTreeSet::new();
        let mut sizes = std::collections::BTreeSet::new();
        search(&c, &mut std::io::sink(), |config, _| {
            seen.insert(config.profile.to_string());
            sizes.insert(config.members);
            outcome(None)
        });
        (seen.into_iter().collect::<Vec<_>>(), sizes.len())
    };
    assert_eq!(profiles(None).0, vec!["etcd", "kubernetes"]);
    let (only, sizes) = profiles(Some(Profile::Kubernetes));
    assert_eq!(only, vec!["kubernetes"]);
    assert!(sizes > 1, "the rest is still drawn");
}

#[test]
fn with_one_try_a_flaky_failure_shrinks_worse() {
    let (mut one, mut eight) = (0, 0);
    for seed in 0..8 {
        for (tries, total) in [(1, &mut one), (8, &mut eight)] {
            let c = cfg(tries);
            let f = search(&c, &mut std::io::sink(), flaky(seed))
                .failure
                .expect("found");
            let _ = std::fs::remove_dir_all(&c.out_dir);
            *total += f.steps.len();
        }
    }
    assert!(eight < one, "8 tries: {eight} steps in all, 1 try: {one}");
}

#[test]
fn the_replay_file_records_configuration_and_rate() {
    let c = cfg(3);
    let mut progress = Vec::new();
    let report = search(&c, &mut progress, flaky(1));
    let f = report.failure.expect("found");
    // Every case line shows the configuration it ran.
    let progress = String::from_utf8(progress).unwrap();
    assert!(progress
        .lines()
        .all(|l| l.starts_with("rate") || l.contains(" members")));
    assert!(
        progress.contains(&format!("{{{}}}", f.config)),
        "{progress}"
    );
    let r = Replay::read(&f.replay).unwrap();
    let _ = std::fs::remove_dir_all(&c.out_dir);
    assert_eq!(r.steps, f.steps);
    assert_eq!(r.config, f.config);
    assert_eq!(r.fails, Some(f.rate));
}

#[test]
fn a_step_the_harness_cannot_run_is_not_what_a_shrink_converges_to() {
    // Cases with a corruption step fail for real. Once one has, a candidate on one member
    // fails a precondition instead (as `member-replace` on one member once did): the shrink
    // must keep the real failure and its configuration rather than take that one.
    let mut seen = false;
    let run = move |config: &CaseConfig, steps: &[Step]| {
        let real = steps.iter().any(|s| matches!(s, Step::CorruptValue(_)));
        if seen && config.member_count() == 1 {
            let mut o = outcome(Some("no other live member".into()));
            o.precondition = true;
            return o;
        }
        seen |= real;
        outcome(real.then(|| "HashKV differs".to_string()))
    };
    let c = cfg(1);
    let f = search(&c, &mut std::io::sink(), run)
        .failure
        .expect("found");
    let _ = std::fs::remove_dir_all(&c.out_dir);
    assert_eq!(f.reason, "HashKV differs");
    assert!(
        f.steps.iter().any(|s| matches!(s, Step::CorruptValue(_))),
        "{:?}",
        f.steps
    );
}
