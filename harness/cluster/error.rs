//! Errors of the cluster layer: each says which member, what was waited for and what was seen.

use std::path::PathBuf;
use std::time::Duration;

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
    /// An RPC or HTTP request to a member failed.
    #[error("member {member}: {op}: {message}")]
    Request {
        member: String,
        op: String,
        message: String,
    },
    /// An operation's precondition does not hold (unknown member, member not running…).
    #[error("{0}")]
    Invalid(String),
}

impl From<ReleaseError> for ClusterError {
    fn from(e: ReleaseError) -> Self {
        ClusterError::Release(Box::new(e))
    }
}

impl ClusterError {
    pub(crate) fn io(what: impl Into<String>, e: impl std::fmt::Display) -> Self {
        ClusterError::Io {
            what: what.into(),
            message: e.to_string(),
        }
    }
}
