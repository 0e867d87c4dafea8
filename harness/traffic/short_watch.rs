//! Short-lived watches beside the case's watcher: one at a time, each on the next member, from
//! a drawn start revision (compacted, past, current or future: the apiserver watches from a
//! list's revision, a client resumes from the revision after its last event), over one key, a
//! part of the prefix or all of it, perhaps without puts or without deletes, perhaps with
//! previous key-values; cancelled after a few hundred milliseconds, and every other one resumed
//! on another member from where it stood. Each choice is dealt from a shuffled deck rather than
//! drawn independently, so even a three-second case meets every kind within its first few
//! fresh watches. What each was sent is judged against the case's
//! watcher, which saw every event of the prefix (`check/watch.rs`).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, WatchFilterType, WatchOptions};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::clients::{connect, Endpoint, Endpoints, RETRY_PAUSE};
use super::watcher::{probe_prev, recorded, Shared};
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
    let mut decks = Decks::default();
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
        let mut w = draw(&mut rng, &mut decks, &prefix, now, done.last());
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
            w.events.extend(recorded(&ep.member, &msg, started));
        }
        if let Some(id) = watch_id {
            // Cancelled as a client does; the stream is dropped after it either way.
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.cancel(id)).await;
        }
        if w.prev_kv {
            w.prev_probes = probe_prev(&mut c, &ep.member, &w.events).await;
        }
        done.push(w);
    }
    done
}

/// How far beyond the head a held watch starts, dealt from a deck: past what a member held
/// off falls behind before it returns (a cut-off or a pause lasts until the others committed
/// up to snapshot count + 5000 catch-up entries + 100, 5110 with snapshot count 10), so that
/// such a watch is still in the future when its member applies the leader's snapshot.
const HELD_AHEAD: [i64; 3] = [1_000, 3_000, 8_000];

/// A held watch is cancelled once it has been sent this many revisions from its start (its
/// start was judged), or after [`HELD_AT_MOST`].
const HELD_PAST_START: i64 = 100;
const HELD_AT_MOST: Duration = Duration::from_secs(30);

/// One watch at a time on `member`, over the whole prefix from far beyond the head
/// ([`HELD_AHEAD`]), held open until it has been sent [`HELD_PAST_START`] revisions from its
/// start, the case stops, or its stream ends. Where etcd's watch bugs live: a member that
/// applies the leader's snapshot moves every watcher to its unsynced group, and etcd before
/// 3.5.22 / 3.4.38 then lowered a future watcher's start to its store's head, sending events
/// from before it (etcd-io/etcd#20221). A short watch, cancelled within a second and asking
/// for a leader, is rarely open there; this one asks for none, as a plain client does, so a
/// member cut off from its leader keeps it open. Judged as a short watch.
pub(super) async fn held_loop(
    endpoints: Endpoints,
    prefix: String,
    shared: Arc<Shared>,
    started: Instant,
    member: String,
) -> Vec<ShortWatch> {
    let (stop, head) = (&shared.stop, &shared.reached);
    let mut rng = StdRng::seed_from_u64(member.bytes().chain(prefix.bytes()).map(u64::from).sum());
    let mut ahead = Deck::of(&HELD_AHEAD);
    let mut done = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let picked = endpoints
            .read()
            .unwrap()
            .iter()
            .find(|e| e.member == member)
            .cloned();
        let now = head.load(Ordering::SeqCst);
        let (Some(ep), true) = (picked, now > 0) else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Some(mut c) = connect(&ep, None, false).await else {
            tokio::time::sleep(RETRY_PAUSE).await;
            continue;
        };
        let mut w = ShortWatch {
            member: member.clone(),
            key: prefix.clone(),
            prefix: true,
            start_revision: now + ahead.deal(&mut rng),
            head: now,
            filter: WatchFilter::None,
            prev_kv: false,
            resumed: false,
            held: true,
            events: Vec::new(),
            compacted: None,
            prev_probes: Vec::new(),
        };
        let opts = WatchOptions::new()
            .with_prefix()
            .with_start_revision(w.start_revision);
        let Ok(Ok(mut stream)) =
            tokio::time::timeout(Duration::from_secs(3), c.watch(prefix.as_str(), Some(opts)))
                .await
        else {
            tokio::time::sleep(RETRY_PAUSE).await;
            continue;
        };
        let until = tokio::time::Instant::now() + HELD_AT_MOST;
        let mut watch_id = None;
        let enough = |w: &ShortWatch| {
            w.events.len() >= MAX_EVENTS
                || w.events
                    .last()
                    .is_some_and(|e| e.revision >= w.start_revision + HELD_PAST_START)
        };
        while !stop.load(Ordering::SeqCst) && !enough(&w) && tokio::time::Instant::now() < until {
            // In slices, so that a stop is seen within 100 ms on a quiet stream.
            let slice = tokio::time::Instant::now() + Duration::from_millis(100);
            let msg = match tokio::time::timeout_at(slice.min(until), stream.message()).await {
                Err(_) => continue,
                Ok(Ok(Some(msg))) => msg,
                Ok(_) => break,
            };
            if msg.created() {
                watch_id = Some(msg.watch_id());
            }
            if msg.canceled() {
                w.compacted = (msg.compact_revision() > 0).then_some(msg.compact_revision());
                break;
            }
            w.events.extend(recorded(&ep.member, &msg, started));
        }
        if let Some(id) = watch_id {
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.cancel(id)).await;
        }
        if w.events.iter().any(|e| e.revision >= w.start_revision) {
            shared.held_past_start.fetch_add(1, Ordering::SeqCst);
        }
        done.push(w);
    }
    done
}

/// One choice of a fresh short watch's: its cards are dealt in a shuffled order and shuffled
/// again once all are dealt, so every kind comes up once per round.
struct Deck<T: Copy> {
    cards: Vec<T>,
    next: usize,
}

impl<T: Copy> Deck<T> {
    fn of(cards: &[T]) -> Self {
        let next = cards.len();
        Deck {
            cards: cards.to_vec(),
            next,
        }
    }

    fn deal(&mut self, rng: &mut StdRng) -> T {
        if self.next == self.cards.len() {
            self.cards.shuffle(rng);
            self.next = 0;
        }
        self.next += 1;
        self.cards[self.next - 1]
    }
}

/// Where a fresh short watch starts, relative to the head it knows.
#[derive(Clone, Copy)]
enum Start {
    /// Revision 1: compacted where the case compacts, else a long catch-up.
    First,
    Past,
    Current,
    Future,
}

/// Which keys a fresh short watch covers.
#[derive(Clone, Copy)]
enum Keys {
    WholePrefix,
    PartOfIt,
    OneKey,
}

/// The decks the fresh short watches of one loop are dealt from.
struct Decks {
    start: Deck<Start>,
    keys: Deck<Keys>,
    filter: Deck<WatchFilter>,
    prev_kv: Deck<bool>,
}

impl Default for Decks {
    fn default() -> Self {
        Decks {
            start: Deck::of(&[
                Start::First,
                Start::Past,
                Start::Past,
                Start::Current,
                Start::Future,
            ]),
            keys: Deck::of(&[Keys::WholePrefix, Keys::PartOfIt, Keys::OneKey]),
            filter: Deck::of(&[
                WatchFilter::NoPut,
                WatchFilter::NoDelete,
                WatchFilter::None,
                WatchFilter::None,
            ]),
            prev_kv: Deck::of(&[true, false]),
        }
    }
}

/// The next short watch: the previous one resumed if it was fresh and not cancelled as
/// compacted (same key, filter and options, from the revision after its last event), else a
/// fresh one around `head`, dealt from `decks`.
fn draw(
    rng: &mut StdRng,
    decks: &mut Decks,
    prefix: &str,
    head: i64,
    previous: Option<&ShortWatch>,
) -> ShortWatch {
    if let Some(p) = previous.filter(|p| p.compacted.is_none() && !p.resumed) {
        return ShortWatch {
            start_revision: p.events.last().map_or(p.start_revision, |e| e.revision + 1),
            head,
            resumed: true,
            events: Vec::new(),
            compacted: None,
            prev_probes: Vec::new(),
            ..p.clone()
        };
    }
    let digit = rng.gen_range(0..10);
    let (key, prefix_too) = match decks.keys.deal(rng) {
        Keys::WholePrefix => (prefix.to_string(), true),
        Keys::PartOfIt => (format!("{prefix}{digit}"), true),
        Keys::OneKey => (format!("{prefix}{digit}"), false),
    };
    let start_revision = match decks.start.deal(rng) {
        Start::First => 1,
        Start::Past => (head - rng.gen_range(0..300)).max(1),
        Start::Current => head + 1,
        Start::Future => head + rng.gen_range(5..100),
    };
    ShortWatch {
        member: String::new(),
        key,
        prefix: prefix_too,
        start_revision,
        head,
        filter: decks.filter.deal(rng),
        prev_kv: decks.prev_kv.deal(rng),
        resumed: false,
        held: false,
        events: Vec::new(),
        compacted: None,
        prev_probes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every card is dealt once in each round, whatever the seed: a short case's few fresh
    /// watches still meet every start kind (the request-kinds test relies on it).
    #[test]
    fn a_deck_deals_every_card_once_a_round() {
        for seed in 0..50 {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut deck = Deck::of(&[1, 2, 2, 3, 4]);
            for _ in 0..3 {
                let mut round: Vec<i32> = (0..5).map(|_| deck.deal(&mut rng)).collect();
                round.sort();
                assert_eq!(round, vec![1, 2, 2, 3, 4], "seed {seed}");
            }
        }
    }

    /// A fresh watch is followed by its resumption, then a fresh one again; a watch cancelled
    /// as compacted is not resumed.
    #[test]
    fn every_other_short_watch_resumes_the_one_before() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut decks = Decks::default();
        let fresh = draw(&mut rng, &mut decks, "p/", 100, None);
        assert!(!fresh.resumed);
        let resumed = draw(&mut rng, &mut decks, "p/", 120, Some(&fresh));
        assert!(resumed.resumed && resumed.key == fresh.key && resumed.head == 120);
        assert!(!draw(&mut rng, &mut decks, "p/", 130, Some(&resumed)).resumed);
        let compacted = ShortWatch {
            compacted: Some(50),
            ..fresh
        };
        assert!(!draw(&mut rng, &mut decks, "p/", 130, Some(&compacted)).resumed);
    }
}
