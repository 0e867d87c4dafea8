//! Faults on the peer network (through the peer-link proxies, `cluster/proxy.rs`) and on disk.
//! Each network fault is held for its duration and then repaired: the state it leaves behind
//! is a healed network. A partition checks that it bites (a write through the cut-off member
//! cannot commit).

use std::fmt;
use std::time::Duration;

use super::error::{disagree, StepError};
use super::op::{args, Hold, Op, Refs, Target};
use super::runner::Runner;
use crate::cluster::wait::{poll, Probe};
use crate::cluster::ClusterError;

/// The latest a `kill-during` SIGKILL lands after the work began, in ms: defragmenting a
/// backend of a few hundred kB takes 10–30 ms here, so most kills land inside it.
const KILL_DELAY_MS: u64 = 15;

/// How long a corrupted member may take to apply the marker before it is stopped.
const APPLY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Cut a member off from its peers for the hold, then repair.
    Partition { member: Target, hold: Hold },
    /// Drop messages from one member to another for the hold (the reverse flows), then repair.
    DropLink {
        from: Target,
        to: Target,
        hold: Hold,
    },
    /// Delay every message to or from a member by `delay_ms` for the hold, then repair.
    Slow {
        member: Target,
        delay_ms: u64,
        hold: Hold,
    },
    /// SIGKILL a member while a defragmentation or compaction it serves is in flight: the
    /// crash lands inside the backend's longest write transactions.
    KillDuring { work: Work, member: Target },
    /// Fault injection: write a marker value, stop the member, change the marker's bytes in its
    /// bbolt file, start it again. The checks must catch the divergence.
    CorruptValue { member: Target },
}

/// What a [`Fault::KillDuring`] interrupts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// `Defragment` on the member: it rewrites the whole backend into a new file.
    Defrag,
    /// A physical `Compact` through the member: it waits until the member's backend deleted
    /// the compacted revisions, batch by batch (`--experimental-compaction-batch-limit`).
    Compact,
}

impl fmt::Display for Work {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Work::Defrag => "defrag",
            Work::Compact => "compact",
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Partition { member, hold } => write!(f, "partition {member} {hold}"),
            Fault::DropLink { from, to, hold } => write!(f, "drop-link {from} {to} {hold}"),
            Fault::Slow {
                member,
                delay_ms,
                hold,
            } => write!(f, "slow {member} {delay_ms} {hold}"),
            Fault::KillDuring { work, member } => write!(f, "kill-during {work} {member}"),
            Fault::CorruptValue { member } => write!(f, "corrupt-value {member}"),
        }
    }
}

pub fn parse(verb: &str, a: &[&str]) -> Result<Op, String> {
    let usage = super::registry::find(verb).map_or("", |v| v.usage);
    let hold = |a: &[&str]| args::hold(verb, a).map_err(|e| format!("{e}: {usage}"));
    let op = match (verb, a) {
        ("partition", [m, rest @ ..]) => Fault::Partition {
            member: args::target(m)?,
            hold: hold(rest)?,
        },
        ("drop-link", [x, y, rest @ ..]) => Fault::DropLink {
            from: args::target(x)?,
            to: args::target(y)?,
            hold: hold(rest)?,
        },
        ("slow", [m, d, rest @ ..]) => Fault::Slow {
            member: args::target(m)?,
            delay_ms: args::millis(verb, d)?,
            hold: hold(rest)?,
        },
        ("kill-during", [w, m]) => Fault::KillDuring {
            work: match *w {
                "defrag" => Work::Defrag,
                "compact" => Work::Compact,
                _ => return Err(format!("`{verb}` interrupts defrag or compact: {usage}")),
            },
            member: args::target(m)?,
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
            | Fault::KillDuring { member, .. }
            | Fault::CorruptValue { member } => r.with_members([member]),
            Fault::DropLink { from, to, .. } => r.with_members([from, to]),
        }
    }
}

impl Runner<'_> {
    pub(super) async fn apply_fault(&mut self, op: &Fault) -> Result<String, StepError> {
        match op {
            Fault::Partition { member, hold } => self.partition(member, hold).await,
            Fault::DropLink { from, to, hold } => {
                let (a, b) = (self.index(from).await?, self.index(to).await?);
                self.cluster()?.drop_link(a, b)?;
                let held = self.hold_fault(hold, Some(a)).await;
                Ok(format!(
                    "{} → {} dropped for {held}, then repaired",
                    self.name(a),
                    self.name(b)
                ))
            }
            Fault::Slow {
                member,
                delay_ms,
                hold,
            } => {
                let i = self.index(member).await?;
                self.cluster()?.slow(i, Duration::from_millis(*delay_ms))?;
                let held = self.hold_fault(hold, Some(i)).await;
                Ok(format!(
                    "{} delayed by {delay_ms} ms for {held}, then repaired",
                    self.name(i)
                ))
            }
            Fault::KillDuring { work, member } => self.kill_during(*work, member).await,
            Fault::CorruptValue { member } => self.corrupt_value(member).await,
        }
    }

    async fn partition(&mut self, member: &Target, hold: &Hold) -> Result<String, StepError> {
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
        let rest = match *hold {
            Hold::For { millis } => Hold::For {
                millis: Duration::from_millis(millis)
                    .saturating_sub(started.elapsed())
                    .as_millis() as u64,
            },
            entries => entries,
        };
        let held = self.hold_fault(&rest, Some(i)).await;
        Ok(format!(
            "{name} cut off (a write through it could not commit) for {held} more, then repaired"
        ))
    }

    /// Keeps a network fault in place for its hold (the fault is the point of waiting; any
    /// traffic running meanwhile meets it), then repairs every link.
    async fn hold_fault(&self, hold: &Hold, held_off: Option<usize>) -> String {
        let held = self.hold(hold, held_off).await;
        if let Some(c) = self.cluster.as_ref() {
            c.repair();
        }
        held
    }

    /// Starts `work` on (or through) member `i`, SIGKILLs the member after a delay drawn from
    /// the run's seed (0–`KILL_DELAY_MS`), and says whether the work was still in flight.
    async fn kill_during(&mut self, work: Work, member: &Target) -> Result<String, StepError> {
        let i = self.index(member).await?;
        let name = self.name(i);
        let delay = self.draw(0..=KILL_DELAY_MS);
        let revision = self.cluster()?.member(i).status().await?.revision;
        // A compaction to just behind the head: everything before it is deleted in batches.
        let to = (revision - 1).max(1);
        let m = self.cluster()?.member(i);
        let done = std::sync::atomic::AtomicBool::new(false);
        let run = async {
            let t0 = tokio::time::Instant::now();
            let r = match work {
                Work::Defrag => m
                    .rpc("defragment", |mut c| async move { c.defragment().await })
                    .await
                    .map(|_| ()),
                Work::Compact => m
                    .rpc("compact", |mut c| async move {
                        let physical = etcd_client::CompactionOptions::new().with_physical();
                        c.compact(to, Some(physical)).await
                    })
                    .await
                    .map(|_| ()),
            };
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            (r, t0.elapsed())
        };
        let kill = async {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let in_flight = !done.load(std::sync::atomic::Ordering::SeqCst);
            m.kill();
            in_flight
        };
        let ((result, took), in_flight) = tokio::join!(run, kill);
        self.model.kill(&name);
        let outcome = match result {
            Ok(()) if !in_flight => {
                format!(
                    "{work} had finished ({} ms) before the kill",
                    took.as_millis()
                )
            }
            Ok(()) => format!("{work} answered as the kill landed"),
            Err(e) => format!("{work} in flight, cut off: {e}"),
        };
        if matches!(work, Work::Compact) {
            // It may or may not have been applied: the next compaction goes past it.
            self.compacted = self.compacted.max(to);
        }
        Ok(format!(
            "{name} SIGKILLed {delay} ms into a {work}; {outcome}"
        ))
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
            "partition m2 until 6000 entries",
            "drop-link m1 m2 for 1500",
            "drop-link m1 m2 until 100 entries",
            "slow m3 100 for 1000",
            "kill-during defrag m1",
            "kill-during compact leader",
            "corrupt-value m2",
        ] {
            assert_eq!(parse_line(l).unwrap().to_string(), l);
        }
        assert!(parse_line("partition m1 2000")
            .unwrap_err()
            .contains("partition MEMBER for MS|until N entries"));
        assert!(parse_line("partition m1 until many entries")
            .unwrap_err()
            .contains("not a count of entries"));
        assert!(parse_line("kill-during backup m1")
            .unwrap_err()
            .contains("defrag or compact"));
    }

    #[test]
    fn replaces_every_copy() {
        let mut b = b"xxabcyyabc".to_vec();
        assert_eq!(replace_all(&mut b, b"abc", b"ABC"), 2);
        assert_eq!(&b, b"xxABCyyABC");
    }
}
