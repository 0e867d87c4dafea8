//! One catch-up measurement: a member (re)starts against a cluster holding the dataset, and the
//! clock runs from its process start until it has caught up.
//!
//! "Caught up" is three facts at once, each probe bounded by a short timeout:
//! 1. its applied index (`/metrics`, see `probe.rs`) reached the leader's commit index as read
//!    just before the member started;
//! 2. it answers a linearizable v3 read (the read index is the leader's commit index now, so
//!    this also proves 1 on releases whose gauges lag);
//! 3. a quorum v2 read of the last key written returns its value through it.
//!
//! The figure's resolution is the span between the start of the last probe that failed and the
//! end of the first that held: the moment of catching up lies inside it. It is recorded with
//! every sample.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::BenchError;
use super::probe;
use super::spec::{Case, Pair};
use crate::cluster::wait::{poll, Probe};
use crate::cluster::{Cluster, ClusterError};
use crate::model::EtcdRefusal;

/// Writes while a member is down in [`Case::BehindSnapshot`]: past one `--snapshot-count`
/// ([`BEHIND_SNAPSHOT_COUNT`]) plus the 5000 entries etcd keeps after a snapshot for slow
/// followers (`SnapshotCatchUpEntries`), so the leader can only send it a snapshot.
pub const BEHIND_WRITES: usize = 7_000;
/// `--snapshot-count` of the cluster in [`Case::BehindSnapshot`].
pub const BEHIND_SNAPSHOT_COUNT: u64 = 1_000;

/// How to wait.
#[derive(Clone, Debug)]
pub struct MeasureOptions {
    /// Deadline for catching up: past it the sample is a [`BenchError::NotCaughtUp`].
    pub timeout: Duration,
    /// Pause between probes.
    pub interval: Duration,
    /// Bound on each probe request (a frozen or busy member must not stall the clock).
    pub probe_timeout: Duration,
    /// Test hook: SIGSTOP the member `after` its start, for `length`.
    pub pause: Option<(Duration, Duration)>,
    /// Test hook: cut the member off from its peers before it restarts (needs peer proxies).
    pub cut_off: bool,
}

impl Default for MeasureOptions {
    fn default() -> Self {
        MeasureOptions {
            timeout: Duration::from_secs(600),
            interval: Duration::from_millis(10),
            probe_timeout: Duration::from_millis(500),
            pause: None,
            cut_off: false,
        }
    }
}

/// One measured sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub pair: String,
    pub case: Case,
    pub mb: u32,
    /// `tmpfs` or the `--data-root` path.
    pub storage: String,
    /// Process start → caught up.
    pub seconds: f64,
    /// Process start → first `/health` OK.
    pub health_seconds: Option<f64>,
    pub resolution_ms: f64,
    /// The leader's commit index as of the start, which the member had to apply.
    pub target_index: u64,
    pub peak_rss_bytes: u64,
    pub cpu_seconds: f64,
    /// Bytes received from peers (raft messages and any snapshot).
    pub peer_bytes_received: Option<u64>,
    /// Snapshots received (3.4+ only).
    pub snapshots_received: Option<u64>,
    /// How long the member was paused by the test hook, if it was, before catching up.
    pub paused_seconds: f64,
}

/// Where a case ends: the key the member must serve, and its value.
#[derive(Clone, Debug)]
pub struct LastWrite {
    pub key: String,
    pub value: String,
}

/// Runs `case` on `cluster` (every member on `pair.from`, holding the dataset whose last write
/// is `last`) and measures the member it starts.
pub async fn run_case(
    cluster: &mut Cluster,
    pair: &Pair,
    case: Case,
    last: &LastWrite,
    opts: &MeasureOptions,
) -> Result<Sample, BenchError> {
    let leader = cluster.leader(Duration::from_secs(30)).await?;
    let follower = (0..cluster.members().len())
        .find(|&i| i != leader)
        .expect("a template has several members");
    let mut last = last.clone();
    let (i, release) = match case {
        Case::Upgrade | Case::Baseline | Case::BehindSnapshot => {
            cluster.stop_member(follower).await;
            if case == Case::BehindSnapshot {
                last = write_behind(cluster, leader).await?;
            }
            let r = if case == Case::Baseline {
                &pair.from
            } else {
                &pair.to
            };
            (follower, r.clone())
        }
        Case::NewMember => {
            let n = cluster.new_member("m-new", pair.to.clone())?;
            add_member(cluster, leader, n).await?;
            (n, pair.to.clone())
        }
    };
    if opts.cut_off {
        cluster.partition(i)?;
    }
    let target = leader_commit_index(cluster, leader).await?;
    let t0 = Instant::now();
    if case == Case::NewMember {
        cluster.start_joining(i)?;
    } else {
        cluster.restart_member(i, Some(release))?;
    }
    let mut sample = wait_caught_up(cluster, i, t0, target, &last, opts)
        .await
        .map_err(|e| match e {
            BenchError::NotCaughtUp {
                member,
                after,
                last_seen,
                ..
            } => BenchError::NotCaughtUp {
                member,
                case: format!("{case}, {}", pair.label()),
                after,
                last_seen,
            },
            other => other,
        })?;
    sample.pair = pair.label();
    sample.case = case;
    Ok(sample)
}

/// The leader's commit index, polled with the full request timeout: a leader that has just
/// taken a snapshot of a large v2 store can be slow to answer `/metrics`.
async fn leader_commit_index(cluster: &Cluster, leader: usize) -> Result<u64, BenchError> {
    let http = probe::metrics_client(crate::cluster::member::REQUEST_TIMEOUT);
    let url = &cluster.member(leader).client_url;
    let (http, url) = (&http, url.as_str());
    Ok(poll(
        &format!("the leader's commit index from {url}/metrics"),
        Duration::from_secs(60),
        Duration::from_millis(200),
        || async move {
            match probe::metrics(http, url).await {
                Ok(m) => m.committed_index.ok_or_else(|| {
                    Probe::NotYet("no etcd_server_proposals_committed_total".into())
                }),
                Err(e) => Err(Probe::NotYet(e.to_string())),
            }
        },
    )
    .await?)
}

/// `member add`, retried: right after a cluster starts, 3.4+ refuse it ("unhealthy cluster",
/// `--strict-reconfig-check`) until the leader has heard from every peer for a while.
async fn add_member(cluster: &mut Cluster, via: usize, new: usize) -> Result<(), BenchError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match cluster.member_add(via, new).await {
            Ok(_) => return Ok(()),
            Err(e)
                if e.refusal() == Some(EtcdRefusal::UnhealthyCluster)
                    && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Stops nothing: writes [`BEHIND_WRITES`] small v2 keys through the leader while a member is
/// down, then the new last key.
async fn write_behind(cluster: &Cluster, leader: usize) -> Result<LastWrite, BenchError> {
    let url = cluster.member(leader).client_url.clone();
    let http = super::dataset::http_client();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..8 {
        let (url, http) = (url.clone(), http.clone());
        tasks.spawn(async move {
            for k in (w..BEHIND_WRITES).step_by(8) {
                let key = format!("/bench/behind/k{k:05}");
                super::dataset::v2_put(&http, &url, &key, "behind", None).await?;
            }
            Ok::<(), String>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| ClusterError::Invalid(e.to_string()))?
            .map_err(|e| ClusterError::Invalid(format!("writing past the stopped member: {e}")))?;
    }
    let last = LastWrite {
        key: "/bench/behind/last".into(),
        value: format!("after-{BEHIND_WRITES}"),
    };
    super::dataset::v2_put(&http, &url, &last.key, &last.value, None)
        .await
        .map_err(ClusterError::Invalid)?;
    Ok(last)
}

/// What one probe saw. The cheap check goes first and the others run only once it holds,
/// so a failing probe returns fast and the resolution stays fine.
struct Seen {
    applied: Option<u64>,
    linearizable: bool,
    v2_value: Option<String>,
}

impl Seen {
    fn caught_up(&self, target: u64, last: &LastWrite) -> bool {
        self.applied.is_some_and(|a| a >= target)
            && self.linearizable
            && self.v2_value.as_deref() == Some(last.value.as_str())
    }
}

/// One gRPC client for the whole wait, made once the member answers: connecting anew per probe
/// would cost more than the probe.
async fn probe_once(
    m: &crate::cluster::Member,
    grpc: &mut Option<etcd_client::Client>,
    quick: &mut QuickTimeout,
    target: u64,
    last: &LastWrite,
    t: Duration,
) -> Seen {
    let metrics =
        match tokio::time::timeout(quick.now, probe::metrics(&quick.http, &m.client_url)).await {
            Ok(r) => r.ok(),
            Err(_) => {
                quick.timed_out();
                None
            }
        };
    let mut seen = Seen {
        applied: metrics.and_then(|x| x.applied_index),
        linearizable: false,
        v2_value: None,
    };
    if seen.applied.is_none_or(|a| a < target) {
        return seen;
    }
    if grpc.is_none() {
        *grpc = tokio::time::timeout(t, m.client())
            .await
            .ok()
            .and_then(Result::ok);
    }
    if let Some(c) = grpc.as_mut() {
        seen.linearizable = matches!(
            tokio::time::timeout(t, c.get("bench-probe", None)).await,
            Ok(Ok(_))
        );
    }
    if seen.linearizable {
        if let Ok(Ok(v)) = tokio::time::timeout(t, m.v2_get(&last.key)).await {
            seen.v2_value = v;
        }
    }
    seen
}

/// The bound on the first, cheap probe: etcd accepts connections on its client port long
/// before it serves them (the listener opens before the data loads), so a request sent early
/// hangs until the member is ready, and the moment it became ready is only known to within
/// that request's wait. Starting at 40 ms and growing by a tenth on every timeout (up to the
/// probe timeout) keeps that window small, yet lets a member too busy to answer be heard.
struct QuickTimeout {
    now: Duration,
    max: Duration,
    http: reqwest::Client,
}

impl QuickTimeout {
    fn new(max: Duration) -> QuickTimeout {
        QuickTimeout {
            now: Duration::from_millis(40).min(max),
            max,
            http: probe::metrics_client(max),
        }
    }

    fn timed_out(&mut self) {
        self.now = self.now.mul_f64(1.1).min(self.max);
    }
}

/// Polls member `i` (started at `t0`) until it has caught up with `target`; see the module doc.
/// A loop of its own rather than `wait::poll`, because it also drives the pause hook and
/// records the first `/health` OK between probes; the deadline is the same rule.
pub async fn wait_caught_up(
    cluster: &Cluster,
    i: usize,
    t0: Instant,
    target: u64,
    last: &LastWrite,
    opts: &MeasureOptions,
) -> Result<Sample, BenchError> {
    let m = cluster.member(i);
    let http = probe::metrics_client(opts.probe_timeout);
    let mut health: Option<f64> = None;
    let mut pause = PauseHook::new(opts.pause, t0);
    let mut last_failed_start = t0;
    let mut grpc = None;
    let mut quick = QuickTimeout::new(opts.probe_timeout);
    let end = loop {
        let probe_start = Instant::now();
        pause.step(m);
        if let Err(e) = m.check_alive() {
            pause.finish(m);
            return Err(e.into());
        }
        // /health runs beside the probe, not before it, so it does not widen the resolution.
        let health_bound = quick.now;
        let check_health = async {
            match health {
                Some(_) => None,
                None => Some(tokio::time::timeout(health_bound, m.health()).await),
            }
        };
        let (h, seen) = tokio::join!(
            check_health,
            probe_once(m, &mut grpc, &mut quick, target, last, opts.probe_timeout)
        );
        if let Some(Ok(Ok(true))) = h {
            health = Some(t0.elapsed().as_secs_f64());
        }
        if seen.caught_up(target, last) {
            break Instant::now();
        }
        let applied = seen.applied;
        last_failed_start = probe_start;
        if t0.elapsed() + opts.interval > opts.timeout {
            pause.finish(m);
            return Err(BenchError::NotCaughtUp {
                member: m.name.clone(),
                case: String::new(),
                after: t0.elapsed(),
                last_seen: format!(
                    "applied index {applied:?} of {target}, linearizable read {}, v2 {} = {:?}",
                    if seen.linearizable {
                        "ok"
                    } else {
                        "not answered"
                    },
                    last.key,
                    seen.v2_value
                ),
            });
        }
        tokio::time::sleep(opts.interval).await;
    };
    let paused_seconds = pause.finish(m);
    if health.is_none() {
        // Caught up before a quick /health answered: it is OK now at the latest.
        if let Ok(Ok(true)) = tokio::time::timeout(opts.probe_timeout, m.health()).await {
            health = Some(t0.elapsed().as_secs_f64());
        }
    }
    let usage = m.pid().and_then(probe::proc_usage).unwrap_or_default();
    let metrics = probe::metrics(&http, &m.client_url)
        .await
        .unwrap_or_default();
    Ok(Sample {
        pair: String::new(),
        case: Case::Upgrade,
        mb: 0,
        storage: String::new(),
        seconds: (end - t0).as_secs_f64(),
        health_seconds: health,
        resolution_ms: (end - last_failed_start).as_secs_f64() * 1000.0,
        target_index: target,
        peak_rss_bytes: usage.peak_rss_bytes,
        cpu_seconds: usage.cpu_seconds,
        peer_bytes_received: metrics.peer_bytes_received,
        snapshots_received: metrics.snapshots_received,
        paused_seconds,
    })
}

/// The test hook of [`MeasureOptions::pause`]: SIGSTOP once `after` has passed since the
/// start, SIGCONT `length` later; the member is never left paused.
struct PauseHook {
    plan: Option<(Instant, Duration)>,
    paused_at: Option<Instant>,
    paused: Duration,
}

impl PauseHook {
    fn new(plan: Option<(Duration, Duration)>, t0: Instant) -> PauseHook {
        PauseHook {
            plan: plan.map(|(after, len)| (t0 + after, len)),
            paused_at: None,
            paused: Duration::ZERO,
        }
    }

    fn step(&mut self, m: &crate::cluster::Member) {
        let now = Instant::now();
        match (self.plan, self.paused_at) {
            (Some((at, _)), None) if now >= at => {
                m.pause();
                self.paused_at = Some(now);
            }
            (Some((_, len)), Some(since)) if now >= since + len => {
                self.finish(m);
            }
            _ => {}
        }
    }

    /// Resumes the member if paused; returns the seconds it was paused.
    fn finish(&mut self, m: &crate::cluster::Member) -> f64 {
        if let Some(since) = self.paused_at.take() {
            m.resume();
            self.paused += since.elapsed();
            self.plan = None;
        }
        self.paused.as_secs_f64()
    }
}
