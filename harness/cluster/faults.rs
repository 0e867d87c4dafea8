//! Network faults between members, through the peer-link proxies (`proxy.rs`). Verbs named for
//! what a tester says, each documenting the state it leaves:
//! - [`Cluster::partition`]: a member cut off from every peer, both ways;
//! - [`Cluster::drop_link`]: messages from one member to another dropped, the reverse flowing;
//! - [`Cluster::slow`]: every message to or from a member delayed;
//! - [`Cluster::repair`]: all links whole and fast again.
//!
//! Client ports are untouched: a partitioned member still answers clients (and `/version`).

use std::time::Duration;

use super::error::ClusterError;
use super::proxy::{PeerProxy, ProxyTls};
use super::running::Cluster;

impl Cluster {
    /// When the cluster has proxies: member `i` advertises a proxy port in front of its real
    /// peer listener (terminating peer TLS, when the cluster runs it). Called before the member
    /// first starts, after [`Cluster::secure`].
    pub(super) fn put_behind_proxy(&mut self, i: usize) -> Result<(), ClusterError> {
        if self.proxies.is_none() {
            return Ok(());
        }
        let real: u16 = self.members[i]
            .listen_peer_url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_default();
        let port = self.take_port()?;
        // Peer TLS: the proxy terminates it with the members' own peer certificate.
        let tls = match &self.pki {
            Some(pki) => Some(ProxyTls::new(&pki.peer()?)?),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let proxy = PeerProxy::start(port, real, self.link_rules.clone(), tls)
            .map_err(|e| ClusterError::io(format!("peer proxy on port {port}"), e))?;
        let m = &mut self.members[i];
        m.peer_url = format!("{scheme}://127.0.0.1:{port}");
        *proxy.owner.write().unwrap() = m.id.map(|id| format!("{id:x}"));
        let name = m.name.clone();
        self.proxies.as_mut().unwrap().insert(name, proxy);
        Ok(())
    }

    /// Records member `i`'s raft id, and tells its proxy (a proxy that does not know whom it
    /// fronts cannot apply any rule to that member's links).
    pub(super) fn set_member_id(&mut self, i: usize, id: u64) {
        self.members[i].id = Some(id);
        if let Some(p) = self
            .proxies
            .as_ref()
            .and_then(|p| p.get(&self.members[i].name))
        {
            *p.owner.write().unwrap() = Some(format!("{id:x}"));
        }
    }

    fn hex_id(&self, i: usize) -> Result<String, ClusterError> {
        if self.proxies.is_none() {
            return Err(ClusterError::Invalid(
                "network faults need a cluster with peer-link proxies".into(),
            ));
        }
        let m = &self.members[i];
        m.id.map(|id| format!("{id:x}"))
            .ok_or_else(|| ClusterError::Invalid(format!("member {} has no known id", m.name)))
    }

    /// Cuts member `i` off from every other member, both directions.
    pub fn partition(&self, i: usize) -> Result<(), ClusterError> {
        let me = self.hex_id(i)?;
        // Every peer must be known: a partial cut would let the "partitioned" member commit.
        let others = (0..self.members.len())
            .filter(|&j| j != i)
            .map(|j| self.hex_id(j))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rules = self.link_rules.write().unwrap();
        for o in others {
            rules.blocked.insert((me.clone(), o.clone()));
            rules.blocked.insert((o, me.clone()));
        }
        Ok(())
    }

    /// Drops every message from member `from` to member `to`; `to` → `from` still flows.
    pub fn drop_link(&self, from: usize, to: usize) -> Result<(), ClusterError> {
        let (f, t) = (self.hex_id(from)?, self.hex_id(to)?);
        self.link_rules.write().unwrap().blocked.insert((f, t));
        Ok(())
    }

    /// Delays every message to or from member `i` by `delay`.
    pub fn slow(&self, i: usize, delay: Duration) -> Result<(), ClusterError> {
        let id = self.hex_id(i)?;
        self.link_rules.write().unwrap().delay.insert(id, delay);
        Ok(())
    }

    /// Every link whole and undelayed again.
    pub fn repair(&self) {
        let mut rules = self.link_rules.write().unwrap();
        rules.blocked.clear();
        rules.delay.clear();
    }
}
