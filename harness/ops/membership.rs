//! Membership changes (seed 004): add and remove members, learners and their promotion, a
//! member's move to a new peer URL, and the check that every member's member list is the
//! model's. Each change is predicted by the strict reconfig rules of `model/rules.rs`.

use std::fmt;
use std::time::Duration;

use super::error::{disagree, judge, Judged, Prediction, StepError};
use super::op::{args, Op, Refs, Target};
use super::runner::Runner;
use crate::cluster::membership::ListedMember;
use crate::model::EtcdRefusal;
use crate::release::facts;

/// How long a membership change the model expects accepted is retried while etcd refuses it
/// for a reason that passes with time (young peer links, a learner still catching up).
const SETTLE: Duration = Duration::from_secs(20);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Membership {
    /// `member add` of a new member of `release` through `via`; started unless `no_start`.
    /// `learner` adds it as a learner (3.4+).
    Add {
        name: String,
        release: String,
        via: Option<Target>,
        no_start: bool,
        learner: bool,
        flags: Vec<String>,
    },
    Remove {
        member: Target,
    },
    /// The data dir moved to a new peer URL, same member id (004 "migrate").
    Migrate {
        member: Target,
    },
    /// `member update` to a fresh peer URL, data dir kept.
    Update {
        member: Target,
    },
    Promote {
        member: Target,
    },
    /// Every live voting member's member list equals the model's.
    ExpectMembers,
}

impl fmt::Display for Membership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Membership::Add {
                name,
                release,
                via,
                no_start,
                learner,
                flags,
            } => {
                let verb = if *learner {
                    "learner-add"
                } else {
                    "member-add"
                };
                write!(f, "{verb} {name} {release}")?;
                if let Some(v) = via {
                    write!(f, " via {v}")?;
                }
                if *no_start {
                    write!(f, " no-start")?;
                }
                flags.iter().try_for_each(|x| write!(f, " {x}"))
            }
            Membership::Remove { member } => write!(f, "member-remove {member}"),
            Membership::Migrate { member } => write!(f, "member-migrate {member}"),
            Membership::Update { member } => write!(f, "member-update {member}"),
            Membership::Promote { member } => write!(f, "learner-promote {member}"),
            Membership::ExpectMembers => f.write_str("expect-members"),
        }
    }
}

pub fn parse(verb: &str, a: &[&str]) -> Result<Op, String> {
    let usage = super::registry::find(verb).map_or("", |v| v.usage);
    let one = |a: &[&str]| -> Result<Target, String> {
        args::exactly(verb, a, 1, usage)?;
        args::target(a[0])
    };
    let op = match verb {
        "member-add" | "learner-add" => {
            let (flags, words) = args::flags(a);
            let no_start = words.last().map(String::as_str) == Some("no-start");
            let words: Vec<&str> = words
                .iter()
                .map(String::as_str)
                .take(words.len() - usize::from(no_start))
                .collect();
            let (rest, via) = args::split_via(&words)?;
            if rest.len() != 2 {
                return Err(format!(
                    "`{verb}` takes a new member name and a release: {usage}"
                ));
            }
            Membership::Add {
                name: args::new_name(rest[0], usage)?,
                release: rest[1].into(),
                via,
                no_start,
                learner: verb == "learner-add",
                flags,
            }
        }
        "member-remove" => Membership::Remove { member: one(a)? },
        "member-migrate" => Membership::Migrate { member: one(a)? },
        "member-update" => Membership::Update { member: one(a)? },
        "learner-promote" => Membership::Promote { member: one(a)? },
        "expect-members" => {
            args::exactly(verb, a, 0, usage)?;
            Membership::ExpectMembers
        }
        other => return Err(format!("not a membership step: {other}")),
    };
    Ok(op.into())
}

impl Membership {
    pub fn refs(&self) -> Refs<'_> {
        let r = Refs::default();
        match self {
            Membership::Add {
                name, release, via, ..
            } => Refs {
                // A refused add may be retried under the same name, so no duplicate check.
                adds: vec![name.clone()],
                ..r.with_members(via).with_release(release)
            },
            Membership::Remove { member } => Refs {
                removes: Some(member),
                ..r.with_members([member])
            },
            Membership::Migrate { member }
            | Membership::Update { member }
            | Membership::Promote { member } => r.with_members([member]),
            Membership::ExpectMembers => r,
        }
    }
}

/// Retries `$call` while the model predicts acceptance and etcd refuses with one of the
/// transient refusals in `$transient`, for up to [`SETTLE`]: etcd's strict reconfig check
/// counts only peer links up for [`facts::PEER_LINK_AGE`], and a learner is promotable only
/// once caught up, both matters of time the model has no clock for.
macro_rules! settle {
    ($predicted:expr, $transient:expr, $call:expr) => {{
        let deadline = tokio::time::Instant::now() + SETTLE;
        loop {
            let r = $call.await;
            match &r {
                Err(e)
                    if *$predicted == Prediction::Accept
                        && e.refusal().is_some_and(|x| $transient.contains(&x))
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                _ => break r,
            }
        }
    }};
}

impl Runner<'_> {
    pub(super) async fn apply_membership(&mut self, op: &Membership) -> Result<String, StepError> {
        match op {
            Membership::Add {
                name,
                release,
                via,
                no_start,
                learner,
                flags,
            } => {
                self.member_add(name, release, via, *no_start, *learner, flags)
                    .await
            }
            Membership::Remove { member } => self.member_remove(member).await,
            Membership::Migrate { member } | Membership::Update { member } => {
                self.member_move(member, matches!(op, Membership::Migrate { .. }))
                    .await
            }
            Membership::Promote { member } => self.promote(member).await,
            Membership::ExpectMembers => self.expect_members().await,
        }
    }

    async fn member_add(
        &mut self,
        name: &str,
        release: &str,
        via: &Option<Target>,
        no_start: bool,
        learner: bool,
        flags: &[String],
    ) -> Result<String, StepError> {
        let r = self.resolve_release(release)?;
        let via = self.via(via).await?;
        let via_name = self.name(via);
        let receiver = self.model.members[&via_name].binary.clone();
        if learner && !facts::has_learners(&receiver) {
            return Err(StepError::precondition(format!(
                "learner-add via {via_name}: {receiver} has no learners (its MemberAddRequest has no isLearner field, so it would add a voting member)"
            )));
        }
        let predicted = Prediction::from(self.model.predict_member_add(&via_name, learner));
        let c = self.cluster_mut()?;
        let i = c.new_member(name, r.clone())?;
        c.member_mut(i).extra_flags = flags.to_vec();
        let transient = [EtcdRefusal::UnhealthyCluster];
        let result = settle!(
            &predicted,
            transient,
            self.cluster_mut()?.member_add_as(via, i, learner)
        );
        let what = format!("member add via {via_name}");
        match judge(&what, &predicted, result) {
            Ok(Judged::Accepted(id)) => {
                let url = self.cluster()?.member(i).peer_url.clone();
                self.model.member_add(name, &r.version, learner, id, &url);
                let kind = if learner { "learner" } else { "member" };
                if no_start {
                    return Ok(format!("{name} added as {kind} {id:x}, not started"));
                }
                let s = self.start(i, None, None, true).await?;
                Ok(format!("{name} added as {kind} {id:x}; {s}"))
            }
            Ok(Judged::Refused(e)) => {
                self.cluster_mut()?.forget_member(i);
                Ok(format!("member add refused as predicted: {e}"))
            }
            Err(e) => {
                if let Some(c) = self.cluster.as_mut() {
                    if c.member(i).id.is_none() {
                        c.forget_member(i);
                    }
                }
                Err(e)
            }
        }
    }

    async fn member_remove(&mut self, member: &Target) -> Result<String, StepError> {
        let i = self.index(member).await?;
        let name = self.name(i);
        let via = self.other_live(i)?;
        let predicted = Prediction::from(self.model.predict_member_remove(&name));
        let transient = [EtcdRefusal::UnhealthyCluster];
        let result = settle!(
            &predicted,
            transient,
            self.cluster_mut()?.member_remove(via, i)
        );
        let result = result.map(|m| m.name);
        match judge(&format!("member remove of {name}"), &predicted, result)? {
            Judged::Accepted(_) => {
                self.model.member_remove(&name);
                self.last_revisions.remove(&name);
                Ok(format!("{name} removed and stopped"))
            }
            Judged::Refused(e) => Ok(format!("refused as predicted: {e}")),
        }
    }

    /// `member update` to a new peer URL (moving the data dir with `migrate`), then the
    /// member restarts there with the same id.
    async fn member_move(&mut self, member: &Target, migrate: bool) -> Result<String, StepError> {
        let i = self.index(member).await?;
        let name = self.name(i);
        let via = self.other_live(i)?;
        let c = self.cluster_mut()?;
        let before = c.member(i).id;
        c.member_update(via, i, migrate).await?;
        let url = c.member(i).peer_url.clone();
        self.model.identify(&name, before, &url);
        self.wait_started(i).await?;
        let c = self.cluster_mut()?;
        c.learn_member_ids().await?;
        let after = c.member(i).id;
        if before != after {
            return Err(disagree(
                format!("{name} member id after member update"),
                format!("{before:x?}"),
                format!("{after:x?}"),
            ));
        }
        Ok(format!(
            "{name} now at {url}, same member id {:x}",
            before.unwrap_or_default()
        ))
    }

    async fn promote(&mut self, member: &Target) -> Result<String, StepError> {
        let i = self.index(member).await?;
        let name = self.name(i);
        let via = self.other_live(i)?;
        let predicted = Prediction::from(self.model.predict_promote(&name));
        let transient = [EtcdRefusal::LearnerNotReady];
        let result = settle!(
            &predicted,
            transient,
            self.cluster_mut()?.member_promote(via, i)
        );
        match judge(&format!("member promote of {name}"), &predicted, result)? {
            Judged::Accepted(()) => {
                self.model.promote(&name);
                Ok(format!("{name} promoted to a voting member"))
            }
            Judged::Refused(e) => Ok(format!("refused as predicted: {e}")),
        }
    }

    /// The member list every live voting member reports must be the model's: ids, peer URLs,
    /// learner flags, and the name once the member has started (etcd lists an added member
    /// that never started with an empty name). Learners cannot serve `MemberList`.
    async fn expect_members(&mut self) -> Result<String, StepError> {
        let mut want: Vec<ListedMember> = self
            .model
            .members
            .iter()
            .map(|(n, m)| ListedMember {
                id: m.id.unwrap_or_default(),
                name: if m.started_once {
                    n.clone()
                } else {
                    String::new()
                },
                peer_urls: vec![m.peer_url.clone()],
                learner: m.learner,
            })
            .collect();
        want.sort();
        let c = self.cluster()?;
        let readers: Vec<usize> = c
            .live()
            .into_iter()
            .filter(|&i| !self.is_learner(i))
            .collect();
        let mut mismatches = Vec::new();
        for &i in &readers {
            let mut got = c.member_list(i).await?;
            got.sort();
            if got != want {
                mismatches.push(crate::check::Mismatch {
                    what: format!("member list via {}", c.member(i).name),
                    model: show_members(&want),
                    etcd: show_members(&got),
                });
            }
        }
        if !mismatches.is_empty() {
            return Err(StepError::Disagree(mismatches));
        }
        Ok(format!(
            "{} members as the model has them, through {} members",
            want.len(),
            readers.len()
        ))
    }
}

fn show_members(list: &[ListedMember]) -> String {
    list.iter()
        .map(|m| {
            let name = if m.name.is_empty() {
                "(unstarted)"
            } else {
                &m.name
            };
            let kind = if m.learner { " learner" } else { "" };
            format!("{:x} {name} {}{kind}", m.id, m.peer_urls.join(","))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::super::op::parse_line;

    #[test]
    fn lines_round_trip_through_display() {
        for l in [
            "member-add m4 3.5.16 via m1 no-start",
            "member-add m4 3.5.16 --snapshot-count=10",
            "learner-add m4 3.5.16",
            "learner-promote m4",
            "member-update m2",
            "member-migrate m3",
            "member-remove leader",
            "expect-members",
        ] {
            assert_eq!(parse_line(l).unwrap().to_string(), l);
        }
    }

    #[test]
    fn bad_lines_say_why() {
        for (l, want) in [
            ("member-add leader 3.5.16", "member-add mN RELEASE"),
            ("learner-add m4", "a new member name and a release"),
            ("expect-members m1", "takes 0 argument(s)"),
            ("learner-promote", "learner-promote MEMBER"),
        ] {
            let e = parse_line(l).unwrap_err();
            assert!(e.contains(want), "{l}: {e}");
        }
    }
}
