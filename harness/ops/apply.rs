//! Applying operations: each step acts on the live cluster and on the model, the model predicts
//! the outcome (a start refused, a member add rejected, a write that cannot commit), and the
//! step fails when etcd does otherwise, printing both sides.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::op::{CertKind, Op, Target};
use super::oracle::{self, V2_PREFIX};
use crate::check::Mismatch;
use crate::cluster::auth::{ROOT, USER, USER_PREFIX, USER_ROLE};
use crate::cluster::member::{http_client, REQUEST_TIMEOUT};
use crate::cluster::tls::Leaf;
use crate::cluster::wait::{poll, Probe};
use crate::cluster::{Cluster, ClusterBuilder, ClusterError};
use crate::model::{Model, Refusal};
use crate::release::error::error_chain;
use crate::release::{Release, ReleaseStore};

/// A membership change, retried while etcd refuses it as `unhealthy cluster` though the model
/// expects it accepted: etcd's strict reconfig check counts only peer links up for more than
/// 5 s, so right after a (re)start it refuses what the model (which has no clock) allows. A
/// refusal the model predicts, or one that lasts 15 s, is returned as is.
macro_rules! retry_while_links_are_young {
    ($expect_ok:expr, $call:expr) => {{
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let r = $call.await;
            match &r {
                Err(e)
                    if $expect_ok
                        && e.to_string().contains("unhealthy cluster")
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                _ => break r,
            }
        }
    }};
}

/// How long the oracle waits for etcd to agree with the model after a step.
pub const AGREEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a refused member may take to exit, and a started one to become healthy.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The model and etcd disagree: a finding (or a model bug), printed with both sides.
    #[error("model and etcd disagree:\n  {}", .0.iter().map(|m| m.to_string()).collect::<Vec<_>>().join("\n  "))]
    Disagree(Vec<Mismatch>),
    /// The step could not be carried out (bad reference, harness or infrastructure failure).
    #[error("{0}")]
    Harness(String),
}

impl From<ClusterError> for StepError {
    fn from(e: ClusterError) -> Self {
        StepError::Harness(e.to_string())
    }
}

fn disagree(
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

/// Drives one cluster and its model through a sequence of operations.
pub struct Runner<'a> {
    store: &'a ReleaseStore,
    /// Keys under this prefix belong to concurrent traffic, checked by its history instead.
    pub traffic_prefix: Option<String>,
    /// The revision of the last compaction.
    compacted: i64,
    pub cluster: Option<Cluster>,
    pub model: Model,
    snapshots: BTreeMap<String, (PathBuf, bool)>,
    last_revisions: BTreeMap<String, i64>,
}

impl<'a> Runner<'a> {
    pub fn new(store: &'a ReleaseStore) -> Runner<'a> {
        Runner {
            store,
            traffic_prefix: None,
            compacted: 0,
            cluster: None,
            model: Model::default(),
            snapshots: BTreeMap::new(),
            last_revisions: BTreeMap::new(),
        }
    }

    fn cluster(&self) -> Result<&Cluster, StepError> {
        self.cluster.as_ref().ok_or_else(|| {
            StepError::Harness("no cluster yet: the first step must be `cluster`".into())
        })
    }

    fn cluster_mut(&mut self) -> Result<&mut Cluster, StepError> {
        self.cluster.as_mut().ok_or_else(|| {
            StepError::Harness("no cluster yet: the first step must be `cluster`".into())
        })
    }

    fn resolve_release(&self, name: &str) -> Result<Release, StepError> {
        tokio::task::block_in_place(|| self.store.resolve(name))
            .map_err(|e| StepError::Harness(e.to_string()))
    }

    /// The index of a member reference.
    async fn index(&self, t: &Target) -> Result<usize, StepError> {
        let c = self.cluster()?;
        match t {
            Target::Named(n) => c
                .index_of(n)
                .ok_or_else(|| StepError::Harness(format!("no member {n}"))),
            Target::Leader => Ok(c.leader(Duration::from_secs(15)).await?),
            Target::Follower => {
                let leader = c.leader(Duration::from_secs(15)).await?;
                c.live()
                    .into_iter()
                    .find(|&i| i != leader)
                    .ok_or_else(|| StepError::Harness("no live follower".into()))
            }
        }
    }

    async fn via(&self, t: &Option<Target>) -> Result<usize, StepError> {
        match t {
            Some(t) => self.index(t).await,
            None => self
                .cluster()?
                .live()
                .first()
                .copied()
                .ok_or_else(|| StepError::Harness("no live member".into())),
        }
    }

    /// A live member other than `i`, to send membership changes through.
    fn other_live(&self, i: usize) -> Result<usize, StepError> {
        let c = self.cluster()?;
        c.live()
            .into_iter()
            .find(|&j| j != i)
            .ok_or_else(|| StepError::Harness("no other live member".into()))
    }

    fn name(&self, i: usize) -> String {
        self.cluster
            .as_ref()
            .map(|c| c.member(i).name.clone())
            .unwrap_or_default()
    }

    /// Applies one operation; returns a one-line outcome.
    pub async fn apply(&mut self, op: &Op) -> Result<String, StepError> {
        match op {
            Op::Cluster {
                releases,
                v2,
                tls,
                proxied,
            } => {
                let rs: Vec<Release> = releases
                    .iter()
                    .map(|r| self.resolve_release(r))
                    .collect::<Result<_, _>>()?;
                let cluster = ClusterBuilder::new(rs.clone())
                    .enable_v2(*v2)
                    .tls(*tls)
                    .peer_proxies(*proxied)
                    .start()
                    .await?;
                self.model = Model::bootstrap(
                    cluster
                        .members()
                        .iter()
                        .map(|m| (m.name.clone(), m.release.version.clone())),
                );
                self.cluster = Some(cluster);
                Ok(format!("{} members healthy", rs.len()))
            }
            Op::Put { key, value, via } => {
                let i = self.via(via).await?;
                self.write(i, key, Some(value)).await
            }
            Op::Delete { key } => {
                let i = self.via(&None).await?;
                self.write(i, key, None).await
            }
            Op::PutMany { prefix, count } => {
                let i = self.via(&None).await?;
                for n in 0..*count {
                    let (k, v) = (format!("{prefix}/{n}"), format!("value-{n}"));
                    self.write(i, &k, Some(&v)).await?;
                }
                Ok(format!("{count} writes, each as the model predicted"))
            }
            Op::V2Set { key, value } => {
                if !self.model.has_quorum() {
                    return Err(StepError::Harness(
                        "v2-set needs a quorum; use put to test writes without one".into(),
                    ));
                }
                let i = self.via(&None).await?;
                self.cluster()?.member(i).v2_set(key, value).await?;
                self.model.ack(&format!("{V2_PREFIX}{key}"), Some(value));
                Ok("v2 write acknowledged".into())
            }
            Op::Stop { member } | Op::Kill { member } | Op::Pause { member } => {
                let i = self.index(member).await?;
                let name = self.name(i);
                let c = self.cluster()?;
                match op {
                    Op::Stop { .. } => c.stop_member(i).await,
                    Op::Kill { .. } => {
                        c.member(i).kill();
                    }
                    _ => c.member(i).pause(),
                }
                if matches!(op, Op::Kill { .. }) {
                    self.model.kill(&name);
                } else {
                    self.model.stop(&name);
                }
                Ok(format!("{name} down"))
            }
            Op::Resume { member } => {
                let i = self.index(member).await?;
                let name = self.name(i);
                self.cluster()?.member(i).resume();
                self.model.resume(&name);
                Ok(format!("{name} resumed"))
            }
            Op::Start {
                member,
                release,
                flags,
            } => {
                let i = self.index(member).await?;
                let release = match release {
                    Some(r) => Some(self.resolve_release(r)?),
                    None => None,
                };
                self.start(i, release, flags.clone(), false).await
            }
            Op::Upgrade { member, release } => {
                let i = self.index(member).await?;
                let r = self.resolve_release(release)?;
                let c = self.cluster_mut()?;
                // The guides move leadership away first; when that fails the member is still
                // stopped (a leader hands over by itself on SIGTERM), and the outcome says so.
                let moved = if c.live().len() > 1 {
                    Some(c.move_leader_away(i).await)
                } else {
                    None
                };
                c.stop_member(i).await;
                let name = self.name(i);
                self.model.stop(&name);
                let started = self.start(i, Some(r), Vec::new(), false).await?;
                let lead = match moved {
                    Some(Ok(l)) => format!("leader {}, ", self.name(l)),
                    Some(Err(e)) => format!("leadership not moved ({e}), "),
                    None => String::new(),
                };
                Ok(format!("{lead}{started}"))
            }
            Op::MoveLeaderAway { member } => {
                let i = self.index(member).await?;
                let l = self.cluster_mut()?.move_leader_away(i).await?;
                Ok(format!("leader is {}", self.name(l)))
            }
            Op::SnapshotSave { name, from } => {
                let i = self.index(from).await?;
                let c = self.cluster()?;
                let dir = c.dir().join("snapshots");
                std::fs::create_dir_all(&dir).map_err(|e| StepError::Harness(e.to_string()))?;
                let path = dir.join(format!("{name}.db"));
                let n = c.member(i).snapshot_save(&path).await?;
                self.model.save_snapshot(name);
                self.snapshots.insert(name.clone(), (path, false));
                Ok(format!("{n} bytes from {}", self.name(i)))
            }
            Op::CopyBackend { name, member } => {
                let i = self.index(member).await?;
                let c = self.cluster()?;
                if c.member(i).is_running() {
                    return Err(StepError::Harness(format!(
                        "copy-backend: {} must be stopped first",
                        c.member(i).name
                    )));
                }
                let dir = c.dir().join("snapshots");
                std::fs::create_dir_all(&dir).map_err(|e| StepError::Harness(e.to_string()))?;
                let path = dir.join(format!("{name}.db"));
                c.copy_backend(i, &path)?;
                let member_name = self.name(i);
                self.model
                    .copy_backend(&member_name, name)
                    .map_err(StepError::Harness)?;
                self.snapshots.insert(name.clone(), (path, true));
                Ok(format!("member/snap/db of {member_name}"))
            }
            Op::Restore { name } => {
                let (path, skip) = self
                    .snapshots
                    .get(name)
                    .cloned()
                    .ok_or_else(|| StepError::Harness(format!("no snapshot named {name}")))?;
                self.cluster_mut()?.restore_all(&path, skip).await?;
                self.model.restore(name).map_err(StepError::Harness)?;
                // A restored cluster starts a new history: revisions restart from the snapshot's.
                self.last_revisions.clear();
                self.compacted = 0;
                Ok(format!(
                    "every member restored from {name}{}",
                    if skip { " (--skip-hash-check)" } else { "" }
                ))
            }
            Op::MemberAdd {
                name,
                release,
                via,
                no_start,
            } => self.member_add(name, release, via, *no_start).await,
            Op::MemberRemove { member } => {
                let i = self.index(member).await?;
                let name = self.name(i);
                let via = self.other_live(i)?;
                let predicted = self.model.predict_member_remove(&name);
                let result = retry_while_links_are_young!(
                    predicted.is_ok(),
                    self.cluster_mut()?.member_remove(via, i)
                );
                let what = format!("member remove of {name}");
                match (predicted, result) {
                    (Ok(()), Ok(_)) => {
                        self.model.member_remove(&name);
                        self.last_revisions.remove(&name);
                        Ok(format!("{name} removed and stopped"))
                    }
                    (Err(why), Err(e)) if e.to_string().contains(why) => {
                        Ok(format!("refused as predicted: {e}"))
                    }
                    (Err(why), Err(e)) => {
                        Err(disagree(what, format!("refused: {why}"), e.to_string()))
                    }
                    (Ok(()), Err(e)) => Err(disagree(what, "accepted", e.to_string())),
                    (Err(why), Ok(_)) => Err(disagree(what, format!("refused: {why}"), "accepted")),
                }
            }
            Op::MemberMigrate { member } => {
                let i = self.index(member).await?;
                let name = self.name(i);
                let via = self.other_live(i)?;
                let c = self.cluster_mut()?;
                let before = c.member(i).id;
                c.member_migrate(via, i).await?;
                let m = c.member(i);
                let url = m.peer_url.clone();
                self.wait_started(i).await?;
                let c = self.cluster_mut()?;
                c.learn_member_ids().await?;
                let after = c.member(i).id;
                if before != after {
                    return Err(disagree(
                        format!("{name} member id after migration"),
                        format!("{before:x?}"),
                        format!("{after:x?}"),
                    ));
                }
                Ok(format!(
                    "{name} now at {url}, same member id {:x}",
                    before.unwrap_or_default()
                ))
            }
            Op::AuthEnable => {
                let via = self.via(&None).await?;
                self.cluster_mut()?.enable_auth(via).await?;
                self.model.auth = true;
                Ok(format!(
                    "auth on: users {} and {} (role {USER_ROLE} on {USER_PREFIX})",
                    ROOT.0, USER.0
                ))
            }
            Op::AuthDisable => {
                let via = self.via(&None).await?;
                self.cluster_mut()?.disable_auth(via).await?;
                self.model.auth = false;
                Ok("auth off, users deleted".into())
            }
            Op::PutAs { user, key, value } => self.put_as(user, key, value).await,
            Op::RotateCerts { kind } => self.rotate(*kind).await,
            Op::Partition { member, millis } => {
                let i = self.index(member).await?;
                let name = self.name(i);
                self.cluster()?.partition(i)?;
                // The fault must bite: a member cut off from its peers cannot commit a write.
                let started = tokio::time::Instant::now();
                let value = format!("written-while-partitioned-{:08x}", rand::random::<u32>());
                let probe = self.cluster()?.member(i);
                let result = tokio::time::timeout(
                    Duration::from_millis(1500),
                    probe.put("skew/partition-probe", &value),
                )
                .await;
                if let Ok(Ok(_)) = result {
                    self.cluster()?.repair();
                    return Err(disagree(
                        format!("write via {name} while it is partitioned"),
                        "no commit (cut off from its peers)",
                        "acknowledged",
                    ));
                }
                self.model.maybe("skew/partition-probe", Some(&value));
                let left = Duration::from_millis(*millis).saturating_sub(started.elapsed());
                self.hold_fault(left.as_millis() as u64).await;
                Ok(format!("{name} cut off for {millis} ms (a write through it could not commit), then repaired"))
            }
            Op::DropLink { from, to, millis } => {
                let (a, b) = (self.index(from).await?, self.index(to).await?);
                self.cluster()?.drop_link(a, b)?;
                self.hold_fault(*millis).await;
                Ok(format!(
                    "{} → {} dropped for {millis} ms, then repaired",
                    self.name(a),
                    self.name(b)
                ))
            }
            Op::Slow {
                member,
                delay_ms,
                millis,
            } => {
                let i = self.index(member).await?;
                self.cluster()?.slow(i, Duration::from_millis(*delay_ms))?;
                self.hold_fault(*millis).await;
                Ok(format!(
                    "{} delayed by {delay_ms} ms for {millis} ms, then repaired",
                    self.name(i)
                ))
            }
            Op::Compact => {
                let i = self.via(&None).await?;
                let m = self.cluster()?.member(i);
                let current = m.status().await?.revision;
                // Well behind the present, so the oracle's HashKV revision stays above it; and
                // past the last compaction, which etcd would refuse again.
                let to = (current - 10).max(1);
                if to <= self.compacted {
                    return Ok(format!(
                        "nothing to compact (current {current}, compacted {})",
                        self.compacted
                    ));
                }
                m.rpc("compact", |mut c| async move { c.compact(to, None).await })
                    .await?;
                self.compacted = to;
                Ok(format!("compacted to revision {to} (current {current})"))
            }
            Op::Defrag { member } => {
                let i = self.index(member).await?;
                let m = self.cluster()?.member(i);
                m.rpc("defragment", |mut c| async move { c.defragment().await })
                    .await?;
                Ok(format!("{} defragmented", m.name))
            }
            Op::CorruptValue { member } => self.corrupt_value(member).await,
            Op::ExpectClusterVersion(v) => {
                if self.model.cluster_version != Some(*v) {
                    let model = self
                        .model
                        .cluster_version
                        .map_or("undecided".into(), |m| m.to_string());
                    return Err(StepError::Harness(format!(
                        "the scenario expects cluster version {v}, the model predicts {model}"
                    )));
                }
                Ok(format!("model agrees: {v}"))
            }
        }
    }

    /// Certificate rotation (seed 004): server and peer certs live, the CA with a restart of
    /// every member. Live rotations are checked by the SAN the members now serve; a CA rotation
    /// by the old CA no longer being accepted.
    async fn rotate(&mut self, kind: CertKind) -> Result<String, StepError> {
        let leaf = match kind {
            CertKind::Server => Leaf::Server,
            CertKind::Peer => Leaf::Peer,
            CertKind::Ca => {
                let old = self
                    .cluster()?
                    .client_tls()
                    .ok_or_else(|| StepError::Harness("the cluster does not run TLS".into()))?;
                let running: Vec<String> =
                    self.model.running().iter().map(|s| s.to_string()).collect();
                self.cluster_mut()?.rotate_ca().await.map_err(|e| match e {
                    e @ ClusterError::MemberExited { .. } => disagree(
                        "restart with the new CA",
                        "every member starts",
                        e.to_string(),
                    ),
                    e => StepError::from(e),
                })?;
                for n in &running {
                    self.model.stop(n);
                    let binary = self.model.members[n].binary.clone();
                    self.model
                        .start(n, &binary, &[])
                        .map_err(|r| StepError::Harness(r.to_string()))?;
                }
                let c = self.cluster()?;
                let i = c
                    .live()
                    .first()
                    .copied()
                    .ok_or_else(|| StepError::Harness("no live member".into()))?;
                let url = format!("{}/version", c.member(i).client_url);
                return match http_client(Some(&old)).get(&url).send().await {
                    Ok(r) => Err(disagree(
                        "a client trusting only the old CA",
                        "refused (TLS)",
                        format!("HTTP {}", r.status()),
                    )),
                    Err(e) => {
                        let why = error_chain(&e);
                        if why.contains("certificate")
                            || why.contains("UnknownIssuer")
                            || why.contains("handshake")
                        {
                            Ok(format!("every member restarted on the new CA; the old CA is refused at {url}"))
                        } else {
                            Err(disagree(
                                "a client trusting only the old CA",
                                "a TLS certificate error",
                                why,
                            ))
                        }
                    }
                };
            }
        };
        let marker = self
            .cluster_mut()?
            .rotate_live(leaf)
            .await
            .map_err(|e| match e {
                e @ ClusterError::Timeout { .. } => disagree(
                    format!("live {kind:?} certificate reload"),
                    "the new certificate served (reloaded per connection since 3.2)",
                    e.to_string(),
                ),
                e => StepError::from(e),
            })?;
        Ok(format!(
            "every live member serves the new {kind:?} certificate ({marker})"
        ))
    }

    /// Keeps a network fault in place for its duration (the fault is the point of waiting; any
    /// traffic running meanwhile meets it), then repairs every link.
    async fn hold_fault(&self, millis: u64) {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        if let Some(c) = self.cluster.as_ref() {
            c.repair();
        }
    }

    /// Fault injection for testing the checks themselves: a marker value written and replicated,
    /// then its bytes changed in one stopped member's bbolt file (same length, so the file stays
    /// well-formed; bbolt keeps no page checksums), and the member started again.
    async fn corrupt_value(&mut self, member: &Target) -> Result<String, StepError> {
        let i = self.index(member).await?;
        let name = self.name(i);
        let via = self.via(&None).await?;
        let value = format!("corruption-target-{:08x}", rand::random::<u32>());
        self.write(via, "skew/corruption-target", Some(&value))
            .await?;
        {
            let m = self.cluster()?.member(i);
            let v = &value;
            poll(
                &format!("{name} to apply the marker"),
                START_TIMEOUT,
                Duration::from_millis(50),
                || async move {
                    match m.get("skew/corruption-target").await {
                        Ok(Some(got)) if &got == v => Ok(()),
                        other => Err(Probe::NotYet(format!("{other:?}"))),
                    }
                },
            )
            .await?;
        }
        self.cluster()?.stop_member(i).await;
        self.model.stop(&name);
        let db = self.cluster()?.member(i).data_dir.join("member/snap/db");
        let mut bytes =
            std::fs::read(&db).map_err(|e| StepError::Harness(format!("{}: {e}", db.display())))?;
        let needle = value.as_bytes();
        // Same length, different bytes: the value upper-cased.
        let replacement = value.to_uppercase();
        let mut copies = 0;
        let mut at = 0;
        while let Some(p) = bytes[at..].windows(needle.len()).position(|w| w == needle) {
            let start = at + p;
            bytes[start..start + needle.len()].copy_from_slice(replacement.as_bytes());
            copies += 1;
            at = start + needle.len();
        }
        if copies == 0 {
            return Err(StepError::Harness(format!(
                "the marker value is not in {}",
                db.display()
            )));
        }
        std::fs::write(&db, bytes)
            .map_err(|e| StepError::Harness(format!("{}: {e}", db.display())))?;
        let started = self.start(i, None, Vec::new(), false).await?;
        Ok(format!(
            "changed {copies} copies of a value's bytes in {name}'s bbolt file; {started}"
        ))
    }

    /// A put as a named user: the model predicts whether auth lets it through.
    async fn put_as(&mut self, user: &str, key: &str, value: &str) -> Result<String, StepError> {
        let i = self.via(&None).await?;
        let m = self.cluster()?.member(i);
        let password = if user == ROOT.0 { ROOT.1 } else { USER.1 };
        let creds = self.model.auth.then_some((user, password));
        let (k, v) = (key.to_string(), value.to_string());
        let client = m.client_as(creds).await;
        let result = match client {
            Ok(mut c) => match tokio::time::timeout(REQUEST_TIMEOUT, c.put(k, v, None)).await {
                Ok(r) => r.map(|_| ()).map_err(|e| e.to_string()),
                Err(_) => Err("timed out".to_string()),
            },
            Err(e) => Err(e.to_string()),
        };
        let allowed = self.model.may_write(user, key, USER_PREFIX);
        let what = format!("put {key:?} as {user}");
        match (allowed, result) {
            (true, Ok(())) => {
                self.model.ack(key, Some(value));
                Ok("acknowledged".into())
            }
            (false, Err(e)) if e.contains("permission denied") => {
                Ok(format!("denied as predicted: {e}"))
            }
            (true, Err(e)) => Err(disagree(what, "allowed", e)),
            (false, Err(e)) => Err(disagree(what, "permission denied", e)),
            (false, Ok(())) => Err(disagree(what, "permission denied", "acknowledged")),
        }
    }

    /// A put or delete: acknowledged when the model has quorum, "maybe applied" otherwise (and
    /// then etcd must not acknowledge it).
    async fn write(
        &mut self,
        i: usize,
        key: &str,
        value: Option<&str>,
    ) -> Result<String, StepError> {
        let m = self.cluster()?.member(i);
        let name = m.name.clone();
        let result = match value {
            Some(v) => m.put(key, v).await.map(|_| ()),
            None => {
                let k = key.to_string();
                m.rpc("delete", |mut c| async move { c.delete(k, None).await })
                    .await
                    .map(|_| ())
            }
        };
        let what = format!("write {key:?} via {name}");
        match (self.model.has_quorum(), result) {
            (true, Ok(())) => {
                self.model.ack(key, value);
                Ok("acknowledged".into())
            }
            (true, Err(e)) => Err(disagree(what, "acknowledged (quorum is up)", e.to_string())),
            (false, Err(e)) => {
                self.model.maybe(key, value);
                Ok(format!(
                    "failed as predicted without quorum (maybe applied): {e}"
                ))
            }
            (false, Ok(())) => Err(disagree(what, "failure (no quorum)", "acknowledged")),
        }
    }

    /// Starts member `i` (optionally with another release) and checks the model's prediction:
    /// healthy, or refused with etcd's own error line.
    async fn start(
        &mut self,
        i: usize,
        release: Option<Release>,
        flags: Vec<String>,
        joining: bool,
    ) -> Result<String, StepError> {
        let name = self.name(i);
        let c = self.cluster_mut()?;
        if let Some(r) = &release {
            c.member_mut(i).release = r.clone();
        }
        c.member_mut(i).extra_flags = flags.clone();
        let binary = c.member(i).release.version.clone();
        // The prediction comes first; the model moves only once the process was spawned.
        let predicted = self.model.predict_start(&name, &binary, &flags);
        let c = self.cluster_mut()?;
        if joining {
            c.start_joining(i)?;
        } else {
            c.restart_member(i, None)?;
        }
        let applied = self.model.start(&name, &binary, &flags);
        debug_assert_eq!(applied, predicted);
        match predicted {
            Ok(()) => {
                self.wait_started(i).await?;
                Ok(format!("{name} runs {binary}"))
            }
            Err(refusal) => self.expect_refused(i, &refusal).await,
        }
    }

    /// Waits until member `i` is healthy; its exit is a disagreement with the model.
    /// Without a quorum no member can be healthy (`/health` is a quorum read), and a restarted
    /// member does not even serve clients until it has published itself through raft: then
    /// "started" means it answers `/version`, or has stayed up for two seconds.
    async fn wait_started(&self, i: usize) -> Result<(), StepError> {
        let m = self.cluster()?.member(i);
        let quorum = self.model.has_quorum();
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
                if !quorum {
                    if since.elapsed() > Duration::from_secs(2) {
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
            Err(e) => Err(StepError::Harness(e.to_string())),
        }
    }

    /// Waits for a refused member to exit and finds etcd's refusal line in its log.
    async fn expect_refused(&mut self, i: usize, refusal: &Refusal) -> Result<String, StepError> {
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
            Some(line) => Ok(format!("{name} refused as predicted: {}", line.trim())),
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

    async fn member_add(
        &mut self,
        name: &str,
        release: &str,
        via: &Option<Target>,
        no_start: bool,
    ) -> Result<String, StepError> {
        let r = self.resolve_release(release)?;
        let via = self.via(via).await?;
        let via_name = self.name(via);
        let c = self.cluster_mut()?;
        let i = c.new_member(name, r.clone())?;
        let name = name.to_string();
        let predicted = self.model.member_add(&via_name, &name, &r.version);
        let result =
            retry_while_links_are_young!(predicted.is_ok(), self.cluster_mut()?.member_add(via, i));
        match (predicted, result) {
            (Ok(()), Ok(id)) => {
                if no_start {
                    return Ok(format!("{name} added as {id:x}, not started"));
                }
                let s = self.start(i, None, Vec::new(), true).await?;
                Ok(format!("{name} added as {id:x}; {s}"))
            }
            (Err(why), Err(e)) if e.to_string().contains(why) => {
                self.cluster_mut()?.forget_member(i);
                Ok(format!("member add refused as predicted: {e}"))
            }
            (Err(why), Err(e)) => {
                self.cluster_mut()?.forget_member(i);
                Err(disagree(
                    format!("member add via {via_name}"),
                    format!("refused: {why}"),
                    e.to_string(),
                ))
            }
            (Err(why), Ok(id)) => Err(disagree(
                format!("member add via {via_name}"),
                format!("refused: {why}"),
                format!("accepted as {id:x}"),
            )),
            (Ok(()), Err(e)) => {
                self.cluster_mut()?.forget_member(i);
                self.model.member_remove(&name);
                Err(disagree(
                    format!("member add via {via_name}"),
                    "accepted",
                    e.to_string(),
                ))
            }
        }
    }

    /// The oracle: waits until etcd agrees with the model. Returns a summary of versions.
    pub async fn check(&mut self) -> Result<String, StepError> {
        let Some(c) = self.cluster.as_ref() else {
            return Ok(String::new());
        };
        match oracle::check(
            c,
            &self.model,
            self.traffic_prefix.as_deref(),
            &mut self.last_revisions,
            AGREEMENT_TIMEOUT,
        )
        .await
        {
            Ok(obs) => Ok(oracle::summary(&obs)),
            Err(m) => Err(StepError::Disagree(m)),
        }
    }
}
