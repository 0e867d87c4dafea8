//! Membership changes on a running cluster, as the maintenance notes (seed 004) do them:
//! `member add` then start the new member with `--initial-cluster-state existing`; `member
//! remove` then stop it; migrate a member's data dir to a new peer URL with `member update`.

use std::time::Duration;

use super::error::ClusterError;
use super::flags::InitialState;
use super::member::Member;
use super::running::Cluster;
use super::wait::{poll, Probe};
use crate::model::EtcdRefusal;
use crate::release::Release;

/// One entry of a member list, as etcd reports it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListedMember {
    pub id: u64,
    /// Empty for a member that was added but has not started yet.
    pub name: String,
    pub peer_urls: Vec<String>,
    pub learner: bool,
}

impl Cluster {
    /// Creates member `name` on fresh ports, not started and not yet in the cluster's
    /// membership. Returns its index.
    pub fn new_member(&mut self, name: &str, release: Release) -> Result<usize, ClusterError> {
        if self.index_of(name).is_some() {
            return Err(ClusterError::Invalid(format!(
                "member {name} already exists"
            )));
        }
        let (c, p) = (self.take_port()?, self.take_port()?);
        let dir = self.dir().to_path_buf();
        // A name reused after a removal gets a fresh data dir (its log goes on).
        let _ = std::fs::remove_dir_all(dir.join(format!("{name}.etcd")));
        let mut m = Member::new(name, release, c, p, &dir);
        m.credentials = self.credentials.clone();
        self.members.push(m);
        let i = self.members.len() - 1;
        self.secure(i)?;
        self.put_behind_proxy(i)?;
        Ok(i)
    }

    /// `member add` of member `new`'s peer URL, sent to member `via`. Records the new id.
    pub async fn member_add(&mut self, via: usize, new: usize) -> Result<u64, ClusterError> {
        self.member_add_as(via, new, false).await
    }

    /// `member add`, as a learner if `learner` (3.4+: `member add --learner`).
    pub async fn member_add_as(
        &mut self,
        via: usize,
        new: usize,
        learner: bool,
    ) -> Result<u64, ClusterError> {
        let url = self.members[new].peer_url.clone();
        let opts = learner.then(|| etcd_client::MemberAddOptions::new().with_is_learner());
        let resp = self.members[via]
            .rpc("member add", |mut c| async move {
                c.member_add([url.as_str()], opts).await
            })
            .await?;
        let id = resp
            .member()
            .map(|m| m.id())
            .ok_or_else(|| ClusterError::Request {
                member: self.members[via].name.clone(),
                op: "member add".into(),
                message: "the response names no member".into(),
            })?;
        self.set_member_id(new, id);
        Ok(id)
    }

    /// Starts a member that was added: `--initial-cluster` lists every member plus itself.
    pub fn start_joining(&mut self, i: usize) -> Result<(), ClusterError> {
        let initial = self.initial_cluster();
        let cfg = self.cfg.clone();
        self.members[i].start(&initial, InitialState::Existing, &cfg)
    }

    /// `member remove`, sent to `via`; then the removed member's process is stopped (etcd
    /// usually exits by itself on learning it was removed) and it leaves the cluster's list.
    pub async fn member_remove(&mut self, via: usize, i: usize) -> Result<Member, ClusterError> {
        let id = self.members[i].id.ok_or_else(|| {
            ClusterError::Invalid(format!("member {} has no known id", self.members[i].name))
        })?;
        self.members[via]
            .rpc(
                "member remove",
                |mut c| async move { c.member_remove(id).await },
            )
            .await?;
        let m = self.members.remove(i);
        m.stop(Duration::from_secs(10)).await;
        Ok(m)
    }

    /// `member promote` of learner `i`, sent to `via`.
    pub async fn member_promote(&mut self, via: usize, i: usize) -> Result<(), ClusterError> {
        let id = self.members[i].id.ok_or_else(|| {
            ClusterError::Invalid(format!("member {} has no known id", self.members[i].name))
        })?;
        self.members[via]
            .rpc("member promote", |mut c| async move {
                c.member_promote(id).await
            })
            .await
            .map(|_| ())
    }

    /// The member list as member `via` reports it.
    pub async fn member_list(&self, via: usize) -> Result<Vec<ListedMember>, ClusterError> {
        let list = self.members[via]
            .rpc("member list", |mut c| async move { c.member_list().await })
            .await?;
        Ok(list
            .members()
            .iter()
            .map(|m| ListedMember {
                id: m.id(),
                name: m.name().to_string(),
                peer_urls: m.peer_urls().to_vec(),
                learner: m.is_learner(),
            })
            .collect())
    }

    /// Moves member `i` to a new peer URL keeping its data (004 "migrate"): stop it, move its
    /// data dir (if `move_data`), `member update` the peer URL through `via`, start it again.
    /// Its member id stays the same.
    pub async fn member_migrate(&mut self, via: usize, i: usize) -> Result<(), ClusterError> {
        self.member_update(via, i, true).await
    }

    /// `member update` of member `i` to a fresh peer URL through `via`, then its restart on
    /// that URL; with `move_data` its data dir moves too (a migration to another machine: the
    /// member is stopped first, as seed 004 does it). Without, the update goes first, while
    /// the member still serves on its old URL, so a cluster that needs it for its quorum (two
    /// members) can commit the change; its old proxy forwards until it stops. (Stopping first
    /// made the update of one of two members time out: an exploration of 3.4.23→3.5.16 found
    /// it.)
    pub async fn member_update(
        &mut self,
        via: usize,
        i: usize,
        move_data: bool,
    ) -> Result<(), ClusterError> {
        let id = self.members[i].id.ok_or_else(|| {
            ClusterError::Invalid(format!("member {} has no known id", self.members[i].name))
        })?;
        let name = self.members[i].name.clone();
        let old_proxy = self.proxies.as_mut().and_then(|p| p.remove(&name));
        if move_data {
            self.members[i].stop(Duration::from_secs(10)).await;
            let m = &mut self.members[i];
            let moved = m
                .data_dir
                .with_file_name(format!("{}-migrated.etcd", m.name));
            std::fs::rename(&m.data_dir, &moved)
                .map_err(|e| ClusterError::io(format!("move {}", m.data_dir.display()), e))?;
            m.data_dir = moved;
        }
        let new_peer = self.take_port()?;
        let m = &mut self.members[i];
        let scheme = m.peer_url.split("://").next().unwrap_or("http").to_string();
        m.peer_url = format!("{scheme}://127.0.0.1:{new_peer}");
        m.listen_peer_url = m.peer_url.clone();
        self.put_behind_proxy(i)?;
        let url = self.members[i].peer_url.clone();
        self.members[via]
            .rpc("member update", |mut c| async move {
                c.member_update(id, vec![url]).await
            })
            .await?;
        self.members[i].stop(Duration::from_secs(10)).await;
        drop(old_proxy);
        self.restart_member(i, None)
    }

    /// Moves leadership off member `i` if it leads (upgrade guides: "move leadership away
    /// before stopping a leader"). Returns the new leader's index: `i` itself when the transfer
    /// did not complete in time. A transfer is best effort: raft aborts it when the transferee
    /// does not win within an election timeout (a loaded machine, a short election timeout),
    /// and etcd's MoveLeader then waits out the request's deadline
    /// ([`EtcdRefusal::LeaderTransferTimedOut`], or our own deadline first). Found by
    /// `explore --releases 3.5.1,3.5.16` (20/200 ms heartbeat/election under load), which
    /// reported the timed-out move as a failure.
    pub async fn move_leader_away(&mut self, i: usize) -> Result<usize, ClusterError> {
        let leader = self.leader(Duration::from_secs(15)).await?;
        if leader != i {
            return Ok(leader);
        }
        // A voter: etcd refuses a learner as transferee ("bad leader transferee"; explore
        // --releases 3.5.16,3.5.30 drew learner-add, member-replace, move-leader).
        let learners: Vec<u64> = self
            .member_list(i)
            .await?
            .into_iter()
            .filter(|m| m.learner)
            .map(|m| m.id)
            .collect();
        let target = self
            .live()
            .into_iter()
            .find(|&j| j != i && self.members[j].id.is_some_and(|id| !learners.contains(&id)))
            .ok_or_else(|| ClusterError::Invalid("no other live voting member to lead".into()))?;
        let target_id = self.members[target].id.unwrap();
        let moved = self.members[i]
            .rpc("move-leader", |mut c| async move {
                c.move_leader(target_id).await
            })
            .await;
        match moved {
            Ok(_) => {}
            // Or leadership moved on its own between asking who leads and asking it to move.
            Err(e)
                if e.timed_out()
                    || matches!(
                        e.refusal(),
                        Some(EtcdRefusal::LeaderTransferTimedOut | EtcdRefusal::NotLeader)
                    ) =>
            {
                tracing::info!("leadership transfer to {target} did not complete: {e}");
                return self.leader_seen_by(i, Duration::from_secs(15)).await;
            }
            Err(e) => return Err(e),
        }
        let members = &self.members;
        poll(
            "leadership to move",
            Duration::from_secs(15),
            Duration::from_millis(50),
            || async move {
                let s = members[target].status().await.map_err(Probe::from)?;
                if s.leader == target_id {
                    Ok(())
                } else {
                    Err(Probe::NotYet(format!("leader {:x}", s.leader)))
                }
            },
        )
        .await?;
        Ok(target)
    }
}

impl Cluster {
    /// Drops a member that never joined (its `member add` was refused).
    pub fn forget_member(&mut self, i: usize) {
        let m = self.members.remove(i);
        m.kill();
    }
}

impl Cluster {
    /// The leader as member `i` sees it (a live member may be cut off and see none), once it
    /// names a known member.
    async fn leader_seen_by(&self, i: usize, timeout: Duration) -> Result<usize, ClusterError> {
        let members = &self.members;
        poll(
            "a leader seen by the member that was asked to move it",
            timeout,
            Duration::from_millis(50),
            || async move {
                let s = members[i].status().await.map_err(Probe::from)?;
                members
                    .iter()
                    .position(|m| s.leader != 0 && m.id == Some(s.leader))
                    .ok_or_else(|| Probe::NotYet(format!("leader {:x}", s.leader)))
            },
        )
        .await
    }
}
