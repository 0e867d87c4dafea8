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
    disaster_recovery_3_4 => "scenarios/disaster-recovery-3.4.scn",
    disaster_recovery => "scenarios/disaster-recovery.scn",
    downgrade_3_5_to_3_4_guide => "scenarios/downgrade-3.5-to-3.4-guide.scn",
    e2e_downgrade_upgrade_cluster_of_1_3_4_23_to_3_5_16 => "scenarios/e2e-downgrade-upgrade-cluster-of-1-3.4.23-to-3.5.16.scn",
    e2e_downgrade_upgrade_cluster_of_1_3_5_16_to_3_5_30 => "scenarios/e2e-downgrade-upgrade-cluster-of-1-3.5.16-to-3.5.30.scn",
    e2e_downgrade_upgrade_cluster_of_3_3_4_23_to_3_5_16 => "scenarios/e2e-downgrade-upgrade-cluster-of-3-3.4.23-to-3.5.16.scn",
    e2e_downgrade_upgrade_cluster_of_3_3_5_16_to_3_5_30 => "scenarios/e2e-downgrade-upgrade-cluster-of-3-3.5.16-to-3.5.30.scn",
    e2e_release_upgrade_3_3_25_to_3_4_23 => "scenarios/e2e-release-upgrade-3.3.25-to-3.4.23.scn",
    e2e_release_upgrade_3_4_23_to_3_5_16 => "scenarios/e2e-release-upgrade-3.4.23-to-3.5.16.scn",
    e2e_release_upgrade_3_5_16_to_3_5_30 => "scenarios/e2e-release-upgrade-3.5.16-to-3.5.30.scn",
    e2e_snapshot_by_adding_member_3_4_23_to_3_5_16 => "scenarios/e2e-snapshot-by-adding-member-3.4.23-to-3.5.16.scn",
    e2e_snapshot_by_adding_member_3_5_16_to_3_5_30 => "scenarios/e2e-snapshot-by-adding-member-3.5.16-to-3.5.30.scn",
    e2e_snapshot_by_partition_3_4_23_to_3_5_16 => "scenarios/e2e-snapshot-by-partition-3.4.23-to-3.5.16.scn",
    e2e_snapshot_by_partition_3_5_16_to_3_5_30 => "scenarios/e2e-snapshot-by-partition-3.5.16-to-3.5.30.scn",
    e2e_upgrade_with_restart_3_4_23_to_3_5_16 => "scenarios/e2e-upgrade-with-restart-3.4.23-to-3.5.16.scn",
    e2e_upgrade_with_restart_3_5_16_to_3_5_30 => "scenarios/e2e-upgrade-with-restart-3.5.16-to-3.5.30.scn",
    grow_and_shrink => "scenarios/grow-and-shrink.scn",
    learners_3_4_to_3_5 => "scenarios/learners-3.4-to-3.5.scn",
    member_add_peer_down_3_5_16 => "scenarios/member-add-peer-down-3.5.16.scn",
    member_add_peer_down_3_5_30 => "scenarios/member-add-peer-down-3.5.30.scn",
    member_add_to_one_member_3_5_0 => "scenarios/member-add-to-one-member-3.5.0.scn",
    member_add_to_one_member_3_5_1 => "scenarios/member-add-to-one-member-3.5.1.scn",
    member_add_to_one_member_3_5_16 => "scenarios/member-add-to-one-member-3.5.16.scn",
    member_add_to_one_member_3_5_30 => "scenarios/member-add-to-one-member-3.5.30.scn",
    migrate_member => "scenarios/migrate-member.scn",
    network_faults => "scenarios/network-faults.scn",
    newer_member_joins_older_cluster => "scenarios/newer-member-joins-older-cluster.scn",
    older_member_joins_newer_cluster => "scenarios/older-member-joins-newer-cluster.scn",
    patch_downgrades_3_5 => "scenarios/patch-downgrades-3.5.scn",
    quorum_loss => "scenarios/quorum-loss.scn",
    rollback_after_full_upgrade => "scenarios/rollback-after-full-upgrade.scn",
    rollback_partial_upgrade => "scenarios/rollback-partial-upgrade.scn",
    tls_rotation => "scenarios/tls-rotation.scn",
    tls_upgrade_3_4_to_3_5 => "scenarios/tls-upgrade-3.4-to-3.5.scn",
    upgrade_3_3_to_3_4_v2 => "scenarios/upgrade-3.3-to-3.4-v2.scn",
    upgrade_3_4_to_3_5 => "scenarios/upgrade-3.4-to-3.5.scn",
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
