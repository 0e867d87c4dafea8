//! Facts about etcd releases, one place each, with where they come from. The flag renderer
//! (`cluster/flags.rs`), pinning (`pin.rs`) and the negotiation rules (`model/rules.rs`) read
//! them here, so adding etcd 3.6 means revisiting this file, `binaries.lock` and the rules.

use std::time::Duration;

use super::version::Version;

fn at_least(v: &Version, major: u32, minor: u32) -> bool {
    (v.major, v.minor) >= (major, minor)
}

/// `etcdutl` split out of `etcdctl` in 3.5 (CHANGELOG-3.5: "etcdutl: new tool for offline
/// operations"); `snapshot restore` moved there.
pub fn ships_etcdutl(v: &Version) -> bool {
    at_least(v, 3, 5)
}

/// `--logger`/`--log-outputs` exist from 3.4 (CHANGELOG-3.4); 3.3 logs with capnslog only.
pub fn has_logger_flag(v: &Version) -> bool {
    at_least(v, 3, 4)
}

/// `--enable-v2` exists up to 3.5 and was removed in 3.6 with the v2 API (CHANGELOG-3.6).
/// 3.3 serves v2 by default, 3.4 and 3.5 only with `--enable-v2=true` (upgrade guide 3.3→3.4).
pub fn has_enable_v2_flag(v: &Version) -> bool {
    !at_least(v, 3, 6)
}

/// Whether the release serves the v2 keys API at all (with `--enable-v2=true` where needed).
pub fn serves_v2(v: &Version) -> bool {
    has_enable_v2_flag(v)
}

/// Learners arrived in 3.4 (CHANGELOG-3.4, "raft learner"); 3.3's `MemberAddRequest` has no
/// `isLearner` field.
pub fn has_learners(v: &Version) -> bool {
    at_least(v, 3, 4)
}

/// Learners allowed at once: 1, the constant `maxLearners` of `membership/cluster.go` in 3.4
/// and 3.5 (no flag there; 3.6 adds `--max-learners`, default 1).
pub const DEFAULT_MAX_LEARNERS: usize = 1;

/// The strict reconfig check counts a peer as connected only once its link has been up for
/// `HealthInterval` (5 s, `etcdserver/server.go` in every pinned release).
pub const PEER_LINK_AGE: Duration = Duration::from_secs(5);

/// From 3.5.30 `member add` needs only a quorum of the grown cluster connected, not every
/// member (`mayAddMember` → `isConnectedToQuorumAfterAddingNewMemberSince`, PR #21669 for
/// issue #21640); before, every voting member must be connected (`isConnectedFullySince`).
pub fn add_member_needs_only_quorum(v: &Version) -> bool {
    *v >= Version::new(3, 5, 30)
}

/// `--experimental-snapshot-catchup-entries` arrived in 3.5.14 (PR #15878 backport, CHANGELOG-3.5);
/// before, every release keeps a fixed 5000 entries behind a snapshot. 3.6 graduated it.
pub fn has_snapshot_catchup_entries(v: &Version) -> bool {
    *v >= Version::new(3, 5, 14)
}

/// `--experimental-compaction-batch-limit` exists from 3.4 (CHANGELOG-3.4).
pub fn has_compaction_batch_limit(v: &Version) -> bool {
    at_least(v, 3, 4)
}

/// `--experimental-watch-progress-notify-interval` exists from 3.4 (CHANGELOG-3.4).
pub fn has_watch_progress_notify_interval(v: &Version) -> bool {
    at_least(v, 3, 4)
}

/// The flags etcd renamed by dropping or adding the `--experimental-` prefix between releases:
/// (`experimental name`, `graduated name`). 3.6 graduated these (CHANGELOG-3.6); 3.4 and 3.5 know
/// only the experimental spelling. The flag renderer maps one to the other when a release
/// lacks the spelling a scenario used.
pub const RENAMED_FLAGS: &[(&str, &str)] = &[
    (
        "--experimental-snapshot-catchup-entries",
        "--snapshot-catchup-entries",
    ),
    (
        "--experimental-compaction-batch-limit",
        "--compaction-batch-limit",
    ),
    (
        "--experimental-watch-progress-notify-interval",
        "--watch-progress-notify-interval",
    ),
    (
        "--experimental-initial-corrupt-check",
        "--initial-corrupt-check",
    ),
    ("--experimental-corrupt-check-time", "--corrupt-check-time"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_by_release() {
        let v = |s: &str| s.parse::<Version>().unwrap();
        assert!(!ships_etcdutl(&v("3.4.23")) && ships_etcdutl(&v("3.5.0")));
        assert!(!has_logger_flag(&v("3.3.25")) && has_logger_flag(&v("3.4.23")));
        assert!(has_enable_v2_flag(&v("3.5.30")) && !has_enable_v2_flag(&v("3.6.0")));
        assert!(!has_learners(&v("3.3.25")) && has_learners(&v("3.4.23")));
        assert!(!add_member_needs_only_quorum(&v("3.5.29")));
        assert!(add_member_needs_only_quorum(&v("3.5.30")));
        assert!(!has_snapshot_catchup_entries(&v("3.5.13")));
        assert!(has_snapshot_catchup_entries(&v("3.5.16")));
        assert!(
            !has_compaction_batch_limit(&v("3.3.25")) && has_compaction_batch_limit(&v("3.4.23"))
        );
        assert!(!has_watch_progress_notify_interval(&v("3.3.25")));
    }
}
