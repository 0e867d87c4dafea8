//! Kept findings: real etcd bugs the harness found, each a scenario under `findings/` that must
//! still fail on the releases it names, the way it failed when found. A finding that starts to
//! pass means the harness lost its ability to see the bug (or the pinned release changed).

mod common;

fn failure_of(file: &str) -> String {
    let report = common::run_scenario(file);
    if let Some(dir) = &report.artifacts {
        // Expected failure: its evidence is not needed once the assertion below holds.
        let _ = std::fs::remove_dir_all(dir);
    }
    report
        .failure()
        .unwrap_or_else(|| panic!("{file} passed: the finding no longer reproduces"))
}

/// etcd-io/etcd#21694: `member update` of a learner drops its learner flag from the member
/// list (3.4.23 … 3.5.30; fixed in 3.5.31).
#[test]
fn learner_member_update_drops_learner_flag_on_3_5_16() {
    let f = failure_of("findings/learner-member-update-drops-learner-flag.scn");
    assert!(
        f.contains(":11 `expect-members`")
            && f.contains(" learner")
            && f.contains("member list via"),
        "failed elsewhere: {f}"
    );
}
