//! Faults on the peer network (through the peer-link proxies, `cluster/proxy.rs`) and on disk.
//! Each network fault is held for its duration and then repaired: the state it leaves behind
//! is a healed network. A partition checks that it bites (a write through the cut-off member
//! cannot commit).

use std::fmt;
use std::time::Duration;

use super::error::{disagree, StepError};
use super::op::{args, Op, Refs, Target};
use super::runner::Runner;
use crate::cluster::wait::{poll, Probe};
use crate::cluster::ClusterError;

/// How long a corrupted member may take to apply the marker before it is stopped.
const APPLY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Cut a member off from its peers for `millis`, then repair.
    Partition { member: Target, millis: u64 },
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
    /// Fault injection: write a marker value, stop the member, change the marker's bytes in its
    /// bbolt file, start it again. The checks must catch the divergence.
    CorruptValue { member: Target },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Partition { member, millis } => write!(f, "partition {member} for {millis}"),
            Fault::DropLink { from, to, millis } => write!(f, "drop-link {from} {to} for {millis}"),
            Fault::Slow {
                member,
                delay_ms,
                millis,
            } => write!(f, "slow {member} {delay_ms} for {millis}"),
            Fault::CorruptValue { member } => write!(f, "corrupt-value {member}"),
        }
    }
}

pub fn parse(verb: &str, a: &[&str]) -> Result<Op, String> {
    let usage = super::registry::find(verb).map_or("", |v| v.usage);
    let ms = |s: &str| args::millis(verb, s);
    let op = match (verb, a) {
        ("partition", [m, "for", t]) => Fault::Partition {
            member: args::target(m)?,
            millis: ms(t)?,
        },
        ("drop-link", [x, y, "for", t]) => Fault::DropLink {
            from: args::target(x)?,
            to: args::target(y)?,
            millis: ms(t)?,
        },
        ("slow", [m, d, "for", t]) => Fault::Slow {
            member: args::target(m)?,
            delay_ms: ms(d)?,
            millis: ms(t)?,
        },
        ("corrupt-value", [m]) => Fault::CorruptValue {
            member: args::target(m)?,
        },
        _ => return Err(format!("`{verb}` takes: {usage}")),
    };
    Ok(op.into())
}

impl Fault {
    pub fn refs(&self) -> Refs<'_> {
        let r = Refs::default();
        match self {
            Fault::Partition { member, .. }
            | Fault::Slow { member, .. }
            | Fault::CorruptValue { member } => r.with_members([member]),
            Fault::DropLink { from, to, .. } => r.with_members([from, to]),
        }
    }
}

impl Runner<'_> {
    pub(super) async fn apply_fault(&mut self, op: &Fault) -> Result<String, StepError> {
        match op {
            Fault::Partition { member, millis } => self.partition(member, *millis).await,
            Fault::DropLink { from, to, millis } => {
                let (a, b) = (self.index(from).await?, self.index(to).await?);
                self.cluster()?.drop_link(a, b)?;
                self.hold_fault(*millis).await;
                Ok(format!(
                    "{} → {} dropped for {millis} ms, then repaired",
                    self.name(a),
                    self.name(b)
                ))
            }
            Fault::Slow {
                member,
                delay_ms,
                millis,
            } => {
                let i = self.index(member).await?;
                self.cluster()?.slow(i, Duration::from_millis(*delay_ms))?;
                self.hold_fault(*millis).await;
                Ok(format!(
                    "{} delayed by {delay_ms} ms for {millis} ms, then repaired",
                    self.name(i)
                ))
            }
            Fault::CorruptValue { member } => self.corrupt_value(member).await,
        }
    }

    async fn partition(&mut self, member: &Target, millis: u64) -> Result<String, StepError> {
        let i = self.index(member).await?;
        let name = self.name(i);
        self.cluster()?.partition(i)?;
        // The fault must bite: a member cut off from its peers cannot commit a write.
        let started = tokio::time::Instant::now();
        let value = self.marker("written-while-partitioned");
        let probe = self.cluster()?.member(i);
        let result = tokio::time::timeout(
            Duration::from_millis(1500),
            probe.put("skew/partition-probe", &value),
        )
        .await;
        if let Ok(Ok(_)) = result {
            self.cluster()?.repair();
            return Err(disagree(
                format!("write via {name} while it is partitioned"),
                "no commit (cut off from its peers)",
                "acknowledged",
            ));
        }
        self.model.maybe("skew/partition-probe", Some(&value));
        let left = Duration::from_millis(millis).saturating_sub(started.elapsed());
        self.hold_fault(left.as_millis() as u64).await;
        Ok(format!(
            "{name} cut off for {millis} ms (a write through it could not commit), then repaired"
        ))
    }

    /// Keeps a network fault in place for its duration (the fault is the point of waiting; any
    /// traffic running meanwhile meets it), then repairs every link.
    async fn hold_fault(&self, millis: u64) {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        if let Some(c) = self.cluster.as_ref() {
            c.repair();
        }
    }

    /// Fault injection for testing the checks themselves: a marker value written and replicated,
    /// then its bytes changed in one stopped member's bbolt file (same length, so the file stays
    /// well-formed; bbolt keeps no page checksums), and the member started again.
    async fn corrupt_value(&mut self, member: &Target) -> Result<String, StepError> {
        let i = self.index(member).await?;
        let name = self.name(i);
        let via = self.via(&None).await?;
        let value = self.marker("corruption-target");
        self.write(via, "skew/corruption-target", Some(&value))
            .await?;
        {
            let m = self.cluster()?.member(i);
            let v = &value;
            poll(
                &format!("{name} to apply the marker"),
                APPLY_TIMEOUT,
                Duration::from_millis(50),
                || async move {
                    match m.get("skew/corruption-target").await {
                        Ok(Some(got)) if &got == v => Ok(()),
                        other => Err(Probe::NotYet(format!("{other:?}"))),
                    }
                },
            )
            .await?;
        }
        self.cluster()?.stop_member(i).await;
        self.model.stop(&name);
        let db = self.cluster()?.member(i).data_dir.join("member/snap/db");
        let io = |e: std::io::Error| ClusterError::io(db.display().to_string(), e);
        let mut bytes = std::fs::read(&db).map_err(io)?;
        let copies = replace_all(
            &mut bytes,
            value.as_bytes(),
            value.to_uppercase().as_bytes(),
        );
        if copies == 0 {
            return Err(StepError::precondition(format!(
                "the marker value is not in {}",
                db.display()
            )));
        }
        std::fs::write(&db, bytes).map_err(io)?;
        let started = self.start(i, None, None, false).await?;
        Ok(format!(
            "changed {copies} copies of a value's bytes in {name}'s bbolt file; {started}"
        ))
    }
}

/// Replaces every occurrence of `needle` by `with` (same length); returns how many.
fn replace_all(bytes: &mut [u8], needle: &[u8], with: &[u8]) -> usize {
    debug_assert_eq!(needle.len(), with.len());
    let (mut copies, mut at) = (0, 0);
    while let Some(p) = bytes[at..].windows(needle.len()).position(|w| w == needle) {
        let start = at + p;
        bytes[start..start + needle.len()].copy_from_slice(with);
        copies += 1;
        at = start + needle.len();
    }
    copies
}

#[cfg(test)]
mod tests {
    use super::super::op::parse_line;
    use super::replace_all;

    #[test]
    fn lines_round_trip_through_display() {
        for l in [
            "partition leader for 2000",
            "drop-link m1 m2 for 1500",
            "slow m3 100 for 1000",
            "corrupt-value m2",
        ] {
            assert_eq!(parse_line(l).unwrap().to_string(), l);
        }
        assert!(parse_line("partition m1 2000")
            .unwrap_err()
            .contains("partition MEMBER for MS"));
    }

    #[test]
    fn replaces_every_copy() {
        let mut b = b"xxabcyyabc".to_vec();
        assert_eq!(replace_all(&mut b, b"abc", b"ABC"), 2);
        assert_eq!(&b, b"xxABCyyABC");
    }
}
