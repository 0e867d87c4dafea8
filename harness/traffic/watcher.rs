//! A watcher that follows the traffic's keys for the whole run and records every event it is
//! sent. It moves to another member when its member fails, resuming from the revision after the
//! last event it saw (the way clients are told to); a compaction that cancels the watch is
//! recorded as a known gap.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{EventType, GetOptions, WatchOptions};

use super::clients::{connect, Endpoints, RETRY_PAUSE};
use crate::history::{WatchEvent, WatchLog};

pub struct Watcher {
    stop: Arc<AtomicBool>,
    /// The revision the watch has delivered everything up to (its next start revision - 1,
    /// advanced by events and by progress notifications).
    reached: Arc<std::sync::atomic::AtomicI64>,
    task: tokio::task::JoinHandle<WatchLog>,
}

impl Watcher {
    pub fn start(endpoints: Endpoints, prefix: String, started: Instant) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let reached = Arc::new(std::sync::atomic::AtomicI64::new(0));
        let (s, r) = (stop.clone(), reached.clone());
        let task = tokio::spawn(async move { watch_loop(endpoints, prefix, s, r, started).await });
        Watcher {
            stop,
            reached,
            task,
        }
    }

    /// Lets the watch catch up to `revision` (the store's revision once traffic stopped), within
    /// a deadline, then stops it. `Err` if it never got there (a watch that stopped delivering)
    /// or if the watcher task failed.
    pub async fn stop_at(self, revision: i64) -> Result<WatchLog, String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.reached.load(Ordering::SeqCst) < revision
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let reached = self.reached.load(Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
        let log = self
            .task
            .await
            .map_err(|e| format!("the watcher failed: {e}"))?;
        if reached < revision {
            return Err(format!("the watch reached revision {reached} but the store is at {revision} (10 s after traffic stopped)"));
        }
        Ok(log)
    }
}

async fn watch_loop(
    endpoints: Endpoints,
    prefix: String,
    stop: Arc<AtomicBool>,
    reached: Arc<std::sync::atomic::AtomicI64>,
    started: Instant,
) -> WatchLog {
    let mut log = WatchLog::default();
    let mut next = 0i64;
    let mut rotation = 0usize;
    let bounded = Duration::from_secs(3);
    while !stop.load(Ordering::SeqCst) {
        let picked = {
            let eps = endpoints.read().unwrap();
            (!eps.is_empty()).then(|| eps[rotation % eps.len()].clone())
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
            let Ok(Ok(r)) = tokio::time::timeout(
                bounded,
                c.get(
                    prefix.as_str(),
                    Some(GetOptions::new().with_prefix().with_count_only()),
                ),
            )
            .await
            else {
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            };
            next = r.header().map(|h| h.revision()).unwrap_or(0) + 1;
            log.start_revision = next;
            // Everything up to the start is delivered by definition. Without this a watch
            // whose start saw the store's last write (a case whose only member restarted
            // before traffic wrote again) "reached revision 0" and failed the case: the
            // one-member 3.5.16 exploration finding of 2026-12-01 was this harness bug.
            reached.fetch_max(next - 1, Ordering::SeqCst);
        }
        let opts = WatchOptions::new().with_prefix().with_start_revision(next);
        let Ok(Ok(mut stream)) =
            tokio::time::timeout(bounded, c.watch(prefix.as_str(), Some(opts))).await
        else {
            tokio::time::sleep(RETRY_PAUSE).await;
            continue;
        };
        log.resumes.push((ep.member.clone(), next));
        loop {
            if stop.load(Ordering::SeqCst) {
                return log;
            }
            // Wake up now and then to notice `stop` on a quiet stream.
            let msg = match tokio::time::timeout(Duration::from_millis(250), stream.message()).await
            {
                Err(_) => continue,
                Ok(Ok(Some(m))) => m,
                Ok(_) => {
                    // Stream ended or failed: resume elsewhere, after a pause.
                    tokio::time::sleep(RETRY_PAUSE).await;
                    break;
                }
            };
            if msg.canceled() {
                if msg.compact_revision() > next {
                    log.compacted.push((next, msg.compact_revision()));
                    next = msg.compact_revision();
                }
                break;
            }
            for ev in msg.events() {
                let Some(kv) = ev.kv() else { continue };
                let value = match ev.event_type() {
                    EventType::Put => Some(String::from_utf8_lossy(kv.value()).into_owned()),
                    EventType::Delete => None,
                };
                log.events.push(WatchEvent {
                    member: ep.member.clone(),
                    revision: kv.mod_revision(),
                    key: String::from_utf8_lossy(kv.key()).into_owned(),
                    value,
                    at_us: started.elapsed().as_micros() as u64,
                });
                next = next.max(kv.mod_revision() + 1);
                reached.fetch_max(kv.mod_revision(), Ordering::SeqCst);
            }
        }
    }
    log
}
