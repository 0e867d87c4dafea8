//! Waits are polls with deadlines: every one says, when it expires, what it waited for and what
//! it saw last.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::error::ClusterError;

/// Calls `probe` every `interval` until it returns `Ok`, or fails with a timeout carrying the
/// last `Err` text once `timeout` has passed. A probe that returns `Err` with a fatal marker
/// ([`Probe::Fatal`]) ends the wait at once.
pub async fn poll<T, F, Fut>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut probe: F,
) -> Result<T, ClusterError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Probe>>,
{
    let start = Instant::now();
    let deadline = start + timeout;
    loop {
        let last_seen = match probe().await {
            Ok(v) => return Ok(v),
            Err(Probe::Fatal(e)) => return Err(e),
            Err(Probe::NotYet(s)) => s,
        };
        if Instant::now() + interval > deadline {
            return Err(ClusterError::Timeout {
                what: what.into(),
                after: start.elapsed(),
                last_seen,
            });
        }
        tokio::time::sleep(interval).await;
    }
}

/// What a probe saw when the condition does not hold yet.
pub enum Probe {
    /// Not yet; the text says what was seen.
    NotYet(String),
    /// Waiting longer cannot help (the process exited).
    Fatal(ClusterError),
}

impl From<ClusterError> for Probe {
    fn from(e: ClusterError) -> Probe {
        match e {
            e @ ClusterError::MemberExited { .. } => Probe::Fatal(e),
            other => Probe::NotYet(other.to_string()),
        }
    }
}
