//! A watcher that follows the traffic's keys for the whole run and records every event it is
//! sent. It moves to another member when its member fails, resuming from the revision after the
//! last event it saw (the way clients are told to); a compaction that cancels the watch is
//! recorded as a known gap. It asks for each event's previous key-value and for progress
//! notifications (periodic, and requested every few hundred milliseconds), and records those
//! too: what the bookmarkable, is-create and prev-kv checks judge.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, Event, EventType, GetOptions, WatchOptions, WatchResponse};

use super::clients::{connect, Endpoints, RETRY_PAUSE};
use super::short_watch;
use crate::history::{PrevKv, PrevProbe, Progress, ShortWatch, Stall, WatchEvent, WatchLog};

/// How often the watcher requests a progress notification.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

pub struct Watcher {
    shared: Arc<Shared>,
    /// Taken by [`Watcher::stop_at`]; a watcher dropped without it stops its tasks in `drop`.
    task: Option<tokio::task::JoinHandle<WatchLog>>,
    short: Option<tokio::task::JoinHandle<Vec<ShortWatch>>>,
    /// One held watch loop per member there at the start ([`short_watch::held_loop`]), when
    /// asked for.
    held: Vec<tokio::task::JoinHandle<Vec<ShortWatch>>>,
    /// One collector per member there at the start, each pinned to its member.
    collectors: Vec<Collector>,
    /// Where the members are now: a collector left behind is asked about its member's own
    /// revision (over `prefix`, which its credentials may read).
    endpoints: Endpoints,
    prefix: String,
}

/// A watch pinned to one member.
struct Collector {
    member: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<WatchLog>,
}

/// How long a collector's open stream may stand still, once its member is known to have the
/// store's last revision, before it counts as stalled. etcd sends a synced watcher's events as
/// it applies them and an unsynced one's every 100 ms.
const STALL_AFTER: Duration = Duration::from_secs(2);

impl Drop for Watcher {
    /// A watcher given up on (an epoch that ended on an error) must not keep watching, and
    /// reconnecting to, a cluster that is gone: every task sees the flag within 100 ms.
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for c in &self.collectors {
            c.shared.stop.store(true, Ordering::SeqCst);
        }
    }
}

/// What the watch tasks and their owner share.
#[derive(Default)]
pub(super) struct Shared {
    pub(super) stop: AtomicBool,
    /// The revision the watch has delivered everything up to (its start revision - 1, then
    /// advanced by events).
    pub(super) reached: AtomicI64,
    /// Progress notifications received so far.
    notified: AtomicUsize,
    /// Held watches sent events past their start so far ([`short_watch::held_loop`]).
    pub(super) held_past_start: AtomicUsize,
    /// The revision the watch started at, once known (0 before).
    start: AtomicI64,
    /// Watch streams opened so far, and whether one is open now: a stall is one stream
    /// standing still, not a watch between members.
    streams: AtomicUsize,
    streaming: AtomicBool,
}

impl Watcher {
    /// Watches `prefix` from the present; `request_progress`: ask for a progress notification
    /// every [`PROGRESS_EVERY`] as well; `held`: hold a watch from far beyond the head on every
    /// member ([`short_watch::held_loop`]).
    pub fn start(
        endpoints: Endpoints,
        prefix: String,
        started: Instant,
        (request_progress, held): (bool, bool),
    ) -> Watcher {
        Watcher::start_at(endpoints, prefix, started, (request_progress, held), 0)
    }

    /// Watches `prefix` from revision `from` (0: the present). A watch that starts behind the
    /// store is one etcd must first catch up ("unsynced"), sending the past events in batches:
    /// the state in which a requested progress notification could overtake them (etcd#15220).
    ///
    /// Beside the watch that moves between members: short-lived watches
    /// ([`short_watch`]), and one collector per member present now, pinned to it (resumed on
    /// it when it comes back), so that every member's own watch stream is judged, not only the
    /// one the moving watch happens to be on. A collector starts from revision 1, as etcd's
    /// robustness suite collects its watch events: each member first walks its whole retained
    /// history as an unsynced watcher (or is cancelled as compacted and resumes at the compact
    /// revision), the paths where etcd#15220 and etcd#18089 lived.
    pub fn start_at(
        endpoints: Endpoints,
        prefix: String,
        started: Instant,
        (request_progress, held): (bool, bool),
        from: i64,
    ) -> Watcher {
        let shared = Arc::new(Shared::default());
        let (s, p, e) = (shared.clone(), prefix.clone(), endpoints.clone());
        let task = tokio::spawn(async move {
            watch_loop(e, p, &s, started, (request_progress, from, None)).await
        });
        let collectors = members_now(&endpoints)
            .into_iter()
            .map(|member| {
                let own = Arc::new(Shared::default());
                let (o, p, e, m) = (
                    own.clone(),
                    prefix.clone(),
                    endpoints.clone(),
                    member.clone(),
                );
                let task = tokio::spawn(async move {
                    watch_loop(e, p, &o, started, (request_progress, 1, Some(&m))).await
                });
                Collector {
                    member,
                    shared: own,
                    task,
                }
            })
            .collect();
        let held = members_now(&endpoints)
            .into_iter()
            .filter(|_| held)
            .map(|member| {
                let (e, p, s) = (endpoints.clone(), prefix.clone(), shared.clone());
                tokio::spawn(short_watch::held_loop(e, p, s, started, member))
            })
            .collect();
        let short = tokio::spawn(short_watch::short_loop(
            endpoints.clone(),
            prefix.clone(),
            shared.clone(),
            started,
        ));
        Watcher {
            shared,
            task: Some(task),
            short: Some(short),
            held,
            collectors,
            endpoints,
            prefix,
        }
    }

    /// The revision the watch covers from (0 until it knows): every write after it shows.
    pub fn start_revision(&self) -> i64 {
        self.shared.start.load(Ordering::SeqCst)
    }

    /// Each member's collector and the revision it has delivered everything up to.
    pub fn collectors_reached(&self) -> Vec<(String, i64)> {
        self.collectors
            .iter()
            .map(|c| (c.member.clone(), c.shared.reached.load(Ordering::SeqCst)))
            .collect()
    }

    /// Held watches sent events past their start so far: what a test waits for (the store
    /// must first move 1,000 to 8,000 revisions past where each started).
    pub fn held_past_start(&self) -> usize {
        self.shared.held_past_start.load(Ordering::SeqCst)
    }

    /// Progress notifications received so far.
    pub fn notified(&self) -> usize {
        self.shared.notified.load(Ordering::SeqCst)
    }

    /// Lets the watch catch up to `revision` (the store's revision once traffic stopped), within
    /// a deadline, then stops it. `Err` if it never got there (a watch that stopped delivering)
    /// or if the watcher task failed.
    pub async fn stop_at(mut self, revision: i64) -> Result<WatchLog, String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.shared.reached.load(Ordering::SeqCst) < revision
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let reached = self.shared.reached.load(Ordering::SeqCst);
        let stalls = self.stalls(revision, deadline).await;
        self.shared.stop.store(true, Ordering::SeqCst);
        for c in &self.collectors {
            c.shared.stop.store(true, Ordering::SeqCst);
        }
        let (task, short) = (self.task.take(), self.short.take());
        let mut log = match task {
            Some(t) => t.await.map_err(|e| format!("the watcher failed: {e}"))?,
            None => WatchLog::default(),
        };
        if let Some(s) = short {
            log.short = s
                .await
                .map_err(|e| format!("the short watches failed: {e}"))?;
        }
        for h in std::mem::take(&mut self.held) {
            let held = h.await.map_err(|e| format!("a held watch failed: {e}"))?;
            log.short.extend(held);
        }
        for (c, stalled) in std::mem::take(&mut self.collectors).into_iter().zip(stalls) {
            let mut m = c
                .task
                .await
                .map_err(|e| format!("a member's watch collector failed: {e}"))?;
            m.stalled = stalled;
            log.members.push(m);
        }
        if reached < revision {
            return Err(format!("the watch reached revision {reached} but the store is at {revision} (10 s after traffic stopped)"));
        }
        Ok(log)
    }
}

/// The members the endpoints name now.
fn members_now(endpoints: &Endpoints) -> Vec<String> {
    let eps = endpoints.read().unwrap();
    eps.iter().map(|ep| ep.member.clone()).collect()
}

impl Watcher {
    /// Lets every collector reach `revision` by `deadline`; one still behind then, on an open
    /// stream, whose member answers with a revision at least `revision`, gets [`STALL_AFTER`]
    /// more, and is stalled if its stream delivered nothing in it. A collector whose member is
    /// gone, down or behind itself is not.
    async fn stalls(&self, revision: i64, deadline: tokio::time::Instant) -> Vec<Option<Stall>> {
        let behind = |c: &Collector| c.shared.reached.load(Ordering::SeqCst) < revision;
        // Only open streams are waited for: a collector whose member is down at the end would
        // hold every epoch's close to the deadline.
        let waited = |c: &Collector| behind(c) && c.shared.streaming.load(Ordering::SeqCst);
        while self.collectors.iter().any(waited) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // All at once: one [`STALL_AFTER`] for the lot, not one per member.
        let mut asked = tokio::task::JoinSet::new();
        for (i, c) in self.collectors.iter().enumerate() {
            let probe = StallProbe {
                member: c.member.clone(),
                shared: c.shared.clone(),
                endpoints: self.endpoints.clone(),
                prefix: self.prefix.clone(),
            };
            asked.spawn(async move { (i, probe.stalled(revision).await) });
        }
        let mut out = vec![None; self.collectors.len()];
        while let Some(done) = asked.join_next().await {
            if let Ok((i, stall)) = done {
                out[i] = stall;
            }
        }
        out
    }
}

/// What a stall check of one collector needs, owned (the checks run as tasks side by side).
struct StallProbe {
    member: String,
    shared: Arc<Shared>,
    endpoints: Endpoints,
    prefix: String,
}

impl StallProbe {
    /// A stall, if the collector is behind `revision` on an open stream, its member has it,
    /// and the stream delivers nothing in [`STALL_AFTER`].
    async fn stalled(&self, revision: i64) -> Option<Stall> {
        let stream = self.shared.streams.load(Ordering::SeqCst);
        let reached = self.shared.reached.load(Ordering::SeqCst);
        if reached >= revision || !self.shared.streaming.load(Ordering::SeqCst) {
            return None;
        }
        let ep = self
            .endpoints
            .read()
            .unwrap()
            .iter()
            .find(|e| e.member == self.member)
            .cloned()?;
        let bounded = Duration::from_secs(2);
        let mut client = connect(&ep, None, false).await?;
        let opts = GetOptions::new()
            .with_prefix()
            .with_serializable()
            .with_count_only();
        let answer =
            tokio::time::timeout(bounded, client.get(self.prefix.as_str(), Some(opts))).await;
        let member_revision = answer.ok()?.ok()?.header()?.revision();
        if member_revision < revision {
            return None;
        }
        let quiet_from = tokio::time::Instant::now();
        tokio::time::sleep(STALL_AFTER).await;
        let still = self.shared.streaming.load(Ordering::SeqCst)
            && self.shared.streams.load(Ordering::SeqCst) == stream
            && self.shared.reached.load(Ordering::SeqCst) == reached;
        still.then(|| Stall {
            member: self.member.clone(),
            reached,
            member_revision,
            quiet_ms: quiet_from.elapsed().as_millis() as u64,
        })
    }
}

async fn watch_loop(
    endpoints: Endpoints,
    prefix: String,
    shared: &Shared,
    started: Instant,
    (request_progress, from, pin): (bool, i64, Option<&str>),
) -> WatchLog {
    let (stop, reached) = (&shared.stop, &shared.reached);
    let mut log = WatchLog::default();
    let mut next = from.max(0);
    if next > 0 {
        log.start_revision = next;
        reached.fetch_max(next - 1, Ordering::SeqCst);
        shared.start.store(next, Ordering::SeqCst);
    }
    let mut rotation = 0usize;
    let bounded = Duration::from_secs(3);
    while !stop.load(Ordering::SeqCst) {
        let picked = {
            let eps = endpoints.read().unwrap();
            match pin {
                // A collector waits for its member (down, or not yet back).
                Some(member) => eps.iter().find(|e| e.member == member).cloned(),
                None => (!eps.is_empty()).then(|| eps[rotation % eps.len()].clone()),
            }
        };
        rotation += 1;
        let Some(ep) = picked else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // require_leader: a member cut off from its leader ends the watch instead of leaving it
        // silently stalled.
        // Each call below is bounded by its own timeout; the stream lives while it delivers.
        let Some(mut c) = connect(&ep, None, true).await else {
            tokio::time::sleep(RETRY_PAUSE).await;
            continue;
        };
        if next == 0 {
            // Start just after the present: what came before is not this watch's to see.
            let Some(present) = present_revision(&mut c, &prefix).await else {
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            };
            next = present + 1;
            log.start_revision = next;
            shared.start.store(next, Ordering::SeqCst);
            // Everything up to the start is delivered by definition. Without this a watch
            // whose start saw the store's last write (a case whose only member restarted
            // before traffic wrote again) "reached revision 0" and failed the case: the
            // one-member 3.5.16 exploration finding of 2026-12-01 was this harness bug.
            reached.fetch_max(next - 1, Ordering::SeqCst);
        }
        let opts = WatchOptions::new()
            .with_prefix()
            .with_start_revision(next)
            .with_prev_key()
            .with_progress_notify();
        let Ok(Ok(mut stream)) =
            tokio::time::timeout(bounded, c.watch(prefix.as_str(), Some(opts))).await
        else {
            tokio::time::sleep(RETRY_PAUSE).await;
            continue;
        };
        log.resumes.push((ep.member.clone(), next));
        shared.streams.fetch_add(1, Ordering::SeqCst);
        shared.streaming.store(true, Ordering::SeqCst);
        let on = Stream {
            member: &ep.member,
            shared,
            request_progress,
            started,
        };
        let first = log.events.len();
        let ended = on.follow(&mut stream, &mut log, &mut next).await;
        shared.streaming.store(false, Ordering::SeqCst);
        match ended {
            Ended::Stopped => {
                log.prev_probes = probe_prev(&mut c, &ep.member, &log.events[first..]).await;
                return log;
            }
            Ended::Failed => tokio::time::sleep(RETRY_PAUSE).await,
            Ended::Cancelled => {}
        }
    }
    log
}

/// The store's revision as `c`'s member answers (a count-only range of `prefix`).
async fn present_revision(c: &mut Client, prefix: &str) -> Option<i64> {
    let opts = GetOptions::new().with_prefix().with_count_only();
    let r = tokio::time::timeout(Duration::from_secs(3), c.get(prefix, Some(opts)))
        .await
        .ok()?
        .ok()?;
    Some(r.header().map_or(0, |h| h.revision()))
}

/// How one watch stream ended.
enum Ended {
    /// The watcher was told to stop.
    Stopped,
    /// The stream broke (member gone, no leader): resume elsewhere after a pause.
    Failed,
    /// etcd cancelled it (compacted: resume from the compact revision).
    Cancelled,
}

/// One open watch stream on `member`, followed until it ends.
struct Stream<'a> {
    member: &'a str,
    shared: &'a Shared,
    request_progress: bool,
    started: Instant,
}

impl Stream<'_> {
    /// Records every event and progress notification into `log`, moving `next` past each
    /// event (and past a compacted range, recorded as a known gap).
    async fn follow(
        &self,
        stream: &mut etcd_client::WatchStream,
        log: &mut WatchLog,
        next: &mut i64,
    ) -> Ended {
        let mut last_request = Instant::now();
        loop {
            if self.shared.stop.load(Ordering::SeqCst) {
                return Ended::Stopped;
            }
            // Ask where the stream stands every 100 ms, while events flow too (as etcd's
            // robustness suite does): a request that meets a watcher still catching up is
            // where a notification may run ahead of events (etcd#15220).
            if self.request_progress && last_request.elapsed() >= PROGRESS_EVERY {
                last_request = Instant::now();
                let _ =
                    tokio::time::timeout(Duration::from_secs(3), stream.request_progress()).await;
            }
            // Wake up now and then to notice `stop` on a quiet stream.
            let msg = match tokio::time::timeout(PROGRESS_EVERY, stream.message()).await {
                Err(_) => continue,
                Ok(Ok(Some(m))) => m,
                Ok(_) => return Ended::Failed,
            };
            if msg.canceled() {
                if msg.compact_revision() > *next {
                    log.compacted.push((*next, msg.compact_revision()));
                    *next = msg.compact_revision();
                }
                return Ended::Cancelled;
            }
            // A progress notification: no events, not a creation, cancellation or compaction.
            let header_revision = msg.header().map_or(0, |h| h.revision());
            if msg.events().is_empty()
                && !msg.created()
                && msg.compact_revision() == 0
                && header_revision > 0
            {
                log.progress.push(Progress {
                    member: self.member.to_string(),
                    revision: header_revision,
                    after: log.events.len(),
                });
                self.shared.notified.fetch_add(1, Ordering::SeqCst);
                // `reached` moves with events only: were a notification premature (etcd#15220),
                // the events it ran ahead of must still arrive before the watch is stopped,
                // and show as out of order rather than as missing.
                continue;
            }
            for e in recorded(self.member, &msg, self.started) {
                *next = (*next).max(e.revision + 1);
                self.shared.reached.fetch_max(e.revision, Ordering::SeqCst);
                log.events.push(e);
            }
        }
    }
}

/// Events probed at most per watch: the last ones without a previous key-value, the likeliest
/// not to be compacted yet.
const PREV_PROBES: usize = 3;

/// The last [`PREV_PROBES`] of `events` (one stream's, from `member`, with prev_kv asked for)
/// that came without a previous key-value and are not creates, each probed with a range of its
/// key just below its revision on that member (the same member: another one may not have
/// applied a compaction yet). A probe that gets no answer ends the probing (the member may be
/// gone: each would wait out its bound).
pub(super) async fn probe_prev(
    c: &mut Client,
    member: &str,
    events: &[WatchEvent],
) -> Vec<PrevProbe> {
    let bounded = Duration::from_secs(2);
    let wanted = events
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, e)| e.prev.is_none() && !e.created)
        .take(PREV_PROBES);
    let mut out = Vec::new();
    for (nth, e) in wanted {
        let opts = GetOptions::new().with_revision(e.revision - 1);
        let served = match tokio::time::timeout(bounded, c.get(e.key.as_str(), Some(opts))).await {
            Ok(Ok(r)) => r.kvs().first().map(|kv| PrevKv {
                value: String::from_utf8_lossy(kv.value()).into_owned(),
                mod_revision: kv.mod_revision(),
            }),
            // OutOfRange is compacted or future, and a revision below one the member sent
            // cannot be future to it.
            Ok(Err(etcd_client::Error::GRpcStatus(s))) if s.code() == tonic::Code::OutOfRange => {
                None
            }
            _ => break,
        };
        out.push(PrevProbe {
            member: member.to_string(),
            key: e.key.clone(),
            revision: e.revision,
            nth,
            served,
        });
    }
    out
}

/// A watch response's events as recorded, the first marked as opening the response: etcd
/// promises a revision's events are never split over two responses (atomic), and only the
/// boundaries tell.
pub(super) fn recorded<'a>(
    member: &'a str,
    msg: &'a WatchResponse,
    started: Instant,
) -> impl Iterator<Item = WatchEvent> + 'a {
    msg.events()
        .iter()
        .filter_map(move |ev| recorded_event(member, ev, started))
        .enumerate()
        .map(|(i, mut e)| {
            e.opens_response = i == 0;
            e
        })
}

/// One watch event as recorded (`None` for an event without a key-value).
fn recorded_event(member: &str, ev: &Event, started: Instant) -> Option<WatchEvent> {
    let kv = ev.kv()?;
    Some(WatchEvent {
        member: member.to_string(),
        revision: kv.mod_revision(),
        key: String::from_utf8_lossy(kv.key()).into_owned(),
        value: (ev.event_type() == EventType::Put)
            .then(|| String::from_utf8_lossy(kv.value()).into_owned()),
        at_us: started.elapsed().as_micros() as u64,
        created: ev.event_type() == EventType::Put && kv.create_revision() == kv.mod_revision(),
        prev: ev.prev_kv().map(|p| PrevKv {
            value: String::from_utf8_lossy(p.value()).into_owned(),
            mod_revision: p.mod_revision(),
        }),
        opens_response: false,
    })
}
