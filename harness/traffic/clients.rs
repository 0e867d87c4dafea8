//! Concurrent clients that drive KV traffic (the requests of a [`Profile`]) into a cluster while
//! operations run, and record every request and its response whole (the kvs read with their
//! mod revisions, the keys deleted, a range's count, the refusal of a range at a compacted or
//! future revision) into a [`History`]. Each client talks to one member at a time through a client bound
//! to that member alone, moves to the next member when its member fails, and gives every request
//! a deadline: a write without an answer is recorded as "unknown", never as failed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, GetOptions, KeyValue, PutOptions,
    Txn, TxnOp, TxnOpResponse,
};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::profile::{prefix_end, Chooser, Profile};
use crate::cluster::Member;
use crate::history::{
    self, CompareTarget, Event, History, Listed, Outcome, ReadKv, ReadRefusal, Request,
};
use crate::model::EtcdRefusal;
use crate::release::error::causes;

/// The traffic's knobs.
#[derive(Clone, Debug)]
pub struct TrafficConfig {
    /// Concurrent clients.
    pub clients: usize,
    /// Requests per second over all clients; 0: as fast as the cluster answers.
    pub rate: u32,
    /// Size of the key space (`k/0`…): small, so that requests contend.
    pub keys: usize,
    pub seed: u64,
    /// Deadline of one request.
    pub request_timeout: Duration,
    /// Keys are `<prefix><n>`.
    pub prefix: String,
    /// What the clients send.
    pub profile: Profile,
    /// Multi-key txns also read at revisions of their own (see [`Chooser::txn_reads_at_revision`]).
    pub txn_reads_at_revision: bool,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        TrafficConfig {
            clients: 16,
            rate: 0,
            keys: 16,
            seed: 0,
            request_timeout: Duration::from_secs(3),
            prefix: "k/".into(),
            profile: Profile::Etcd,
            txn_reads_at_revision: false,
        }
    }
}

/// Pause after a failed request or connection before the next try.
pub const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// A member traffic may use: its name, client URL, and the credentials requests carry while
/// auth is on (the clients authenticate as this user; without auth they send no token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub member: String,
    pub url: String,
    pub credentials: Option<(String, String)>,
}

impl Endpoint {
    /// A member as traffic reaches it now.
    pub fn of(m: &Member) -> Endpoint {
        Endpoint {
            member: m.name.clone(),
            url: m.client_url.clone(),
            credentials: m.credentials.clone(),
        }
    }
}

/// The members traffic may use; updated as the cluster changes (and auth is turned on or off).
pub type Endpoints = Arc<RwLock<Vec<Endpoint>>>;

/// Running traffic; [`Traffic::stop`] ends it and returns the history.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<Event>>>,
}

impl Traffic {
    /// Starts the clients; event times count from `started` (the case's clock, shared with the
    /// watcher, the lease client and the timeline).
    pub fn start(endpoints: Endpoints, cfg: TrafficConfig, started: Instant) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..cfg.clients)
            .map(|c| {
                let (endpoints, stop, cfg) = (endpoints.clone(), stop.clone(), cfg.clone());
                tokio::spawn(
                    async move { client_loop(c as u32, endpoints, stop, cfg, started).await },
                )
            })
            .collect();
        Traffic { stop, tasks }
    }

    /// Stops every client (each finishes its request in flight, bounded by its deadline) and
    /// returns the merged history in invocation order. A client that panicked lost its part of
    /// the history, which would make the checks lie: that is an error.
    pub async fn stop(self) -> Result<History, String> {
        self.stop.store(true, Ordering::SeqCst);
        let mut events = Vec::new();
        for t in self.tasks {
            let mut e = t
                .await
                .map_err(|e| format!("a traffic client failed: {e}"))?;
            events.append(&mut e);
        }
        events.sort_by_key(|e| (e.invoke_us, e.client));
        Ok(History { events })
    }
}

/// A client bound to one member (connecting within 3 s), each request bounded by
/// `request_timeout` if given (not for a watcher: its stream lives as long as it delivers);
/// `require_leader` makes a member without a leader fail requests (and end watches) instead of
/// stalling them. Shared by the KV clients, the watcher and the lease client.
pub(super) async fn connect(
    ep: &Endpoint,
    request_timeout: Option<Duration>,
    require_leader: bool,
) -> Option<Client> {
    let mut opts = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(1))
        .with_require_leader(require_leader);
    if let Some(t) = request_timeout {
        opts = opts.with_timeout(t);
    }
    if let Some((user, password)) = &ep.credentials {
        opts = opts.with_user(user, password);
    }
    tokio::time::timeout(
        Duration::from_secs(3),
        Client::connect([&ep.url], Some(opts)),
    )
    .await
    .ok()?
    .ok()
}

async fn client_loop(
    id: u32,
    endpoints: Endpoints,
    stop: Arc<AtomicBool>,
    cfg: TrafficConfig,
    started: Instant,
) -> Vec<Event> {
    let mut rng = StdRng::seed_from_u64(cfg.seed.wrapping_mul(1_000_003).wrapping_add(id as u64));
    // By URL, with the endpoint it was connected for: a change of credentials reconnects.
    let mut clients: HashMap<String, (Endpoint, Client)> = HashMap::new();
    let mut events = Vec::new();
    let mut chooser = Chooser::new(cfg.profile, id, &cfg.prefix, cfg.keys);
    chooser.txn_reads_at_revision = cfg.txn_reads_at_revision;
    let mut rotation = id as usize;
    let mut n = 0u64;
    let pace =
        (cfg.rate > 0).then(|| Duration::from_secs_f64(cfg.clients as f64 / cfg.rate as f64));
    let mut next_slot = tokio::time::Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if let Some(p) = pace {
            next_slot += p;
            tokio::time::sleep_until(next_slot).await;
        }
        let picked = {
            let eps = endpoints.read().unwrap();
            (!eps.is_empty()).then(|| eps[rotation % eps.len()].clone())
        };
        let Some(ep) = picked else {
            // No member up (a majority loss): wait for one, still checking for stop.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let (member, url) = (ep.member.clone(), ep.url.clone());
        let client = match clients.get(&url).filter(|(was, _)| *was == ep) {
            Some((_, c)) => c.clone(),
            None => match connect(&ep, Some(cfg.request_timeout), false).await {
                Some(c) => {
                    clients.insert(url.clone(), (ep, c.clone()));
                    c
                }
                None => {
                    rotation += 1;
                    // Back off: a dead member refuses at once, and spinning would starve etcd.
                    tokio::time::sleep(RETRY_PAUSE).await;
                    continue;
                }
            },
        };
        n += 1;
        let request = chooser.next(&mut rng, format!("c{id}-{n}"));
        let invoke_us = started.elapsed().as_micros() as u64;
        let outcome = execute(client, &request, cfg.request_timeout).await;
        let complete_us = started.elapsed().as_micros() as u64;
        chooser.observe(&request, &outcome);
        match &outcome {
            Outcome::Ok { .. } => {}
            // A range refused as the API promises says nothing about the member.
            Outcome::Failed {
                refused: Some(_), ..
            } => {}
            _ => {
                // This member may be down: move on, and reconnect later.
                clients.remove(&url);
                rotation += 1;
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
        events.push(Event {
            client: id,
            member,
            invoke_us,
            complete_us,
            request,
            outcome,
        });
    }
    events
}

fn header_revision(h: Option<&etcd_client::ResponseHeader>) -> i64 {
    h.map(|h| h.revision()).unwrap_or_default()
}

/// A key as read: `kv` if present, else absent.
fn read_kv(key: &str, kv: Option<&KeyValue>) -> ReadKv {
    ReadKv {
        key: key.to_string(),
        value: kv.map(|kv| String::from_utf8_lossy(kv.value()).into_owned()),
        mod_revision: kv.map_or(0, |kv| kv.mod_revision()),
        version: kv.map_or(0, |kv| kv.version()),
        create_revision: kv.map_or(0, |kv| kv.create_revision()),
    }
}

/// A key a range returned (without its value if the range was keys-only).
fn listed_kv(kv: &KeyValue, keys_only: bool) -> ReadKv {
    ReadKv {
        key: String::from_utf8_lossy(kv.key()).into_owned(),
        value: (!keys_only).then(|| String::from_utf8_lossy(kv.value()).into_owned()),
        mod_revision: kv.mod_revision(),
        version: kv.version(),
        create_revision: kv.create_revision(),
    }
}

/// An answer carrying many keys (a range's, or what a prefix delete deleted), each recorded
/// as [`listed_kv`] does.
fn listing(
    header: Option<&etcd_client::ResponseHeader>,
    kvs: &[KeyValue],
    keys_only: bool,
) -> Outcome {
    Outcome::Ok {
        revision: header_revision(header),
        value: None,
        succeeded: None,
        kvs: kvs.iter().map(|kv| listed_kv(kv, keys_only)).collect(),
        deleted: None,
        listed: None,
    }
}

fn txn_ops(ops: &[history::TxnOp]) -> Vec<TxnOp> {
    ops.iter()
        .map(|op| match op {
            history::TxnOp::Put { key, value } => TxnOp::put(key.as_str(), value.as_str(), None),
            history::TxnOp::Delete { key } => TxnOp::delete(key.as_str(), None),
            history::TxnOp::Get { key, revision } => TxnOp::get(
                key.as_str(),
                Some(GetOptions::new().with_revision(*revision)),
            ),
        })
        .collect()
}

fn compare(c: &history::Compare) -> Compare {
    let key = c.key.as_str();
    match &c.target {
        CompareTarget::Value(Some(v)) => Compare::value(key, CompareOp::Equal, v.as_str()),
        CompareTarget::Value(None) => Compare::version(key, CompareOp::Equal, 0),
        CompareTarget::ModRevision(r) => Compare::mod_revision(key, CompareOp::Equal, *r),
        CompareTarget::Version(v) => Compare::version(key, CompareOp::Equal, *v),
        CompareTarget::CreateRevision(r) => Compare::create_revision(key, CompareOp::Equal, *r),
    }
}

/// A put, delete or prefix delete, with the previous key-values it asked for.
async fn put_or_delete(c: &mut Client, r: &Request) -> Result<Outcome, etcd_client::Error> {
    match r {
        Request::Put {
            key,
            value,
            prev_kv,
        } => {
            let opts = prev_kv.then(|| PutOptions::new().with_prev_key());
            c.put(key.as_str(), value.as_str(), opts).await.map(|resp| {
                let mut o = Outcome::ok(header_revision(resp.header()));
                if let (Outcome::Ok { kvs, .. }, true) = (&mut o, *prev_kv) {
                    kvs.push(read_kv(key, resp.prev_key()));
                }
                o
            })
        }
        Request::Delete { key, prev_kv } => {
            let opts = prev_kv.then(|| DeleteOptions::new().with_prev_key());
            c.delete(key.as_str(), opts).await.map(|resp| {
                let mut o = Outcome::ok(header_revision(resp.header()));
                if let Outcome::Ok { deleted, kvs, .. } = &mut o {
                    *deleted = Some(resp.deleted());
                    if *prev_kv {
                        kvs.push(read_kv(key, resp.prev_kvs().first()));
                    }
                }
                o
            })
        }
        Request::DeletePrefix { prefix } => {
            let opts = DeleteOptions::new()
                .with_range(prefix_end(prefix))
                .with_prev_key();
            c.delete(prefix.as_str(), Some(opts)).await.map(|resp| {
                let mut o = listing(resp.header(), resp.prev_kvs(), false);
                if let Outcome::Ok { deleted, .. } = &mut o {
                    *deleted = Some(resp.deleted());
                }
                o
            })
        }
        _ => unreachable!("put_or_delete of {r:?}"),
    }
}

async fn execute(mut c: Client, r: &Request, timeout: Duration) -> Outcome {
    let fut = async {
        match r {
            Request::Put { .. } | Request::Delete { .. } | Request::DeletePrefix { .. } => {
                put_or_delete(&mut c, r).await
            }
            Request::Cas { .. } | Request::Txn { .. } => txn(&mut c, r).await,
            Request::Get { .. } | Request::Range { .. } => read(&mut c, r).await,
            Request::Compact { revision } => c
                .compact(*revision, None)
                .await
                .map(|resp| Outcome::ok(header_revision(resp.header()))),
            Request::Defrag => c.defragment().await.map(|_| Outcome::ok(0)),
        }
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => classify(r, Some(&e)),
        Err(_) => classify(r, None),
    }
}

/// A compare-and-swap or a multi-op txn, with what its taken branch read and deleted.
async fn txn(c: &mut Client, r: &Request) -> Result<Outcome, etcd_client::Error> {
    match r {
        Request::Cas { key, expect, value } => {
            let cmp = compare(&history::Compare {
                key: key.clone(),
                target: CompareTarget::Value(expect.clone()),
            });
            let txn =
                Txn::new()
                    .when([cmp])
                    .and_then([TxnOp::put(key.as_str(), value.as_str(), None)]);
            c.txn(txn).await.map(|resp| {
                let mut o = Outcome::ok(header_revision(resp.header()));
                if let Outcome::Ok { succeeded, .. } = &mut o {
                    *succeeded = Some(resp.succeeded());
                }
                o
            })
        }
        Request::Txn {
            compares,
            then,
            otherwise,
        } => {
            let txn = Txn::new()
                .when(compares.iter().map(compare).collect::<Vec<_>>())
                .and_then(txn_ops(then))
                .or_else(txn_ops(otherwise));
            c.txn(txn).await.map(|resp| {
                let taken = if resp.succeeded() { then } else { otherwise };
                let mut kvs = Vec::new();
                let mut removed = 0;
                for (op, answer) in taken.iter().zip(resp.op_responses()) {
                    match answer {
                        TxnOpResponse::Get(g) => kvs.push(read_kv(op.key(), g.kvs().first())),
                        TxnOpResponse::Delete(d) => removed += d.deleted(),
                        _ => {}
                    }
                }
                Outcome::Ok {
                    revision: header_revision(resp.header()),
                    value: None,
                    succeeded: Some(resp.succeeded()),
                    kvs,
                    deleted: Some(removed),
                    listed: None,
                }
            })
        }
        _ => unreachable!("txn of {r:?}"),
    }
}

/// A get or a range, whole as answered.
async fn read(c: &mut Client, r: &Request) -> Result<Outcome, etcd_client::Error> {
    match r {
        Request::Get { key, serializable } => {
            let opts = serializable.then(|| GetOptions::new().with_serializable());
            c.get(key.as_str(), opts).await.map(|resp| {
                let kv = resp.kvs().first();
                Outcome::Ok {
                    revision: header_revision(resp.header()),
                    value: kv.map(|kv| String::from_utf8_lossy(kv.value()).into_owned()),
                    succeeded: None,
                    kvs: vec![read_kv(key, kv)],
                    deleted: None,
                    listed: None,
                }
            })
        }
        Request::Range {
            prefix,
            start,
            revision,
            limit,
            keys_only,
            serializable,
        } => {
            let mut opts = GetOptions::new()
                .with_range(prefix_end(prefix))
                .with_revision(*revision)
                .with_limit(*limit);
            if *keys_only {
                opts = opts.with_keys_only();
            }
            if *serializable {
                opts = opts.with_serializable();
            }
            c.get(start.as_str(), Some(opts)).await.map(|resp| {
                let mut o = listing(resp.header(), resp.kvs(), *keys_only);
                if let Outcome::Ok { listed, .. } = &mut o {
                    *listed = Some(Listed {
                        count: resp.count(),
                        more: resp.more(),
                    });
                }
                o
            })
        }
        _ => unreachable!("read of {r:?}"),
    }
}

/// A failed read changed nothing. A write that never left (no connection) or was refused
/// before execution (auth) failed; any other write error, and a timeout (`None`), leaves its
/// outcome unknown. Judged on the error's type, never its text.
fn classify(r: &Request, error: Option<&etcd_client::Error>) -> Outcome {
    let text = error.map_or("timed out".to_string(), |e| e.to_string());
    let refused = match error {
        Some(etcd_client::Error::GRpcStatus(s)) => ReadRefusal::from_grpc(s.message()),
        _ => None,
    };
    // A compaction changes no key, but one that timed out may still have happened.
    let may_apply = r.is_write() || matches!(r, Request::Compact { .. });
    // A txn refused for a get it cannot serve changed nothing: etcd checks every range of the
    // branch it takes before any write of it (`checkRequests` in the applier's `Txn`).
    let refused_whole = matches!(r, Request::Txn { .. }) && refused.is_some();
    if !may_apply || refused_whole || error.is_some_and(never_executed) {
        Outcome::Failed {
            error: text,
            refused,
        }
    } else {
        Outcome::Unknown { error: text }
    }
}

/// The request certainly did not execute: the client could not connect, or etcd refused it
/// before it reached raft.
fn never_executed(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::TransportError(_) => true,
        etcd_client::Error::GRpcStatus(s) => {
            EtcdRefusal::from_grpc(s.message()).is_some_and(|r| r.before_apply())
                || connection_refused(s)
        }
        _ => false,
    }
}

/// A refused TCP connection anywhere in the error's causes: nothing was sent.
fn connection_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    causes(e).any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_errors_are_unknown_unless_never_sent() {
        use tonic::{Code, Status};
        let put = Request::Put {
            key: "k".into(),
            value: "v".into(),
            prev_kv: false,
        };
        let status = |code, msg: &str| etcd_client::Error::GRpcStatus(Status::new(code, msg));
        assert!(matches!(classify(&put, None), Outcome::Unknown { .. }));
        let timed_out = status(Code::Unavailable, "etcdserver: request timed out");
        assert!(matches!(
            classify(&put, Some(&timed_out)),
            Outcome::Unknown { .. }
        ));
        let denied = status(Code::PermissionDenied, "etcdserver: permission denied");
        assert!(matches!(
            classify(&put, Some(&denied)),
            Outcome::Failed { .. }
        ));
        let refused = etcd_client::Error::GRpcStatus(Status::from_error(Box::new(
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "tcp connect error"),
        )));
        assert!(matches!(
            classify(&put, Some(&refused)),
            Outcome::Failed { .. }
        ));
        let get = Request::Get {
            key: "k".into(),
            serializable: false,
        };
        assert!(matches!(classify(&get, None), Outcome::Failed { .. }));
    }
}
