//! Errors of the cluster layer: each says which member, what was waited for and what was seen.

use std::path::PathBuf;
use std::time::Duration;

use crate::model::EtcdRefusal;
use crate::release::ReleaseError;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A member's release could not be resolved or failed verification.
    #[error(transparent)]
    Release(Box<ReleaseError>),
    /// A file or process operation failed.
    #[error("{what}: {message}")]
    Io { what: String, message: String },
    /// No free block of loopback ports below the ephemeral range.
    #[error("no free port block in {range} (lock dir {})", dir.display())]
    NoPorts { range: String, dir: PathBuf },
    /// A member's etcd process exited while it was expected to run.
    #[error("member {member} ({release}) exited ({status}); last log lines:\n{log_tail}")]
    MemberExited {
        member: String,
        release: String,
        status: String,
        log_tail: String,
    },
    /// A wait ran out: what it waited for, for how long, and the last thing it saw.
    #[error("timed out after {after:?} waiting for {what}; last seen: {last_seen}")]
    Timeout {
        what: String,
        after: Duration,
        last_seen: String,
    },
    /// A gRPC call to a member failed or timed out; the source keeps etcd's answer.
    #[error("member {member}: {op}: {source}")]
    Rpc {
        member: String,
        op: String,
        #[source]
        source: RpcFailure,
    },
    /// An HTTP request to a member failed (`/version`, `/health`, v2, certificate probes).
    #[error("member {member}: {op}: {message}")]
    Request {
        member: String,
        op: String,
        message: String,
    },
    /// A flag the member's release does not know.
    #[error(transparent)]
    Flag(#[from] super::flags::UnknownFlag),
    /// An operation's precondition does not hold (unknown member, member not running…).
    #[error("{0}")]
    Invalid(String),
}

/// How a gRPC call failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcFailure {
    /// etcd (or the transport) answered with an error.
    #[error(transparent)]
    Etcd(etcd_client::Error),
    /// No answer within the request timeout: a write may or may not have been applied.
    #[error("timed out (outcome unknown)")]
    TimedOut,
}

impl From<ReleaseError> for ClusterError {
    fn from(e: ReleaseError) -> Self {
        ClusterError::Release(Box::new(e))
    }
}

impl ClusterError {
    /// A call that got no answer in time: the harness's deadline, or the transport's (gRPC
    /// cancelled or deadline exceeded).
    pub fn timed_out(&self) -> bool {
        match self {
            ClusterError::Rpc {
                source: RpcFailure::TimedOut,
                ..
            } => true,
            ClusterError::Rpc {
                source: RpcFailure::Etcd(etcd_client::Error::GRpcStatus(s)),
                ..
            } => matches!(
                s.code(),
                tonic::Code::Cancelled | tonic::Code::DeadlineExceeded
            ),
            _ => false,
        }
    }

    /// The etcd refusal this error carries, if etcd answered with one of its known errors.
    pub fn refusal(&self) -> Option<EtcdRefusal> {
        match self {
            ClusterError::Rpc {
                source: RpcFailure::Etcd(etcd_client::Error::GRpcStatus(s)),
                ..
            } => EtcdRefusal::from_grpc(s.message()),
            _ => None,
        }
    }

    pub(crate) fn io(what: impl Into<String>, e: impl std::fmt::Display) -> Self {
        ClusterError::Io {
            what: what.into(),
            message: e.to_string(),
        }
    }
}
