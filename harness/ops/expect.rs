//! Explicit assertions on top of the oracle: the model's cluster version, and a line in a
//! member's log (etcd's own e2e tests assert "saved snapshot", "sent database snapshot").

use std::fmt;
use std::time::Duration;

use super::error::{disagree, StepError};
use super::op::{args, Op, Refs, Target};
use super::runner::Runner;
use crate::cluster::wait::{poll, Probe};
use crate::release::MinorVersion;

/// How long `expect-log` waits by default.
const LOG_WAIT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    ClusterVersion(MinorVersion),
    /// A line containing `text` appears in the member's log since its last start, within
    /// `within_s` seconds.
    Log {
        member: Target,
        text: String,
        within_s: u64,
    },
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::ClusterVersion(v) => write!(f, "expect-cluster-version {v}"),
            Expect::Log {
                member,
                text,
                within_s,
            } => {
                write!(f, "expect-log {member} {text:?}")?;
                if *within_s != LOG_WAIT.as_secs() {
                    write!(f, " within {within_s}")?;
                }
                Ok(())
            }
        }
    }
}

pub fn parse(verb: &str, a: &[&str]) -> Result<Op, String> {
    let usage = super::registry::find(verb).map_or("", |v| v.usage);
    let op = match verb {
        "expect-cluster-version" => {
            args::exactly(verb, a, 1, usage)?;
            Expect::ClusterVersion(a[0].parse().map_err(|e| format!("{e}"))?)
        }
        "expect-log" => parse_log(a, usage)?,
        other => return Err(format!("not an expectation: {other}")),
    };
    Ok(op.into())
}

/// `expect-log MEMBER "TEXT WITH SPACES" [within S]`: the text is the quoted words.
fn parse_log(a: &[&str], usage: &str) -> Result<Expect, String> {
    let (first, rest) = a.split_first().ok_or(format!(
        "`expect-log` takes a member and a quoted text: {usage}"
    ))?;
    let member = args::target(first)?;
    let joined = rest.join(" ");
    let (text, tail) = joined
        .strip_prefix('"')
        .and_then(|s| s.split_once('"'))
        .ok_or(format!(
            "`expect-log` needs the text in double quotes: {usage}"
        ))?;
    if text.is_empty() {
        return Err(format!("`expect-log`: the text is empty: {usage}"));
    }
    let within_s = match tail.split_whitespace().collect::<Vec<_>>()[..] {
        [] => LOG_WAIT.as_secs(),
        ["within", s] => s
            .parse()
            .map_err(|_| format!("`expect-log`: {s:?} is not a number of seconds"))?,
        _ => return Err(format!("`expect-log`: unexpected {tail:?}: {usage}")),
    };
    Ok(Expect::Log {
        member,
        text: text.to_string(),
        within_s,
    })
}

impl Expect {
    pub fn refs(&self) -> Refs<'_> {
        match self {
            Expect::ClusterVersion(_) => Refs::default(),
            Expect::Log { member, .. } => Refs::default().with_members([member]),
        }
    }
}

impl Runner<'_> {
    pub(super) async fn apply_expect(&mut self, op: &Expect) -> Result<String, StepError> {
        match op {
            Expect::ClusterVersion(v) => {
                if self.model.cluster_version != Some(*v) {
                    let model = self
                        .model
                        .cluster_version
                        .map_or("undecided".into(), |m| m.to_string());
                    return Err(StepError::precondition(format!(
                        "the scenario expects cluster version {v}, the model predicts {model}"
                    )));
                }
                Ok(format!("model agrees: {v}"))
            }
            Expect::Log {
                member,
                text,
                within_s,
            } => {
                let i = self.index(member).await?;
                let m = self.cluster()?.member(i);
                let found = poll(
                    &format!("{text:?} in {}'s log", m.name),
                    Duration::from_secs(*within_s),
                    Duration::from_millis(100),
                    || async move {
                        let log = m.log_since_start();
                        match log.lines().find(|l| l.contains(text.as_str())) {
                            Some(line) => Ok(line.trim().to_string()),
                            None => Err(Probe::NotYet(format!("{} lines", log.lines().count()))),
                        }
                    },
                )
                .await;
                match found {
                    Ok(line) => Ok(format!("{}: {line}", m.name)),
                    Err(_) => Err(disagree(
                        format!("{}'s log since its last start", m.name),
                        format!("a line with {text:?} within {within_s} s"),
                        m.log_tail(3).replace('\n', " | "),
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::op::parse_line;

    #[test]
    fn lines_round_trip_through_display() {
        for l in [
            "expect-cluster-version 3.5",
            "expect-log m1 \"saved snapshot\"",
            "expect-log leader \"sent database snapshot\" within 30",
        ] {
            assert_eq!(parse_line(l).unwrap().to_string(), l);
        }
    }

    #[test]
    fn bad_lines_say_why() {
        for (l, want) in [
            ("expect-log m1 saved", "double quotes"),
            ("expect-log m1 \"x\" within soon", "not a number of seconds"),
            ("expect-log m1 \"\"", "empty"),
            ("expect-cluster-version 3", "3"),
        ] {
            let e = parse_line(l).unwrap_err();
            assert!(e.contains(want), "{l}: {e}");
        }
    }
}
