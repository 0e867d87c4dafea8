//! Every scenario file under `scenarios/` runs as its own test on real clusters, checked by the
//! oracle after every step. A file without a test here fails `every_scenario_file_has_a_test`.

mod common;

use std::path::Path;

fn run(file: &str) {
    if let Some(f) = common::run_scenario(file).failure() {
        panic!("{f}");
    }
}

macro_rules! scenario_tests {
    ($($name:ident => $file:literal),* $(,)?) => {
        $( #[test] fn $name() { run($file) } )*
        const FILES: &[&str] = &[$($file),*];
    };
}

scenario_tests! {
    auth_across_upgrade => "scenarios/auth-across-upgrade.scn",
    auth_downgrade_attempt => "scenarios/auth-downgrade-attempt.scn",
    downgrade_3_5_to_3_4_guide => "scenarios/downgrade-3.5-to-3.4-guide.scn",
    learners_3_4_to_3_5 => "scenarios/learners-3.4-to-3.5.scn",
    member_add_peer_down_3_5_16 => "scenarios/member-add-peer-down-3.5.16.scn",
    member_add_peer_down_3_5_30 => "scenarios/member-add-peer-down-3.5.30.scn",
    member_update_in_a_cluster_of_two => "scenarios/member-update-in-a-cluster-of-two.scn",
    move_leader_past_a_learner => "scenarios/move-leader-past-a-learner.scn",
    network_faults => "scenarios/network-faults.scn",
    patch_downgrades_3_5 => "scenarios/patch-downgrades-3.5.scn",
    peer_tls_network_faults => "scenarios/peer-tls-network-faults.scn",
    tls_rotation => "scenarios/tls-rotation.scn",
    tls_upgrade_3_4_to_3_5 => "scenarios/tls-upgrade-3.4-to-3.5.scn",
    upgrade_3_3_to_3_4_v2 => "scenarios/upgrade-3.3-to-3.4-v2.scn",
    upgrade_3_4_to_3_5 => "scenarios/upgrade-3.4-to-3.5.scn",
}

/// Each template runs on the pairs (or, for `each` templates, releases) the fixed files it
/// replaced named, so the suite keeps their coverage; `validate` instantiates them for any pair.
macro_rules! template_tests {
    ($($name:ident => $tpl:literal on $from:literal, $to:literal),* $(,)?) => {
        $( #[test] fn $name() { run_template($tpl, $from, $to) } )*
        const TEMPLATES: &[&str] = &[$($tpl),*];
    };
}

template_tests! {
    e2e_release_upgrade_3_3_25_to_3_4_23 => "e2e-release-upgrade" on "3.3.25", "3.4.23",
    e2e_release_upgrade_3_4_23_to_3_5_16 => "e2e-release-upgrade" on "3.4.23", "3.5.16",
    e2e_release_upgrade_3_5_16_to_3_5_30 => "e2e-release-upgrade" on "3.5.16", "3.5.30",
    e2e_upgrade_with_restart_3_4_23_to_3_5_16 => "e2e-upgrade-with-restart" on "3.4.23", "3.5.16",
    e2e_upgrade_with_restart_3_5_16_to_3_5_30 => "e2e-upgrade-with-restart" on "3.5.16", "3.5.30",
    e2e_downgrade_upgrade_cluster_of_1_3_5_16_to_3_5_30 => "e2e-downgrade-upgrade-cluster-of-1" on "3.5.16", "3.5.30",
    e2e_downgrade_upgrade_cluster_of_3_3_5_16_to_3_5_30 => "e2e-downgrade-upgrade-cluster-of-3" on "3.5.16", "3.5.30",
    e2e_downgrade_refused_cluster_of_1_3_4_23_to_3_5_16 => "e2e-downgrade-refused-cluster-of-1" on "3.4.23", "3.5.16",
    e2e_downgrade_refused_cluster_of_3_3_4_23_to_3_5_16 => "e2e-downgrade-refused-cluster-of-3" on "3.4.23", "3.5.16",
    e2e_snapshot_by_adding_member_3_5_16_to_3_5_30 => "e2e-snapshot-by-adding-member" on "3.5.16", "3.5.30",
    e2e_snapshot_by_adding_member_5000_behind_3_4_23_to_3_5_16 => "e2e-snapshot-by-adding-member-5000-behind" on "3.4.23", "3.5.16",
    e2e_snapshot_by_partition_3_5_16_to_3_5_30 => "e2e-snapshot-by-partition" on "3.5.16", "3.5.30",
    e2e_snapshot_by_partition_5000_behind_3_4_23_to_3_5_16 => "e2e-snapshot-by-partition-5000-behind" on "3.4.23", "3.5.16",
    leases_kept_alive_across_upgrade_3_4_23_to_3_5_16 => "leases-kept-alive-across-upgrade" on "3.4.23", "3.5.16",
    leases_kept_alive_across_upgrade_3_5_16_to_3_5_30 => "leases-kept-alive-across-upgrade" on "3.5.16", "3.5.30",
    rollback_partial_upgrade_3_4_23_to_3_5_16 => "rollback-partial-upgrade" on "3.4.23", "3.5.16",
    rollback_after_full_upgrade_3_4_23_to_3_5_16 => "rollback-after-full-upgrade" on "3.4.23", "3.5.16",
    newer_member_joins_older_cluster_3_4_23_to_3_5_16 => "newer-member-joins-older-cluster" on "3.4.23", "3.5.16",
    older_member_joins_newer_cluster_3_4_23_to_3_5_16 => "older-member-joins-newer-cluster" on "3.4.23", "3.5.16",
    member_add_to_one_member_3_5_0 => "member-add-to-one-member" on "3.5.0", "3.5.0",
    member_add_to_one_member_3_5_1 => "member-add-to-one-member" on "3.5.1", "3.5.1",
    member_add_to_one_member_3_5_16 => "member-add-to-one-member" on "3.5.16", "3.5.16",
    member_add_to_one_member_3_5_30 => "member-add-to-one-member" on "3.5.30", "3.5.30",
    grow_and_shrink_3_5_16 => "grow-and-shrink" on "3.5.16", "3.5.16",
    quorum_loss_3_4_23 => "quorum-loss" on "3.4.23", "3.4.23",
    migrate_member_3_5_16 => "migrate-member" on "3.5.16", "3.5.16",
    disaster_recovery_3_5_16 => "disaster-recovery" on "3.5.16", "3.5.16",
    disaster_recovery_etcdctl_3_4_23 => "disaster-recovery-etcdctl" on "3.4.23", "3.4.23",
}

fn run_template(name: &str, from: &str, to: &str) {
    if let Some(f) = common::run_template(name, from, to).failure() {
        panic!("{f}");
    }
}

#[test]
fn every_template_has_a_test_and_applies_where_it_is_tested() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/templates");
    let templates = etcd_skew::scenario::Template::load_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    let mut names: Vec<&str> = templates.iter().map(|t| t.name.as_str()).collect();
    names.sort();
    let mut listed: Vec<&str> = TEMPLATES.to_vec();
    listed.sort();
    listed.dedup();
    assert_eq!(
        names, listed,
        "add a line to template_tests! for each template"
    );
}

#[test]
fn every_scenario_file_has_a_test() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| format!("scenarios/{}", e.file_name().to_string_lossy()))
        .filter(|f| f.ends_with(".scn"))
        .collect();
    files.sort();
    let mut listed: Vec<String> = FILES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "add a line to scenario_tests! for each scenario file"
    );
}
