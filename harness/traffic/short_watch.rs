//! Short-lived watches beside the case's watcher: one at a time, each on the next member, from
//! a drawn start revision (compacted, past, current or future: the apiserver watches from a
//! list's revision, a client resumes from the revision after its last event), over one key, a
//! part of the prefix or all of it, perhaps without puts or without deletes, perhaps with
//! previous key-values; cancelled after a few hundred milliseconds, and half the time resumed
//! on another member from where it stood. What each was sent is judged against the case's
//! watcher, which saw every event of the prefix (`check/watch.rs`).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, WatchFilterType, WatchOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::clients::{connect, Endpoint, Endpoints, RETRY_PAUSE};
use super::watcher::{recorded, Shared};
use crate::history::{ShortWatch, WatchFilter};

/// Events one short watch keeps at most (one started at revision 1 of a long store is sent
/// all of it, and every epoch's watch log is kept whole).
const MAX_EVENTS: usize = 5_000;

/// Runs short watches under `prefix` until the case's watcher stops; they start around the
/// revision it has delivered everything up to (the store's head, as far as it knows).
pub(super) async fn short_loop(
    endpoints: Endpoints,
    prefix: String,
    shared: Arc<Shared>,
    started: Instant,
) -> Vec<ShortWatch> {
    let (stop, head) = (&shared.stop, &shared.reached);
    let mut rng = StdRng::seed_from_u64(prefix.bytes().map(u64::from).sum());
    let mut done: Vec<ShortWatch> = Vec::new();
    let mut rotation = 0usize;
    // One client per member, kept while its endpoint (URL, credentials) stays: a connect with
    // credentials authenticates, a raft request each time.
    let mut clients: HashMap<String, (Endpoint, Client)> = HashMap::new();
    while !stop.load(Ordering::SeqCst) {
        let picked = {
            let eps = endpoints.read().unwrap();
            (!eps.is_empty()).then(|| eps[rotation % eps.len()].clone())
        };
        rotation += 1;
        let now = head.load(Ordering::SeqCst);
        let (Some(ep), true) = (picked, now > 0) else {
            tokio::time::sleep(RETRY_PAUSE).await;
            continue;
        };
        let mut w = draw(&mut rng, &prefix, now, done.last());
        w.member = ep.member.clone();
        let cached = clients
            .get(&ep.member)
            .filter(|(was, _)| *was == ep)
            .map(|(_, c)| c.clone());
        let mut c = match cached {
            Some(c) => c,
            None => match connect(&ep, None, true).await {
                Some(c) => {
                    clients.insert(ep.member.clone(), (ep.clone(), c.clone()));
                    c
                }
                None => {
                    tokio::time::sleep(RETRY_PAUSE).await;
                    continue;
                }
            },
        };
        let mut opts = WatchOptions::new().with_start_revision(w.start_revision);
        if w.prefix {
            opts = opts.with_prefix();
        }
        if w.prev_kv {
            opts = opts.with_prev_key();
        }
        match w.filter {
            WatchFilter::None => {}
            WatchFilter::NoPut => opts = opts.with_filters([WatchFilterType::NoPut]),
            WatchFilter::NoDelete => opts = opts.with_filters([WatchFilterType::NoDelete]),
        }
        let bounded = Duration::from_secs(3);
        let Ok(Ok(mut stream)) =
            tokio::time::timeout(bounded, c.watch(w.key.as_str(), Some(opts))).await
        else {
            clients.remove(&ep.member);
            tokio::time::sleep(RETRY_PAUSE).await;
            continue;
        };
        let until = tokio::time::Instant::now() + Duration::from_millis(rng.gen_range(100..600));
        let mut watch_id = None;
        while !stop.load(Ordering::SeqCst) && w.events.len() < MAX_EVENTS {
            let Ok(Ok(Some(msg))) = tokio::time::timeout_at(until, stream.message()).await else {
                break;
            };
            if msg.created() {
                watch_id = Some(msg.watch_id());
            }
            if msg.canceled() {
                w.compacted = (msg.compact_revision() > 0).then_some(msg.compact_revision());
                break;
            }
            w.events.extend(
                msg.events()
                    .iter()
                    .filter_map(|ev| recorded(&ep.member, ev, started)),
            );
        }
        if let Some(id) = watch_id {
            // Cancelled as a client does; the stream is dropped after it either way.
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.cancel(id)).await;
        }
        done.push(w);
    }
    done
}

/// The next short watch: half the time the previous one resumed (same key, filter and options,
/// from the revision after its last event), else a fresh draw around `head`.
fn draw(rng: &mut StdRng, prefix: &str, head: i64, previous: Option<&ShortWatch>) -> ShortWatch {
    if let Some(p) = previous.filter(|p| p.compacted.is_none() && rng.gen_bool(0.5)) {
        return ShortWatch {
            start_revision: p.events.last().map_or(p.start_revision, |e| e.revision + 1),
            head,
            resumed: true,
            events: Vec::new(),
            compacted: None,
            ..p.clone()
        };
    }
    let digit = rng.gen_range(0..10);
    let (key, prefix_too) = match rng.gen_range(0..3) {
        0 => (prefix.to_string(), true),
        1 => (format!("{prefix}{digit}"), true),
        _ => (format!("{prefix}{digit}"), false),
    };
    let start_revision = match rng.gen_range(0..10) {
        // Compacted, where the case compacts; else a long catch-up.
        0 | 1 => 1,
        2..=5 => (head - rng.gen_range(0..300)).max(1),
        6 | 7 => head + 1,
        _ => head + rng.gen_range(5..100),
    };
    ShortWatch {
        member: String::new(),
        key,
        prefix: prefix_too,
        start_revision,
        head,
        filter: match rng.gen_range(0..4) {
            0 => WatchFilter::NoPut,
            1 => WatchFilter::NoDelete,
            _ => WatchFilter::None,
        },
        prev_kv: rng.gen_bool(0.5),
        resumed: false,
        events: Vec::new(),
        compacted: None,
    }
}
