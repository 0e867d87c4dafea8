//! The negotiation rules, in one place, each with the guide or etcd behaviour that states it.
//! Pure functions of versions: adding etcd 3.6 means adding or adjusting rules here.

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

/// Why a member's process refuses to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A restarted member whose binary's minor is below the cluster version.
    /// etcd 3.3/3.4 (capnslog): `cluster cannot be downgraded (current version: X is lower than
    /// determined cluster version: Y)`; zap (3.4 with --logger=zap, 3.5): `invalid downgrade;
    /// server version is lower than determined cluster version`.
    BelowClusterVersion {
        binary: Version,
        cluster: MinorVersion,
    },
    /// A brand-new member (empty data dir) of an older minor joining a newer cluster:
    /// `incompatible with current running cluster`.
    IncompatibleWithCluster {
        binary: Version,
        cluster: MinorVersion,
    },
}

impl Refusal {
    /// Substrings of which at least one appears in the refused member's log.
    pub fn log_patterns(&self) -> Vec<String> {
        match self {
            Refusal::BelowClusterVersion { binary, cluster } => vec![
                format!("cluster cannot be downgraded (current version: {binary} is lower than determined cluster version: {cluster})"),
                "invalid downgrade; server version is lower than determined cluster version".into(),
            ],
            Refusal::IncompatibleWithCluster { .. } => vec!["incompatible with current running cluster".into()],
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::BelowClusterVersion { binary, cluster } => {
                write!(
                    f,
                    "refused: binary {binary} is below cluster version {cluster}"
                )
            }
            Refusal::IncompatibleWithCluster { binary, cluster } => {
                write!(
                    f,
                    "refused: new member {binary} is incompatible with cluster version {cluster}"
                )
            }
        }
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
) -> Result<(), Refusal> {
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
        Err(Refusal::IncompatibleWithCluster {
            binary: binary.clone(),
            cluster,
        })
    } else {
        Err(Refusal::BelowClusterVersion {
            binary: binary.clone(),
            cluster,
        })
    }
}

/// Whether `member add` of a voting member is accepted by a member running `receiver`, given
/// how many of `members` voting members have had their peer link up for more than 5 s.
///
/// etcd checks this on the member that receives the request (`--strict-reconfig-check`, on by
/// default). Up to 3.5.29 it requires every voting member connected (`isConnectedFullySince`):
/// one down member gives `etcdserver: unhealthy cluster`. 3.5.30 requires only that the grown
/// cluster keeps a quorum of connected members. Measured here on every pinned release: 3 members
/// with 1 down refuse everywhere; 4 members with 1 down, 3.5.30 accepts and older refuse.
pub fn may_add_member(
    receiver: &Version,
    members: usize,
    connected: usize,
) -> Result<(), &'static str> {
    let quorum_after = quorum(members + 1);
    let ok = if *receiver >= Version::new(3, 5, 30) {
        connected >= quorum_after
    } else {
        connected == members
    };
    if ok {
        Ok(())
    } else {
        Err("etcdserver: unhealthy cluster")
    }
}

/// Whether `member remove` of a voting member is accepted, given how many of `members` run
/// (their links up for more than 5 s) and whether the one removed runs.
///
/// etcd's `mayRemoveMember` (strict reconfig check): removing a member that is down is always
/// safe; otherwise the members still connected after the removal must be a quorum of the
/// shrunk cluster, else `etcdserver: unhealthy cluster`. All pinned releases share this rule.
pub fn may_remove_member(
    members: usize,
    running: usize,
    removed_runs: bool,
) -> Result<(), &'static str> {
    if !removed_runs {
        return Ok(());
    }
    let (remaining, connected_after) = (members - 1, running - 1);
    if connected_after >= quorum(remaining) {
        Ok(())
    } else {
        Err("etcdserver: unhealthy cluster")
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
            Err(Refusal::BelowClusterVersion {
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
            Err(Refusal::IncompatibleWithCluster { .. })
        ));
    }

    #[test]
    fn member_add_table() {
        for r in ["3.3.25", "3.4.23", "3.5.16", "3.5.30"] {
            assert!(may_add_member(&v(r), 3, 3).is_ok());
            assert!(
                may_add_member(&v(r), 3, 2).is_err(),
                "{r}: 3 members, 1 down"
            );
        }
        assert!(may_add_member(&v("3.5.30"), 4, 3).is_ok());
        assert!(may_add_member(&v("3.5.16"), 4, 3).is_err());
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
        let r = Refusal::BelowClusterVersion {
            binary: v("3.4.23"),
            cluster: "3.5".parse().unwrap(),
        };
        assert!(r.log_patterns()[0]
            .ends_with("(current version: 3.4.23 is lower than determined cluster version: 3.5)"));
    }
}
