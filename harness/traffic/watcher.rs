//! A watcher that follows the traffic's keys for the whole run and records every event it is
//! sent. It moves to another member when its member fails, resuming from the revision after the
//! last event it saw (the way clients are told to); a compaction that cancels the watch is
//! recorded as a known gap.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions, EventType, GetOptions, WatchOptions};
use serde::{Deserialize, Serialize};

use super::clients::Endpoints;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchEvent {
    pub member: String,
    /// The key's mod revision: the revision of the write.
    pub revision: i64,
    pub key: String,
    /// `None` for a delete.
    pub value: Option<String>,
    pub at_us: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchLog {
    pub events: Vec<WatchEvent>,
    /// The first revision the watch covers.
    pub start_revision: i64,
    /// (member, revision) at every (re)start of the watch.
    pub resumes: Vec<(String, i64)>,
    /// Revision ranges [from, to) skipped because they were compacted.
    pub compacted: Vec<(i64, i64)>,
}

pub struct Watcher {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<WatchLog>,
}

impl Watcher {
    pub fn start(endpoints: Endpoints, prefix: String, started: Instant) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let task = tokio::spawn(async move { watch_loop(endpoints, prefix, s, started).await });
        Watcher { stop, task }
    }

    pub async fn stop(self) -> WatchLog {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap_or_default()
    }
}

async fn watch_loop(
    endpoints: Endpoints,
    prefix: String,
    stop: Arc<AtomicBool>,
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
        let Some((member, url)) = picked else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let opts = ConnectOptions::new().with_connect_timeout(Duration::from_secs(1));
        let Ok(Ok(mut c)) =
            tokio::time::timeout(bounded, Client::connect([url.as_str()], Some(opts))).await
        else {
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
                continue;
            };
            next = r.header().map(|h| h.revision()).unwrap_or(0) + 1;
            log.start_revision = next;
        }
        let opts = WatchOptions::new().with_prefix().with_start_revision(next);
        let Ok(Ok(mut stream)) =
            tokio::time::timeout(bounded, c.watch(prefix.as_str(), Some(opts))).await
        else {
            continue;
        };
        log.resumes.push((member.clone(), next));
        loop {
            if stop.load(Ordering::SeqCst) {
                return log;
            }
            // Wake up now and then to notice `stop` on a quiet stream.
            let msg = match tokio::time::timeout(Duration::from_millis(250), stream.message()).await
            {
                Err(_) => continue,
                Ok(Ok(Some(m))) => m,
                Ok(_) => break, // stream ended or failed: resume elsewhere
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
                    member: member.clone(),
                    revision: kv.mod_revision(),
                    key: String::from_utf8_lossy(kv.key()).into_owned(),
                    value,
                    at_us: started.elapsed().as_micros() as u64,
                });
                next = next.max(kv.mod_revision() + 1);
            }
        }
    }
    log
}
