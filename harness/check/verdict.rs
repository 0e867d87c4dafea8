//! Checks: the model's predictions against an observation. Pure; each mismatch prints both
//! sides so a failing run says what the model expected and what etcd did.

use std::collections::BTreeMap;
use std::fmt;

use super::observation::Observation;
use crate::model::Model;

/// One disagreement between the model and etcd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub what: String,
    pub model: String,
    pub etcd: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: model expects {}, etcd shows {}",
            self.what, self.model, self.etcd
        )
    }
}

fn mismatch(
    what: impl Into<String>,
    model: impl fmt::Display,
    etcd: impl fmt::Display,
) -> Mismatch {
    Mismatch {
        what: what.into(),
        model: model.to_string(),
        etcd: etcd.to_string(),
    }
}

/// Per member `/version`: `etcdserver` is its binary, `etcdcluster` the negotiated version; the
/// members that run are exactly the ones the model runs.
pub fn versions(model: &Model, obs: &Observation) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for (name, m) in &model.members {
        match (m.running, obs.members.get(name)) {
            (true, None) => out.push(mismatch(
                format!("{name} running"),
                "running",
                "not running",
            )),
            (false, Some(_)) => out.push(mismatch(
                format!("{name} running"),
                "not running",
                "running",
            )),
            // Without a quorum a restarted member serves no client request, not even /version,
            // until it has published itself through raft: silence is not a disagreement then.
            (true, Some(o)) if o.server.is_none() && !model.has_quorum() => {}
            (true, Some(o)) => {
                let server = o
                    .server
                    .as_ref()
                    .map_or("no answer".to_string(), |v| v.to_string());
                if o.server.as_ref() != Some(&m.binary) {
                    out.push(mismatch(format!("{name} etcdserver"), &m.binary, server));
                }
                if o.cluster != model.cluster_version {
                    let want = model
                        .cluster_version
                        .map_or("undecided".into(), |v| v.to_string());
                    out.push(mismatch(
                        format!("{name} etcdcluster"),
                        want,
                        format!("{:?}", o.raw_cluster),
                    ));
                }
            }
            (false, None) => {}
        }
    }
    for name in obs
        .members
        .keys()
        .filter(|n| !model.members.contains_key(*n))
    {
        out.push(mismatch(
            format!("{name} running"),
            "not a member",
            "running",
        ));
    }
    out
}

/// Every key's value, read through every running member, is one the model allows.
pub fn data(model: &Model, obs: &Observation) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for (name, o) in &obs.members {
        for (key, k) in &model.data {
            let seen = o.values.get(key).cloned().flatten();
            if !o.values.contains_key(key) {
                out.push(mismatch(
                    format!("{name} read of {key:?}"),
                    show(k.acked.as_deref()),
                    "no answer",
                ));
            } else if !k.allows(seen.as_deref()) {
                let mut allowed: Vec<String> = vec![show(k.acked.as_deref())];
                allowed.extend(k.maybe.iter().map(|v| show(v.as_deref())));
                out.push(mismatch(
                    format!("{name} value of {key:?}"),
                    allowed.join(" or "),
                    show(seen.as_deref()),
                ));
            }
        }
        for key in &o.unknown_keys {
            out.push(mismatch(
                format!("{name} key {key:?}"),
                "<absent> (never written, or lost to a restore)",
                "present",
            ));
        }
    }
    out
}

fn show(v: Option<&str>) -> String {
    v.map_or("<absent>".into(), |v| format!("{v:?}"))
}

/// How strictly [`convergence`] compares the members.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Convergence {
    /// Nothing writes: every running member reports the same HashKV at the same revision and
    /// the same compact revision (a compaction is a raft entry: a member that skipped or
    /// repeated one diverges even where the hash happens to agree).
    Settled,
    /// Traffic runs: a member that applied less of the log may not have applied the latest
    /// compaction yet (periodic compaction proposes the revision of a while ago, so its entry
    /// comes well after that revision's), and the hash covers the compact revision; so, as
    /// etcd's own corruption check does, hashes are compared among the members that report
    /// the same compact revision, a member already compacted past the revision (one ahead of
    /// the others) is not compared, and the compact revisions are left to the settled check.
    Moving,
}

/// The members' HashKV (and compact revisions) agree, as `how` says.
pub fn convergence(obs: &Observation, how: Convergence) -> Vec<Mismatch> {
    // Learners answer no HashKV; their keys are compared one by one by `data`.
    let voters = || obs.members.iter().filter(|(_, o)| !o.learner);
    let mut out = Vec::new();
    let hashes: BTreeMap<&String, Option<u32>> = voters().map(|(n, o)| (n, o.hash)).collect();
    let show = |members: &mut dyn Iterator<Item = &String>| -> String {
        members
            .map(|n| {
                let h = hashes[n].map_or("none".into(), |h| format!("{h:08x}"));
                format!("{n}={h}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Members grouped by the compact revision they reported (one group when settled).
    let mut groups: BTreeMap<Option<i64>, Vec<&String>> = BTreeMap::new();
    for (n, o) in voters() {
        let key = match how {
            Convergence::Settled => None,
            Convergence::Moving => o.compact_revision,
        };
        groups.entry(key).or_default().push(n);
    }
    // Under traffic, a member compacted past the revision cannot hash it: not comparable there
    // (the settled check at the end of the case compares it).
    let comparable = |n: &String| {
        let o = &obs.members[n];
        how == Convergence::Settled
            || o.hash.is_some()
            || o.compact_revision.is_none_or(|c| c < obs.hash_revision)
    };
    let unanswered = hashes.iter().any(|(n, h)| h.is_none() && comparable(n));
    let split = groups.values().any(|g| {
        let distinct: std::collections::BTreeSet<Option<u32>> =
            g.iter().map(|n| hashes[*n]).collect();
        distinct.len() > 1
    });
    if unanswered || split {
        out.push(mismatch(
            format!("HashKV at revision {}", obs.hash_revision),
            match how {
                Convergence::Settled => "one hash on every member",
                Convergence::Moving => "one hash on every member of one compact revision",
            },
            show(&mut hashes.keys().copied()),
        ));
    }
    if how == Convergence::Settled {
        let compacted: BTreeMap<&String, i64> = voters()
            .filter_map(|(n, o)| Some((n, o.compact_revision?)))
            .collect();
        let distinct: std::collections::BTreeSet<i64> = compacted.values().copied().collect();
        if distinct.len() > 1 {
            let seen: Vec<String> = compacted.iter().map(|(n, r)| format!("{n}={r}")).collect();
            out.push(mismatch(
                format!("compact revision at revision {}", obs.hash_revision),
                "one compact revision on every member",
                seen.join(" "),
            ));
        }
    }
    out
}

/// No member's revision goes backwards between observations (`last` is updated).
pub fn revisions(last: &mut BTreeMap<String, i64>, obs: &Observation) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for (name, o) in &obs.members {
        if o.revision == 0 {
            continue;
        }
        let prev = last.entry(name.clone()).or_insert(0);
        if o.revision < *prev {
            out.push(mismatch(
                format!("{name} revision"),
                format!(">= {prev}"),
                o.revision,
            ));
        }
        *prev = (*prev).max(o.revision);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::observation::MemberObservation;

    fn observe(model: &Model, cluster: &str) -> Observation {
        let members = model
            .members
            .iter()
            .filter(|(_, m)| m.running)
            .map(|(n, m)| {
                let o = MemberObservation {
                    server: Some(m.binary.clone()),
                    cluster: Some(cluster.parse().unwrap()),
                    raw_cluster: format!("{cluster}.0"),
                    hash: Some(7),
                    compact_revision: Some(3),
                    revision: 5,
                    values: model
                        .data
                        .iter()
                        .map(|(k, v)| (k.clone(), v.acked.clone()))
                        .collect(),
                    errors: vec![],
                    unknown_keys: vec![],
                    learner: false,
                };
                (n.clone(), o)
            })
            .collect();
        Observation {
            members,
            hash_revision: 5,
        }
    }

    fn model() -> Model {
        let mut m = Model::bootstrap((1..=3).map(|i| (format!("m{i}"), "3.4.23".parse().unwrap())));
        m.ack("k", Some("v"));
        m
    }

    #[test]
    fn agreeing_observation_passes() {
        let m = model();
        let o = observe(&m, "3.4");
        assert!(
            versions(&m, &o).is_empty()
                && data(&m, &o).is_empty()
                && convergence(&o, Convergence::Settled).is_empty()
        );
    }

    #[test]
    fn a_wrong_expectation_fails_with_both_sides_printed() {
        let mut m = model();
        // Deliberately wrong: the model claims 3.5 while etcd (observed) says 3.4.
        m.cluster_version = Some("3.5".parse().unwrap());
        let o = observe(&model(), "3.4");
        let diff: Vec<String> = versions(&m, &o).iter().map(|x| x.to_string()).collect();
        assert_eq!(diff.len(), 3);
        assert_eq!(
            diff[0],
            "m1 etcdcluster: model expects 3.5, etcd shows \"3.4.0\""
        );
    }

    #[test]
    fn without_quorum_a_silent_member_is_no_disagreement() {
        let mut m = model();
        m.stop("m2");
        m.stop("m3");
        let mut o = observe(&m, "3.4");
        o.members.get_mut("m1").unwrap().server = None;
        assert!(versions(&m, &o).is_empty());
        // With quorum, the same silence is one.
        let m = model();
        let mut o = observe(&m, "3.4");
        o.members.get_mut("m1").unwrap().server = None;
        assert!(!versions(&m, &o).is_empty());
    }

    #[test]
    fn lost_and_diverged_data_is_caught() {
        let m = model();
        let mut o = observe(&m, "3.4");
        o.members
            .get_mut("m2")
            .unwrap()
            .values
            .insert("k".into(), None);
        o.members.get_mut("m3").unwrap().hash = Some(8);
        o.members
            .get_mut("m1")
            .unwrap()
            .unknown_keys
            .push("ghost".into());
        let d = data(&m, &o);
        assert_eq!(
            d[0].to_string(),
            "m1 key \"ghost\": model expects <absent> (never written, or lost to a restore), etcd shows present"
        );
        assert_eq!(
            d[1].to_string(),
            "m2 value of \"k\": model expects \"v\", etcd shows <absent>"
        );
        assert!(convergence(&o, Convergence::Settled)[0]
            .etcd
            .contains("m3=00000008"));
        o.members.get_mut("m3").unwrap().hash = Some(7);
        o.members.get_mut("m2").unwrap().compact_revision = Some(4);
        let c = convergence(&o, Convergence::Settled);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(
            c[0].to_string(),
            "compact revision at revision 5: model expects one compact revision on every member, etcd shows m1=3 m2=4 m3=3"
        );
        let mut last = BTreeMap::from([("m1".to_string(), 9)]);
        assert_eq!(revisions(&mut last, &o).len(), 1);
    }

    /// Under traffic, a member that has not applied the latest compaction yet reports an older
    /// compact revision and so another hash: compared only with its own kind; but two members
    /// of one compact revision with different hashes still diverge.
    #[test]
    fn moving_convergence_compares_hashes_within_a_compact_revision() {
        let m = model();
        let mut o = observe(&m, "3.4");
        let m2 = o.members.get_mut("m2").unwrap();
        (m2.compact_revision, m2.hash) = (Some(2), Some(9));
        assert_eq!(convergence(&o, Convergence::Moving), vec![]);
        assert_eq!(convergence(&o, Convergence::Settled).len(), 2);
        // A member compacted past the revision cannot hash it: not compared under traffic,
        // but a member that did not answer at all is a mismatch.
        let before = o.clone();
        let m3 = o.members.get_mut("m3").unwrap();
        (m3.compact_revision, m3.hash) = (Some(9), None);
        assert_eq!(convergence(&o, Convergence::Moving), vec![]);
        o.members.get_mut("m3").unwrap().compact_revision = None;
        assert_eq!(convergence(&o, Convergence::Moving).len(), 1);
        let mut o = before;
        o.members.get_mut("m3").unwrap().hash = Some(8);
        let c = convergence(&o, Convergence::Moving);
        assert_eq!(
            c[0].to_string(),
            "HashKV at revision 5: model expects one hash on every member of one compact revision, etcd shows m1=00000007 m2=00000009 m3=00000008"
        );
    }
}
