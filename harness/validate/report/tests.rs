use super::*;

pub(crate) fn side(name: &str) -> Side {
    Side {
        name: name.into(),
        version: name.into(),
        source: "test".into(),
    }
}

pub(crate) fn scenario(name: &str, section: Section, outcome: Outcome) -> ScenarioResult {
    ScenarioResult {
        name: name.into(),
        section,
        title: format!("{name} title"),
        failed_step: outcome.failed().then(|| "line 9: upgrade m1 3.5.16".into()),
        outcome,
        seconds: 1.0,
        steps_run: 3,
        artifacts: None,
        reproduce: format!("etcd-skew run {name}"),
    }
}

pub(crate) fn report(scenarios: Vec<ScenarioResult>) -> Report {
    Report {
        from: side("3.4.23"),
        to: side("3.5.16"),
        budget_secs: 600,
        elapsed_secs: 10.0,
        shards: vec![],
        scenarios,
        explorations: vec![],
        known_bugs: vec![],
        known_bugs_checked: true,
        compat: Some(CompatResult {
            flags: Some(FlagChanges::default()),
            surface: Some(SurfaceDiff::default()),
            errors: vec![],
        }),
        catch_up: None,
        harness_errors: vec![],
    }
}

fn exploration(target: &str, cases: Vec<u32>, outcome: Outcome) -> ExplorationResult {
    ExplorationResult {
        target: target.into(),
        older: "3.4.23".into(),
        newer: "3.5.16".into(),
        outcome,
        seed: 1,
        cases,
        shrink_runs: 0,
        operations: 5,
        requests: 100,
        configs: vec!["3 members".into()],
        seconds: 1.0,
        finding: None,
        left_open: 0,
    }
}

fn every_section(outcome: Outcome) -> Vec<ScenarioResult> {
    Section::ALL
        .iter()
        .map(|s| scenario(&format!("{s}-a"), *s, outcome.clone()))
        .collect()
}

#[test]
fn safe_only_when_every_section_ran() {
    let mut r = report(every_section(Outcome::Passed));
    r.explorations = vec![exploration("p", vec![0, 1], Outcome::Passed)];
    assert_eq!(r.verdict(), Verdict::Safe);
    assert_eq!(r.exit_code(), 0);
    // An exploration skipped for budget makes the whole report incomplete, never safe.
    r.explorations[0].outcome = Outcome::NotRun {
        reason: "budget spent".into(),
    };
    let g = r
        .sections()
        .into_iter()
        .find(|s| s.key == "guarantees")
        .unwrap();
    assert_eq!(g.verdict, Verdict::NotRun);
    assert_eq!(r.verdict(), Verdict::Incomplete);
    assert!(
        r.headline().contains("guarantees (not run)"),
        "{}",
        r.headline()
    );
    assert_eq!(r.exit_code(), 0);
}

#[test]
fn one_failure_makes_findings_and_exit_1() {
    let mut s = every_section(Outcome::Passed);
    s[2].outcome = Outcome::Failed {
        reason: "refusal expected".into(),
    };
    let mut r = report(s);
    r.explorations = vec![exploration("p", vec![0], Outcome::Passed)];
    let d = r
        .sections()
        .into_iter()
        .find(|s| s.key == "downgrade")
        .unwrap();
    assert_eq!(d.verdict, Verdict::Findings);
    assert_eq!(r.exit_code(), 1);
    r.harness_errors.push("3.5.16 did not start".into());
    assert_eq!(r.exit_code(), 2);
}

#[test]
fn a_known_bug_of_a_release_is_a_finding_even_unreproduced() {
    let mut r = report(every_section(Outcome::Passed));
    r.explorations = vec![exploration("p", vec![0], Outcome::Passed)];
    r.known_bugs.push(KnownBugResult {
        file: "findings/x.json".into(),
        release: "3.5.1".into(),
        summary: "HashKV differs".into(),
        etcd_issue: "etcd-io/etcd#14685".into(),
        recorded: Recorded::FailsOn {
            rate: FailRate {
                failed: 10,
                runs: 24,
            },
        },
        outcome: Outcome::Passed,
        runs: FailRate { failed: 0, runs: 2 },
        reproduce: "etcd-skew replay findings/x.json".into(),
    });
    assert_eq!(r.verdict(), Verdict::Findings);
    r.known_bugs[0].recorded = Recorded::PassesOn {
        rate: FailRate { failed: 0, runs: 8 },
    };
    assert_eq!(r.verdict(), Verdict::Safe);
}

#[test]
fn merged_shards_hold_every_unit_once() {
    let not_mine = || Outcome::NotRun {
        reason: "shard 2/2's".into(),
    };
    let mut one = report(vec![
        scenario("a", Section::Upgrade, Outcome::Passed),
        scenario("b", Section::Upgrade, not_mine()),
    ]);
    one.shards = vec!["1/2".parse().unwrap()];
    one.explorations = vec![exploration("p", vec![0, 2], Outcome::Passed)];
    let mut two = report(vec![
        scenario("a", Section::Upgrade, not_mine()),
        scenario(
            "b",
            Section::Upgrade,
            Outcome::Failed { reason: "x".into() },
        ),
    ]);
    two.shards = vec!["2/2".parse().unwrap()];
    two.explorations = vec![exploration("p", vec![1, 3], Outcome::Passed)];
    let m = merge(vec![two.clone(), one.clone()]).unwrap();
    assert_eq!(m.shards.len(), 2);
    let names: Vec<(&str, bool)> = m
        .scenarios
        .iter()
        .map(|s| (s.name.as_str(), s.outcome.failed()))
        .collect();
    assert_eq!(names, [("a", false), ("b", true)]);
    assert!(m.scenarios.iter().all(|s| s.outcome.ran()));
    assert_eq!(m.explorations[0].cases, [0, 1, 2, 3]);
    assert_eq!(m.explorations[0].left_open, 0);
    assert_eq!(
        merge(vec![one.clone(), one.clone()]).unwrap_err(),
        MergeError::ShardTwice("1/2".parse().unwrap())
    );
    let mut other = two;
    other.to = side("3.5.30");
    assert_eq!(
        merge(vec![one, other]).unwrap_err().to_string(),
        "to: one report validates 3.5.16, another 3.5.30"
    );
}

/// Cases whose checks left something undecided are said in the guarantees section, summed
/// across shards: never folded silently into the passes.
#[test]
fn cases_passed_with_checks_left_open_are_said() {
    let mut r = report(every_section(Outcome::Passed));
    r.explorations = vec![exploration("p", vec![0, 1], Outcome::Passed)];
    let guarantees = |r: &Report| {
        r.sections()
            .into_iter()
            .find(|s| s.key == "guarantees")
            .unwrap()
            .summary
    };
    assert!(!guarantees(&r).contains("left open"), "{}", guarantees(&r));
    r.explorations[0].left_open = 1;
    let mut other = r.clone();
    r.shards = vec!["1/2".parse().unwrap()];
    other.shards = vec!["2/2".parse().unwrap()];
    other.explorations[0].cases = vec![2];
    let m = merge(vec![r, other]).unwrap();
    assert_eq!(
        guarantees(&m),
        "explorations: 1 passed, 0 failed, 0 not run; 3 cases (2 passed with checks left open: undecided or inconclusive), 200 requests"
    );
}
