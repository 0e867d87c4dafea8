//! One member: its release, ports, data dir, log file and (while it runs) its process; plus the
//! per-member queries. Every RPC goes through a client bound to this member's endpoint alone:
//! etcd-client balances a multi-endpoint client and never retries, which would make "ask member
//! m2" mean "ask whichever member the balancer picked".

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use serde::Deserialize;

use super::error::{ClusterError, RpcFailure};
use super::flags::{self, InitialState, MemberFlags, Timing, TlsFlags};
use super::pki::ClientTls;
use super::process::{ProcState, Supervised};
use crate::check::logs::START_MARKER;
use crate::release::error::error_chain;
use crate::release::{MinorVersion, Release, Version};

/// Bound on one RPC or HTTP request to a member.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// One RPC of `member` on a client the caller holds (a lease's, which must outlive a call)
/// with the harness's request deadline; [`Member::rpc`] for one on a fresh client.
pub async fn bounded_rpc<T>(
    member: &str,
    op: &str,
    f: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, ClusterError> {
    let source = match tokio::time::timeout(REQUEST_TIMEOUT, f).await {
        Ok(Ok(v)) => return Ok(v),
        Ok(Err(e)) => RpcFailure::Etcd(e),
        Err(_) => RpcFailure::TimedOut,
    };
    Err(ClusterError::Rpc {
        member: member.into(),
        op: op.into(),
        source,
    })
}

/// What `/version` says: the member's binary and the cluster version it has applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    pub server: Version,
    /// `None` while undecided (`not_decided`, or empty right after start).
    pub cluster: Option<MinorVersion>,
    pub raw_cluster: String,
}

/// Settings every member of a cluster starts with.
#[derive(Clone, Debug)]
pub struct StartConfig {
    pub token: String,
    pub timing: Timing,
    pub enable_v2: bool,
    pub tls: Option<TlsFlags>,
}

pub struct Member {
    pub name: String,
    pub release: Release,
    pub client_url: String,
    /// The advertised peer URL (what other members dial).
    pub peer_url: String,
    /// The peer URL etcd listens on: the same, or the port behind a peer-link proxy.
    pub listen_peer_url: String,
    pub data_dir: PathBuf,
    pub log_path: PathBuf,
    /// Raft member id, known once the cluster reported it.
    pub id: Option<u64>,
    /// Flags this member adds to every start (set by scenarios).
    pub extra_flags: Vec<String>,
    /// User and password for every RPC, once auth is enabled.
    pub credentials: Option<(String, String)>,
    /// Client TLS material when the cluster runs TLS (URLs are then https).
    pub tls: Option<ClientTls>,
    proc: Option<Supervised>,
    pub(super) http: reqwest::Client,
}

/// The HTTP client for `/version`, `/health` and v2: bounded, and trusting only the cluster's CA.
pub fn http_client(tls: Option<&ClientTls>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(2));
    if let Some(t) = tls {
        b = b
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(&t.ca).expect("generated CA parses"),
            )
            .identity(
                reqwest::Identity::from_pem(&[t.cert.as_slice(), t.key.as_slice()].concat())
                    .expect("generated identity parses"),
            );
    }
    b.build().expect("HTTP client")
}

/// Whether this etcd binary accepts `flag` (`--name=value` as it will run, or `--name`):
/// `etcd FLAG --version` parses every flag before it prints the version, and exits 2 on a flag
/// it does not define or a value it cannot parse (every pinned release, `etcdmain/config.go`
/// `parse`). Answers are cached per binary path and flag (a binary is verified against its pin
/// before every start).
fn accepts_flag(etcd: &Path, flag: &str) -> Result<bool, ClusterError> {
    type Cache = Vec<(PathBuf, String, bool)>;
    static CACHE: std::sync::Mutex<Cache> = std::sync::Mutex::new(Vec::new());
    if let Some((_, _, k)) = CACHE
        .lock()
        .unwrap()
        .iter()
        .find(|(p, n, _)| p == etcd && n == flag)
    {
        return Ok(*k);
    }
    let what = format!("{} {flag} --version", etcd.display());
    // The value is parsed but never used: --version exits first.
    let status = crate::release::bounded::output(
        Command::new(etcd).arg(flag).arg("--version").env_clear(),
        Duration::from_secs(10),
    )
    .map_err(|e| ClusterError::io(&what, e))?
    .status;
    let known = status.success();
    CACHE
        .lock()
        .unwrap()
        .push((etcd.to_path_buf(), flag.to_string(), known));
    Ok(known)
}

impl Member {
    pub fn new(
        name: &str,
        release: Release,
        client_port: u16,
        peer_port: u16,
        dir: &Path,
    ) -> Member {
        Member {
            name: name.to_string(),
            release,
            client_url: format!("http://127.0.0.1:{client_port}"),
            peer_url: format!("http://127.0.0.1:{peer_port}"),
            listen_peer_url: format!("http://127.0.0.1:{peer_port}"),
            data_dir: dir.join(format!("{name}.etcd")),
            log_path: dir.join("logs").join(format!("{name}.log")),
            id: None,
            extra_flags: Vec::new(),
            credentials: None,
            tls: None,
            proc: None,
            http: http_client(None),
        }
    }

    /// Switches this member's peer URLs to https (peer TLS; clients stay plain-text).
    pub fn use_peer_tls(&mut self) {
        self.peer_url = self.peer_url.replace("http://", "https://");
        self.listen_peer_url = self.listen_peer_url.replace("http://", "https://");
    }

    /// Switches this member to TLS: https URLs, and clients that present `tls`.
    pub fn use_tls(&mut self, tls: ClientTls) {
        self.client_url = self.client_url.replace("http://", "https://");
        self.peer_url = self.peer_url.replace("http://", "https://");
        self.listen_peer_url = self.listen_peer_url.replace("http://", "https://");
        self.http = http_client(Some(&tls));
        self.tls = Some(tls);
    }

    /// Checks that the certificate served on the client (or peer) port carries the SAN
    /// `marker`: the client resolves `marker` to this member and verifies the name.
    pub async fn serves_certificate(&self, marker: &str, peer: bool) -> Result<(), ClusterError> {
        let url = if peer {
            &self.listen_peer_url
        } else {
            &self.client_url
        };
        let port: u16 = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_default();
        let tls = self
            .tls
            .as_ref()
            .ok_or_else(|| ClusterError::Invalid(format!("member {} has no TLS", self.name)))?;
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(&tls.ca).map_err(|e| self.request_err("tls", e))?,
            )
            .identity(
                reqwest::Identity::from_pem(&[tls.cert.as_slice(), tls.key.as_slice()].concat())
                    .map_err(|e| self.request_err("tls", e))?,
            )
            .resolve(marker, std::net::SocketAddr::from(([127, 0, 0, 1], port)))
            .build()
            .map_err(|e| self.request_err("tls", e))?;
        let u = format!("https://{marker}:{port}/version");
        let resp = client
            .get(&u)
            .send()
            .await
            .map_err(|e| self.request_err(&format!("GET {u}"), error_chain(&e)))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(self.request_err(&format!("GET {u}"), resp.status()))
        }
    }

    /// Starts etcd (the release is re-verified first). The log file is appended to across
    /// restarts, each start marked with a header line.
    pub fn start(
        &mut self,
        initial_cluster: &str,
        state: InitialState,
        cfg: &StartConfig,
    ) -> Result<(), ClusterError> {
        if self.is_running() {
            return Err(ClusterError::Invalid(format!(
                "member {} is already running",
                self.name
            )));
        }
        self.release.verify()?;
        let extra = if self.extra_flags.is_empty() {
            Vec::new()
        } else {
            let etcd = self.release.etcd().to_path_buf();
            let mut failure = None;
            let accepts = |f: &str| {
                accepts_flag(&etcd, f).unwrap_or_else(|e| {
                    failure.get_or_insert(e);
                    false
                })
            };
            let adapted = flags::adapt_extra(&self.release.name, accepts, &self.extra_flags);
            if let Some(e) = failure {
                return Err(e);
            }
            adapted?
        };
        let args = flags::render(
            &self.release.version,
            &MemberFlags {
                name: &self.name,
                data_dir: &self.data_dir,
                client_url: &self.client_url,
                peer_url: &self.peer_url,
                listen_peer_url: &self.listen_peer_url,
                initial_cluster,
                initial_state: state,
                token: &cfg.token,
                timing: cfg.timing,
                enable_v2: cfg.enable_v2,
                tls: cfg.tls.as_ref(),
                extra: &extra,
            },
        );
        let logs = self.log_path.parent().unwrap();
        std::fs::create_dir_all(logs)
            .map_err(|e| ClusterError::io(format!("log dir {}", logs.display()), e))?;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|e| ClusterError::io(format!("log {}", self.log_path.display()), e))?;
        let _ = writeln!(
            log,
            "{} {} ({}) {}",
            START_MARKER,
            self.name,
            self.release.name,
            args.join(" ")
        );
        let mut cmd = Command::new(self.release.etcd());
        cmd.args(&args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| ClusterError::io("log", e))?)
            .stderr(log);
        let p = Supervised::spawn(cmd).map_err(|e| {
            ClusterError::io(
                format!(
                    "spawn {} for member {}",
                    self.release.etcd().display(),
                    self.name
                ),
                e,
            )
        })?;
        self.proc = Some(p);
        Ok(())
    }

    pub fn process_state(&self) -> Option<ProcState> {
        self.proc.as_ref().map(|p| p.state())
    }

    /// Running or paused: the process exists.
    pub fn is_running(&self) -> bool {
        matches!(
            self.process_state(),
            Some(ProcState::Running | ProcState::Paused)
        )
    }

    pub fn is_paused(&self) -> bool {
        self.process_state() == Some(ProcState::Paused)
    }

    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(|p| p.pid())
    }

    /// `Err(MemberExited)` with the log tail if the process has exited.
    pub fn check_alive(&self) -> Result<(), ClusterError> {
        match self.process_state() {
            Some(ProcState::Exited(status)) => Err(self.exited(status)),
            None => Err(ClusterError::Invalid(format!(
                "member {} was never started",
                self.name
            ))),
            _ => Ok(()),
        }
    }

    pub(crate) fn exited(&self, status: ExitStatus) -> ClusterError {
        ClusterError::MemberExited {
            member: self.name.clone(),
            release: self.release.name.clone(),
            status: status.to_string(),
            log_tail: self.log_tail(8),
        }
    }

    /// SIGTERM, SIGKILL after `grace`.
    pub async fn stop(&self, grace: Duration) -> Option<ExitStatus> {
        match self.proc.as_ref() {
            Some(p) => Some(p.terminate(grace).await),
            None => None,
        }
    }

    pub fn kill(&self) -> Option<ExitStatus> {
        self.proc.as_ref().map(|p| p.kill())
    }

    pub fn pause(&self) {
        if let Some(p) = self.proc.as_ref() {
            p.pause()
        }
    }

    pub fn resume(&self) {
        if let Some(p) = self.proc.as_ref() {
            p.resume()
        }
    }

    /// The last `n` lines of this member's log (all its starts).
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// The log since the most recent start.
    pub fn log_since_start(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        match text.rfind(START_MARKER) {
            Some(i) => text[i..].to_string(),
            None => text,
        }
    }

    /// Appends a harness line to this member's log (a marker the log checks read).
    pub fn note_in_log(&self, line: &str) {
        let appended = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log_path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = appended {
            tracing::warn!("log {}: {e}", self.log_path.display());
        }
    }

    pub(crate) fn request_err(&self, op: &str, e: impl std::fmt::Display) -> ClusterError {
        ClusterError::Request {
            member: self.name.clone(),
            op: op.into(),
            message: e.to_string(),
        }
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, ClusterError> {
        let url = format!("{}{path}", self.client_url);

        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| self.request_err(&format!("GET {path}"), e))?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| self.request_err(&format!("GET {path}"), e))?;
        serde_json::from_str(&body).map_err(|_| {
            self.request_err(
                &format!("GET {path}"),
                format!("HTTP {status}: {}", body.trim()),
            )
        })
    }

    /// `GET /version`: works on every release, unlike the gRPC status fields.
    pub async fn version(&self) -> Result<VersionInfo, ClusterError> {
        #[derive(Deserialize)]
        struct V {
            etcdserver: String,
            etcdcluster: String,
        }
        let v: V = self.get_json("/version").await?;
        let server = v
            .etcdserver
            .parse()
            .map_err(|e| self.request_err("GET /version", e))?;
        Ok(VersionInfo {
            server,
            cluster: MinorVersion::from_cluster_field(&v.etcdcluster),
            raw_cluster: v.etcdcluster,
        })
    }

    /// `GET /health`: true once the member serves a quorum read.
    pub async fn health(&self) -> Result<bool, ClusterError> {
        #[derive(Deserialize)]
        struct H {
            health: String,
        }
        let h: H = self.get_json("/health").await?;
        Ok(h.health == "true")
    }

    /// A client bound to this member only, with connect and request timeouts (and the
    /// credentials, once auth is on).
    pub async fn client(&self) -> Result<Client, ClusterError> {
        self.client_as(
            self.credentials
                .as_ref()
                .map(|(u, p)| (u.as_str(), p.as_str())),
        )
        .await
    }

    /// A client bound to this member, authenticated as `user` if given.
    pub async fn client_as(&self, user: Option<(&str, &str)>) -> Result<Client, ClusterError> {
        let mut opts = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(REQUEST_TIMEOUT);
        if let Some((u, p)) = user {
            opts = opts.with_user(u, p);
        }
        if let Some(t) = &self.tls {
            opts = opts.with_tls(
                TlsOptions::new()
                    .ca_certificate(Certificate::from_pem(&t.ca))
                    .identity(Identity::from_pem(&t.cert, &t.key)),
            );
        }
        let fut = Client::connect([self.client_url.as_str()], Some(opts));
        bounded_rpc(&self.name, "connect", fut).await
    }

    /// Runs one RPC against this member with a deadline.
    pub async fn rpc<T, F, Fut>(&self, op: &str, f: F) -> Result<T, ClusterError>
    where
        F: FnOnce(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        let c = self.client().await?;
        bounded_rpc(&self.name, op, f(c)).await
    }

    pub async fn put(&self, key: &str, value: &str) -> Result<i64, ClusterError> {
        let (k, v) = (key.to_string(), value.to_string());
        let r = self
            .rpc("put", |mut c| async move { c.put(k, v, None).await })
            .await?;
        Ok(r.header().map(|h| h.revision()).unwrap_or_default())
    }

    /// Linearizable read of one key's value.
    pub async fn get(&self, key: &str) -> Result<Option<String>, ClusterError> {
        let k = key.to_string();
        let r = self
            .rpc("get", |mut c| async move { c.get(k, None).await })
            .await?;
        Ok(r.kvs()
            .first()
            .map(|kv| String::from_utf8_lossy(kv.value()).into_owned()))
    }

    /// A linearizable get with the response's revision and the key's value and mod revision
    /// (`None`: absent): a read a history can judge.
    pub async fn get_revisioned(
        &self,
        key: &str,
    ) -> Result<(i64, Option<(String, i64)>), ClusterError> {
        let k = key.to_string();
        let r = self
            .rpc("get", |mut c| async move { c.get(k, None).await })
            .await?;
        let kv = r.kvs().first().map(|kv| {
            (
                String::from_utf8_lossy(kv.value()).into_owned(),
                kv.mod_revision(),
            )
        });
        Ok((r.header().map(|h| h.revision()).unwrap_or_default(), kv))
    }

    /// Maintenance Status: this member's view of leader, raft index and revision.
    pub async fn status(&self) -> Result<MemberStatus, ClusterError> {
        let s = self
            .rpc("status", |mut c| async move { c.status().await })
            .await?;
        let header = s.header();
        Ok(MemberStatus {
            member_id: header.map(|h| h.member_id()).unwrap_or_default(),
            leader: s.leader(),
            raft_index: s.raft_index(),
            raft_term: s.raft_term(),
            revision: header.map(|h| h.revision()).unwrap_or_default(),
            version: s.version().to_string(),
        })
    }

    /// HashKV at `revision` (0: current): the hash of the MVCC key space and the member's
    /// compact revision, for convergence.
    pub async fn hash_kv(&self, revision: i64) -> Result<HashKv, ClusterError> {
        let r = self
            .rpc("hashkv", |mut c| async move { c.hash_kv(revision).await })
            .await?;
        Ok(HashKv {
            hash: r.hash(),
            revision: r.header().map(|h| h.revision()).unwrap_or_default(),
            compact_revision: r.compact_version(),
        })
    }
}

/// A HashKV answer: the hash, the member's current revision (the header's) and the revision
/// it last compacted at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashKv {
    pub hash: u32,
    pub revision: i64,
    pub compact_revision: i64,
}

/// The fields of Maintenance Status that every pinned release fills.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStatus {
    pub member_id: u64,
    pub leader: u64,
    pub raft_index: u64,
    pub raft_term: u64,
    pub revision: i64,
    pub version: String,
}
