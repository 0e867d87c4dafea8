//! Certificate rotation on a running cluster (seed 004): server and peer certs replaced in place
//! while members run (etcd reloads them per connection since 3.2); a new CA needs every member
//! restarted. The certificates themselves come from [`super::pki`].

use std::time::Duration;

use super::error::ClusterError;
use super::pki::{ClientTls, Leaf, Pki};
use super::running::Cluster;
use super::wait::{poll, Probe};

impl Cluster {
    fn pki_mut(&mut self) -> Result<&mut Pki, ClusterError> {
        self.pki
            .as_mut()
            .ok_or_else(|| ClusterError::Invalid("the cluster does not run TLS".into()))
    }

    /// Replaces the server (or peer) certificates in place while every member runs, then waits
    /// until every live member serves the new one: etcd reloads certificates per new
    /// connection (seed 004, "since v3.2.0"). Returns the new certificates' marker SAN.
    pub async fn rotate_live(&mut self, leaf: Leaf) -> Result<String, ClusterError> {
        let marker = self.pki_mut()?.rotate(leaf)?;
        let live = self.live();
        let members = &self.members;
        let peer = leaf == Leaf::Peer;
        let what = format!(
            "every live member to serve the rotated {} certificate",
            leaf.file()
        );
        poll(
            &what,
            Duration::from_secs(15),
            Duration::from_millis(100),
            || {
                let (live, marker) = (live.clone(), marker.clone());
                async move {
                    for i in live {
                        members[i]
                            .serves_certificate(&marker, peer)
                            .await
                            .map_err(|e| Probe::NotYet(e.to_string()))?;
                    }
                    Ok(())
                }
            },
        )
        .await?;
        Ok(marker)
    }

    /// CA rotation (seed 004): stop every member, replace the CA and every certificate, start
    /// every member again, wait until healthy. Clients switch to the new material.
    pub async fn rotate_ca(&mut self) -> Result<String, ClusterError> {
        let running: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.members[i].is_running())
            .collect();
        for &i in &running {
            self.members[i].stop(Duration::from_secs(10)).await;
        }
        let marker = self.pki_mut()?.rotate_ca()?;
        let client = self.pki.as_ref().unwrap().client()?;
        for m in &mut self.members {
            m.use_tls(client.clone());
        }
        for &i in &running {
            self.restart_member(i, None)?;
        }
        self.wait_healthy(Duration::from_secs(30)).await?;
        Ok(marker)
    }

    /// The client material of the CA before the last rotation is gone; this builds a client
    /// that still trusts only `old`, to show it is refused.
    pub fn client_tls(&self) -> Option<ClientTls> {
        self.pki.as_ref().and_then(|p| p.client().ok())
    }
}
