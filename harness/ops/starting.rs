//! Starting members, shared by every family that starts one (lifecycle, membership, faults):
//! spawn with the model's prediction taken first, then wait until the member serves or until
//! it exits with etcd's own refusal line in its log.

use std::time::Duration;

use super::error::{disagree, StepError};
use super::op::Target;
use super::runner::Runner;
use crate::check::logs::REFUSED_MARKER;
use crate::cluster::wait::{poll, Probe};
use crate::cluster::ClusterError;
use crate::model::EtcdRefusal;
use crate::release::Release;

/// How long a refused member may take to exit, and a started one to become healthy.
const START_TIMEOUT: Duration = Duration::from_secs(30);

impl Runner<'_> {
    /// Sets the member's release and flags, predicts the start and spawns the process; the
    /// model moves only once the process was spawned.
    fn spawn_member(
        &mut self,
        i: usize,
        release: Option<Release>,
        flags: Option<Vec<String>>,
        joining: bool,
    ) -> Result<Result<(), EtcdRefusal>, StepError> {
        let name = self.name(i);
        let c = self.cluster_mut()?;
        if let Some(r) = &release {
            c.member_mut(i).release = r.clone();
        }
        if let Some(f) = flags {
            c.member_mut(i).extra_flags = f;
        }
        let binary = c.member(i).release.version.clone();
        let extra = c.member(i).extra_flags.clone();
        let predicted = self.model.predict_start(&name, &binary, &extra);
        let c = self.cluster_mut()?;
        if joining {
            c.start_joining(i)?;
        } else {
            c.restart_member(i, None)?;
        }
        let applied = self.model.start(&name, &binary, &extra);
        debug_assert_eq!(applied, predicted);
        Ok(predicted)
    }

    /// Starts member `i` (optionally with another release) and checks the model's prediction:
    /// serving, or refused with etcd's own error line.
    pub(super) async fn start(
        &mut self,
        i: usize,
        release: Option<Release>,
        flags: Option<Vec<String>>,
        joining: bool,
    ) -> Result<String, StepError> {
        let predicted = self.spawn_member(i, release, flags, joining)?;
        self.settle_start(i, predicted).await
    }

    async fn settle_start(
        &mut self,
        i: usize,
        predicted: Result<(), EtcdRefusal>,
    ) -> Result<String, StepError> {
        match predicted {
            Ok(()) => {
                self.wait_started(i).await?;
                let m = self.cluster()?.member(i);
                Ok(format!("{} runs {}", m.name, m.release.version))
            }
            Err(refusal) => self.expect_refused(i, &refusal).await,
        }
    }

    /// Spawns every named member first, then waits for each: after a full-cluster stop no
    /// member alone can reach the quorum it needs to serve.
    pub(super) async fn start_all(
        &mut self,
        members: &[Target],
        release: Option<Release>,
    ) -> Result<String, StepError> {
        let mut spawned = Vec::new();
        for t in members {
            let i = self.index(t).await?;
            spawned.push((i, self.spawn_member(i, release.clone(), None, false)?));
        }
        let mut out = Vec::new();
        for (i, predicted) in spawned {
            out.push(self.settle_start(i, predicted).await?);
        }
        Ok(out.join("; "))
    }

    /// Waits until member `i` serves; its exit is a disagreement with the model.
    /// Without a quorum no member can be healthy (`/health` is a quorum read), and a restarted
    /// member does not even serve clients until it has published itself through raft: then
    /// "started" means it answers `/version`, or has stayed up for two seconds. A learner is
    /// never healthy on `/health` in some releases, so for it serving `/version` suffices.
    pub(super) async fn wait_started(&self, i: usize) -> Result<(), StepError> {
        let m = self.cluster()?.member(i);
        let quorum = self.model.has_quorum();
        let learner = self.is_learner(i);
        let what = if quorum {
            "healthy"
        } else {
            "up (no quorum to be healthy)"
        };
        let since = tokio::time::Instant::now();
        let r = poll(
            &format!("{} {what}", m.name),
            START_TIMEOUT,
            Duration::from_millis(100),
            || async move {
                m.check_alive().map_err(Probe::from)?;
                if !quorum || learner {
                    if !quorum && since.elapsed() > Duration::from_secs(2) {
                        return Ok(());
                    }
                    return m
                        .version()
                        .await
                        .map(|_| ())
                        .map_err(|e| Probe::NotYet(e.to_string()));
                }
                match m.health().await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(Probe::NotYet("unhealthy".into())),
                    Err(e) => Err(Probe::NotYet(e.to_string())),
                }
            },
        )
        .await;
        match r {
            Ok(()) => Ok(()),
            Err(e @ ClusterError::MemberExited { .. }) => Err(disagree(
                format!("start of {}", m.name),
                "starts and serves",
                e.to_string(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Waits for a refused member to exit and finds etcd's refusal line in its log.
    async fn expect_refused(
        &mut self,
        i: usize,
        refusal: &EtcdRefusal,
    ) -> Result<String, StepError> {
        let m = self.cluster()?.member(i);
        let name = m.name.clone();
        let exited = poll(
            &format!("{name} to exit"),
            START_TIMEOUT,
            Duration::from_millis(100),
            || async move {
                match m.check_alive() {
                    Err(ClusterError::MemberExited { .. }) => Ok(()),
                    _ => Err(Probe::NotYet("still running".into())),
                }
            },
        )
        .await;
        let log = m.log_since_start();
        if exited.is_err() {
            let healthy = m.health().await.unwrap_or(false);
            m.kill();
            return Err(disagree(
                format!("start of {name} ({})", m.release.version),
                refusal.to_string(),
                format!("still running {START_TIMEOUT:?} later (healthy: {healthy})"),
            ));
        }
        let patterns = refusal.log_patterns();
        match log
            .lines()
            .find(|l| patterns.iter().any(|p| l.contains(p.as_str())))
        {
            Some(line) => {
                m.note_in_log(REFUSED_MARKER);
                Ok(format!("{name} refused as predicted: {}", line.trim()))
            }
            None => {
                let tail: Vec<&str> = log.lines().rev().take(3).collect();
                Err(disagree(
                    format!("refusal of {name}"),
                    format!("a log line with one of {patterns:?}"),
                    tail.join(" | "),
                ))
            }
        }
    }
}
