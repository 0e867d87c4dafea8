//! What a step means in the state it meets: the operations it becomes, or none. Steps name
//! members by position and adapt (killing a member that is down does nothing), so any
//! subsequence of a failing case still runs and proptest can shrink it.
//!
//! Pure: it reads a [`View`] (each member's name, release and state, and the model), never the
//! live cluster, so every rule here is tested without one.

use super::config::CaseConfig;
use super::plan::Step;
use super::setup::CaseSetup;
use crate::model::{rules, Model};
use crate::ops::faults::Work;
use crate::ops::op::{Backup, Data, Fault, Hold, Lifecycle, Membership, Security};
use crate::ops::{Op, Target};
use crate::release::{facts, Version};

/// How long a network fault lasts before it is repaired.
const FAULT: Hold = Hold::For { millis: 1500 };

/// Kill-and-start cycles of a kill storm.
const STORM_KILLS: usize = 5;

/// Entries held off when a configuration makes "behind the retained log" out of reach (etcd's
/// default snapshot count, 100000): still a long fault, bounded in time.
const LONG_HOLD_ENTRIES: u64 = 3000;

/// At most this many entries are waited for to put a member behind the leader's log.
const MAX_BEHIND_ENTRIES: u64 = 20_000;

/// Entries a leader keeps behind a snapshot for slow followers without the catch-up flag.
const DEFAULT_CATCHUP_ENTRIES: u64 = 5000;

/// One member as translation needs it, in the cluster's order (positions index this list).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberView {
    pub name: String,
    /// The release it runs (or last ran), as the case names releases.
    pub release: String,
    /// What that release's `etcd` reports: start rules key on it.
    pub version: Version,
    /// Running, as the model knows it.
    pub running: bool,
    /// SIGSTOPped (the process runs, but serves nothing).
    pub paused: bool,
}

/// The state a step is translated in.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    pub members: &'a [MemberView],
    pub model: &'a Model,
    /// The case's configuration, and the etcd flags it rendered (added members get them too).
    pub config: &'a CaseConfig,
    pub flags: &'a [String],
}

/// What translation remembers from earlier steps of the case.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    /// Members added so far (replacements and learners): names the next one (`r1`, `r2`…).
    pub added: usize,
    /// A snapshot was saved (a disaster restore has something to restore).
    pub have_snapshot: bool,
}

fn named(n: &str) -> Target {
    Target::Named(n.to_string())
}

impl View<'_> {
    /// The member at position `i` (wrapping), if there are any.
    fn member(&self, i: u8) -> Option<&MemberView> {
        (!self.members.is_empty()).then(|| &self.members[i as usize % self.members.len()])
    }

    /// The name of the member at `i` if it runs.
    fn running(&self, i: u8) -> Option<&str> {
        self.member(i)
            .filter(|m| m.running)
            .map(|m| m.name.as_str())
    }

    fn quorum(&self) -> bool {
        self.model.has_quorum()
    }

    /// Voting members, as the model knows them.
    fn voters(&self) -> usize {
        self.model.members.values().filter(|m| !m.learner).count()
    }

    /// Would a voting member remain if member `i` were removed?
    fn voter_left(&self, i: u8) -> bool {
        self.voters() > usize::from(!self.learner(i))
    }

    fn all_running(&self) -> bool {
        self.model.members.values().all(|m| m.running)
    }

    /// Member `i` onto release `to`: an in-place upgrade while it runs (with a quorum to rejoin),
    /// a start on the new binary while it is down, nothing if it already runs `to`.
    fn swap(&self, i: u8, to: &str) -> Vec<Op> {
        match self.member(i) {
            Some(m) if m.release == to => vec![],
            Some(m) if m.running && self.quorum() => vec![Op::Lifecycle(Lifecycle::Upgrade {
                member: named(&m.name),
                release: to.into(),
                downgrade: false,
            })],
            Some(m) if !m.running => vec![Op::Lifecycle(Lifecycle::Start {
                member: named(&m.name),
                release: Some(to.into()),
                flags: None,
            })],
            _ => vec![],
        }
    }

    /// Starts a stopped member with its release, or with the newer one if the model predicts
    /// its own would be refused (a downgrade that could not happen).
    fn start(&self, setup: &CaseSetup, name: &str) -> Op {
        let refused = self
            .members
            .iter()
            .find(|m| m.name == name)
            .is_some_and(|m| {
                rules::may_start(&m.version, self.model.cluster_version, false, &[]).is_err()
            });
        Op::Lifecycle(Lifecycle::Start {
            member: named(name),
            release: refused.then(|| setup.newer.clone()),
            flags: None,
        })
    }

    /// `op` on member `i` if it runs, else nothing.
    fn on_running(&self, i: u8, op: fn(Target) -> Op) -> Vec<Op> {
        self.running(i).map(|n| op(named(n))).into_iter().collect()
    }

    /// Is the member at `i` a learner (the model says)?
    fn learner(&self, i: u8) -> bool {
        self.member(i)
            .and_then(|m| self.model.members.get(&m.name))
            .is_some_and(|m| m.learner)
    }

    /// Raft entries to hold a member off for so it returns behind the leader's retained log:
    /// the snapshot count plus the entries kept behind it, when the configuration puts that
    /// within reach (`None`: etcd's default snapshot count, 100000).
    fn behind_entries(&self) -> Option<u64> {
        let has_flag = |m: &MemberView| facts::has_snapshot_catchup_entries(&m.version);
        let catchup = match self.config.snapshot_catchup_entries {
            Some(n) if self.members.iter().all(has_flag) => n,
            _ => DEFAULT_CATCHUP_ENTRIES,
        };
        let s = self.config.snapshot_count?;
        Some(s + catchup + 100).filter(|&k| k <= MAX_BEHIND_ENTRIES)
    }

    /// `fault` on member `i`, held until it is behind the leader's retained log where the
    /// configuration makes that reachable. It then usually returns by snapshot, but not always:
    /// a leader skips raft log compaction while any snapshot is in flight ("skip compaction
    /// since there is an inflight snapshot", `etcdserver/server.go`), so right after sending one
    /// it may still hold the member's entries. `scenarios/e2e-snapshot-by-partition-*` checks
    /// the snapshot path deterministically.
    fn hold_behind(&self, i: u8, fault: fn(Target, Hold) -> Vec<Op>) -> Vec<Op> {
        let Some(name) = self.running(i) else {
            return vec![];
        };
        let count = self.behind_entries().unwrap_or(LONG_HOLD_ENTRIES);
        fault(named(name), Hold::Entries { count })
    }

    /// Kill and start member `i` again, `STORM_KILLS` times.
    fn kill_storm(&self, i: u8) -> Vec<Op> {
        let Some(name) = self.running(i) else {
            return vec![];
        };
        (0..STORM_KILLS)
            .flat_map(|_| {
                [
                    Op::Lifecycle(Lifecycle::Kill {
                        member: named(name),
                    }),
                    Op::Lifecycle(Lifecycle::Start {
                        member: named(name),
                        release: None,
                        flags: None,
                    }),
                ]
            })
            .collect()
    }

    /// A learner of member `i`'s release, when every member's release has learners and none is
    /// there yet (3.4 and 3.5 allow one).
    fn learner_add(&self, i: u8, memory: &mut Memory) -> Vec<Op> {
        let with_learners = self.members.iter().all(|m| facts::has_learners(&m.version));
        let has_learner = self.model.members.values().any(|m| m.learner);
        // Not under auth: a learner serves no Authenticate ("rpc not supported for learner"),
        // so the harness's clients, which authenticate where they connect, cannot observe it.
        match self.member(i) {
            Some(m) if with_learners && !has_learner && !self.model.auth && self.all_running() => {
                memory.added += 1;
                vec![
                    Op::Membership(Membership::Add {
                        name: format!("r{}", memory.added),
                        release: m.release.clone(),
                        via: None,
                        no_start: false,
                        learner: true,
                        flags: self.flags.to_vec(),
                    }),
                    Op::Membership(Membership::ExpectMembers),
                ]
            }
            _ => vec![],
        }
    }

    /// A restore restarts every member on its own binary: only when each would be allowed to.
    fn restorable(&self) -> bool {
        self.model.members.values().all(|m| {
            m.started_once
                && rules::may_start(&m.binary, self.model.cluster_version, false, &[]).is_ok()
        })
    }
}

/// The operations `step` means in `view` (empty: nothing to do).
pub fn translate(view: &View, setup: &CaseSetup, step: &Step, memory: &mut Memory) -> Vec<Op> {
    use Step::*;
    match step {
        Upgrade(_) | Downgrade(_) | RollingUpgrade => versions(view, setup, step),
        LearnerAdd(_) | LearnerPromote | MemberUpdate(_) | RemoveRestart(_) | MemberReplace(_) => {
            membership(view, step, memory)
        }
        MoveLeader | Partition(_) | PartitionLeader | DropLink(..) | Slow(_) | CutOffBehind(_) => {
            network(view, step)
        }
        SnapshotSave | DisasterRestore | Compact | Defrag(_) | CorruptValue(_)
        | KillDuringDefrag(_) | KillDuringCompact(_) => disk(view, step, memory),
        AuthToggle => security(view),
        _ => processes(view, setup, step),
    }
}

/// Upgrades and downgrades: each member swapped onto the other release of the pair.
fn versions(view: &View, setup: &CaseSetup, step: &Step) -> Vec<Op> {
    match step {
        Step::Upgrade(i) => view.swap(*i, &setup.newer),
        Step::Downgrade(i) => view.swap(*i, &setup.older),
        Step::RollingUpgrade => (0..view.members.len() as u8)
            .flat_map(|i| view.swap(i, &setup.newer))
            .collect(),
        _ => vec![],
    }
}

/// Kills, restarts, pauses and waits of member processes.
fn processes(view: &View, setup: &CaseSetup, step: &Step) -> Vec<Op> {
    let quorum = view.quorum();
    match step {
        Step::KillLeader if quorum => vec![Op::Lifecycle(Lifecycle::Kill {
            member: Target::Leader,
        })],
        Step::Kill(i) => view.on_running(*i, |member| Op::Lifecycle(Lifecycle::Kill { member })),
        Step::Restart(i) => match view.member(*i) {
            Some(m) if m.running => vec![
                Op::Lifecycle(Lifecycle::Stop {
                    member: named(&m.name),
                }),
                Op::Lifecycle(Lifecycle::Start {
                    member: named(&m.name),
                    release: None,
                    flags: None,
                }),
            ],
            Some(m) => vec![view.start(setup, &m.name)],
            None => vec![],
        },
        Step::Pause(i) => view
            .running(*i)
            .map(|n| pause(named(n), hold_ms((2 * view.config.election_ms()).max(1000))))
            .unwrap_or_default(),
        Step::PauseLeader if quorum && view.members.len() >= 3 => {
            pause(Target::Leader, hold_ms(4 * view.config.election_ms()))
        }
        Step::PauseBehind(i) if quorum && view.members.len() >= 3 => view.hold_behind(*i, pause),
        Step::KillStorm(i) if quorum => view.kill_storm(*i),
        Step::Wait => vec![wait_ms(1000)],
        Step::LongWait => vec![wait_ms(10_000)],
        _ => vec![],
    }
}

/// Leadership moves and faults on the peer network (through the proxies).
fn network(view: &View, step: &Step) -> Vec<Op> {
    let quorum = view.quorum();
    // A partition bites only where the member cut off is not a quorum on its own: a lone
    // voter with learners beside it still commits (explore --releases 3.5.16 --seed 7 drew
    // `learner-add, partition` on one member, and the write through it was acknowledged).
    let peers = view.voters() > 1;
    match step {
        Step::CutOffBehind(i) if quorum && view.voters() >= 3 => view
            .hold_behind(*i, |member, hold| {
                vec![Op::Fault(Fault::Partition { member, hold })]
            }),
        // With one member there is no one to hand leadership to, nor a peer to cut it off from.
        Step::MoveLeader if quorum && peers => vec![Op::Lifecycle(Lifecycle::MoveLeaderAway {
            member: Target::Leader,
        })],
        Step::Partition(i) if quorum && peers => view.on_running(*i, |member| {
            Op::Fault(Fault::Partition {
                member,
                hold: FAULT,
            })
        }),
        Step::PartitionLeader if quorum && peers => vec![Op::Fault(Fault::Partition {
            member: Target::Leader,
            hold: FAULT,
        })],
        Step::DropLink(a, b) if quorum => match (view.running(*a), view.running(*b)) {
            (Some(x), Some(y)) if x != y => vec![Op::Fault(Fault::DropLink {
                from: named(x),
                to: named(y),
                hold: FAULT,
            })],
            _ => vec![],
        },
        Step::Slow(i) if quorum => view.on_running(*i, |member| {
            Op::Fault(Fault::Slow {
                member,
                delay_ms: 100,
                hold: FAULT,
            })
        }),
        _ => vec![],
    }
}

/// Backups, restores, compaction and defragmentation, and kills inside them.
fn disk(view: &View, step: &Step, memory: &mut Memory) -> Vec<Op> {
    let quorum = view.quorum();
    match step {
        Step::KillDuringDefrag(i) if quorum => view.on_running(*i, |member| {
            Op::Fault(Fault::KillDuring {
                work: Work::Defrag,
                member,
            })
        }),
        Step::KillDuringCompact(i) if quorum => view.on_running(*i, |member| {
            Op::Fault(Fault::KillDuring {
                work: Work::Compact,
                member,
            })
        }),
        Step::SnapshotSave if quorum => vec![Op::Backup(Backup::SnapshotSave {
            name: "last".into(),
            from: Target::Leader,
        })],
        Step::DisasterRestore if memory.have_snapshot && view.restorable() => {
            disaster_restore(view)
        }
        Step::Compact if quorum => vec![Op::Data(Data::Compact)],
        Step::Defrag(i) if quorum => {
            view.on_running(*i, |member| Op::Data(Data::Defrag { member }))
        }
        Step::CorruptValue(i) if quorum && view.all_running() => {
            view.on_running(*i, |member| Op::Fault(Fault::CorruptValue { member }))
        }

        _ => vec![],
    }
}

/// Auth turned on if it is off, off if it is on: a change through raft, so only with a quorum;
/// and not on while a learner is a member (it could not be observed: see `learner_add`).
fn security(view: &View) -> Vec<Op> {
    let learners = view.model.members.values().any(|m| m.learner);
    if !view.quorum() || (learners && !view.model.auth) {
        return vec![];
    }
    vec![Op::Security(if view.model.auth {
        Security::AuthDisable
    } else {
        Security::AuthEnable
    })]
}

/// Members added, promoted, updated, removed.
fn membership(view: &View, step: &Step, memory: &mut Memory) -> Vec<Op> {
    let quorum = view.quorum();
    match step {
        Step::LearnerAdd(i) if quorum => view.learner_add(*i, memory),
        Step::LearnerPromote if quorum => view
            .model
            .members
            .iter()
            .find(|(_, m)| m.learner && m.running)
            .map(|(n, _)| {
                vec![
                    Op::Membership(Membership::Promote { member: named(n) }),
                    Op::Membership(Membership::ExpectMembers),
                ]
            })
            .unwrap_or_default(),
        // Voting members only: a learner's `member update` drops its learner flag on every
        // pinned release (etcd-io/etcd#21694, kept in findings/), which would mask the rest.
        // The update goes through another member while this one restarts on its new URL.
        Step::MemberUpdate(i)
            if quorum && view.all_running() && view.members.len() > 1 && !view.learner(*i) =>
        {
            view.on_running(*i, |member| Op::Membership(Membership::Update { member }))
                .into_iter()
                .chain([Op::Membership(Membership::ExpectMembers)])
                .collect()
        }
        Step::RemoveRestart(i)
            if view.all_running() && view.members.len() > 2 && view.voter_left(*i) =>
        {
            remove_restart(view, *i)
        }
        // A remove goes through another voting member: not in a one-member cluster, nor of the
        // only voter beside learners (explore --releases 3.5.16,3.5.30 drew `learner-add(0)`
        // then `member-replace` of the one voter: "no other live member", a harness
        // precondition, not etcd).
        Step::MemberReplace(i)
            if view.all_running() && view.members.len() > 1 && view.voter_left(*i) =>
        {
            member_replace(view, *i, memory)
        }
        _ => vec![],
    }
}

/// `wait MS`.
fn wait_ms(millis: u64) -> Op {
    Op::Lifecycle(Lifecycle::Wait {
        hold: Hold::For { millis },
    })
}

fn hold_ms(millis: u64) -> Hold {
    Hold::For { millis }
}

/// SIGSTOP, held, SIGCONT: one operation, so the member is resolved once.
fn pause(member: Target, hold: Hold) -> Vec<Op> {
    vec![Op::Lifecycle(Lifecycle::Pause {
        member,
        hold: Some(hold),
    })]
}

/// Removes member `i`, then stops and starts each other member in turn, and checks the lists.
fn remove_restart(view: &View, i: u8) -> Vec<Op> {
    let Some(m) = view.member(i) else {
        return vec![];
    };
    let mut ops = vec![Op::Membership(Membership::Remove {
        member: named(&m.name),
    })];
    for other in view.members.iter().filter(|o| o.name != m.name) {
        ops.push(Op::Lifecycle(Lifecycle::Stop {
            member: named(&other.name),
        }));
        ops.push(Op::Lifecycle(Lifecycle::Start {
            member: named(&other.name),
            release: None,
            flags: None,
        }));
    }
    ops.push(Op::Membership(Membership::ExpectMembers));
    ops
}

/// With everyone up, the majority is lost for real first (a follower, then the leader, killed);
/// then every member is restored from the last snapshot.
fn disaster_restore(view: &View) -> Vec<Op> {
    let restore = Op::Backup(Backup::Restore {
        name: "last".into(),
    });
    let kill = |member| Op::Lifecycle(Lifecycle::Kill { member });
    if view.all_running() && view.members.len() == 1 {
        // No follower to kill first: the one member is the majority.
        vec![kill(Target::Leader), restore]
    } else if view.all_running() {
        vec![kill(Target::Follower), kill(Target::Leader), restore]
    } else {
        vec![restore]
    }
}

/// Removes member `i` and adds a fresh one (`r1`, `r2`…) of the same release.
fn member_replace(view: &View, i: u8, memory: &mut Memory) -> Vec<Op> {
    let Some(m) = view.member(i) else {
        return vec![];
    };
    memory.added += 1;
    vec![
        Op::Membership(Membership::Remove {
            member: named(&m.name),
        }),
        Op::Membership(Membership::Add {
            name: format!("r{}", memory.added),
            release: m.release.clone(),
            via: None,
            no_start: false,
            learner: false,
            flags: view.flags.to_vec(),
        }),
    ]
}

/// Brings every member back: resume the paused, start the stopped (that ever ran).
pub fn heal(view: &View, setup: &CaseSetup) -> Vec<Op> {
    let mut ops = Vec::new();
    for m in view.members {
        let known = view.model.members.get(&m.name);
        if m.paused {
            ops.push(Op::Lifecycle(Lifecycle::Resume {
                member: named(&m.name),
            }));
        } else if known.is_some_and(|k| !k.running && k.started_once) {
            ops.push(view.start(setup, &m.name));
        }
    }
    ops
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;
