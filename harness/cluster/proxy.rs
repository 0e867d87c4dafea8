//! The peer-link proxy: network faults between members without root.
//!
//! Every member advertises a peer URL that is a proxy in front of its real peer listener, so all
//! raft traffic between members crosses a proxy the harness controls. A proxy knows who is on
//! each connection: it is the member it fronts (the receiver of the dial), and the dialer names
//! itself in rafthttp's `X-Server-From` header. etcd's stream connections carry messages from
//! the dialed member to the dialer (`GET /raft/stream/…`); pipeline, snapshot and probe requests
//! carry them from the dialer to the dialed. So per connection the proxy knows which direction
//! of which member pair its messages travel, and [`LinkRules`] can cut a pair one way, cut a
//! member off entirely, or slow it down. With peer TLS the proxy terminates it (see
//! [`ProxyTls`]): the headers are only readable in the clear.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::error::ClusterError;
use super::pki::ClientTls;

/// Peer TLS at a proxy: it accepts the dialing member's TLS with the members' peer certificate
/// (issued for 127.0.0.1 by the cluster's CA), reads the plain request, and dials the fronted
/// member with TLS again, presenting the same certificate (members require a client cert from
/// the CA, and it has both server and client usages). So rules see who talks to whom, as in
/// the clear.
#[derive(Clone)]
pub struct ProxyTls {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
}

impl ProxyTls {
    pub fn new(peer: &ClientTls) -> Result<ProxyTls, ClusterError> {
        let err = |e: &dyn std::fmt::Display| ClusterError::io("peer-link proxy TLS", e);
        let certs = || -> Result<Vec<CertificateDer<'static>>, ClusterError> {
            CertificateDer::pem_slice_iter(&peer.cert)
                .collect::<Result<_, _>>()
                .map_err(|e| err(&e))
        };
        let key = || PrivateKeyDer::from_pem_slice(&peer.key).map_err(|e| err(&e));
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(&peer.ca) {
            roots.add(ca.map_err(|e| err(&e))?).map_err(|e| err(&e))?;
        }
        let provider = || Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| err(&e))?
            .with_no_client_auth()
            .with_single_cert(certs()?, key()?)
            .map_err(|e| err(&e))?;
        let client = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| err(&e))?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs()?, key()?)
            .map_err(|e| err(&e))?;
        Ok(ProxyTls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
        })
    }
}

/// Either end of a proxied connection: plain TCP or TLS over it.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}
type Conn = Box<dyn Stream>;

/// Which member pairs may talk. Members are named by raft member id in hex (as rafthttp does).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LinkRules {
    /// (sender, receiver) pairs whose messages are dropped.
    pub blocked: BTreeSet<(String, String)>,
    /// Added latency for every message to or from a member.
    pub delay: BTreeMap<String, Duration>,
}

impl LinkRules {
    /// Whether messages from `sender` to `receiver` may pass (unknown ends pass).
    pub fn allows(&self, sender: Option<&str>, receiver: Option<&str>) -> bool {
        match (sender, receiver) {
            (Some(s), Some(r)) => !self.blocked.contains(&(s.to_string(), r.to_string())),
            _ => true,
        }
    }

    pub fn delay_between(&self, a: Option<&str>, b: Option<&str>) -> Duration {
        [a, b]
            .into_iter()
            .flatten()
            .filter_map(|m| self.delay.get(m))
            .max()
            .copied()
            .unwrap_or_default()
    }
}

pub type SharedRules = Arc<RwLock<LinkRules>>;

/// A proxy in front of one member's peer listener; stops when dropped.
pub struct PeerProxy {
    pub port: u16,
    /// The fronted member's id (hex), known once the cluster reported ids.
    pub owner: Arc<RwLock<Option<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PeerProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PeerProxy {
    /// Listens on 127.0.0.1:`port`, forwarding to 127.0.0.1:`target` (terminating peer TLS on
    /// both sides with `tls`). Needs a tokio runtime.
    pub fn start(
        port: u16,
        target: u16,
        rules: SharedRules,
        tls: Option<ProxyTls>,
    ) -> std::io::Result<PeerProxy> {
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        std_listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(std_listener)?;
        let owner: Arc<RwLock<Option<String>>> = Arc::default();
        let o = owner.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(forward(conn, target, o.clone(), rules.clone(), tls.clone()));
            }
        });
        Ok(PeerProxy { port, owner, task })
    }
}

/// What the first request on a connection says: its path and the dialer's id.
pub fn parse_head(head: &[u8]) -> (String, Option<String>) {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("")
        .to_string();
    let from = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("X-Server-From"))
        .map(|(_, v)| v.trim().to_string());
    (path, from)
}

/// (sender, receiver) of the messages on a connection `dialer` → `dialed` for `path`.
pub fn message_direction(
    path: &str,
    dialer: Option<String>,
    dialed: Option<String>,
) -> (Option<String>, Option<String>) {
    if path.starts_with("/raft/stream") {
        (dialed, dialer)
    } else {
        (dialer, dialed)
    }
}

/// The dialer's side of a connection, after the TLS handshake if there is one (bounded).
async fn accept(conn: TcpStream, tls: &Option<ProxyTls>) -> Option<Conn> {
    match tls {
        None => Some(Box::new(conn)),
        Some(t) => {
            let s = tokio::time::timeout(Duration::from_secs(5), t.acceptor.accept(conn));
            Some(Box::new(s.await.ok()?.ok()?))
        }
    }
}

/// The fronted member's side: a TCP connection to its real listener, with TLS if the peers
/// run it (bounded).
async fn dial(target: u16, tls: &Option<ProxyTls>) -> Option<Conn> {
    let bound = Duration::from_secs(2);
    let tcp = tokio::time::timeout(bound, TcpStream::connect(("127.0.0.1", target)))
        .await
        .ok()?
        .ok()?;
    match tls {
        None => Some(Box::new(tcp)),
        Some(t) => {
            let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
            let s = tokio::time::timeout(bound, t.connector.connect(name, tcp));
            Some(Box::new(s.await.ok()?.ok()?))
        }
    }
}

async fn forward(
    conn: TcpStream,
    target: u16,
    owner: Arc<RwLock<Option<String>>>,
    rules: SharedRules,
    tls: Option<ProxyTls>,
) {
    let Some(mut client) = accept(conn, &tls).await else {
        return;
    };
    // The request head, bounded in size and time.
    let mut head = Vec::new();
    let mut buf = [0u8; 8192];
    let read_head = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
            let n = client.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<(), std::io::Error>(())
    };
    if !matches!(
        tokio::time::timeout(Duration::from_secs(5), read_head).await,
        Ok(Ok(()))
    ) {
        return;
    }
    let (path, mut dialer) = parse_head(&head);
    // The fronted member's id may be learned after this connection opened (streams are dialed
    // at boot, before the harness knows ids): look it up each time.
    let ends = |dialer: &Option<String>| {
        message_direction(&path, dialer.clone(), owner.read().unwrap().clone())
    };
    let allowed = |dialer: &Option<String>| {
        let (sender, receiver) = ends(dialer);
        rules
            .read()
            .unwrap()
            .allows(sender.as_deref(), receiver.as_deref())
    };
    let delay = |dialer: &Option<String>| {
        let (sender, receiver) = ends(dialer);
        rules
            .read()
            .unwrap()
            .delay_between(sender.as_deref(), receiver.as_deref())
    };
    if !allowed(&dialer) {
        return; // dropped: the dialer sees the connection close
    }
    let Some(mut server) = dial(target, &tls).await else {
        return;
    };
    if server.write_all(&head).await.is_err() {
        return;
    }
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut sr, mut sw) = tokio::io::split(server);
    let mut up = [0u8; 16384];
    let mut down = [0u8; 16384];
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        let pause = delay(&dialer);
        tokio::select! {
            r = cr.read(&mut up) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    // Keep-alive: a connection opened by a header-less probe (`/raft/probing`
                    // shares the pipeline's transport) may carry pipeline POSTs later, which
                    // name their sender. Learn it before the bytes pass.
                    if dialer.is_none() {
                        if let (_, Some(from)) = parse_head(&up[..n]) {
                            dialer = Some(from);
                        } else if let Some(from) = find_server_from(&up[..n]) {
                            dialer = Some(from);
                        }
                    }
                    if !pause.is_zero() { tokio::time::sleep(pause).await; }
                    if !allowed(&dialer) || sw.write_all(&up[..n]).await.is_err() { return; }
                }
            },
            r = sr.read(&mut down) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if !pause.is_zero() { tokio::time::sleep(pause).await; }
                    if !allowed(&dialer) || cw.write_all(&down[..n]).await.is_err() { return; }
                }
            },
            // A rule may change while the connection idles: cut it then, not at its next byte.
            _ = tick.tick() => if !allowed(&dialer) { return; },
        }
    }
}

/// The `X-Server-From` value anywhere in a chunk of request bytes.
fn find_server_from(chunk: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(chunk);
    let at = text.find("X-Server-From:")?;
    let rest = &text[at + "X-Server-From:".len()..];
    let id = rest.split("\r\n").next()?.trim();
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_dialer_and_the_message_direction() {
        let head = b"GET /raft/stream/msgapp/8e9e05c52164694d HTTP/1.1\r\nHost: x\r\nX-Server-From: 91bc3c398fb3c146\r\n\r\n";
        let (path, from) = parse_head(head);
        assert_eq!(from.as_deref(), Some("91bc3c398fb3c146"));
        // Streams carry the dialed member's messages to the dialer.
        let (s, r) = message_direction(&path, from.clone(), Some("8e9e05c52164694d".into()));
        assert_eq!(
            (s.as_deref(), r.as_deref()),
            (Some("8e9e05c52164694d"), Some("91bc3c398fb3c146"))
        );
        let (s, _) = message_direction("/raft", from, Some("8e9e05c52164694d".into()));
        assert_eq!(s.as_deref(), Some("91bc3c398fb3c146"));
    }

    #[test]
    fn learns_the_sender_from_a_later_request_on_a_reused_connection() {
        let later = b"POST /raft HTTP/1.1\r\nHost: x\r\nX-Server-From: 91bc3c398fb3c146\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(find_server_from(later).as_deref(), Some("91bc3c398fb3c146"));
        assert_eq!(
            find_server_from(b"GET /raft/probing HTTP/1.1\r\n\r\n"),
            None
        );
    }

    #[test]
    fn rules_block_one_way_and_delay_either_end() {
        let mut r = LinkRules::default();
        r.blocked.insert(("a".into(), "b".into()));
        r.delay.insert("c".into(), Duration::from_millis(50));
        assert!(!r.allows(Some("a"), Some("b")));
        assert!(r.allows(Some("b"), Some("a")));
        assert!(r.allows(None, Some("b")));
        assert_eq!(
            r.delay_between(Some("a"), Some("c")),
            Duration::from_millis(50)
        );
        assert_eq!(r.delay_between(Some("a"), Some("b")), Duration::ZERO);
    }
}
