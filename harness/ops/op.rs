//! The operation vocabulary: what a scenario line or an explored step can do to a cluster.
//! An [`Op`] is one of the families below; each family's file holds, side by side, its words
//! in a scenario file (parse and Display), what it references (for validation), and how it
//! acts on the model and the live cluster. [`super::registry`] lists every verb once.
//!
//! Members are named `m1`, `m2`…, or `leader` / `follower` (resolved when the step runs).

use std::fmt;

pub use super::backup::Backup;
pub use super::data::Data;
pub use super::expect::Expect;
pub use super::faults::Fault;
pub use super::lease::Lease;
pub use super::lifecycle::Lifecycle;
pub use super::membership::Membership;
pub use super::security::{CertKind, Security};

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

impl Target {
    pub fn named(name: &str) -> Target {
        Target::Named(name.to_string())
    }
}

/// How long a fault (or a `wait`) is held: a time, or until the cluster has committed a number
/// of raft entries more, so a member held off returns behind the leader's retained log
/// (`--snapshot-count` plus the catch-up entries) however fast traffic runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    For { millis: u64 },
    Entries { count: u64 },
}

/// `for MS` or `until N entries`, as scenario lines write it.
impl fmt::Display for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hold::For { millis } => write!(f, "for {millis}"),
            Hold::Entries { count } => write!(f, "until {count} entries"),
        }
    }
}

/// One operation, by family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Lifecycle(Lifecycle),
    Data(Data),
    Membership(Membership),
    Backup(Backup),
    Fault(Fault),
    Security(Security),
    Expect(Expect),
    Lease(Lease),
}

macro_rules! family_from {
    ($($variant:ident),*) => {$(
        impl From<$variant> for Op {
            fn from(o: $variant) -> Op {
                Op::$variant(o)
            }
        }
    )*};
}
family_from!(Lifecycle, Data, Membership, Backup, Security, Expect, Lease);

impl From<Fault> for Op {
    fn from(o: Fault) -> Op {
        Op::Fault(o)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Lifecycle(o) => o.fmt(f),
            Op::Data(o) => o.fmt(f),
            Op::Membership(o) => o.fmt(f),
            Op::Backup(o) => o.fmt(f),
            Op::Fault(o) => o.fmt(f),
            Op::Security(o) => o.fmt(f),
            Op::Expect(o) => o.fmt(f),
            Op::Lease(o) => o.fmt(f),
        }
    }
}

/// What a step refers to, for validating a scenario before it runs.
#[derive(Debug, Default)]
pub struct Refs<'a> {
    /// Members that must exist when the step runs.
    pub members: Vec<&'a Target>,
    /// Releases that must be pinned (or registered local builds).
    pub releases: Vec<&'a str>,
    /// Members the step adds (`cluster` adds m1…mN).
    pub adds: Vec<String>,
    /// A member the step removes.
    pub removes: Option<&'a Target>,
    /// This step bootstraps a cluster (it must come first, and only once).
    pub bootstraps: bool,
}

impl Op {
    pub fn refs(&self) -> Refs<'_> {
        match self {
            Op::Lifecycle(o) => o.refs(),
            Op::Data(o) => o.refs(),
            Op::Membership(o) => o.refs(),
            Op::Backup(o) => o.refs(),
            Op::Fault(o) => o.refs(),
            Op::Security(_) => Refs::default(),
            Op::Expect(o) => o.refs(),
            Op::Lease(o) => o.refs(),
        }
    }
}

impl<'a> Refs<'a> {
    pub fn with_members(mut self, members: impl IntoIterator<Item = &'a Target>) -> Self {
        self.members.extend(members);
        self
    }
    pub fn with_release(mut self, r: &'a str) -> Self {
        self.releases.push(r);
        self
    }
    /// An optional release (`start mN [RELEASE]`).
    pub fn with_release_opt(mut self, r: Option<&'a String>) -> Self {
        self.releases.extend(r.map(String::as_str));
        self
    }
}

/// Argument helpers shared by the families' parsers. Errors say what was expected; the scenario
/// loader adds file and line.
pub(super) mod args {
    use super::Target;

    pub fn target(s: &str) -> Result<Target, String> {
        match s {
            "leader" => Ok(Target::Leader),
            "follower" => Ok(Target::Follower),
            n if is_member_name(n) => Ok(Target::Named(n.into())),
            other => Err(format!(
                "{other:?} is not a member (m1, m2…, leader or follower)"
            )),
        }
    }

    /// `m1`, `m2`…, and the `r1`… names exploration gives replacement members.
    pub fn is_member_name(n: &str) -> bool {
        (n.starts_with('m') || n.starts_with('r')) && n.len() > 1 && n[1..].parse::<u32>().is_ok()
    }

    /// A new member's name (`mN`): references like `leader` make no sense there.
    pub fn new_name(s: &str, usage: &str) -> Result<String, String> {
        match target(s)? {
            Target::Named(n) => Ok(n),
            _ => Err(usage.to_string()),
        }
    }

    pub fn exactly(verb: &str, args: &[&str], n: usize, usage: &str) -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!("`{verb}` takes {n} argument(s): {usage}"))
        }
    }

    /// Splits a trailing `via mN`.
    pub fn split_via<'a>(a: &'a [&'a str]) -> Result<(&'a [&'a str], Option<Target>), String> {
        match a {
            [rest @ .., "via", t] => Ok((rest, Some(target(t)?))),
            rest => Ok((rest, None)),
        }
    }

    /// `for MS` or `until N entries`.
    pub fn hold(verb: &str, a: &[&str]) -> Result<super::Hold, String> {
        match a {
            ["for", t] => Ok(super::Hold::For {
                millis: millis(verb, t)?,
            }),
            ["until", n, "entries"] => Ok(super::Hold::Entries {
                count: n
                    .parse()
                    .map_err(|_| format!("`{verb}`: {n:?} is not a count of entries"))?,
            }),
            _ => Err(format!("`{verb}` is held `for MS` or `until N entries`")),
        }
    }

    pub fn millis(verb: &str, s: &str) -> Result<u64, String> {
        s.parse::<u64>()
            .map_err(|_| format!("`{verb}`: {s:?} is not a number of milliseconds"))
    }

    /// Flags given to a step: every `--flag[=value]` word.
    pub fn flags(words: &[&str]) -> (Vec<String>, Vec<String>) {
        let (f, rest): (Vec<&str>, Vec<&str>) = words.iter().partition(|a| a.starts_with("--"));
        (
            f.into_iter().map(str::to_string).collect(),
            rest.into_iter().map(str::to_string).collect(),
        )
    }
}

/// Parses one scenario line (comments already stripped) into an operation.
pub fn parse_line(line: &str) -> Result<Op, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (verb, rest) = words.split_first().ok_or("empty line")?;
    let v = super::registry::find(verb).ok_or_else(|| {
        format!(
            "unknown step {verb:?}; steps: {}",
            super::registry::names().join(", ")
        )
    })?;
    (v.parse)(verb, rest).map_err(|e| {
        if e.contains(v.usage) {
            e
        } else {
            format!("{e} (usage: {})", v.usage)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_was_expected() {
        assert!(parse_line("upgade m1 3.5.16")
            .unwrap_err()
            .contains("unknown step \"upgade\""));
        assert!(parse_line("stop x1").unwrap_err().contains("not a member"));
        assert!(parse_line("put k").unwrap_err().contains("put KEY VALUE"));
    }
}
