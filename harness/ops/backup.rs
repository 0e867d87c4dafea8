//! Backup and disaster recovery (seed 004): `snapshot save` from a member, a copy of a stopped
//! member's backend file, and the restore of every member from one of them.

use std::fmt;

use super::error::StepError;
use super::op::{args, Op, Refs, Target};
use super::runner::Runner;
use crate::cluster::auth::ROOT;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backup {
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
}

impl fmt::Display for Backup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backup::SnapshotSave { name, from } => write!(f, "snapshot-save {name} from {from}"),
            Backup::CopyBackend { name, member } => write!(f, "copy-backend {name} from {member}"),
            Backup::Restore { name } => write!(f, "restore {name}"),
        }
    }
}

pub fn parse(verb: &str, a: &[&str]) -> Result<Op, String> {
    let usage = super::registry::find(verb).map_or("", |v| v.usage);
    let op = match (verb, a) {
        ("snapshot-save", [name, "from", t]) => Backup::SnapshotSave {
            name: name.to_string(),
            from: args::target(t)?,
        },
        ("copy-backend", [name, "from", t]) => Backup::CopyBackend {
            name: name.to_string(),
            member: args::target(t)?,
        },
        ("restore", [name]) => Backup::Restore {
            name: name.to_string(),
        },
        _ => return Err(format!("`{verb}` takes: {usage}")),
    };
    Ok(op.into())
}

impl Backup {
    pub fn refs(&self) -> Refs<'_> {
        match self {
            Backup::SnapshotSave { from: t, .. } | Backup::CopyBackend { member: t, .. } => {
                Refs::default().with_members([t])
            }
            Backup::Restore { .. } => Refs::default(),
        }
    }
}

impl Runner<'_> {
    pub(super) async fn apply_backup(&mut self, op: &Backup) -> Result<String, StepError> {
        match op {
            Backup::SnapshotSave { name, from } => {
                let i = self.index(from).await?;
                let c = self.cluster()?;
                let dir = c.dir().join("snapshots");
                std::fs::create_dir_all(&dir).map_err(|e| {
                    crate::cluster::ClusterError::io(format!("mkdir {}", dir.display()), e)
                })?;
                let path = dir.join(format!("{name}.db"));
                let n = c.member(i).snapshot_save(&path).await?;
                self.model.save_snapshot(name);
                self.snapshots.insert(name.clone(), (path, false));
                Ok(format!("{n} bytes from {}", self.name(i)))
            }
            Backup::CopyBackend { name, member } => {
                let i = self.index(member).await?;
                let c = self.cluster()?;
                if c.member(i).is_running() {
                    return Err(StepError::precondition(format!(
                        "copy-backend: {} must be stopped first",
                        c.member(i).name
                    )));
                }
                let dir = c.dir().join("snapshots");
                std::fs::create_dir_all(&dir).map_err(|e| {
                    crate::cluster::ClusterError::io(format!("mkdir {}", dir.display()), e)
                })?;
                let path = dir.join(format!("{name}.db"));
                c.copy_backend(i, &path)?;
                let member_name = self.name(i);
                self.model
                    .copy_backend(&member_name, name)
                    .map_err(StepError::Precondition)?;
                self.snapshots.insert(name.clone(), (path, true));
                Ok(format!("member/snap/db of {member_name}"))
            }
            Backup::Restore { name } => {
                let (path, skip) =
                    self.snapshots.get(name).cloned().ok_or_else(|| {
                        StepError::precondition(format!("no snapshot named {name}"))
                    })?;
                // The auth state comes back with the snapshot's auth store: the harness's
                // requests carry credentials if it was on when the snapshot was taken.
                let auth = self.model.snapshots.get(name).is_some_and(|s| s.auth);
                let credentials = auth.then(|| (ROOT.0.to_string(), ROOT.1.to_string()));
                self.cluster_mut()?.set_credentials(credentials);
                self.cluster_mut()?.restore_all(&path, skip).await?;
                self.model.restore(name).map_err(StepError::Precondition)?;
                // A restored cluster is a new cluster: new member ids, revisions restart from
                // the snapshot's.
                let ids: Vec<_> = (self.cluster()?.members().iter())
                    .map(|m| (m.name.clone(), m.id, m.peer_url.clone()))
                    .collect();
                for (name, id, url) in ids {
                    self.model.identify(&name, id, &url);
                }
                self.last_revisions.clear();
                self.compacted = 0;
                Ok(format!(
                    "every member restored from {name}{}",
                    if skip { " (--skip-hash-check)" } else { "" }
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
            "snapshot-save backup from leader",
            "copy-backend raw from m2",
            "restore backup",
        ] {
            assert_eq!(parse_line(l).unwrap().to_string(), l);
        }
        assert!(parse_line("snapshot-save b m1")
            .unwrap_err()
            .contains("snapshot-save NAME from MEMBER"));
    }
}
