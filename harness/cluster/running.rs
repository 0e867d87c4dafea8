//! A local cluster of members on loopback: built by [`ClusterBuilder`], torn down on drop.
//!
//! Data dirs and logs live in one temp dir, on tmpfs (`/dev/shm`) when there is one: a
//! 3-member cluster is healthy in a fraction of a second there versus seconds on disk (WAL
//! preallocation and fsync), and crash tests do not need durability beyond the process.
//! `ETCD_SKEW_DATA_ROOT` (or [`ClusterBuilder::data_root`]) puts them on a disk path instead.
//! The temp dir is removed on drop, unless the run failed (a panic, a failed start, or
//! [`Cluster::keep_artifacts`]): then it is kept and its path printed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::ClusterError;
use super::flags::{InitialState, Timing};
use super::member::{Member, StartConfig, VersionInfo};
use super::pki::Pki;
use super::ports::PortBlock;
use super::proxy::{PeerProxy, SharedRules};
use super::wait::{poll, Probe};
use crate::release::{MinorVersion, Release};
use std::collections::BTreeMap;

/// In every cluster dir: the pid of the harness process that owns it.
const OWNER: &str = "owner.pid";
/// In a cluster dir kept on purpose (a failed run's artifacts): never swept.
const KEPT: &str = "KEPT";
/// In a cluster dir: the certificates the harness made for it.
const PKI_DIR: &str = "tls";

/// Removes cluster dirs whose owning harness died without cleaning up (SIGKILL, or a signal
/// during boot): the etcds in them died with it (PR_SET_PDEATHSIG), their data is garbage.
/// Dirs kept as artifacts, and dirs of live processes, stay.
fn sweep_abandoned(root: &Path) {
    let Ok(rd) = std::fs::read_dir(root) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if !e.file_name().to_string_lossy().starts_with("etcd-skew-") || p.join(KEPT).exists() {
            continue;
        }
        let Some(pid) = std::fs::read_to_string(p.join(OWNER))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        else {
            continue;
        };
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if !alive {
            let _ = std::fs::remove_dir_all(&p);
        }
    }
}

/// Copies a directory tree (regular files and dirs only, as etcd data dirs hold).
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &dest)?;
        } else {
            std::fs::copy(e.path(), &dest)?;
        }
    }
    Ok(())
}

/// How many times a bootstrap is retried on fresh ports when a port was taken under us.
const BOOT_ATTEMPTS: usize = 3;

/// Builds a cluster: one release per member.
#[derive(Clone)]
pub struct ClusterBuilder {
    releases: Vec<Release>,
    timing: Timing,
    enable_v2: bool,
    tls: bool,
    peer_tls: bool,
    proxies: bool,
    data_root: Option<PathBuf>,
    health_timeout: Duration,
    /// Extra flags per member (index = member), kept by the member for every later start.
    member_flags: Vec<Vec<String>>,
    /// Fixed peer URLs (one per member) instead of fresh loopback ports: see [`Self::seed`].
    peer_urls: Option<Vec<String>>,
    /// A dir holding `<name>.etcd` data dirs copied in before the members first start.
    seed: Option<PathBuf>,
}

impl ClusterBuilder {
    /// A cluster whose member `i` runs `releases[i]`.
    pub fn new(releases: Vec<Release>) -> ClusterBuilder {
        ClusterBuilder {
            releases,
            timing: Timing::default(),
            enable_v2: false,
            tls: false,
            peer_tls: false,
            proxies: false,
            data_root: std::env::var_os("ETCD_SKEW_DATA_ROOT").map(PathBuf::from),
            health_timeout: Duration::from_secs(30),
            member_flags: Vec::new(),
            peer_urls: None,
            seed: None,
        }
    }

    /// Each member advertises and listens on `urls[i]` as its peer URL. A cluster restarted
    /// from copied data dirs ([`Self::seed`]) needs this: etcd keeps the peer URLs in its data
    /// and ignores `--initial-cluster` once a data dir exists, so members must be found where
    /// the data says they are.
    pub fn peer_urls(mut self, urls: Vec<String>) -> Self {
        self.peer_urls = Some(urls);
        self
    }

    /// Copies `dir/<name>.etcd` into each member's data dir before it first starts (members
    /// `m1`, `m2`…): the cluster then resumes the copied one instead of bootstrapping.
    pub fn seed(mut self, dir: impl Into<PathBuf>) -> Self {
        self.seed = Some(dir.into());
        self
    }

    /// Extra flags for every member (`--snapshot-count=10`…), appended after the harness's own;
    /// each member keeps them for its later starts. Call before [`ClusterBuilder::member_flags`].
    pub fn flags(mut self, flags: &[String]) -> Self {
        self.member_flags = vec![flags.to_vec(); self.releases.len()];
        self
    }

    /// Extra flags for member `i` (0-based) on top of [`ClusterBuilder::flags`].
    pub fn member_flags(mut self, i: usize, flags: &[String]) -> Self {
        if self.member_flags.len() < self.releases.len() {
            self.member_flags.resize(self.releases.len(), Vec::new());
        }
        if let Some(f) = self.member_flags.get_mut(i) {
            f.extend_from_slice(flags);
        }
        self
    }

    pub fn timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// Serve the v2 API (3.4+ need `--enable-v2=true`; the 3.3→3.4 guide's v2 data step).
    pub fn enable_v2(mut self, on: bool) -> Self {
        self.enable_v2 = on;
        self
    }

    /// Run TLS on client and peer ports with a CA and certs generated for this cluster.
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }

    /// Run TLS on the peer ports only (clients stay plain-text): what exploration draws, since
    /// the peer-link proxies terminate peer TLS and clients need no certificates.
    pub fn peer_tls(mut self, on: bool) -> Self {
        self.peer_tls = on;
        self
    }

    /// Put a peer-link proxy in front of every member, for network faults (see `proxy.rs`).
    /// With peer TLS the proxy terminates it; not with full `tls` (a CA rotation would leave
    /// the proxies with the old CA's certificates).
    pub fn peer_proxies(mut self, on: bool) -> Self {
        self.proxies = on;
        self
    }

    /// Where the cluster's temp dir goes (default: `/dev/shm` if usable, else the temp dir).
    pub fn data_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.data_root = Some(root.into());
        self
    }

    pub fn health_timeout(mut self, t: Duration) -> Self {
        self.health_timeout = t;
        self
    }

    fn temp_dir(&self) -> Result<tempfile::TempDir, ClusterError> {
        let shm = Path::new("/dev/shm");
        let root = match &self.data_root {
            Some(r) => r.clone(),
            None if shm.is_dir() && tempfile::tempdir_in(shm).is_ok() => shm.to_path_buf(),
            None => std::env::temp_dir(),
        };
        sweep_abandoned(&root);
        let dir = tempfile::Builder::new()
            .prefix("etcd-skew-")
            .tempdir_in(&root)
            .map_err(|e| ClusterError::io(format!("temp dir in {}", root.display()), e))?;
        let _ = std::fs::write(dir.path().join(OWNER), std::process::id().to_string());
        Ok(dir)
    }

    /// Boots every member with `--initial-cluster-state new` and waits until all are healthy.
    pub async fn start(self) -> Result<Cluster, ClusterError> {
        if self.releases.is_empty() {
            return Err(ClusterError::Invalid(
                "a cluster needs at least one member".into(),
            ));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut cluster = self.spawn_once()?;
            let booted = match cluster.wait_healthy(self.health_timeout).await {
                Ok(()) => cluster.learn_member_ids().await,
                Err(e) => Err(e),
            };
            match booted {
                Ok(()) => return Ok(cluster),
                Err(e) if attempt < BOOT_ATTEMPTS && cluster.port_was_taken() => {
                    tracing::warn!("bootstrap attempt {attempt}: a port was taken, retrying on fresh ports: {e}");
                }
                Err(e) => {
                    cluster.keep = true;
                    return Err(e);
                }
            }
        }
    }

    fn spawn_once(&self) -> Result<Cluster, ClusterError> {
        if self.proxies && self.tls {
            return Err(ClusterError::Invalid(
                "peer-link proxies need plain-text clients (peer-tls, not tls)".into(),
            ));
        }
        let mut ports = PortBlock::reserve()?;
        let dir = self.temp_dir()?;
        let mut members = Vec::new();
        for (i, r) in self.releases.iter().enumerate() {
            let (c, p) = (ports.take()?, ports.take()?);
            let mut m = Member::new(&format!("m{}", i + 1), r.clone(), c, p, dir.path());
            m.extra_flags = self.member_flags.get(i).cloned().unwrap_or_default();
            if let Some(url) = self.peer_urls.as_ref().and_then(|u| u.get(i)) {
                m.peer_url = url.clone();
                m.listen_peer_url = url.clone();
            }
            if let Some(seed) = &self.seed {
                let from = seed.join(format!("{}.etcd", m.name));
                copy_dir(&from, &m.data_dir)
                    .map_err(|e| ClusterError::io(format!("copy {}", from.display()), e))?;
            }
            members.push(m);
        }
        let pki = match self.tls || self.peer_tls {
            true => Some(Pki::create(&dir.path().join(PKI_DIR))?),
            false => None,
        };
        let token = format!("etcd-skew-{}", rand::random::<u32>());
        let cfg = StartConfig {
            token,
            timing: self.timing,
            enable_v2: self.enable_v2,
            tls: pki.as_ref().map(|p| p.flags(self.tls)),
        };
        let mut cluster = Cluster {
            members,
            cfg,
            ports,
            dir: Some(dir),
            keep: false,
            credentials: None,
            pki,
            proxies: self.proxies.then(BTreeMap::new),
            link_rules: SharedRules::default(),
        };
        for i in 0..cluster.members.len() {
            cluster.secure(i)?;
            cluster.put_behind_proxy(i)?;
        }
        let initial = cluster.initial_cluster();
        for i in 0..cluster.members.len() {
            let cfg = cluster.cfg.clone();
            if let Err(e) = cluster.members[i].start(&initial, InitialState::New, &cfg) {
                // Members already started are killed on drop; their logs are kept.
                cluster.keep = true;
                return Err(e);
            }
        }
        Ok(cluster)
    }
}

/// A running local cluster. Dropping it kills every member.
pub struct Cluster {
    pub(super) members: Vec<Member>,
    pub(super) cfg: StartConfig,
    pub(super) ports: PortBlock,
    pub(super) dir: Option<tempfile::TempDir>,
    pub(super) keep: bool,
    /// Credentials every member's client uses once auth is on (see `auth.rs`).
    pub(super) credentials: Option<(String, String)>,
    /// The cluster's CA and certificates, when it runs TLS (see `tls.rs`).
    pub(super) pki: Option<Pki>,
    /// Peer-link proxies by member name, when the cluster has them (see `proxy.rs`).
    pub(super) proxies: Option<BTreeMap<String, PeerProxy>>,
    pub(super) link_rules: SharedRules,
}

impl Cluster {
    /// Gives member `i` the cluster's TLS: https client and peer URLs and client certificates
    /// with full TLS, https peer URLs with peer TLS only, nothing without TLS.
    pub(super) fn secure(&mut self, i: usize) -> Result<(), ClusterError> {
        let (Some(pki), Some(flags)) = (&self.pki, &self.cfg.tls) else {
            return Ok(());
        };
        if flags.client {
            let client = pki.client()?;
            self.members[i].use_tls(client);
        } else {
            self.members[i].use_peer_tls();
        }
        Ok(())
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn member(&self, i: usize) -> &Member {
        &self.members[i]
    }

    pub fn member_mut(&mut self, i: usize) -> &mut Member {
        &mut self.members[i]
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.members.iter().position(|m| m.name == name)
    }

    pub fn config(&self) -> &StartConfig {
        &self.cfg
    }

    /// The cluster's temp dir (data dirs and `logs/`).
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("dir is present until drop").path()
    }

    /// Client URLs of the members whose process runs.
    pub fn endpoints(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| m.is_running())
            .map(|m| m.client_url.clone())
            .collect()
    }

    /// `name=peer_url,...` of every member, for `--initial-cluster`.
    pub fn initial_cluster(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Keeps the temp dir after drop and returns its path (a failed run's artifacts).
    pub fn keep_artifacts(&mut self) -> PathBuf {
        self.keep = true;
        self.dir().to_path_buf()
    }

    /// A port from the cluster's reserved block (new members, proxies).
    pub fn take_port(&mut self) -> Result<u16, ClusterError> {
        self.ports.take()
    }

    fn port_was_taken(&self) -> bool {
        self.members
            .iter()
            .any(|m| m.log_since_start().contains("address already in use"))
    }

    /// Indexes of members whose process runs and is not paused.
    pub fn live(&self) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| self.members[i].is_running() && !self.members[i].is_paused())
            .collect()
    }

    /// Waits until every live member answers `/health` true. A member that exits ends the wait
    /// with its log tail.
    pub async fn wait_healthy(&self, timeout: Duration) -> Result<(), ClusterError> {
        let live = self.live();
        let what = format!("members {} healthy", self.names(&live));
        let members = &self.members;
        poll(&what, timeout, Duration::from_millis(50), || {
            let live = live.clone();
            async move {
                let mut not = Vec::new();
                for i in live {
                    members[i].check_alive().map_err(Probe::from)?;
                    match members[i].health().await {
                        Ok(true) => {}
                        Ok(false) => not.push(format!("{}: unhealthy", members[i].name)),
                        Err(e) => not.push(e.to_string()),
                    }
                }
                if not.is_empty() {
                    Ok(())
                } else {
                    Err(Probe::NotYet(not.join("; ")))
                }
            }
        })
        .await
    }

    fn names(&self, idx: &[usize]) -> String {
        idx.iter()
            .map(|&i| self.members[i].name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads raft member ids from the member list, matching members by peer URL.
    pub async fn learn_member_ids(&mut self) -> Result<(), ClusterError> {
        let live = self.live();
        let Some(&i) = live.first() else {
            return Ok(());
        };
        let list = self.members[i]
            .rpc("member list", |mut c| async move { c.member_list().await })
            .await?;
        for i in 0..self.members.len() {
            let url = &self.members[i].peer_url;
            if let Some(found) = list
                .members()
                .iter()
                .find(|x| x.peer_urls().iter().any(|u| u == url))
            {
                self.set_member_id(i, found.id());
            }
        }
        Ok(())
    }

    /// Every live member's `/version`.
    pub async fn versions(&self) -> Vec<(String, Result<VersionInfo, ClusterError>)> {
        let mut out = Vec::new();
        for i in self.live() {
            let m = &self.members[i];
            out.push((m.name.clone(), m.version().await));
        }
        out
    }

    /// Waits until every live member reports cluster version `want`.
    pub async fn wait_cluster_version(
        &self,
        want: MinorVersion,
        timeout: Duration,
    ) -> Result<(), ClusterError> {
        let live = self.live();
        let members = &self.members;
        poll(
            &format!("cluster version {want} on every live member"),
            timeout,
            Duration::from_millis(200),
            || {
                let live = live.clone();
                async move {
                    let mut seen = Vec::new();
                    let mut ok = true;
                    for i in live {
                        let m = &members[i];
                        match m.version().await {
                            Ok(v) => {
                                ok &= v.cluster == Some(want);
                                seen.push(format!("{}={}", m.name, v.raw_cluster));
                            }
                            Err(e) => {
                                ok = false;
                                seen.push(e.to_string());
                            }
                        }
                    }
                    if ok {
                        Ok(())
                    } else {
                        Err(Probe::NotYet(seen.join(", ")))
                    }
                }
            },
        )
        .await
    }

    /// The index of the leader, once every live member that answers names the same one.
    pub async fn leader(&self, timeout: Duration) -> Result<usize, ClusterError> {
        let live = self.live();
        let members = &self.members;
        poll(
            "one leader agreed by every live member",
            timeout,
            Duration::from_millis(50),
            || {
                let live = live.clone();
                async move {
                    let mut leaders = Vec::new();
                    for i in live {
                        match members[i].status().await {
                            Ok(s) => leaders.push(s.leader),
                            Err(e) => return Err(Probe::NotYet(e.to_string())),
                        }
                    }
                    leaders.dedup();
                    match leaders.as_slice() {
                        [id] if *id != 0 => members
                            .iter()
                            .position(|m| m.id == Some(*id))
                            .ok_or_else(|| {
                                Probe::NotYet(format!("leader {id:x} is not a known member"))
                            }),
                        other => Err(Probe::NotYet(format!("leaders reported: {other:x?}"))),
                    }
                }
            },
        )
        .await
    }

    /// Graceful stop (SIGTERM, SIGKILL after the grace period).
    pub async fn stop_member(&self, i: usize) {
        self.members[i].stop(Duration::from_secs(10)).await;
    }

    /// Restarts a stopped member on its data dir, optionally with another release: the
    /// `--initial-*` flags are ignored once the data dir exists, as etcd documents.
    pub fn restart_member(
        &mut self,
        i: usize,
        release: Option<Release>,
    ) -> Result<(), ClusterError> {
        if self.members[i].is_running() {
            return Err(ClusterError::Invalid(format!(
                "member {} is running; stop it first",
                self.members[i].name
            )));
        }
        if let Some(r) = release {
            self.members[i].release = r;
        }
        let initial = self.initial_cluster();
        let cfg = self.cfg.clone();
        self.members[i].start(&initial, InitialState::Existing, &cfg)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for m in &self.members {
            m.kill();
        }
        // A start refused before any member ran (a flag its binary lacks) leaves nothing but
        // the owner file and the certificates the harness made: nothing to look at, so
        // nothing kept. A dir that cannot be listed is kept.
        let produced = self
            .dir
            .as_ref()
            .is_some_and(|d| match std::fs::read_dir(d.path()) {
                Ok(rd) => rd
                    .flatten()
                    .any(|e| e.file_name() != OWNER && e.file_name() != PKI_DIR),
                Err(_) => true,
            });
        if (self.keep || std::thread::panicking()) && produced {
            if let Some(d) = self.dir.take() {
                let p = d.keep();
                let _ = std::fs::write(p.join(KEPT), "artifacts of a failed run\n");
                eprintln!(
                    "etcd-skew: kept the failed run's member logs and data dirs in {}",
                    p.display()
                );
            }
        }
    }
}
