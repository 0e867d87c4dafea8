//! Why a step fails, and the one comparison of "the model predicts X / etcd did Y" that every
//! operation with a predictable outcome uses.

use crate::check::Mismatch;
use crate::cluster::ClusterError;
use crate::model::EtcdRefusal;
use crate::release::ReleaseError;

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The model and etcd disagree: a finding (or a model bug), printed with both sides.
    #[error("model and etcd disagree:\n  {}", .0.iter().map(|m| m.to_string()).collect::<Vec<_>>().join("\n  "))]
    Disagree(Vec<Mismatch>),
    /// The cluster layer failed (a member could not be spawned, a wait ran out…).
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// A release could not be resolved or verified (boxed: release errors are large).
    #[error(transparent)]
    Release(Box<ReleaseError>),
    /// The step cannot run in this state (bad reference, precondition of the harness).
    #[error("{0}")]
    Precondition(String),
}

impl From<ReleaseError> for StepError {
    fn from(e: ReleaseError) -> Self {
        StepError::Release(Box::new(e))
    }
}

impl StepError {
    pub fn precondition(why: impl Into<String>) -> StepError {
        StepError::Precondition(why.into())
    }
}

pub fn disagree(
    what: impl Into<String>,
    model: impl Into<String>,
    etcd: impl Into<String>,
) -> StepError {
    StepError::Disagree(vec![Mismatch {
        what: what.into(),
        model: model.into(),
        etcd: etcd.into(),
    }])
}

/// What the model predicts of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prediction {
    /// etcd acknowledges it.
    Accept,
    /// etcd answers with this refusal.
    Refuse(EtcdRefusal),
    /// It cannot commit (no quorum): any error or a timeout, never an acknowledgement.
    Fail,
}

impl From<Result<(), EtcdRefusal>> for Prediction {
    fn from(r: Result<(), EtcdRefusal>) -> Self {
        match r {
            Ok(()) => Prediction::Accept,
            Err(e) => Prediction::Refuse(e),
        }
    }
}

impl std::fmt::Display for Prediction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Prediction::Accept => f.write_str("accepted"),
            Prediction::Refuse(r) => r.fmt(f),
            Prediction::Fail => f.write_str("failure (no quorum)"),
        }
    }
}

/// etcd's answer as the prediction expected it.
#[derive(Debug)]
pub enum Judged<T> {
    Accepted(T),
    /// Refused or failed as predicted; the error says how.
    Refused(ClusterError),
}

/// Compares etcd's answer to `what` with the model's prediction: agreement is the answer,
/// anything else a [`StepError::Disagree`] with both sides.
pub fn judge<T: std::fmt::Debug>(
    what: &str,
    predicted: &Prediction,
    actual: Result<T, ClusterError>,
) -> Result<Judged<T>, StepError> {
    match (predicted, actual) {
        (Prediction::Accept, Ok(v)) => Ok(Judged::Accepted(v)),
        (Prediction::Refuse(r), Err(e)) if e.refusal().as_ref() == Some(r) => {
            Ok(Judged::Refused(e))
        }
        (Prediction::Fail, Err(e)) => Ok(Judged::Refused(e)),
        (p, Ok(v)) => Err(disagree(what, p.to_string(), format!("accepted ({v:?})"))),
        (p, Err(e)) => Err(disagree(what, p.to_string(), e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeout() -> ClusterError {
        ClusterError::Rpc {
            member: "m1".into(),
            op: "put".into(),
            source: crate::cluster::RpcFailure::TimedOut,
        }
    }

    #[test]
    fn agreement_and_disagreement() {
        assert!(matches!(
            judge("w", &Prediction::Accept, Ok::<_, ClusterError>(1)),
            Ok(Judged::Accepted(1))
        ));
        assert!(matches!(
            judge::<()>("w", &Prediction::Fail, Err(timeout())),
            Ok(Judged::Refused(_))
        ));
        assert!(matches!(
            judge("w", &Prediction::Fail, Ok::<_, ClusterError>(())),
            Err(StepError::Disagree(_))
        ));
        // A timeout is not the refusal the model predicted.
        assert!(matches!(
            judge::<()>(
                "w",
                &Prediction::Refuse(EtcdRefusal::UnhealthyCluster),
                Err(timeout())
            ),
            Err(StepError::Disagree(_))
        ));
    }
}
