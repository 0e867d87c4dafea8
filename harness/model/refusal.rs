//! What etcd refuses, as one type shared by the rules (which predict a refusal) and the
//! operations (which observe one). A refusal reaches the harness in one of two ways:
//!
//! - a member's process exits at start, with its reason in the log (cluster version checks);
//! - an RPC fails with a gRPC status whose message is one of etcd's fixed error descriptions
//!   (`api/v3rpc/rpctypes/error.go`). etcd's own client identifies errors the same way
//!   (`rpctypes.Error` maps each description to a typed error), so [`EtcdRefusal::from_grpc`]
//!   is the one place that reads those texts; everything else matches on the variant.

use crate::release::{MinorVersion, Version};

/// Why etcd refuses a start or a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EtcdRefusal {
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
    /// `etcdserver: unhealthy cluster` (ErrGRPCUnhealthy): the strict reconfig check found
    /// members whose peer links are not up.
    UnhealthyCluster,
    /// `etcdserver: re-configuration failed due to not enough started members`
    /// (ErrGRPCNotEnoughStartedMembers, 3.4+): adding a voting member would leave the started
    /// members short of a quorum.
    NotEnoughStartedMembers,
    /// `etcdserver: permission denied`.
    PermissionDenied,
    /// `etcdserver: too many learner members in cluster` (3.4+).
    TooManyLearners,
    /// `etcdserver: can only promote a learner member which is in sync with leader` (3.4+).
    LearnerNotReady,
    /// `etcdserver: can only promote a learner member` (3.4+).
    MemberNotLearner,
    /// `etcdserver: member not found`.
    MemberNotFound,
    /// `etcdserver: rpc not supported for learner` (3.4+).
    NotSupportedForLearner,
    /// `etcdserver: Peer URLs already exists`.
    PeerUrlExists,
    /// `etcdserver: invalid auth token`.
    InvalidAuthToken,
    /// `etcdserver: user name is empty`.
    UserEmpty,
    /// `etcdserver: authentication failed, invalid user ID or password`.
    AuthFailed,
    /// `etcdserver: mvcc: required revision has been compacted` (a range or HashKV below the
    /// compact revision; code OutOfRange, as the next one).
    Compacted,
    /// `etcdserver: mvcc: required revision is a future revision`.
    FutureRevision,
    /// `etcdserver: request timed out, leader transfer took too long` (ErrTimeoutLeaderTransfer,
    /// sent as code Unknown): raft aborted the transfer (the transferee did not win within an
    /// election timeout) and MoveLeader waited out the request's deadline.
    LeaderTransferTimedOut,
    /// `etcdserver: not leader` (ErrGRPCNotLeader): a leader-only request (MoveLeader) reached
    /// a member that no longer leads.
    NotLeader,
}

/// etcd's gRPC error descriptions, each with its variant (`rpctypes/error.go`, identical text
/// in every pinned release that has the error).
const GRPC_DESCRIPTIONS: &[(&str, EtcdRefusal)] = &[
    (
        "etcdserver: unhealthy cluster",
        EtcdRefusal::UnhealthyCluster,
    ),
    (
        "etcdserver: re-configuration failed due to not enough started members",
        EtcdRefusal::NotEnoughStartedMembers,
    ),
    (
        "etcdserver: permission denied",
        EtcdRefusal::PermissionDenied,
    ),
    (
        "etcdserver: too many learner members in cluster",
        EtcdRefusal::TooManyLearners,
    ),
    (
        "etcdserver: can only promote a learner member which is in sync with leader",
        EtcdRefusal::LearnerNotReady,
    ),
    (
        "etcdserver: can only promote a learner member",
        EtcdRefusal::MemberNotLearner,
    ),
    ("etcdserver: member not found", EtcdRefusal::MemberNotFound),
    (
        "etcdserver: rpc not supported for learner",
        EtcdRefusal::NotSupportedForLearner,
    ),
    (
        "etcdserver: Peer URLs already exists",
        EtcdRefusal::PeerUrlExists,
    ),
    (
        "etcdserver: mvcc: required revision has been compacted",
        EtcdRefusal::Compacted,
    ),
    (
        "etcdserver: mvcc: required revision is a future revision",
        EtcdRefusal::FutureRevision,
    ),
    (
        "etcdserver: request timed out, leader transfer took too long",
        EtcdRefusal::LeaderTransferTimedOut,
    ),
    ("etcdserver: not leader", EtcdRefusal::NotLeader),
];

impl EtcdRefusal {
    /// The refusal a gRPC status message stands for (etcd sends the description verbatim).
    pub fn from_grpc(message: &str) -> Option<EtcdRefusal> {
        GRPC_DESCRIPTIONS
            .iter()
            .find(|(d, _)| *d == message)
            .map(|(_, r)| r.clone())
    }

    /// Substrings of which at least one appears in a refused member's log (start refusals), or
    /// the gRPC description (request refusals).
    pub fn log_patterns(&self) -> Vec<String> {
        match self {
            EtcdRefusal::BelowClusterVersion { binary, cluster } => vec![
                format!("cluster cannot be downgraded (current version: {binary} is lower than determined cluster version: {cluster})"),
                "invalid downgrade; server version is lower than determined cluster version".into(),
            ],
            EtcdRefusal::IncompatibleWithCluster { .. } => {
                vec!["incompatible with current running cluster".into()]
            }
            other => GRPC_DESCRIPTIONS
                .iter()
                .filter(|(_, r)| r == other)
                .map(|(d, _)| d.to_string())
                .collect(),
        }
    }

    /// Is a request refused this way certainly not applied? Auth checks run before a request
    /// reaches raft, so a write refused by them never happened.
    pub fn before_apply(&self) -> bool {
        matches!(
            self,
            EtcdRefusal::PermissionDenied
                | EtcdRefusal::InvalidAuthToken
                | EtcdRefusal::UserEmpty
                | EtcdRefusal::AuthFailed
        )
    }

    /// Is this refused by the member's process at start (as opposed to by a request)?
    pub fn at_start(&self) -> bool {
        matches!(
            self,
            EtcdRefusal::BelowClusterVersion { .. } | EtcdRefusal::IncompatibleWithCluster { .. }
        )
    }
}

impl std::fmt::Display for EtcdRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EtcdRefusal::BelowClusterVersion { binary, cluster } => {
                write!(
                    f,
                    "refused: binary {binary} is below cluster version {cluster}"
                )
            }
            EtcdRefusal::IncompatibleWithCluster { binary, cluster } => write!(
                f,
                "refused: new member {binary} is incompatible with cluster version {cluster}"
            ),
            other => match other.log_patterns().first() {
                Some(d) => write!(f, "refused: {d}"),
                None => write!(f, "refused: {other:?}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_description_maps_back_to_its_variant() {
        for (d, r) in GRPC_DESCRIPTIONS {
            assert_eq!(EtcdRefusal::from_grpc(d).as_ref(), Some(r), "{d}");
            assert_eq!(r.log_patterns(), vec![d.to_string()]);
        }
        assert_eq!(
            EtcdRefusal::from_grpc("etcdserver: request timed out"),
            None
        );
    }

    #[test]
    fn a_prefix_is_not_its_longer_sibling() {
        // "can only promote a learner member" is a prefix of the not-in-sync description.
        assert_eq!(
            EtcdRefusal::from_grpc("etcdserver: can only promote a learner member"),
            Some(EtcdRefusal::MemberNotLearner)
        );
    }
}
