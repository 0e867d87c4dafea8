//! The model of a cluster that the harness checks etcd against: which binary each member runs,
//! which run, the cluster version, auth, and what data was acknowledged. Values in, predictions
//! out: no processes, no sockets, no clock.

use std::collections::{BTreeMap, BTreeSet};

use super::refusal::EtcdRefusal;
use super::rules;
use crate::release::{MinorVersion, Version};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberModel {
    pub binary: Version,
    pub running: bool,
    /// Has it ever run (has a data dir)? A member added but never started has not.
    pub started_once: bool,
    /// The data as of its last stop: what its backend file holds while it is down.
    pub data_at_stop: Option<BTreeMap<String, KeyModel>>,
    /// Raft member id, once etcd reported it (bootstrap, `member add`).
    pub id: Option<u64>,
    /// The peer URL other members dial (what `member list` must show).
    pub peer_url: String,
    /// A learner: replicates but does not vote, so it counts for no quorum (3.4+).
    pub learner: bool,
    /// Extra flags of its last start.
    pub flags: Vec<String>,
}

impl MemberModel {
    fn new(binary: Version, running: bool) -> MemberModel {
        MemberModel {
            binary,
            running,
            started_once: running,
            data_at_stop: None,
            id: None,
            peer_url: String::new(),
            learner: false,
            flags: Vec::new(),
        }
    }
}

/// What the model says the values of one key may be: the last acknowledged write, plus writes
/// whose outcome is unknown (timed out: "maybe applied") issued after it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyModel {
    /// `None`: acknowledged as deleted, or never written.
    pub acked: Option<String>,
    pub maybe: BTreeSet<Option<String>>,
}

impl KeyModel {
    pub fn allows(&self, observed: Option<&str>) -> bool {
        self.acked.as_deref() == observed || self.maybe.contains(&observed.map(str::to_string))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    pub members: BTreeMap<String, MemberModel>,
    pub cluster_version: Option<MinorVersion>,
    pub auth: bool,
    pub data: BTreeMap<String, KeyModel>,
    pub snapshots: BTreeMap<String, SnapshotModel>,
}

/// What a snapshot holds: the keys, and whether auth was on (the auth store is in the
/// backend, so a restore brings back the auth state of its snapshot).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotModel {
    pub data: BTreeMap<String, KeyModel>,
    pub auth: bool,
}

/// The model's prediction for starting a member.
pub type StartOutcome = Result<(), EtcdRefusal>;

impl Model {
    /// A freshly bootstrapped cluster: every member runs, the version is their lowest minor.
    pub fn bootstrap(members: impl IntoIterator<Item = (String, Version)>) -> Model {
        let members: BTreeMap<String, MemberModel> = members
            .into_iter()
            .map(|(n, binary)| (n, MemberModel::new(binary, true)))
            .collect();
        let cluster_version = rules::lowest_minor(members.values().map(|m| &m.binary));
        Model {
            members,
            cluster_version,
            ..Model::default()
        }
    }

    fn all_running(&self) -> bool {
        self.members.values().all(|m| m.running)
    }

    /// Re-derives the cluster version after a change of membership or of running members.
    fn renegotiate(&mut self) {
        let lowest = rules::lowest_minor(self.members.values().map(|m| &m.binary));
        self.cluster_version =
            rules::next_cluster_version(self.cluster_version, self.all_running(), lowest);
    }

    pub fn running(&self) -> Vec<&str> {
        self.members
            .iter()
            .filter(|(_, m)| m.running)
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// Voting members (learners excluded).
    pub fn voting(&self) -> impl Iterator<Item = (&String, &MemberModel)> {
        self.members.iter().filter(|(_, m)| !m.learner)
    }

    /// Quorum: more than half of the voting members run (learners do not vote).
    pub fn has_quorum(&self) -> bool {
        let voting = self.voting().count();
        let running = self.voting().filter(|(_, m)| m.running).count();
        running >= rules::quorum(voting)
    }

    pub fn learners(&self) -> usize {
        self.members.values().filter(|m| m.learner).count()
    }

    /// Records what etcd assigned a member: its id and the peer URL it advertises.
    pub fn identify(&mut self, name: &str, id: Option<u64>, peer_url: &str) {
        if let Some(m) = self.members.get_mut(name) {
            m.id = id;
            m.peer_url = peer_url.to_string();
        }
    }

    pub fn stop(&mut self, name: &str) {
        if let Some(m) = self.members.get_mut(name) {
            if m.running {
                m.data_at_stop = Some(self.data.clone());
            }
            m.running = false;
        }
    }

    /// SIGKILL: like a stop, but its backend file may lack the writes of the last batch (bbolt
    /// commits every 100 ms; the rest is only in the WAL), so what it holds is unknown.
    pub fn kill(&mut self, name: &str) {
        self.stop(name);
        if let Some(m) = self.members.get_mut(name) {
            m.data_at_stop = None;
        }
    }

    /// SIGCONT of a paused member: it never left, so no start rules apply.
    pub fn resume(&mut self, name: &str) {
        if let Some(m) = self.members.get_mut(name) {
            m.running = true;
        }
        self.renegotiate();
    }

    /// The backend file of a stopped member, as a snapshot named `name`.
    pub fn copy_backend(&mut self, member: &str, name: &str) -> Result<(), String> {
        let m = self
            .members
            .get(member)
            .ok_or_else(|| format!("no member {member}"))?;
        let data = m.data_at_stop.clone().ok_or_else(|| {
            format!("member {member} is running or was killed (its backend may lack the last writes): stop it gracefully first")
        })?;
        let auth = self.auth;
        self.snapshots
            .insert(name.into(), SnapshotModel { data, auth });
        Ok(())
    }

    /// Predicts a (re)start of `name` with `binary` and extra `flags`, changing nothing.
    pub fn predict_start(&self, name: &str, binary: &Version, flags: &[String]) -> StartOutcome {
        let m = self
            .members
            .get(name)
            .expect("start of a member the model knows");
        rules::may_start(binary, self.cluster_version, !m.started_once, flags)
    }

    /// Predicts and applies a (re)start of `name` with `binary` and extra `flags`.
    pub fn start(&mut self, name: &str, binary: &Version, flags: &[String]) -> StartOutcome {
        let m = self
            .members
            .get(name)
            .expect("start of a member the model knows");
        let outcome = rules::may_start(binary, self.cluster_version, !m.started_once, flags);
        let m = self.members.get_mut(name).unwrap();
        m.binary = binary.clone();
        m.flags = flags.to_vec();
        if outcome.is_ok() {
            m.running = true;
            m.started_once = true;
            self.renegotiate();
        }
        outcome
    }

    /// Predicts `member add` (as a learner if `learner`) received by `via`, changing nothing.
    pub fn predict_member_add(&self, via: &str, learner: bool) -> Result<(), EtcdRefusal> {
        let receiver = &self.members[via];
        let voting = self.voting().count();
        let connected = self.voting().filter(|(_, m)| m.running).count();
        let started = self.voting().filter(|(_, m)| m.started_once).count();
        rules::may_add_member(&rules::AddMember {
            receiver: &receiver.binary,
            voting,
            connected,
            started,
            learner,
            learners: self.learners(),
        })
    }

    /// Applies an accepted `member add`: the member is known, not yet started.
    pub fn member_add(
        &mut self,
        name: &str,
        binary: &Version,
        learner: bool,
        id: u64,
        peer_url: &str,
    ) {
        let mut m = MemberModel::new(binary.clone(), false);
        m.learner = learner;
        m.id = Some(id);
        m.peer_url = peer_url.to_string();
        self.members.insert(name.into(), m);
    }

    /// Predicts `member promote` of `name`: refused for a voting member; for a learner, accepted
    /// once it runs (etcd also wants it caught up with the leader, which takes time the model
    /// has no clock for: the operation retries while etcd says it is not yet in sync).
    pub fn predict_promote(&self, name: &str) -> Result<(), EtcdRefusal> {
        let m = self.members.get(name).ok_or(EtcdRefusal::MemberNotFound)?;
        if !m.learner {
            return Err(EtcdRefusal::MemberNotLearner);
        }
        if !m.running {
            return Err(EtcdRefusal::LearnerNotReady);
        }
        let voting = self.voting().count();
        let running = self.voting().filter(|(_, m)| m.running).count();
        rules::may_promote_member(voting, running)
    }

    pub fn promote(&mut self, name: &str) {
        if let Some(m) = self.members.get_mut(name) {
            m.learner = false;
        }
        self.renegotiate();
    }

    /// Predicts `member remove` of `name` (see [`rules::may_remove_member`]).
    pub fn predict_member_remove(&self, name: &str) -> Result<(), EtcdRefusal> {
        let Some(m) = self.members.get(name) else {
            return Err(EtcdRefusal::MemberNotFound);
        };
        if m.learner {
            // A learner is not in any quorum: removing it is always safe.
            return Ok(());
        }
        let voting = self.voting().count();
        let running = self.voting().filter(|(_, m)| m.running).count();
        rules::may_remove_member(voting, running, m.running)
    }

    pub fn member_remove(&mut self, name: &str) {
        self.members.remove(name);
        self.renegotiate();
    }

    /// An acknowledged write: earlier uncertain writes are settled by it.
    pub fn ack(&mut self, key: &str, value: Option<&str>) {
        let k = self.data.entry(key.into()).or_default();
        k.acked = value.map(str::to_string);
        k.maybe.clear();
    }

    /// A write whose outcome is unknown (timeout, lost quorum): it may or may not have happened.
    pub fn maybe(&mut self, key: &str, value: Option<&str>) {
        self.data
            .entry(key.into())
            .or_default()
            .maybe
            .insert(value.map(str::to_string));
    }

    /// Whether `user` may write `key`: everyone while auth is off; with auth on, root anywhere
    /// and the ordinary user only under its role's prefix (etcd's RBAC, `auth.rs` sets it up).
    pub fn may_write(&self, user: &str, key: &str, user_prefix: &str) -> bool {
        !self.auth || user == "root" || key.starts_with(user_prefix)
    }

    pub fn save_snapshot(&mut self, name: &str) {
        let snapshot = SnapshotModel {
            data: self.data.clone(),
            auth: self.auth,
        };
        self.snapshots.insert(name.into(), snapshot);
    }

    /// A disaster restore: every member restarted from the snapshot, as a new cluster.
    pub fn restore(&mut self, snapshot: &str) -> Result<(), String> {
        let saved = self
            .snapshots
            .get(snapshot)
            .ok_or_else(|| format!("no snapshot named {snapshot:?}"))?;
        self.data = saved.data.clone();
        self.auth = saved.auth;
        for m in self.members.values_mut() {
            m.running = true;
            m.started_once = true;
        }
        self.renegotiate();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    fn three(r: &str) -> Model {
        Model::bootstrap((1..=3).map(|i| (format!("m{i}"), v(r))))
    }

    #[test]
    fn rolling_upgrade_raises_only_when_all_run_the_new_minor() {
        let mut m = three("3.4.23");
        for (i, name) in ["m1", "m2", "m3"].iter().enumerate() {
            m.stop(name);
            m.start(name, &v("3.5.16"), &[]).unwrap();
            let want = if i < 2 { "3.4" } else { "3.5" };
            assert_eq!(
                m.cluster_version,
                Some(want.parse().unwrap()),
                "after {name}"
            );
        }
        // Now rollback is refused.
        m.stop("m1");
        assert!(m.start("m1", &v("3.4.23"), &[]).is_err());
        assert!(!m.members["m1"].running);
        // The 3.5 binary starts again.
        m.start("m1", &v("3.5.16"), &[]).unwrap();
    }

    #[test]
    fn partial_upgrade_can_roll_back() {
        let mut m = three("3.4.23");
        m.stop("m1");
        m.start("m1", &v("3.5.16"), &[]).unwrap();
        m.stop("m1");
        assert!(m.start("m1", &v("3.4.23"), &[]).is_ok());
        assert_eq!(m.cluster_version, Some("3.4".parse().unwrap()));
    }

    #[test]
    fn no_raise_while_a_member_is_down() {
        let mut m = three("3.4.23");
        m.stop("m3");
        m.stop("m1");
        m.start("m1", &v("3.5.16"), &[]).unwrap();
        m.stop("m2");
        m.start("m2", &v("3.5.16"), &[]).unwrap();
        assert_eq!(m.cluster_version, Some("3.4".parse().unwrap()));
    }

    #[test]
    fn maybe_writes_are_allowed_until_settled() {
        let mut m = three("3.5.16");
        m.ack("k", Some("1"));
        m.maybe("k", Some("2"));
        assert!(m.data["k"].allows(Some("1")) && m.data["k"].allows(Some("2")));
        assert!(!m.data["k"].allows(None));
        m.ack("k", Some("3"));
        assert!(!m.data["k"].allows(Some("2")));
    }

    #[test]
    fn learners_count_for_no_quorum_and_promote_when_running() {
        let mut m = three("3.5.16");
        assert!(m.predict_member_add("m1", true).is_ok());
        m.member_add("m4", &v("3.5.16"), true, 4, "http://p4");
        assert_eq!(
            m.predict_member_add("m1", true),
            Err(EtcdRefusal::TooManyLearners)
        );
        assert_eq!(
            m.predict_promote("m4"),
            Err(EtcdRefusal::LearnerNotReady),
            "not started"
        );
        assert_eq!(m.predict_promote("m1"), Err(EtcdRefusal::MemberNotLearner));
        m.start("m4", &v("3.5.16"), &[]).unwrap();
        m.stop("m1");
        m.stop("m2");
        assert!(!m.has_quorum(), "a running learner does not make a quorum");
        assert!(
            m.predict_member_remove("m4").is_ok(),
            "removing a learner is always safe"
        );
        m.start("m1", &v("3.5.16"), &[]).unwrap();
        assert!(m.predict_promote("m4").is_ok());
        m.promote("m4");
        assert_eq!(m.voting().count(), 4);
    }

    #[test]
    fn one_member_cluster_takes_a_second_member() {
        let mut m = Model::bootstrap([("m1".to_string(), v("3.5.30"))]);
        assert!(m.predict_member_add("m1", false).is_ok());
        m.member_add("m2", &v("3.5.30"), false, 2, "http://p2");
        // m2 added but never started: a third voting member would need two started.
        assert_eq!(
            m.predict_member_add("m1", false),
            Err(EtcdRefusal::NotEnoughStartedMembers)
        );
    }

    #[test]
    fn a_restore_brings_back_the_auth_state_of_its_snapshot() {
        let mut m = three("3.5.16");
        m.save_snapshot("before");
        m.auth = true;
        m.save_snapshot("with-auth");
        m.restore("before").unwrap();
        assert!(!m.auth, "auth was off when `before` was taken");
        m.restore("with-auth").unwrap();
        assert!(m.auth);
    }
}
