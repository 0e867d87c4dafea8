//! The oracle after every step: observe the live cluster, compare with the model, and poll until
//! they agree or a deadline passes (the leader raises the cluster version on its own schedule,
//! about every 5 s, so agreement is eventual). Only the observation touches the cluster; the
//! verdicts are the pure functions of [`crate::check`].

use std::collections::BTreeMap;
use std::time::Duration;

use etcd_client::GetOptions;
use tokio::time::Instant;

use crate::check::verdict::{self, Convergence};
use crate::check::{MemberObservation, Mismatch, Observation};
use crate::cluster::{Cluster, HashKv, Member};
use crate::model::{EtcdRefusal, Model};

/// How long data and HashKV may take to agree once versions do.
const DATA_TIMEOUT: Duration = Duration::from_secs(8);
/// The least time one observation gets, even past the deadline.
const OBSERVATION_FLOOR: Duration = Duration::from_secs(15);

/// Keys of the model that live in the v2 store carry this prefix.
pub const V2_PREFIX: &str = "v2:";

/// Reads what every live member says: `/version`, every model key, revision and HashKV.
pub async fn observe(
    cluster: &Cluster,
    model: &Model,
    traffic_prefix: Option<&str>,
) -> Observation {
    let mut obs = Observation::default();
    let quorum = model.has_quorum();
    for i in cluster.live() {
        let m = cluster.member(i);
        let o = observe_member(m, model, quorum, traffic_prefix).await;
        obs.members.insert(m.name.clone(), o);
    }
    if quorum {
        hash_voters(cluster, &mut obs).await;
    }
    obs
}

/// One live member: its versions and, with a quorum, every key it serves (a learner's
/// serializably: it cannot serve a linearizable read) against the model's.
async fn observe_member(
    m: &Member,
    model: &Model,
    quorum: bool,
    traffic_prefix: Option<&str>,
) -> MemberObservation {
    let learner = model.members.get(&m.name).is_some_and(|mm| mm.learner);
    let mut o = MemberObservation {
        learner,
        ..MemberObservation::default()
    };
    match m.version().await {
        Ok(v) => {
            o.server = Some(v.server);
            o.cluster = v.cluster;
            o.raw_cluster = v.raw_cluster;
        }
        Err(e) => o.errors.push(e.to_string()),
    }
    if !quorum {
        return o;
    }
    let all = m
        .rpc("range all keys", |mut c| async move {
            let opts = GetOptions::new().with_all_keys();
            let opts = if learner {
                opts.with_serializable()
            } else {
                opts
            };
            c.get("", Some(opts)).await
        })
        .await;
    let r = match all {
        Ok(r) => r,
        Err(e) => {
            o.errors.push(e.to_string());
            return o;
        }
    };
    o.revision = r.header().map(|h| h.revision()).unwrap_or_default();
    let kvs: BTreeMap<String, String> = r
        .kvs()
        .iter()
        .map(|kv| {
            (
                String::from_utf8_lossy(kv.key()).into_owned(),
                String::from_utf8_lossy(kv.value()).into_owned(),
            )
        })
        .collect();
    o.unknown_keys = kvs
        .keys()
        .filter(|k| !model.data.contains_key(*k))
        .filter(|k| traffic_prefix.is_none_or(|p| !k.starts_with(p)))
        .filter(|k| !k.starts_with(super::lease::LEASE_PREFIX))
        .cloned()
        .collect();
    for key in model.data.keys() {
        if let Some(v2) = key.strip_prefix(V2_PREFIX) {
            if let Ok(v) = m.v2_get(v2).await {
                o.values.insert(key.clone(), v);
            }
        } else {
            o.values.insert(key.clone(), kvs.get(key).cloned());
        }
    }
    o
}

/// HashKV of every live voter at the lowest revision any member served (learners are not
/// asked), with each member's compact revision, into `obs`.
async fn hash_voters(cluster: &Cluster, obs: &mut Observation) {
    obs.hash_revision = obs
        .members
        .values()
        .map(|o| o.revision)
        .filter(|r| *r > 0)
        .min()
        .unwrap_or(0);
    let voters: Vec<usize> = cluster
        .live()
        .into_iter()
        .filter(|&i| {
            let name = &cluster.member(i).name;
            obs.members.get(name).is_some_and(|o| !o.learner)
        })
        .collect();
    if obs.hash_revision == 0 {
        return;
    }
    let (revision, answers) = hash_round(cluster, &voters, obs.hash_revision).await;
    obs.hash_revision = revision;
    for (name, answer) in answers {
        let Some(o) = obs.members.get_mut(&name) else {
            continue;
        };
        match answer {
            Ok(h) => {
                o.hash = Some(h.hash);
                o.compact_revision = Some(h.compact_revision);
            }
            Err(HashRefusal::CompactedAt(c, why)) => {
                o.compact_revision = Some(c);
                o.errors.push(why);
            }
            Err(HashRefusal::Other(why)) => o.errors.push(why),
        }
    }
}

/// Rounds of HashKV on `members` close together, from `revision` on; returns the revision
/// of the last round and its answers. A compaction between the revisions' observation and the
/// hashes (periodic auto-compaction, or the traffic's own) refuses the revision, so the round
/// is taken again just above the highest compact revision a refusal showed; one that lands
/// between two members' answers gives them different compact revisions for a moment, so a
/// round in which every member answered and those differ is taken again. Up to three rounds:
/// what still differs then is the cluster's.
async fn hash_round(
    cluster: &Cluster,
    members: &[usize],
    mut revision: i64,
) -> (i64, Vec<(String, Result<HashKv, HashRefusal>)>) {
    let mut round = Vec::new();
    for attempt in 0..3 {
        round.clear();
        let mut compacted_above = None;
        for &i in members {
            let m = cluster.member(i);
            let answer = hash_at(m, revision).await;
            if let Err(HashRefusal::CompactedAt(c, _)) = &answer {
                compacted_above = compacted_above.max(Some(*c));
            }
            round.push((m.name.clone(), answer));
        }
        let last = attempt == 2;
        match compacted_above {
            Some(c) if !last && c >= revision => {
                revision = c + 1;
                continue;
            }
            Some(_) => break,
            None => {}
        }
        let compacted: std::collections::BTreeSet<Option<i64>> = round
            .iter()
            .map(|(_, h)| h.as_ref().ok().map(|h| h.compact_revision))
            .collect();
        if compacted.len() <= 1 || compacted.contains(&None) {
            break;
        }
    }
    (revision, round)
}

/// Why a member gave no hash at the revision asked.
enum HashRefusal {
    /// Refused as out of range, with the member's compact revision: compacted at or past the
    /// revision if that is at least it, else not there yet (a member behind).
    CompactedAt(i64, String),
    Other(String),
}

/// HashKV at `revision` on `m`. A refusal as compacted or future means the member compacted at or
/// above `revision` (3.3 and 3.4 refuse `rev <= compactRev` in `HashByRev`, 3.5 only below):
/// its hash at its current revision then tells its compact revision, and is the answer if
/// its current revision is still `revision` (an idle store compacted at exactly its
/// revision, under auto-compaction). A member that did not answer is not asked twice.
async fn hash_at(m: &Member, revision: i64) -> Result<HashKv, HashRefusal> {
    match m.hash_kv(revision).await {
        Ok(h) => Ok(h),
        Err(e)
            if matches!(
                e.refusal(),
                Some(EtcdRefusal::Compacted | EtcdRefusal::FutureRevision)
            ) =>
        {
            match m.hash_kv(0).await {
                Ok(h) if h.revision == revision => Ok(h),
                Ok(h) => Err(HashRefusal::CompactedAt(
                    h.compact_revision,
                    format!(
                        "{e}; compacted at {}, now at {}",
                        h.compact_revision, h.revision
                    ),
                )),
                Err(e) => Err(HashRefusal::Other(e.to_string())),
            }
        }
        Err(e) => Err(HashRefusal::Other(e.to_string())),
    }
}

/// All verdicts on one observation (data and convergence only while the model has quorum).
pub fn judge(model: &Model, obs: &Observation, how: Convergence) -> Vec<Mismatch> {
    let mut out = verdict::versions(model, obs);
    if model.has_quorum() {
        out.extend(verdict::data(model, obs));
        out.extend(verdict::convergence(obs, how));
    }
    out
}

/// Polls until the cluster agrees with the model, or `timeout` passes; then checks that no
/// revision went backwards. Returns the agreeing observation or the last mismatches.
pub async fn check(
    cluster: &Cluster,
    model: &Model,
    traffic_prefix: Option<&str>,
    how: Convergence,
    last_revisions: &mut BTreeMap<String, i64>,
    timeout: Duration,
) -> Result<Observation, Vec<Mismatch>> {
    let start = Instant::now();
    let mut deadline = start + timeout;
    let mut versions_agreed = false;
    let mut observations_since = 0;
    loop {
        // One observation is bounded too: a hung member must not stretch the deadline.
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(OBSERVATION_FLOOR);
        let obs = match tokio::time::timeout(left, observe(cluster, model, traffic_prefix)).await {
            Ok(o) => o,
            Err(_) => {
                let m = Mismatch {
                    what: "observation".into(),
                    model: "an answer".into(),
                    etcd: format!("none within {left:?}"),
                };
                return Err(vec![m]);
            }
        };
        let mismatches = judge(model, &obs, how);
        // Versions may take the leader's monitor interval to converge; once they agree, the
        // data has no such excuse: followers apply within moments, so its wait is short (but
        // always long enough for a second observation).
        if !versions_agreed && verdict::versions(model, &obs).is_empty() {
            versions_agreed = true;
            deadline = deadline.min(Instant::now() + DATA_TIMEOUT);
        }
        if versions_agreed {
            observations_since += 1;
        }
        if mismatches.is_empty() {
            let backwards = verdict::revisions(last_revisions, &obs);
            return if backwards.is_empty() {
                Ok(obs)
            } else {
                Err(backwards)
            };
        }
        if Instant::now() >= deadline && (!versions_agreed || observations_since >= 2) {
            let mut m = mismatches;
            for (name, o) in &obs.members {
                for e in &o.errors {
                    m.push(Mismatch {
                        what: format!("{name} observation"),
                        model: "an answer".into(),
                        etcd: e.clone(),
                    });
                }
            }
            return Err(m);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `m1=3.5.16/3.4 m2=…`: each member's binary and cluster version, for step reports.
pub fn summary(obs: &Observation) -> String {
    obs.members
        .iter()
        .map(|(n, o)| {
            let s = o.server.as_ref().map_or("?".into(), |v| v.to_string());
            let c = o.cluster.map_or("?".into(), |v| v.to_string());
            format!("{n}={s}/{c}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}
