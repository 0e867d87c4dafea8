//! Member lifecycle: bootstrap a cluster, stop / kill / pause / resume a member, start it
//! (optionally on another release: upgrades and downgrades), start several at once, move
//! leadership, hold a fault. A start is predicted by the negotiation rules: the member serves,
//! or it exits with etcd's own refusal line in its log.

use std::fmt;

use super::error::StepError;
use super::op::{args, Hold, Op, Refs, Target};
use super::runner::Runner;
use crate::cluster::ClusterBuilder;
use crate::model::Model;
use crate::release::Release;

/// The word that, in a `start` line, clears the member's extra flags.
const NO_FLAGS: &str = "no-flags";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Bootstrap a cluster, one release per member; `v2` serves the v2 API, `tls` uses certs
    /// on client and peer ports, `peer-tls` on peer ports only, `proxied` puts peer-link
    /// proxies in front of members (for network faults; with `peer-tls` they terminate it).
    /// `flags` go to every member, `member_flags` (member, flag) to one.
    Cluster {
        releases: Vec<String>,
        v2: bool,
        tls: bool,
        peer_tls: bool,
        proxied: bool,
        flags: Vec<String>,
        member_flags: Vec<(String, String)>,
    },
    /// Graceful stop (SIGTERM); a leader hands leadership on by itself.
    Stop {
        member: Target,
    },
    /// SIGKILL.
    Kill {
        member: Target,
    },
    /// SIGSTOP; with a hold, SIGCONT once it passed (the member resolved once: `pause leader
    /// for 2000` resumes the member that led, not whoever leads by then).
    Pause {
        member: Target,
        hold: Option<Hold>,
    },
    /// SIGCONT.
    Resume {
        member: Target,
    },
    /// (Re)start on the member's data dir, optionally with another release. `flags`: `None`
    /// keeps the member's extra flags, `Some` replaces them (`Some(vec![])` clears them).
    Start {
        member: Target,
        release: Option<String>,
        flags: Option<Vec<String>>,
    },
    /// Several stopped members started at once (each alone could not reach a quorum),
    /// optionally all on another release.
    StartAll {
        members: Vec<Target>,
        release: Option<String>,
    },
    /// The guides' per-member step: move leadership away, stop, start with `release`, keeping
    /// the member's flags. `downgrade` only changes the word it is written with.
    Upgrade {
        member: Target,
        release: String,
        downgrade: bool,
    },
    MoveLeaderAway {
        member: Target,
    },
    /// Hold for `millis`: a documented fault duration, never a synchronisation.
    Wait {
        hold: Hold,
    },
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lifecycle::Cluster {
                releases,
                v2,
                tls,
                peer_tls,
                proxied,
                flags,
                member_flags,
            } => {
                write!(f, "cluster {}", releases.join(" "))?;
                let words = [
                    (*v2, "v2"),
                    (*tls, "tls"),
                    (*peer_tls, "peer-tls"),
                    (*proxied, "proxied"),
                ];
                for (on, word) in words {
                    if on {
                        write!(f, " {word}")?;
                    }
                }
                for fl in flags {
                    write!(f, " {fl}")?;
                }
                for (m, fl) in member_flags {
                    write!(f, " {m}:{fl}")?;
                }
                Ok(())
            }
            Lifecycle::Stop { member } => write!(f, "stop {member}"),
            Lifecycle::Kill { member } => write!(f, "kill {member}"),
            Lifecycle::Pause { member, hold: None } => write!(f, "pause {member}"),
            Lifecycle::Pause {
                member,
                hold: Some(h),
            } => write!(f, "pause {member} {h}"),
            Lifecycle::Resume { member } => write!(f, "resume {member}"),
            Lifecycle::Start {
                member,
                release,
                flags,
            } => {
                write!(f, "start {member}")?;
                if let Some(r) = release {
                    write!(f, " {r}")?;
                }
                match flags {
                    Some(fl) if fl.is_empty() => write!(f, " {NO_FLAGS}"),
                    Some(fl) => fl.iter().try_for_each(|x| write!(f, " {x}")),
                    None => Ok(()),
                }
            }
            Lifecycle::StartAll { members, release } => {
                write!(f, "start-all")?;
                members.iter().try_for_each(|m| write!(f, " {m}"))?;
                release.as_ref().map_or(Ok(()), |r| write!(f, " on {r}"))
            }
            Lifecycle::Upgrade {
                member,
                release,
                downgrade,
            } => {
                let verb = if *downgrade { "downgrade" } else { "upgrade" };
                write!(f, "{verb} {member} {release}")
            }
            Lifecycle::MoveLeaderAway { member } => write!(f, "move-leader-away {member}"),
            Lifecycle::Wait {
                hold: Hold::For { millis },
            } => write!(f, "wait {millis}"),
            Lifecycle::Wait { hold } => write!(f, "wait {hold}"),
        }
    }
}

/// Parses `cluster`'s words: releases, switches, `--flag` for all, `mN:--flag` for one.
fn parse_cluster(words: &[&str]) -> Result<Lifecycle, String> {
    let mut releases = Vec::new();
    let (mut v2, mut tls, mut peer_tls, mut proxied) = (false, false, false, false);
    let (mut flags, mut member_flags) = (Vec::new(), Vec::new());
    for w in words {
        match *w {
            "v2" => v2 = true,
            "tls" => tls = true,
            "peer-tls" => peer_tls = true,
            "proxied" => proxied = true,
            f if f.starts_with("--") => flags.push(f.to_string()),
            mf if mf.contains(":--") => {
                let (m, f) = mf.split_once(':').unwrap_or_default();
                if !args::is_member_name(m) {
                    return Err(format!("{m:?} in {mf:?} is not a member name (m1, m2…)"));
                }
                member_flags.push((m.to_string(), f.to_string()));
            }
            r => releases.push(r.to_string()),
        }
    }
    if releases.is_empty() {
        return Err("`cluster` needs one release per member".into());
    }
    if tls && proxied {
        return Err(
            "`cluster`: peer-link proxies (proxied) need plain-text clients: peer-tls, not tls"
                .into(),
        );
    }
    if tls && peer_tls {
        return Err(
            "`cluster`: tls already covers the peers; peer-tls is tls without clients".into(),
        );
    }
    for (m, _) in &member_flags {
        let n: usize = m[1..].parse().unwrap_or(0);
        if !m.starts_with('m') || n == 0 || n > releases.len() {
            return Err(format!(
                "`cluster`: flags for {m}, but the cluster has m1…m{}",
                releases.len()
            ));
        }
    }
    Ok(Lifecycle::Cluster {
        releases,
        v2,
        tls,
        peer_tls,
        proxied,
        flags,
        member_flags,
    })
}

pub fn parse(verb: &str, a: &[&str]) -> Result<Op, String> {
    let usage = super::registry::find(verb).map_or("", |v| v.usage);
    let one = |a: &[&str]| -> Result<Target, String> {
        args::exactly(verb, a, 1, usage)?;
        args::target(a[0])
    };
    let op = match verb {
        "cluster" => parse_cluster(a)?,
        "stop" => Lifecycle::Stop { member: one(a)? },
        "kill" => Lifecycle::Kill { member: one(a)? },
        "pause" => match a {
            [m] => Lifecycle::Pause {
                member: args::target(m)?,
                hold: None,
            },
            [m, rest @ ..] => Lifecycle::Pause {
                member: args::target(m)?,
                hold: Some(args::hold(verb, rest).map_err(|e| format!("{e}: {usage}"))?),
            },
            [] => return Err(format!("`{verb}` takes: {usage}")),
        },
        "resume" => Lifecycle::Resume { member: one(a)? },
        "move-leader-away" => Lifecycle::MoveLeaderAway { member: one(a)? },
        "start" => {
            let (first, rest) = a
                .split_first()
                .ok_or(format!("`start` takes a member: {usage}"))?;
            let clear = rest.contains(&NO_FLAGS);
            let rest: Vec<&str> = rest.iter().copied().filter(|w| *w != NO_FLAGS).collect();
            let (flags, plain) = args::flags(&rest);
            if plain.len() > 1 {
                return Err(format!("`start` takes at most one release: {usage}"));
            }
            if clear && !flags.is_empty() {
                return Err(format!(
                    "`start`: {NO_FLAGS} with flags makes no sense: {usage}"
                ));
            }
            Lifecycle::Start {
                member: args::target(first)?,
                release: plain.first().cloned(),
                flags: (clear || !flags.is_empty()).then_some(flags),
            }
        }
        "start-all" => {
            let (members, release) = match a {
                [m @ .., "on", r] => (m, Some(r.to_string())),
                m => (m, None),
            };
            if members.is_empty() {
                return Err(format!("`start-all` takes members: {usage}"));
            }
            Lifecycle::StartAll {
                members: members
                    .iter()
                    .map(|m| args::target(m))
                    .collect::<Result<_, _>>()?,
                release,
            }
        }
        "upgrade" | "downgrade" => {
            args::exactly(verb, a, 2, usage)?;
            Lifecycle::Upgrade {
                member: args::target(a[0])?,
                release: a[1].into(),
                downgrade: verb == "downgrade",
            }
        }
        "wait" => Lifecycle::Wait {
            hold: match a {
                [ms] => Hold::For {
                    millis: args::millis(verb, ms)?,
                },
                ["until", ..] => args::hold(verb, a)?,
                _ => return Err(format!("`{verb}` takes: {usage}")),
            },
        },
        other => return Err(format!("not a lifecycle step: {other}")),
    };
    Ok(op.into())
}

impl Lifecycle {
    pub fn refs(&self) -> Refs<'_> {
        let r = Refs::default();
        match self {
            Lifecycle::Cluster { releases, .. } => Refs {
                releases: releases.iter().map(String::as_str).collect(),
                adds: (1..=releases.len()).map(|i| format!("m{i}")).collect(),
                bootstraps: true,
                ..r
            },
            Lifecycle::Stop { member }
            | Lifecycle::Kill { member }
            | Lifecycle::Pause { member, .. }
            | Lifecycle::Resume { member }
            | Lifecycle::MoveLeaderAway { member } => r.with_members([member]),
            Lifecycle::Start {
                member, release, ..
            } => r.with_members([member]).with_release_opt(release.as_ref()),
            Lifecycle::StartAll { members, release } => {
                r.with_members(members).with_release_opt(release.as_ref())
            }
            Lifecycle::Upgrade {
                member, release, ..
            } => r.with_members([member]).with_release(release),
            Lifecycle::Wait { .. } => r,
        }
    }
}

impl Runner<'_> {
    pub(super) async fn apply_lifecycle(&mut self, op: &Lifecycle) -> Result<String, StepError> {
        match op {
            Lifecycle::Cluster { .. } => self.bootstrap(op).await,
            Lifecycle::Pause {
                member,
                hold: Some(hold),
            } => {
                let i = self.index(member).await?;
                let name = self.name(i);
                self.cluster()?.member(i).pause();
                self.model.stop(&name);
                let held = self.hold(hold, Some(i)).await;
                self.cluster()?.member(i).resume();
                self.model.resume(&name);
                Ok(format!("{name} paused for {held}, then resumed"))
            }
            Lifecycle::Stop { member }
            | Lifecycle::Kill { member }
            | Lifecycle::Pause { member, .. } => {
                let i = self.index(member).await?;
                let name = self.name(i);
                let c = self.cluster()?;
                match op {
                    Lifecycle::Stop { .. } => c.stop_member(i).await,
                    Lifecycle::Kill { .. } => {
                        c.member(i).kill();
                    }
                    _ => c.member(i).pause(),
                }
                if matches!(op, Lifecycle::Kill { .. }) {
                    self.model.kill(&name);
                } else {
                    self.model.stop(&name);
                }
                Ok(format!("{name} down"))
            }
            Lifecycle::Resume { member } => {
                let i = self.index(member).await?;
                let name = self.name(i);
                self.cluster()?.member(i).resume();
                self.model.resume(&name);
                Ok(format!("{name} resumed"))
            }
            Lifecycle::Start {
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
            Lifecycle::StartAll { members, release } => {
                let release = match release {
                    Some(r) => Some(self.resolve_release(r)?),
                    None => None,
                };
                self.start_all(members, release).await
            }
            Lifecycle::Upgrade {
                member, release, ..
            } => self.swap_release(member, release).await,
            Lifecycle::MoveLeaderAway { member } => {
                let i = self.index(member).await?;
                let l = self.cluster_mut()?.move_leader_away(i).await?;
                Ok(format!("leader is {}", self.name(l)))
            }
            Lifecycle::Wait { hold } => Ok(format!("held {}", self.hold(hold, None).await)),
        }
    }

    async fn bootstrap(&mut self, op: &Lifecycle) -> Result<String, StepError> {
        let Lifecycle::Cluster {
            releases,
            v2,
            tls,
            peer_tls,
            proxied,
            flags,
            member_flags,
        } = op
        else {
            unreachable!("bootstrap of a cluster step")
        };
        let rs: Vec<Release> = releases
            .iter()
            .map(|r| self.resolve_release(r))
            .collect::<Result<_, _>>()?;
        let mut builder = ClusterBuilder::new(rs.clone())
            .enable_v2(*v2)
            .tls(*tls)
            .peer_tls(*peer_tls)
            .peer_proxies(*proxied)
            .flags(flags);
        for (m, f) in member_flags {
            let i: usize = m[1..].parse().unwrap_or(1);
            builder = builder.member_flags(i - 1, std::slice::from_ref(f));
        }
        let cluster = builder.start().await?;
        self.model = Model::bootstrap(
            cluster
                .members()
                .iter()
                .map(|m| (m.name.clone(), m.release.version.clone())),
        );
        for m in cluster.members() {
            self.model.identify(&m.name, m.id, &m.peer_url);
            let flags = m.extra_flags.clone();
            if let Some(mm) = self.model.members.get_mut(&m.name) {
                mm.flags = flags;
            }
        }
        self.cluster = Some(cluster);
        Ok(format!("{} members healthy", rs.len()))
    }

    /// Upgrade or downgrade of one member, as the guides do it.
    async fn swap_release(&mut self, member: &Target, release: &str) -> Result<String, StepError> {
        let i = self.index(member).await?;
        let r = self.resolve_release(release)?;
        let c = self.cluster_mut()?;
        // The guides move leadership away first; when that fails the member is still stopped
        // (a leader hands over by itself on SIGTERM), and the outcome says so.
        let moved = if c.live().len() > 1 {
            Some(c.move_leader_away(i).await)
        } else {
            None
        };
        c.stop_member(i).await;
        let name = self.name(i);
        self.model.stop(&name);
        let started = self.start(i, Some(r), None, false).await?;
        let lead = match moved {
            Some(Ok(l)) => format!("leader {}, ", self.name(l)),
            Some(Err(e)) => format!("leadership not moved ({e}), "),
            None => String::new(),
        };
        Ok(format!("{lead}{started}"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::op::parse_line;

    #[test]
    fn lines_round_trip_through_display() {
        for l in [
            "cluster 3.4.23 3.4.23 3.5.16 v2",
            "cluster 3.5.16 3.5.16 3.5.16 proxied --snapshot-count=10 m2:--max-learners=2",
            "cluster 3.5.16 3.5.16 peer-tls proxied",
            "start m1 3.4.23 --next-cluster-version-compatible",
            "start m1 3.5.16 no-flags",
            "start-all m1 m2 m3",
            "start-all m1 m2 on 3.5.16",
            "upgrade leader 3.5.16",
            "downgrade m2 3.4.23",
            "wait 1500",
            "wait until 500 entries",
            "pause m2",
            "pause leader for 2000",
            "pause m3 until 250 entries",
        ] {
            assert_eq!(parse_line(l).unwrap().to_string(), l);
        }
    }

    #[test]
    fn bad_lines_say_why() {
        for (l, want) in [
            (
                "cluster 3.5.16 m4:--snapshot-count=5",
                "the cluster has m1…m1",
            ),
            ("cluster v2", "needs one release per member"),
            ("start-all", "start-all MEMBER…"),
            ("wait soon", "not a number of milliseconds"),
            ("start m1 3.5.16 3.5.30", "at most one release"),
            ("start m1 no-flags --snapshot-count=1", "makes no sense"),
        ] {
            let e = parse_line(l).unwrap_err();
            assert!(e.contains(want), "{l}: {e}");
        }
    }
}
