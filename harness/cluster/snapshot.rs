//! Snapshot backup and disaster recovery (seed 004): `snapshot save` from a member through the
//! API, and `snapshot restore` with each member's own `etcdutl` (3.5+) or `etcdctl` (3.3, 3.4,
//! which have no etcdutl) into fresh data dirs, then the cluster restarted from them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::error::ClusterError;
use super::flags::InitialState;
use super::member::Member;
use super::running::Cluster;
use crate::release::source::run_bounded;

impl Member {
    /// Streams a snapshot of this member's backend into `path`. Works without quorum.
    pub async fn snapshot_save(&self, path: &Path) -> Result<u64, ClusterError> {
        let mut client = self.client().await?;
        let mut file = std::fs::File::create(path)
            .map_err(|e| ClusterError::io(path.display().to_string(), e))?;
        let fetch = async {
            let mut stream = client.snapshot().await?;
            let mut n = 0u64;
            while let Some(chunk) = stream.message().await? {
                file.write_all(chunk.blob())
                    .map_err(etcd_client::Error::IoError)?;
                n += chunk.blob().len() as u64;
            }
            Ok::<u64, etcd_client::Error>(n)
        };
        let err = |m: String| ClusterError::Request {
            member: self.name.clone(),
            op: "snapshot save".into(),
            message: m,
        };
        let n = tokio::time::timeout(Duration::from_secs(60), fetch)
            .await
            .map_err(|_| err("timed out after 60s".into()))?
            .map_err(|e| err(e.to_string()))?;
        file.sync_all()
            .map_err(|e| ClusterError::io(path.display().to_string(), e))?;
        Ok(n)
    }

    /// `snapshot restore` of `snapshot` into a new data dir for this member.
    pub fn restore_into(
        &self,
        snapshot: &Path,
        data_dir: &Path,
        initial_cluster: &str,
        token: &str,
        skip_hash_check: bool,
    ) -> Result<(), ClusterError> {
        self.release.verify()?;
        let (tool, api3) = match self.release.binary("etcdutl") {
            Some(u) => (u.to_path_buf(), false),
            None => (
                self.release
                    .binary("etcdctl")
                    .expect("every release has etcdctl")
                    .to_path_buf(),
                true,
            ),
        };
        let mut cmd = Command::new(&tool);
        // Only what we set: an operator's ETCDCTL_* must not change what the restore does.
        cmd.env_clear().env("PATH", "/usr/bin:/bin");
        if api3 {
            cmd.env("ETCDCTL_API", "3");
        }
        cmd.arg("snapshot")
            .arg("restore")
            .arg(snapshot)
            .arg(format!("--name={}", self.name))
            .arg(format!("--initial-cluster={initial_cluster}"))
            .arg(format!("--initial-cluster-token={token}"))
            .arg(format!("--initial-advertise-peer-urls={}", self.peer_url))
            .arg(format!("--data-dir={}", data_dir.display()));
        if skip_hash_check {
            cmd.arg("--skip-hash-check");
        }
        let scratch = data_dir.parent().unwrap_or(Path::new("/tmp"));
        run_bounded(&mut cmd, scratch, Duration::from_secs(60))
            .map(|_| ())
            .map_err(|e| ClusterError::Request {
                member: self.name.clone(),
                op: format!("{} snapshot restore", tool.display()),
                message: e,
            })
    }
}

impl Cluster {
    /// Disaster recovery: stop every member, keep the old data dirs aside, restore `snapshot`
    /// into a new data dir on every member, start them all and wait until healthy.
    pub async fn restore_all(
        &mut self,
        snapshot: &Path,
        skip_hash_check: bool,
    ) -> Result<(), ClusterError> {
        for m in &self.members {
            m.stop(Duration::from_secs(10)).await;
        }
        let initial = self.initial_cluster();
        let token = self.cfg.token.clone();
        for m in &mut self.members {
            let restored: PathBuf = m.data_dir.with_file_name(format!(
                "{}-restored-{}.etcd",
                m.name,
                rand::random::<u16>()
            ));
            m.restore_into(snapshot, &restored, &initial, &token, skip_hash_check)?;
            m.data_dir = restored;
        }
        let cfg = self.cfg.clone();
        for m in &mut self.members {
            m.start(&initial, InitialState::New, &cfg)?;
        }
        self.wait_healthy(Duration::from_secs(30)).await?;
        self.learn_member_ids().await
    }

    /// The backend file of a stopped member (`member/snap/db`), copied out: the 004 recovery
    /// source when no member is up. Restoring it needs `--skip-hash-check`.
    pub fn copy_backend(&self, i: usize, dest: &Path) -> Result<(), ClusterError> {
        let db = self.members[i].data_dir.join("member/snap/db");
        std::fs::copy(&db, dest)
            .map(|_| ())
            .map_err(|e| ClusterError::io(format!("copy {}", db.display()), e))
    }
}
