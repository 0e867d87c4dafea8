//! Errors of the benchmark: each names the input, template or member it is about.

use std::path::PathBuf;
use std::time::Duration;

use crate::cluster::ClusterError;
use crate::release::ReleaseError;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A command-line value that does not parse or is out of range.
    #[error("{field}: {value:?}: {reason}")]
    BadInput {
        field: &'static str,
        value: String,
        reason: String,
    },
    /// A release that cannot take part (not pinned, no v2 API).
    #[error("release {release}: {reason}")]
    Release {
        release: String,
        reason: String,
        #[source]
        source: Option<Box<ReleaseError>>,
    },
    /// A cached template whose manifest or files do not match: it is rebuilt, never used.
    #[error("template {}: {reason}", dir.display())]
    DamagedTemplate { dir: PathBuf, reason: String },
    /// Reading or writing the template cache or an output file failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The cluster under test failed (start, request, wait).
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The member never caught up before the deadline: a timeout, not a number.
    #[error("member {member} did not catch up within {after:?} ({case}); last seen: {last_seen}")]
    NotCaughtUp {
        member: String,
        case: String,
        after: Duration,
        last_seen: String,
    },
    /// Some samples of a run failed; the others were reported (the first failure is shown).
    #[error("{failed} sample(s) failed, first: {first}")]
    SamplesFailed { failed: usize, first: String },
    /// Drawing the plot failed.
    #[error("plot {}: {message}", path.display())]
    Plot { path: PathBuf, message: String },
}

impl BenchError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        BenchError::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn bad(
        field: &'static str,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        BenchError::BadInput {
            field,
            value: value.into(),
            reason: reason.into(),
        }
    }
}
