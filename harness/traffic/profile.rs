//! What a traffic client sends next: the request kinds of a named profile with their weights,
//! drawn from the client's seeded generator, and the state a realistic client keeps between
//! requests (the last value and mod revision it read of each key, the newest revision it saw, a
//! paginated list in progress). One profile per case, drawn with its configuration and recorded
//! in its replay file.
//!
//! - [`Profile::Etcd`]: etcd's API broadly — puts and deletes (some asking for the previous
//!   key-value), prefix deletes returning what they deleted, compare-and-swap, multi-key txns
//!   with compares on value, mod revision, version or create revision, linearizable and serializable gets, ranges with a
//!   limit or keys only, ranges at a past revision (some compacted, some in the future).
//! - [`Profile::Kubernetes`]: what the apiserver sends — every write a txn guarded on the mod
//!   revision it last read (create-if-absent on mod revision 0, optimistic update, guarded
//!   delete; the else branch reads the key back), gets, paginated lists (pages of a few keys
//!   at the first page's revision), lists at a past revision, keys-only lists, and a
//!   compaction every 200 requests of client 0 at 1,000 revisions behind the newest it saw
//!   (closer, and the harness's own HashKV at a common revision would race it under load).
//!
//! In either profile client 1 defragments its member every 500 requests, as operators
//! schedule it: under load, beside the compactions.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::history::{self, CompareTarget, Outcome, ReadKv, Request, TxnOp};

/// A named traffic mix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    #[default]
    Etcd,
    Kubernetes,
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Profile::Etcd => "etcd",
            Profile::Kubernetes => "kubernetes",
        })
    }
}

impl Profile {
    /// Whether the case's watcher asks for progress notifications, as the apiserver's watch
    /// cache does for its consistent reads (Kubernetes 1.27+); the etcd mix relies on the
    /// periodic ones alone. On releases before 3.4.25 / 3.5.8 a requested notification may run
    /// ahead of the events (etcd#15220, `findings/`), so only a third of the cases meet it.
    pub fn requests_progress(self) -> bool {
        self == Profile::Kubernetes
    }
}

impl std::str::FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Profile, String> {
        match s {
            "etcd" => Ok(Profile::Etcd),
            "kubernetes" => Ok(Profile::Kubernetes),
            _ => Err(format!(
                "unknown traffic profile {s:?} (known: etcd, kubernetes)"
            )),
        }
    }
}

/// Revisions a Kubernetes-like compaction keeps behind the newest one the client saw.
const COMPACT_BEHIND: i64 = 1000;
/// Requests of client 0 between two compactions.
const COMPACT_EVERY: u64 = 200;
/// Requests of client 1 between two defragmentations of its member (either profile).
const DEFRAG_EVERY: u64 = 500;

/// A list being read page by page: the next page's start, and the revision every page is read
/// at (the first page's).
struct Page {
    start: String,
    revision: i64,
    limit: i64,
}

/// One client's choices and what it remembers.
pub struct Chooser {
    profile: Profile,
    client: u32,
    /// Keys are `<prefix><n>`, `n < keys`.
    prefix: String,
    keys: usize,
    /// The last read of each key at the current revision: what compares expect.
    last_seen: HashMap<String, ReadKv>,
    /// The newest header revision this client saw.
    head: i64,
    page: Option<Page>,
    sent: u64,
    /// A quarter of a multi-key txn's gets read at a revision [`Chooser::past_revision`]
    /// draws (past, perhaps compacted, or future), so that some txns are refused whole. Off by
    /// default: on every pinned release the members a refused txn's client is not connected to
    /// apply it anyway (etcd#18667).
    pub txn_reads_at_revision: bool,
}

impl Chooser {
    pub fn new(profile: Profile, client: u32, prefix: &str, keys: usize) -> Chooser {
        Chooser {
            profile,
            client,
            prefix: prefix.to_string(),
            keys: keys.max(1),
            last_seen: HashMap::new(),
            head: 0,
            page: None,
            sent: 0,
            txn_reads_at_revision: false,
        }
    }

    /// The next request; `value` is unique to it (for any write it makes).
    pub fn next(&mut self, rng: &mut StdRng, value: String) -> Request {
        self.sent += 1;
        if let Some(p) = &self.page {
            return self.range(p.start.clone(), p.revision, p.limit, false, false);
        }
        if self.client == 1 && self.sent % DEFRAG_EVERY == 0 {
            return Request::Defrag;
        }
        match self.profile {
            Profile::Etcd => self.etcd(rng, value),
            Profile::Kubernetes => self.kubernetes(rng, value),
        }
    }

    /// Learns from an answer: what it read, the revision it was served at, the next page.
    pub fn observe(&mut self, request: &Request, outcome: &Outcome) {
        let Outcome::Ok {
            revision,
            kvs,
            listed,
            ..
        } = outcome
        else {
            self.page = None;
            return;
        };
        self.head = self.head.max(*revision);
        let current = match request {
            Request::Range {
                revision,
                keys_only,
                ..
            } => *revision == 0 && !keys_only,
            // A put's or delete's kvs are the keys before it: no longer current.
            Request::Put { .. } | Request::Delete { .. } | Request::DeletePrefix { .. } => false,
            // A txn's gets at a past revision read what was.
            Request::Txn { .. } => request.read_revisions(None).iter().all(|r| *r == 0),
            _ => true,
        };
        if current {
            for kv in kvs {
                self.last_seen.insert(kv.key.clone(), kv.clone());
            }
        }
        if let Request::Range {
            revision: at,
            limit,
            ..
        } = request
        {
            let more = listed.is_some_and(|l| l.more);
            self.page = match (more, kvs.last(), &self.page) {
                (true, Some(last), _) => Some(Page {
                    start: format!("{}\0", last.key),
                    revision: if *at == 0 { *revision } else { *at },
                    limit: *limit,
                }),
                _ => None,
            };
        }
    }

    fn key(&self, rng: &mut StdRng) -> String {
        format!("{}{}", self.prefix, rng.gen_range(0..self.keys))
    }

    fn seen_mod_revision(&self, key: &str) -> i64 {
        self.last_seen.get(key).map_or(0, |kv| kv.mod_revision)
    }

    fn range(
        &self,
        start: String,
        revision: i64,
        limit: i64,
        keys_only: bool,
        serializable: bool,
    ) -> Request {
        Request::Range {
            prefix: self.prefix.clone(),
            start,
            revision,
            limit,
            keys_only,
            serializable,
        }
    }

    /// A revision to read at: mostly just behind the head, sometimes anywhere (compacted,
    /// perhaps), sometimes ahead of it (a future revision, perhaps).
    fn past_revision(&self, rng: &mut StdRng) -> i64 {
        let head = self.head.max(1);
        match rng.gen_range(0..10) {
            0..=5 => (head - rng.gen_range(0..100)).max(1),
            6..=8 => rng.gen_range(1..=head),
            _ => head + rng.gen_range(1..20),
        }
    }

    /// A txn's get: at the txn's own revision, or (a quarter of them, when
    /// [`Chooser::txn_reads_at_revision`]) at a revision [`Chooser::past_revision`] draws, so
    /// that some txns are refused whole as compacted or future and their writes must never
    /// show.
    fn txn_get(&self, rng: &mut StdRng, key: &str) -> TxnOp {
        TxnOp::Get {
            key: key.to_string(),
            revision: if self.txn_reads_at_revision && rng.gen_bool(0.25) {
                self.past_revision(rng)
            } else {
                0
            },
        }
    }

    fn etcd(&mut self, rng: &mut StdRng, value: String) -> Request {
        let key = self.key(rng);
        match rng.gen_range(0..100) {
            0..=27 => Request::Put {
                key,
                value,
                prev_kv: rng.gen_bool(0.3),
            },
            28..=39 => {
                let expect = self.last_seen.get(&key).and_then(|kv| kv.value.clone());
                Request::Cas { key, expect, value }
            }
            40..=43 => Request::Delete {
                key,
                prev_kv: rng.gen_bool(0.5),
            },
            // Under `<prefix>1` with 16 keys: 1 and 10…15; under any other digit, one key.
            44 => Request::DeletePrefix {
                prefix: format!("{}{}", self.prefix, rng.gen_range(0..10)),
            },
            45..=54 => self.multi_key_txn(rng, &value),
            55..=74 => Request::Get {
                key,
                serializable: false,
            },
            75..=81 => Request::Get {
                key,
                serializable: true,
            },
            82..=90 => {
                let limit = if rng.gen_bool(0.5) {
                    0
                } else {
                    rng.gen_range(1..8)
                };
                let keys_only = rng.gen_bool(0.3);
                self.range(self.prefix.clone(), 0, limit, keys_only, false)
            }
            _ => {
                let at = self.past_revision(rng);
                let serializable = rng.gen_bool(0.2);
                self.range(self.prefix.clone(), at, 0, false, serializable)
            }
        }
    }

    fn kubernetes(&mut self, rng: &mut StdRng, value: String) -> Request {
        if self.client == 0 && self.sent % COMPACT_EVERY == 0 && self.head > COMPACT_BEHIND {
            return Request::Compact {
                revision: self.head - COMPACT_BEHIND,
            };
        }
        let key = self.key(rng);
        let guarded = |expect: i64, then: TxnOp, key: &str| Request::Txn {
            compares: vec![history::Compare {
                key: key.to_string(),
                target: CompareTarget::ModRevision(expect),
            }],
            then: vec![then],
            otherwise: vec![TxnOp::get(key)],
        };
        match rng.gen_range(0..100) {
            // Create if absent.
            0..=9 => guarded(
                0,
                TxnOp::Put {
                    key: key.clone(),
                    value,
                },
                &key,
            ),
            // Optimistic update on the mod revision last read.
            10..=39 => guarded(
                self.seen_mod_revision(&key),
                TxnOp::Put {
                    key: key.clone(),
                    value,
                },
                &key,
            ),
            40..=44 => guarded(
                self.seen_mod_revision(&key),
                TxnOp::Delete { key: key.clone() },
                &key,
            ),
            45..=59 => Request::Get {
                key,
                serializable: false,
            },
            // A paginated list: its first page (the next ones follow in `next`).
            60..=79 => {
                let limit = rng.gen_range(1..6);
                self.range(self.prefix.clone(), 0, limit, false, false)
            }
            80..=84 => self.range(self.prefix.clone(), 0, 0, false, true),
            85..=94 => {
                let at = self.past_revision(rng);
                self.range(self.prefix.clone(), at, 0, false, false)
            }
            _ => self.range(self.prefix.clone(), 0, 0, true, false),
        }
    }

    /// A txn over 2–4 distinct keys: compares on one or two of them (the value, mod revision,
    /// version or create revision this client last read, so either branch is taken), then puts or a delete on
    /// those keys and a get of another; else gets of the compared keys.
    fn multi_key_txn(&self, rng: &mut StdRng, value: &str) -> Request {
        let width = rng.gen_range(2..=4.min(self.keys.max(2)));
        let mut keys: Vec<String> = Vec::new();
        while keys.len() < width {
            let k = format!("{}{}", self.prefix, rng.gen_range(0..self.keys.max(2)));
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let compared = &keys[..rng.gen_range(1..=2.min(width - 1))];
        let compares = compared
            .iter()
            .map(|k| {
                let seen = self.last_seen.get(k);
                let target = match rng.gen_range(0..4) {
                    0 => CompareTarget::Value(seen.and_then(|kv| kv.value.clone())),
                    1 => CompareTarget::ModRevision(seen.map_or(0, |kv| kv.mod_revision)),
                    2 => CompareTarget::Version(seen.map_or(0, |kv| kv.version)),
                    _ => CompareTarget::CreateRevision(seen.map_or(0, |kv| kv.create_revision)),
                };
                history::Compare {
                    key: k.clone(),
                    target,
                }
            })
            .collect();
        let mut then = vec![self.txn_get(rng, &keys[width - 1])];
        for (j, k) in keys[..width - 1].iter().enumerate() {
            then.push(if j > 0 && rng.gen_bool(0.3) {
                TxnOp::Delete { key: k.clone() }
            } else {
                TxnOp::Put {
                    key: k.clone(),
                    value: format!("{value}.{j}"),
                }
            });
        }
        let otherwise = compared.iter().map(|k| self.txn_get(rng, k)).collect();
        Request::Txn {
            compares,
            then,
            otherwise,
        }
    }
}

/// The first key after every key starting with `prefix` (etcd's `GetPrefixRangeEnd`).
pub fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn prefix_end_is_the_first_key_past_the_prefix() {
        assert_eq!(prefix_end("k/0/"), b"k/00".to_vec());
        assert_eq!(prefix_end(""), vec![0]);
    }

    #[test]
    fn a_list_continues_page_by_page_at_the_first_page_revision() {
        let mut c = Chooser::new(Profile::Kubernetes, 3, "k/", 4);
        let first = Request::Range {
            prefix: "k/".into(),
            start: "k/".into(),
            revision: 0,
            limit: 2,
            keys_only: false,
            serializable: false,
        };
        let kv = |k: &str, r: i64| ReadKv {
            key: k.into(),
            value: Some(format!("v{r}")),
            mod_revision: r,
            ..ReadKv::default()
        };
        let page = |kvs, more| Outcome::Ok {
            revision: 40,
            value: None,
            succeeded: None,
            kvs,
            deleted: None,
            listed: Some(history::Listed { count: 3, more }),
        };
        c.observe(&first, &page(vec![kv("k/0", 5), kv("k/1", 7)], true));
        let mut rng = StdRng::seed_from_u64(1);
        let next = c.next(&mut rng, "x".into());
        assert_eq!(
            next,
            Request::Range {
                prefix: "k/".into(),
                start: "k/1\0".into(),
                revision: 40,
                limit: 2,
                keys_only: false,
                serializable: false,
            }
        );
        c.observe(&next, &page(vec![kv("k/2", 9)], false));
        assert!(!matches!(
            c.next(&mut rng, "y".into()),
            Request::Range { revision: 40, .. }
        ));
        // The first page was read at the current revision: its keys are what compares expect.
        assert_eq!(c.seen_mod_revision("k/1"), 7);
        assert_eq!(
            c.seen_mod_revision("k/2"),
            0,
            "a page at a past revision is not current"
        );
    }

    #[test]
    fn every_kind_of_each_profile_is_drawn() {
        for profile in [Profile::Etcd, Profile::Kubernetes] {
            let mut c = Chooser::new(profile, 0, "k/", 8);
            c.txn_reads_at_revision = true;
            let mut rng = StdRng::seed_from_u64(7);
            c.head = 5000;
            let mut kinds = std::collections::BTreeSet::new();
            for n in 0..2000 {
                let r = c.next(&mut rng, format!("v{n}"));
                kinds.insert(match &r {
                    Request::Put { prev_kv: true, .. } => "put with prev_kv",
                    Request::Put { .. } => "put",
                    Request::Delete { prev_kv: true, .. } => "delete with prev_kv",
                    Request::Delete { .. } => "delete",
                    Request::DeletePrefix { .. } => "prefix delete",
                    Request::Cas { .. } => "cas",
                    Request::Get {
                        serializable: true, ..
                    } => "serializable get",
                    Request::Get { .. } => "get",
                    Request::Txn { .. } if r.read_revisions(None).iter().any(|at| *at > 0) => {
                        "multi-key txn with a get at a revision"
                    }
                    Request::Txn { .. } if r.is_multi_key() => "multi-key txn",
                    Request::Txn { .. } => "guarded write",
                    Request::Range {
                        revision: 0,
                        keys_only: true,
                        ..
                    } => "keys-only range",
                    Request::Range {
                        revision: 0,
                        limit: 0,
                        ..
                    } => "range",
                    Request::Range { revision: 0, .. } => "range with limit",
                    Request::Range { .. } => "revisioned range",
                    Request::Compact { .. } => "compact",
                    Request::Defrag => "defrag",
                });
            }
            let want: &[&str] = match profile {
                Profile::Etcd => &[
                    "cas",
                    "delete",
                    "delete with prev_kv",
                    "get",
                    "keys-only range",
                    "multi-key txn",
                    "multi-key txn with a get at a revision",
                    "prefix delete",
                    "put",
                    "put with prev_kv",
                    "range",
                    "range with limit",
                    "revisioned range",
                    "serializable get",
                ],
                Profile::Kubernetes => &[
                    "compact",
                    "get",
                    "guarded write",
                    "keys-only range",
                    "range",
                    "range with limit",
                    "revisioned range",
                ],
            };
            assert_eq!(kinds.into_iter().collect::<Vec<_>>(), want, "{profile}");
            // Client 1 defragments its member every DEFRAG_EVERY requests, and only then.
            let mut c = Chooser::new(profile, 1, "k/", 8);
            let defrags: Vec<u64> = (1..=1000)
                .filter(|n| c.next(&mut rng, format!("w{n}")) == Request::Defrag)
                .collect();
            assert_eq!(defrags, [DEFRAG_EVERY, 2 * DEFRAG_EVERY], "{profile}");
        }
    }
}
