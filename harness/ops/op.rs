//! The operation vocabulary: what a scenario line (and later an explored sequence) can do to a
//! cluster. Each operation names members as `m1`, `m2`…, or `leader` / `follower` (resolved
//! against the live cluster when the step runs).

use std::fmt;

use crate::release::MinorVersion;

/// A member reference in a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Named(String),
    /// Whoever leads when the step runs.
    Leader,
    /// Any live member that does not lead.
    Follower,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Named(n) => f.write_str(n),
            Target::Leader => f.write_str("leader"),
            Target::Follower => f.write_str("follower"),
        }
    }
}

/// Which certificates a rotation replaces (seed 004, certificate rotation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertKind {
    /// Server (client-facing) certs, reloaded live since 3.2.
    Server,
    /// Peer certs, reloaded live since 3.2.
    Peer,
    /// A new CA: every cert re-issued, every member restarted.
    Ca,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Bootstrap a cluster, one release per member; `v2` serves the v2 API, `tls` uses certs,
    /// `proxied` puts peer-link proxies in front of members (for network faults).
    Cluster {
        releases: Vec<String>,
        v2: bool,
        tls: bool,
        proxied: bool,
    },
    /// A v3 put through a member (default: the first live one).
    Put {
        key: String,
        value: String,
        via: Option<Target>,
    },
    /// `count` puts of `prefix/0..count`.
    PutMany {
        prefix: String,
        count: usize,
    },
    Delete {
        key: String,
    },
    /// A v2 `/v2/keys` set.
    V2Set {
        key: String,
        value: String,
    },
    /// Graceful stop (SIGTERM); a leader hands leadership on by itself.
    Stop {
        member: Target,
    },
    /// SIGKILL.
    Kill {
        member: Target,
    },
    Pause {
        member: Target,
    },
    Resume {
        member: Target,
    },
    /// (Re)start on the member's data dir, optionally with another release and extra flags.
    Start {
        member: Target,
        release: Option<String>,
        flags: Vec<String>,
    },
    /// The guides' per-member step: move leadership away, stop, start with `release`.
    Upgrade {
        member: Target,
        release: String,
    },
    MoveLeaderAway {
        member: Target,
    },
    SnapshotSave {
        name: String,
        from: Target,
    },
    /// Copy `member/snap/db` of a (stopped) member as snapshot `name` (restored with
    /// `--skip-hash-check`).
    CopyBackend {
        name: String,
        member: Target,
    },
    /// Disaster recovery: every member restored from snapshot `name`, cluster restarted.
    Restore {
        name: String,
    },
    /// `member add` of a new member of `release` through `via`; started unless `no_start`.
    MemberAdd {
        name: String,
        release: String,
        via: Option<Target>,
        no_start: bool,
    },
    MemberRemove {
        member: Target,
    },
    MemberMigrate {
        member: Target,
    },
    /// A put as `user` (root, or the role-limited user `alice`), allowed or denied by auth.
    PutAs {
        user: String,
        key: String,
        value: String,
    },
    /// Root user + a user with a role, then auth enable.
    AuthEnable,
    AuthDisable,
    RotateCerts {
        kind: CertKind,
    },
    /// An explicit assertion on top of the oracle.
    ExpectClusterVersion(MinorVersion),
    /// Cut a member off from its peers for `millis`, then repair.
    Partition {
        member: Target,
        millis: u64,
    },
    /// Drop messages from one member to another for `millis` (the reverse flows), then repair.
    DropLink {
        from: Target,
        to: Target,
        millis: u64,
    },
    /// Delay every message to or from a member by `delay_ms` for `millis`, then repair.
    Slow {
        member: Target,
        delay_ms: u64,
        millis: u64,
    },
    /// Compact the key history up to a revision well behind the current one.
    Compact,
    /// Defragment one member's backend.
    Defrag {
        member: Target,
    },
    /// Fault injection: write a marker value, stop the member, change the marker's bytes in its
    /// bbolt file, start it again. The checks must catch the divergence.
    CorruptValue {
        member: Target,
    },
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let via = |v: &Option<Target>| v.as_ref().map(|t| format!(" via {t}")).unwrap_or_default();
        match self {
            Op::Cluster {
                releases,
                v2,
                tls,
                proxied,
            } => {
                write!(
                    f,
                    "cluster {}{}{}{}",
                    releases.join(" "),
                    if *v2 { " v2" } else { "" },
                    if *tls { " tls" } else { "" },
                    if *proxied { " proxied" } else { "" }
                )
            }
            Op::Put { key, value, via: v } => write!(f, "put {key} {value}{}", via(v)),
            Op::PutMany { prefix, count } => write!(f, "put-many {prefix} {count}"),
            Op::Delete { key } => write!(f, "delete {key}"),
            Op::V2Set { key, value } => write!(f, "v2-set {key} {value}"),
            Op::Stop { member } => write!(f, "stop {member}"),
            Op::Kill { member } => write!(f, "kill {member}"),
            Op::Pause { member } => write!(f, "pause {member}"),
            Op::Resume { member } => write!(f, "resume {member}"),
            Op::Start {
                member,
                release,
                flags,
            } => {
                write!(f, "start {member}")?;
                if let Some(r) = release {
                    write!(f, " {r}")?;
                }
                for fl in flags {
                    write!(f, " {fl}")?;
                }
                Ok(())
            }
            Op::Upgrade { member, release } => write!(f, "upgrade {member} {release}"),
            Op::MoveLeaderAway { member } => write!(f, "move-leader-away {member}"),
            Op::SnapshotSave { name, from } => write!(f, "snapshot-save {name} from {from}"),
            Op::CopyBackend { name, member } => write!(f, "copy-backend {name} from {member}"),
            Op::Restore { name } => write!(f, "restore {name}"),
            Op::MemberAdd {
                name,
                release,
                via: v,
                no_start,
            } => {
                write!(
                    f,
                    "member-add {name} {release}{}{}",
                    via(v),
                    if *no_start { " no-start" } else { "" }
                )
            }
            Op::MemberRemove { member } => write!(f, "member-remove {member}"),
            Op::MemberMigrate { member } => write!(f, "member-migrate {member}"),
            Op::PutAs { user, key, value } => write!(f, "put-as {user} {key} {value}"),
            Op::AuthEnable => f.write_str("auth-enable"),
            Op::AuthDisable => f.write_str("auth-disable"),
            Op::RotateCerts { kind } => {
                write!(f, "rotate-certs {}", format!("{kind:?}").to_lowercase())
            }
            Op::ExpectClusterVersion(v) => write!(f, "expect-cluster-version {v}"),
            Op::Partition { member, millis } => write!(f, "partition {member} for {millis}"),
            Op::DropLink { from, to, millis } => write!(f, "drop-link {from} {to} for {millis}"),
            Op::Slow {
                member,
                delay_ms,
                millis,
            } => write!(f, "slow {member} {delay_ms} for {millis}"),
            Op::Compact => f.write_str("compact"),
            Op::Defrag { member } => write!(f, "defrag {member}"),
            Op::CorruptValue { member } => write!(f, "corrupt-value {member}"),
        }
    }
}

/// Parses one scenario line (comments already stripped) into an operation. The error says
/// what was expected; the caller adds file and line.
pub fn parse_line(line: &str) -> Result<Op, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (verb, args) = words.split_first().ok_or("empty line")?;
    let target = |s: &str| -> Result<Target, String> {
        match s {
            "leader" => Ok(Target::Leader),
            "follower" => Ok(Target::Follower),
            n if n.starts_with('m') && n[1..].parse::<u32>().is_ok() => Ok(Target::Named(n.into())),
            other => Err(format!(
                "{other:?} is not a member (m1, m2…, leader or follower)"
            )),
        }
    };
    let n_args = |n: usize, usage: &str| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!("`{verb}` takes {n} argument(s): {verb} {usage}"))
        }
    };
    // `… via mN` suffix.
    let split_via = |a: &[&str]| -> Result<(Vec<String>, Option<Target>), String> {
        match a {
            [rest @ .., "via", t] => Ok((
                rest.iter().map(|s| s.to_string()).collect(),
                Some(target(t)?),
            )),
            rest => Ok((rest.iter().map(|s| s.to_string()).collect(), None)),
        }
    };
    let op = match *verb {
        "cluster" => {
            let mut releases = Vec::new();
            let (mut v2, mut tls, mut proxied) = (false, false, false);
            for a in args {
                match *a {
                    "v2" => v2 = true,
                    "tls" => tls = true,
                    "proxied" => proxied = true,
                    r => releases.push(r.to_string()),
                }
            }
            if releases.is_empty() {
                return Err("`cluster` needs one release per member: cluster 3.4.23 3.4.23 3.4.23 [v2] [tls|proxied]".into());
            }
            if tls && proxied {
                return Err("`cluster`: peer-link proxies (proxied) need plain-text peers, not tls".into());
            }
            Op::Cluster { releases, v2, tls, proxied }
        }
        "put" => {
            let (kv, via) = split_via(args)?;
            if kv.len() != 2 {
                return Err("`put` takes a key and a value: put KEY VALUE [via mN]".into());
            }
            Op::Put { key: kv[0].clone(), value: kv[1].clone(), via }
        }
        "put-many" => {
            n_args(2, "PREFIX COUNT")?;
            let count = args[1].parse().map_err(|_| format!("put-many: {:?} is not a count", args[1]))?;
            Op::PutMany { prefix: args[0].into(), count }
        }
        "delete" => {
            n_args(1, "KEY")?;
            Op::Delete { key: args[0].into() }
        }
        "v2-set" => {
            n_args(2, "KEY VALUE")?;
            Op::V2Set { key: args[0].into(), value: args[1].into() }
        }
        "compact" => {
            n_args(0, "")?;
            Op::Compact
        }
        "partition" | "drop-link" | "slow" => {
            let ms = |s: &str| s.parse::<u64>().map_err(|_| format!("`{verb}`: {s:?} is not a number of milliseconds"));
            match (*verb, args) {
                ("partition", [m, "for", t]) => Op::Partition { member: target(m)?, millis: ms(t)? },
                ("drop-link", [a, b, "for", t]) => Op::DropLink { from: target(a)?, to: target(b)?, millis: ms(t)? },
                ("slow", [m, d, "for", t]) => Op::Slow { member: target(m)?, delay_ms: ms(d)?, millis: ms(t)? },
                _ => {
                    return Err(format!(
                        "`{verb}` takes: partition MEMBER for MS | drop-link FROM TO for MS | slow MEMBER DELAY_MS for MS"
                    ))
                }
            }
        }
        "stop" | "kill" | "pause" | "resume" | "move-leader-away" | "member-remove" | "member-migrate" | "defrag"
        | "corrupt-value" => {
            n_args(1, "MEMBER")?;
            let member = target(args[0])?;
            match *verb {
                "stop" => Op::Stop { member },
                "kill" => Op::Kill { member },
                "pause" => Op::Pause { member },
                "resume" => Op::Resume { member },
                "move-leader-away" => Op::MoveLeaderAway { member },
                "member-remove" => Op::MemberRemove { member },
                "defrag" => Op::Defrag { member },
                "corrupt-value" => Op::CorruptValue { member },
                _ => Op::MemberMigrate { member },
            }
        }
        "start" => {
            let (first, rest) = args.split_first().ok_or("`start` takes a member: start MEMBER [RELEASE] [--flag…]")?;
            let member = target(first)?;
            let (flags, plain): (Vec<&str>, Vec<&str>) = rest.iter().partition(|a| a.starts_with("--"));
            if plain.len() > 1 {
                return Err("`start` takes at most one release: start MEMBER [RELEASE] [--flag…]".into());
            }
            Op::Start { member, release: plain.first().map(|s| s.to_string()), flags: flags.iter().map(|s| s.to_string()).collect() }
        }
        "upgrade" | "downgrade" => {
            n_args(2, "MEMBER RELEASE")?;
            Op::Upgrade { member: target(args[0])?, release: args[1].into() }
        }
        "snapshot-save" | "copy-backend" => {
            let (name, from) = match args {
                [name, "from", t] => (name.to_string(), target(t)?),
                _ => return Err(format!("`{verb}` takes: {verb} NAME from MEMBER")),
            };
            if *verb == "snapshot-save" {
                Op::SnapshotSave { name, from }
            } else {
                Op::CopyBackend { name, member: from }
            }
        }
        "restore" => {
            n_args(1, "SNAPSHOT-NAME")?;
            Op::Restore { name: args[0].into() }
        }
        "member-add" => {
            let no_start = args.last() == Some(&"no-start");
            let args = if no_start { &args[..args.len() - 1] } else { args };
            let (r, via) = split_via(args)?;
            let usage = "`member-add` takes a new member name and a release: member-add mN RELEASE [via mM] [no-start]";
            if r.len() != 2 {
                return Err(usage.into());
            }
            let Target::Named(name) = target(&r[0])? else { return Err(usage.into()) };
            Op::MemberAdd { name, release: r[1].clone(), via, no_start }
        }
        "put-as" => {
            n_args(3, "USER KEY VALUE")?;
            if !["root", "alice"].contains(&args[0]) {
                return Err(format!("put-as: user {:?} is not root or alice", args[0]));
            }
            Op::PutAs { user: args[0].into(), key: args[1].into(), value: args[2].into() }
        }
        "auth-enable" => {
            n_args(0, "")?;
            Op::AuthEnable
        }
        "auth-disable" => {
            n_args(0, "")?;
            Op::AuthDisable
        }
        "rotate-certs" => {
            n_args(1, "server|peer|ca")?;
            let kind = match args[0] {
                "server" => CertKind::Server,
                "peer" => CertKind::Peer,
                "ca" => CertKind::Ca,
                o => return Err(format!("rotate-certs: {o:?} is not server, peer or ca")),
            };
            Op::RotateCerts { kind }
        }
        "expect-cluster-version" => {
            n_args(1, "MAJOR.MINOR")?;
            Op::ExpectClusterVersion(args[0].parse().map_err(|e| format!("{e}"))?)
        }
        other => {
            return Err(format!(
                "unknown step {other:?}; steps: cluster, put, put-many, delete, v2-set, stop, kill, pause, resume, start, upgrade, \
                 move-leader-away, snapshot-save, copy-backend, restore, member-add, member-remove, member-migrate, put-as, auth-enable, compact, defrag, corrupt-value, partition, drop-link, slow, \
                 auth-disable, rotate-certs, expect-cluster-version"
            ))
        }
    };
    Ok(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_through_display() {
        for l in [
            "cluster 3.4.23 3.4.23 3.5.16 v2",
            "put k v via m2",
            "start m1 3.4.23 --next-cluster-version-compatible",
            "upgrade leader 3.5.16",
            "snapshot-save backup from leader",
            "member-add m4 3.5.16 via m1 no-start",
            "expect-cluster-version 3.5",
            "rotate-certs ca",
            "cluster 3.5.16 3.5.16 3.5.16 proxied",
            "partition leader for 2000",
            "drop-link m1 m2 for 1500",
            "slow m3 100 for 1000",
        ] {
            assert_eq!(parse_line(l).unwrap().to_string(), l);
        }
    }

    #[test]
    fn errors_say_what_was_expected() {
        assert!(parse_line("upgade m1 3.5.16")
            .unwrap_err()
            .contains("unknown step \"upgade\""));
        assert!(parse_line("stop x1").unwrap_err().contains("not a member"));
        assert!(parse_line("put k").unwrap_err().contains("put KEY VALUE"));
    }
}
