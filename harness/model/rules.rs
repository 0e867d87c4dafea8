//! The negotiation rules, in one place, each with the guide or etcd behaviour that states it.
//! Pure functions of versions: adding etcd 3.6 means adding or adjusting rules here.

use super::refusal::EtcdRefusal;
use crate::release::facts;
use crate::release::{MinorVersion, Version};

/// The cluster version members converge on: the lowest minor among all members.
///
/// Upgrade guides 3.2→3.3 and 3.3→3.4 (seeds 001, 003): "a mixed-version cluster operates with
/// the protocol of the lowest common version"; the leader raises the cluster version only when
/// every member runs the newer minor, and only while every member is reachable (etcd's
/// `decideClusterVersion` gives up if a member's `/version` cannot be read).
pub fn lowest_minor<'a>(binaries: impl IntoIterator<Item = &'a Version>) -> Option<MinorVersion> {
    binaries.into_iter().map(Version::minor_version).min()
}

/// The cluster version never goes down by itself: once decided, a lower minor is refused.
///
/// Upgrade guides 001/003: after a full upgrade "it is not possible to downgrade"; while one
/// member still runs the old minor every member may go back. etcd: `mustDetectDowngrade`.
pub fn next_cluster_version(
    current: Option<MinorVersion>,
    all_reachable: bool,
    lowest: Option<MinorVersion>,
) -> Option<MinorVersion> {
    match (current, lowest) {
        (c, Some(l)) if all_reachable => Some(c.map_or(l, |c| c.max(l))),
        (c, _) => c,
    }
}

/// Whether a member of `binary` may (re)start in a cluster at `cluster`.
///
/// - Patch swaps inside one minor are allowed both ways (same cluster version).
/// - A lower minor is refused once the cluster version is higher (001/003).
/// - The 3.5→3.4 downgrade guide (002) allows a 3.4 member into a 3.5 cluster only for
///   3.4 ≥ 3.4.32 started with `--next-cluster-version-compatible`; no pinned 3.4 qualifies, so
///   3.4.23 is refused like any lower minor.
pub fn may_start(
    binary: &Version,
    cluster: Option<MinorVersion>,
    new_member: bool,
    flags: &[String],
) -> Result<(), EtcdRefusal> {
    let Some(cluster) = cluster else {
        return Ok(());
    };
    if binary.minor_version() >= cluster {
        return Ok(());
    }
    let next_compatible = flags
        .iter()
        .any(|f| f == "--next-cluster-version-compatible")
        && binary.minor_version() == MinorVersion::new(3, 4)
        && cluster == MinorVersion::new(3, 5)
        && *binary >= Version::new(3, 4, 32);
    if next_compatible {
        return Ok(());
    }
    if new_member {
        Err(EtcdRefusal::IncompatibleWithCluster {
            binary: binary.clone(),
            cluster,
        })
    } else {
        Err(EtcdRefusal::BelowClusterVersion {
            binary: binary.clone(),
            cluster,
        })
    }
}

/// What the strict reconfig check of a `member add` looks at, on the member receiving it.
#[derive(Clone, Debug)]
pub struct AddMember<'a> {
    pub receiver: &'a Version,
    /// Voting members before the add.
    pub voting: usize,
    /// Voting members the receiver is connected to (itself included), links up for more than
    /// [`facts::PEER_LINK_AGE`]: the running ones.
    pub connected: usize,
    /// Voting members that have started once (etcd: the member has a name), running or not.
    pub started: usize,
    /// `member add --learner`.
    pub learner: bool,
    /// Learners already in the cluster.
    pub learners: usize,
}

/// Whether `member add` is accepted (`--strict-reconfig-check`, on by default), in the order
/// etcd checks (`etcdserver/server.go` `mayAddMember`, then `membership/cluster.go`
/// `ValidateConfigurationChange`), at every pinned release:
///
/// 1. A voting member only: `IsReadyToAddVotingMember` (3.3: `IsReadyToAddNewMember`) counts
///    the new member as not started; the started ones must be a quorum of the grown cluster,
///    except that a second member may join a one-member cluster (its comment: "adding a new
///    node to 1-member cluster for restoring cluster data"). Else
///    `re-configuration failed due to not enough started members`.
/// 2. Every member, learners too: up to 3.5.29 every voting member must be connected
///    (`isConnectedFullySince`); 3.5.30 (PR #21669, issue #21640) asks only that a quorum of
///    the grown cluster is connected, and always accepts in a one-member cluster
///    (`isConnectedToQuorumAfterAddingNewMemberSince`). Else `unhealthy cluster`.
/// 3. A learner: at most [`facts::DEFAULT_MAX_LEARNERS`] (a constant in 3.4/3.5, a flag only in
///    3.6), else `too many learner members in cluster`.
pub fn may_add_member(a: &AddMember) -> Result<(), EtcdRefusal> {
    if !a.learner {
        let (members, started) = (a.voting + 1, a.started);
        let one_to_two = started == 1 && members == 2;
        if !one_to_two && started < quorum(members) {
            return Err(EtcdRefusal::NotEnoughStartedMembers);
        }
    }
    let connected_ok = if facts::add_member_needs_only_quorum(a.receiver) {
        a.voting == 1 || a.connected >= quorum(a.voting + 1)
    } else {
        a.connected == a.voting
    };
    if !connected_ok {
        return Err(EtcdRefusal::UnhealthyCluster);
    }
    if a.learner && a.learners + 1 > facts::DEFAULT_MAX_LEARNERS {
        return Err(EtcdRefusal::TooManyLearners);
    }
    Ok(())
}

/// Whether `member promote` of a running learner is accepted, given the voting members and
/// how many of them run: `IsReadyToPromoteMember` counts the learner as started and wants a
/// quorum of the grown cluster started (`etcdserver/server.go` `mayPromoteMember`, 3.4+).
/// Before that etcd wants the learner's match index at 90% of the leader's
/// (`isLearnerReady`), a matter of time the model leaves to a retry.
pub fn may_promote_member(voting: usize, running: usize) -> Result<(), EtcdRefusal> {
    if running + 1 >= quorum(voting + 1) {
        Ok(())
    } else {
        Err(EtcdRefusal::NotEnoughStartedMembers)
    }
}

/// Whether `member remove` of a voting member is accepted, given how many of `members` run
/// (their links up for more than 5 s) and whether the one removed runs.
///
/// etcd's `mayRemoveMember` (strict reconfig check): removing a member that is down is always
/// safe; otherwise the members still connected after the removal must be a quorum of the
/// shrunk cluster, else `etcdserver: unhealthy cluster`. All pinned releases share this rule;
/// 3.4+ count voting members only and always allow removing a learner.
pub fn may_remove_member(
    members: usize,
    running: usize,
    removed_runs: bool,
) -> Result<(), EtcdRefusal> {
    if !removed_runs {
        return Ok(());
    }
    let (remaining, connected_after) = (members - 1, running - 1);
    if connected_after >= quorum(remaining) {
        Ok(())
    } else {
        Err(EtcdRefusal::UnhealthyCluster)
    }
}

/// Raft's quorum: a majority of `members`.
pub fn quorum(members: usize) -> usize {
    members / 2 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }
    fn m(s: &str) -> Option<MinorVersion> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn cluster_version_table() {
        // (current, all reachable, lowest) → next
        let table = [
            (None, true, m("3.4"), m("3.4")),
            (m("3.4"), true, m("3.5"), m("3.5")),
            (m("3.4"), false, m("3.5"), m("3.4")),
            (m("3.5"), true, m("3.4"), m("3.5")),
            (None, false, m("3.4"), None),
        ];
        for (cur, reach, low, want) in table {
            assert_eq!(
                next_cluster_version(cur, reach, low),
                want,
                "{cur:?} {reach} {low:?}"
            );
        }
    }

    #[test]
    fn start_table() {
        let none: &[String] = &[];
        assert!(may_start(&v("3.4.23"), m("3.4"), false, none).is_ok());
        assert!(
            may_start(&v("3.5.0"), m("3.5"), false, none).is_ok(),
            "patch downgrade"
        );
        assert!(
            may_start(&v("3.5.30"), m("3.4"), false, none).is_ok(),
            "upgrade"
        );
        assert_eq!(
            may_start(&v("3.4.23"), m("3.5"), false, none),
            Err(EtcdRefusal::BelowClusterVersion {
                binary: v("3.4.23"),
                cluster: "3.5".parse().unwrap()
            })
        );
        let flag = ["--next-cluster-version-compatible".to_string()];
        assert!(
            may_start(&v("3.4.23"), m("3.5"), false, &flag).is_err(),
            "3.4.23 < 3.4.32"
        );
        assert!(may_start(&v("3.4.32"), m("3.5"), false, &flag).is_ok());
        assert!(matches!(
            may_start(&v("3.4.23"), m("3.5"), true, none),
            Err(EtcdRefusal::IncompatibleWithCluster { .. })
        ));
    }

    fn add(
        receiver: &str,
        voting: usize,
        connected: usize,
        learner: bool,
    ) -> Result<(), EtcdRefusal> {
        let receiver = v(receiver);
        may_add_member(&AddMember {
            receiver: &receiver,
            voting,
            connected,
            started: voting,
            learner,
            learners: 0,
        })
    }

    #[test]
    fn member_add_table() {
        for r in ["3.3.25", "3.4.23", "3.5.0", "3.5.16", "3.5.30"] {
            assert!(add(r, 3, 3, false).is_ok());
            assert_eq!(
                add(r, 3, 2, false),
                Err(EtcdRefusal::UnhealthyCluster),
                "{r}: 3 members, 1 down"
            );
            assert!(
                add(r, 1, 1, false).is_ok(),
                "{r}: a second member joins a one-member cluster"
            );
            assert_eq!(
                add(r, 3, 2, true),
                Err(EtcdRefusal::UnhealthyCluster),
                "{r}: learners are checked too"
            );
        }
        assert!(add("3.5.30", 4, 3, false).is_ok());
        assert!(add("3.5.16", 4, 3, false).is_err());
        // One member plus one added but never started: a third is refused before connectivity.
        let r = v("3.5.16");
        let unstarted = AddMember {
            receiver: &r,
            voting: 2,
            connected: 1,
            started: 1,
            learner: false,
            learners: 0,
        };
        assert_eq!(
            may_add_member(&unstarted),
            Err(EtcdRefusal::NotEnoughStartedMembers)
        );
        let second_learner = AddMember {
            voting: 3,
            connected: 3,
            started: 3,
            learner: true,
            learners: 1,
            ..unstarted
        };
        assert_eq!(
            may_add_member(&second_learner),
            Err(EtcdRefusal::TooManyLearners)
        );
    }

    #[test]
    fn promote_table() {
        assert!(may_promote_member(3, 3).is_ok());
        assert!(may_promote_member(3, 2).is_ok(), "2 + the learner = 3 of 4");
        assert!(may_promote_member(3, 1).is_err());
    }

    #[test]
    fn member_remove_table() {
        assert!(may_remove_member(3, 3, true).is_ok());
        assert!(
            may_remove_member(3, 2, true).is_err(),
            "1 of the 2 left would be down"
        );
        assert!(
            may_remove_member(3, 2, false).is_ok(),
            "removing the down member is safe"
        );
        assert!(may_remove_member(5, 4, true).is_ok());
        assert!(may_remove_member(5, 3, true).is_err());
    }

    #[test]
    fn refusal_lines_match_etcd_wording() {
        let r = EtcdRefusal::BelowClusterVersion {
            binary: v("3.4.23"),
            cluster: "3.5".parse().unwrap(),
        };
        assert!(r.log_patterns()[0]
            .ends_with("(current version: 3.4.23 is lower than determined cluster version: 3.5)"));
    }
}
