//! Data operations: v3 puts and deletes, v2 sets, compaction and defragmentation. A write is
//! predicted acknowledged while the model has quorum and "maybe applied" (any failure, never
//! an acknowledgement) without one.

use std::fmt;

use super::error::{judge, Judged, Prediction, StepError};
use super::op::{args, Op, Refs, Target};
use super::oracle::V2_PREFIX;
use super::runner::Runner;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Data {
    /// A v3 put through a member (default: the first live voting one).
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
    /// Compact the key history up to a revision well behind the current one.
    Compact,
    /// Defragment one member's backend.
    Defrag {
        member: Target,
    },
}

impl fmt::Display for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Data::Put { key, value, via } => {
                write!(f, "put {key} {value}")?;
                via.as_ref().map_or(Ok(()), |v| write!(f, " via {v}"))
            }
            Data::PutMany { prefix, count } => write!(f, "put-many {prefix} {count}"),
            Data::Delete { key } => write!(f, "delete {key}"),
            Data::V2Set { key, value } => write!(f, "v2-set {key} {value}"),
            Data::Compact => f.write_str("compact"),
            Data::Defrag { member } => write!(f, "defrag {member}"),
        }
    }
}

pub fn parse(verb: &str, a: &[&str]) -> Result<Op, String> {
    let usage = super::registry::find(verb).map_or("", |v| v.usage);
    let n = |k: usize| args::exactly(verb, a, k, usage);
    let op = match verb {
        "put" => {
            let (kv, via) = args::split_via(a)?;
            if kv.len() != 2 {
                return Err(format!("`put` takes a key and a value: {usage}"));
            }
            Data::Put {
                key: kv[0].into(),
                value: kv[1].into(),
                via,
            }
        }
        "put-many" => {
            n(2)?;
            let count = a[1]
                .parse()
                .map_err(|_| format!("put-many: {:?} is not a count", a[1]))?;
            Data::PutMany {
                prefix: a[0].into(),
                count,
            }
        }
        "delete" => {
            n(1)?;
            Data::Delete { key: a[0].into() }
        }
        "v2-set" => {
            n(2)?;
            Data::V2Set {
                key: a[0].into(),
                value: a[1].into(),
            }
        }
        "compact" => {
            n(0)?;
            Data::Compact
        }
        "defrag" => {
            n(1)?;
            Data::Defrag {
                member: args::target(a[0])?,
            }
        }
        other => return Err(format!("not a data step: {other}")),
    };
    Ok(op.into())
}

impl Data {
    pub fn refs(&self) -> Refs<'_> {
        match self {
            Data::Put { via: Some(t), .. } | Data::Defrag { member: t } => {
                Refs::default().with_members([t])
            }
            _ => Refs::default(),
        }
    }
}

impl Runner<'_> {
    pub(super) async fn apply_data(&mut self, op: &Data) -> Result<String, StepError> {
        match op {
            Data::Put { key, value, via } => {
                let i = self.via(via).await?;
                self.write(i, key, Some(value)).await
            }
            Data::Delete { key } => {
                let i = self.via(&None).await?;
                self.write(i, key, None).await
            }
            Data::PutMany { prefix, count } => {
                let i = self.via(&None).await?;
                for n in 0..*count {
                    let (k, v) = (format!("{prefix}/{n}"), format!("value-{n}"));
                    self.write(i, &k, Some(&v)).await?;
                }
                Ok(format!("{count} writes, each as the model predicted"))
            }
            Data::V2Set { key, value } => {
                if !self.model.has_quorum() {
                    return Err(StepError::precondition(
                        "v2-set needs a quorum; use put to test writes without one",
                    ));
                }
                let i = self.via(&None).await?;
                self.cluster()?.member(i).v2_set(key, value).await?;
                self.model.ack(&format!("{V2_PREFIX}{key}"), Some(value));
                Ok("v2 write acknowledged".into())
            }
            Data::Compact => self.compact().await,
            Data::Defrag { member } => {
                let i = self.index(member).await?;
                let m = self.cluster()?.member(i);
                m.rpc("defragment", |mut c| async move { c.defragment().await })
                    .await?;
                Ok(format!("{} defragmented", m.name))
            }
        }
    }

    async fn compact(&mut self) -> Result<String, StepError> {
        let i = self.via(&None).await?;
        let m = self.cluster()?.member(i);
        let current = m.status().await?.revision;
        // Well behind the present, so the oracle's HashKV revision stays above it; and past the
        // last compaction, which etcd would refuse again.
        let to = (current - 10).max(1);
        if to <= self.compacted {
            return Ok(format!(
                "nothing to compact (current {current}, compacted {})",
                self.compacted
            ));
        }
        m.rpc("compact", |mut c| async move { c.compact(to, None).await })
            .await?;
        self.compacted = to;
        Ok(format!("compacted to revision {to} (current {current})"))
    }

    /// A put or delete: acknowledged when the model has quorum, "maybe applied" otherwise (and
    /// then etcd must not acknowledge it).
    pub(super) async fn write(
        &mut self,
        i: usize,
        key: &str,
        value: Option<&str>,
    ) -> Result<String, StepError> {
        let m = self.cluster()?.member(i);
        let name = m.name.clone();
        let result = match value {
            Some(v) => m.put(key, v).await.map(|_| ()),
            None => {
                let k = key.to_string();
                m.rpc("delete", |mut c| async move { c.delete(k, None).await })
                    .await
                    .map(|_| ())
            }
        };
        let predicted = if self.model.has_quorum() {
            Prediction::Accept
        } else {
            Prediction::Fail
        };
        match judge(&format!("write {key:?} via {name}"), &predicted, result)? {
            Judged::Accepted(()) => {
                self.model.ack(key, value);
                Ok("acknowledged".into())
            }
            Judged::Refused(e) => {
                self.model.maybe(key, value);
                Ok(format!(
                    "failed as predicted without quorum (maybe applied): {e}"
                ))
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
            "put k v via m2",
            "put-many data 20",
            "delete k",
            "v2-set a b",
            "compact",
            "defrag leader",
        ] {
            assert_eq!(parse_line(l).unwrap().to_string(), l);
        }
        assert!(parse_line("put-many p lots")
            .unwrap_err()
            .contains("not a count"));
        assert!(parse_line("defrag").unwrap_err().contains("defrag MEMBER"));
    }
}
