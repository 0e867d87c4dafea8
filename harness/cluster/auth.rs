//! Authentication: a root user and an ordinary user with a role limited to a key prefix, as
//! clusters run in production; enabled before an upgrade and checked across it. The 3.5→3.4
//! downgrade guide (seed 002) says a rolling downgrade with auth on is not supported (3.5
//! changed the format of auth WAL entries): scenarios record what really happens.

use etcd_client::Permission;

use super::error::ClusterError;
use super::running::Cluster;

pub const ROOT: (&str, &str) = ("root", "root-pw");
/// The ordinary user: read-write on [`USER_PREFIX`] only.
pub const USER: (&str, &str) = ("alice", "alice-pw");
pub const USER_ROLE: &str = "app";
pub const USER_PREFIX: &str = "app/";

impl Cluster {
    /// Creates root and the ordinary user with its role, then enables auth through member
    /// `via`; from then on every harness RPC authenticates as root.
    pub async fn enable_auth(&mut self, via: usize) -> Result<(), ClusterError> {
        let m = &self.members[via];
        m.rpc("user add root", |mut c| async move {
            c.user_add(ROOT.0, ROOT.1, None).await
        })
        .await?;
        m.rpc("grant root", |mut c| async move {
            c.user_grant_role(ROOT.0, "root").await
        })
        .await?;
        m.rpc(
            "role add",
            |mut c| async move { c.role_add(USER_ROLE).await },
        )
        .await?;
        m.rpc("grant permission", |mut c| async move {
            c.role_grant_permission(USER_ROLE, Permission::read_write(USER_PREFIX).with_prefix())
                .await
        })
        .await?;
        m.rpc("user add", |mut c| async move {
            c.user_add(USER.0, USER.1, None).await
        })
        .await?;
        m.rpc("grant role", |mut c| async move {
            c.user_grant_role(USER.0, USER_ROLE).await
        })
        .await?;
        m.rpc("auth enable", |mut c| async move { c.auth_enable().await })
            .await?;
        self.set_credentials(Some((ROOT.0.into(), ROOT.1.into())));
        Ok(())
    }

    /// Disables auth (as root) and deletes the users, as the downgrade guide asks.
    pub async fn disable_auth(&mut self, via: usize) -> Result<(), ClusterError> {
        let m = &self.members[via];
        m.rpc(
            "auth disable",
            |mut c| async move { c.auth_disable().await },
        )
        .await?;
        self.set_credentials(None);
        let m = &self.members[via];
        m.rpc(
            "user delete",
            |mut c| async move { c.user_delete(USER.0).await },
        )
        .await?;
        m.rpc("user delete root", |mut c| async move {
            c.user_delete(ROOT.0).await
        })
        .await?;
        Ok(())
    }

    pub fn set_credentials(&mut self, credentials: Option<(String, String)>) {
        for m in &mut self.members {
            m.credentials = credentials.clone();
        }
        self.credentials = credentials;
    }
}
