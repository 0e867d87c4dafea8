//! Kept findings: real etcd bugs the harness found, each a scenario or an exploration replay file
//! under `findings/` that must still fail on the releases it names, the way it failed when
//! found, and (where etcd fixed it) pass on the fixed release. A finding that starts to pass
//! means the harness lost its ability to see the bug (or the pinned release changed): this is
//! the harness's own detection regression suite.

mod common;

use etcd_skew::explore::{self, Replay};

fn failure_of(template: &str, release: &str) -> String {
    failure_within(template, release, 1)
}

/// The first failure of a kept scenario finding within `tries` runs (a race etcd loses most
/// of the time, not always).
fn failure_within(template: &str, release: &str, tries: u32) -> String {
    for t in 1..=tries {
        let report = common::run_template_at(template, release, release);
        if let Some(dir) = &report.artifacts {
            // Expected failure: its evidence is not needed once the assertion below holds.
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(f) = report.failure() {
            println!("{release}: failed on try {t}");
            return f;
        }
    }
    panic!("{template} passed {tries} runs on {release}: the finding no longer reproduces")
}

/// etcd-io/etcd#21694: `member update` of a learner drops its learner flag from the member
/// list (3.4.23 … 3.5.30; fixed in 3.5.31).
#[test]
fn learner_member_update_drops_learner_flag_on_3_5_16() {
    let f = failure_of(
        "findings/learner-member-update-drops-learner-flag.scn",
        "3.5.16",
    );
    assert!(
        f.contains(":16 `expect-members`")
            && f.contains(" learner")
            && f.contains("member list via"),
        "failed elsewhere: {f}"
    );
}

/// etcd-io/etcd#13144: once auth is enabled, 3.5.0's /health answers 503 ("RANGE ERROR:auth:
/// user name is empty"), so a restarted member never shows healthy; 3.5.1 fixed it.
#[test]
fn health_unusable_with_auth_on_3_5_0_not_on_3_5_1() {
    let file = "findings/health-unusable-with-auth-3.5.0.scn";
    let f = failure_of(file, "3.5.0");
    assert!(
        f.contains(":16 `start m2`") && f.contains("healthy"),
        "failed elsewhere: {f}"
    );
    let fixed = common::run_template_at(file, "3.5.1", "3.5.1");
    assert_eq!(fixed.failure(), None, "3.5.1, where etcd fixed it");
}

/// A leader frozen (SIGSTOP) past its leases' TTL revokes them when it runs again, although
/// they were kept alive through the new leader: etcd#15247, whose fix (3.5.13, 3.4.31) skips
/// its leadership check when the member ticked lately, and a frozen process ticks at once
/// when it resumes. 3.5.16 has the fix and still fails.
#[test]
fn leases_revoked_by_a_frozen_leader_on_3_5_16() {
    let f = failure_within("findings/lease-revoked-by-frozen-leader.scn", "3.5.16", 3);
    assert!(
        f.contains("`expect-leases ") && f.contains("gone early"),
        "failed elsewhere: {f}"
    );
}

/// A kept exploration finding's replay file, whose triage must list `fails_on` and `passes_on`
/// (so the README table and the test cannot drift apart).
fn triaged(file: &str, fails_on: &str, passes_on: &str) -> Replay {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let replay = Replay::read(&path).unwrap();
    let triage = replay.triage.clone().expect("a finding has its triage");
    let listed = |list: &[etcd_skew::explore::replay::OnRelease], r: &str| {
        list.iter().any(|o| o.release == r)
    };
    assert!(
        listed(&triage.fails_on, fails_on),
        "{file}: {fails_on} not in fails_on"
    );
    assert!(
        listed(&triage.passes_on, passes_on),
        "{file}: {passes_on} not in passes_on"
    );
    replay
}

/// A kept exploration finding: its replay file must fail on `fails_on` within `tries` runs
/// (it is flaky), the way it failed when found (the failure names `shows` and `at`), and pass
/// `passes` runs on `passes_on`, where etcd fixed it; both releases must be in the file's
/// triage, so the README table and the test cannot drift apart.
fn explored_finding(
    file: &str,
    fails_on: &str,
    tries: u32,
    passes_on: &str,
    passes: u32,
    (shows, at): (&str, &str),
) {
    let replay = triaged(file, fails_on, passes_on);
    common::releases(&[fails_on, passes_on]);
    // One finding at a time: these bugs need load, and two cases sharing the cores halve it.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let run = |release: &str| {
        let o = explore::search::replay(common::store(), &replay.on(release, release));
        if let Some(dir) = &o.artifacts {
            let _ = std::fs::remove_dir_all(dir);
        }
        o.failure
    };
    let mut failed = None;
    for t in 1..=tries {
        if let Some(f) = run(fails_on) {
            println!("{fails_on}: failed on try {t}: {f}");
            failed = Some(f);
            break;
        }
    }
    let f = failed.unwrap_or_else(|| {
        panic!("{file} passed {tries} times on {fails_on}: the finding no longer reproduces")
    });
    assert!(f.contains(shows), "failed another way than {shows:?}: {f}");
    assert!(f.contains(at), "failed at another step than {at:?}: {f}");
    for t in 1..=passes {
        if let Some(f) = run(passes_on) {
            panic!("{file} failed on {passes_on} (run {t}), where etcd fixed it: {f}");
        }
    }
}

/// etcd-io/etcd#13766: a member SIGKILLed right after each restart, 15 times under load, comes
/// back with a HashKV different from the others' (3.5.0–3.5.2; fixed in 3.5.3). It needs the
/// load of a release build: about half the runs there show it, one in ten or fewer in the debug
/// build `cargo test` uses (0 of 16 in one measured run). So it is not in the default
/// selection; run it with `cargo test --release --test findings -- --ignored`.
#[test]
#[ignore = "needs a release build's load: cargo test --release --test findings -- --ignored"]
fn hashkv_divergence_after_kill_storm_on_3_5_0_not_on_3_5_16() {
    explored_finding(
        "findings/hashkv-divergence-after-kill-storm-3.5.0.json",
        "3.5.0",
        16,
        "3.5.16",
        2,
        ("HashKV", "`kill-storm(1)`"),
    );
}

/// etcd-io/etcd#14685: a member SIGKILLed right after a defragmentation comes back with a
/// HashKV different from the others' (it re-applied entries: the defrag's commit skipped the
/// consistent index). Found by `explore --releases 3.5.0 --seed 2026` and shrunk to
/// `[kill-during-defrag(2)]`; the same kill without the defrag passes 16 of 16 on 3.5.1. About
/// 40 % of the runs on 3.5.1 show it: 16 tries miss it with a chance below 0.1 %.
#[test]
fn hashkv_divergence_after_kill_during_defrag_on_3_5_1_not_on_3_5_16() {
    explored_finding(
        "findings/hashkv-divergence-after-kill-during-defrag-3.5.1.json",
        "3.5.1",
        16,
        "3.5.16",
        2,
        ("HashKV", "heal `start m3`"),
    );
}

/// etcd-io/etcd#15271: a watcher on a member that fell behind (SIGSTOPped while the leader's
/// log moved past it; snapshot-count 10) is sent events again from where it first started once
/// the member applies the leader's raft snapshot, because a synced watcher's minRev was never
/// advanced (3.4 before 3.4.25, 3.5 before 3.5.8). Found by `explore --releases 3.4.23 --seed
/// 2026` in 30 minutes and shrunk to `{5 members, snapshot-count 10} [remove-restart(0),
/// pause-behind(0)]`; nearly every run on 3.4.23 shows it.
#[test]
fn watch_travels_back_after_snapshot_restore_on_3_4_23_not_on_3_5_16() {
    explored_finding(
        "findings/watch-travels-back-after-snapshot-restore-3.4.23.json",
        "3.4.23",
        4,
        "3.5.16",
        2,
        ("out of order or duplicated", "watch event at revision"),
    );
}

/// etcd-io/etcd#15220: a requested progress notification goes out with the store's revision
/// while a watch that started behind the store is still being sent the events before it (3.4
/// before 3.4.25, 3.5 before 3.5.8). Found by `explore --releases 3.5.1` (Kubernetes traffic,
/// whose watcher requests progress as the apiserver does: a watch resumed behind after a
/// restart), kept as `findings/progress-ahead-of-events-3.5.1.json` (about 2 runs in 3); this
/// targeted form starts the watch at revision 1 of a store some thousand revisions long, which
/// every run on an affected release shows.
fn progress_ahead_of_a_catching_up_watch(release: &str) -> Vec<String> {
    use etcd_skew::check::watch;
    use etcd_skew::cluster::ClusterBuilder;
    use etcd_skew::traffic::watcher::Watcher;
    use etcd_skew::traffic::{Endpoint, Traffic, TrafficConfig};
    use std::time::{Duration, Instant};
    let r = common::releases(&[release]);
    common::runtime().block_on(async {
        let cluster = ClusterBuilder::new(r).start().await.unwrap();
        let endpoints = std::sync::Arc::new(std::sync::RwLock::new(
            cluster.members().iter().map(Endpoint::of).collect(),
        ));
        let started = Instant::now();
        let cfg = TrafficConfig {
            prefix: "p/".into(),
            seed: 3,
            ..TrafficConfig::default()
        };
        let traffic = Traffic::start(endpoints.clone(), cfg, started);
        // Until the store holds a few thousand revisions (bounded: 20 s).
        let m = &cluster.members()[0];
        let deadline = Instant::now() + Duration::from_secs(20);
        while m.status().await.map_or(0, |s| s.revision) < 3000 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let history = traffic.stop().await.unwrap();
        let head = m.status().await.unwrap().revision;
        assert!(
            head >= 3000,
            "{release}: the store reached revision {head} only"
        );
        let w = Watcher::start_at(endpoints, "p/".into(), started, (true, false), 1);
        // Until a requested notification came (a fixed release sends it once the watch has
        // caught up), within 10 s.
        let deadline = Instant::now() + Duration::from_secs(10);
        while w.notified() == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let log = w.stop_at(head).await.unwrap();
        assert!(
            !log.progress.is_empty(),
            "{release}: no progress notification"
        );
        watch::check(&log, &history)
    })
}

#[test]
fn progress_notification_ahead_of_a_catching_up_watch_on_3_5_1_not_on_3_5_16() {
    triaged(
        "findings/progress-ahead-of-events-3.5.1.json",
        "3.5.1",
        "3.5.16",
    );
    let v = progress_ahead_of_a_catching_up_watch("3.5.1");
    assert!(
        v.iter().any(|l| l.contains("it ran ahead of the events")),
        "3.5.1: the finding no longer reproduces: {v:?}"
    );
    let v = progress_ahead_of_a_catching_up_watch("3.5.16");
    assert_eq!(v, Vec::<String>::new(), "3.5.16, where etcd fixed it");
}

/// etcd-io/etcd#18089 ("Watch dropping an event when compacting on delete"): a compaction at
/// exactly a delete's revision removed the tombstone, so a watch from that revision (where a
/// watch cancelled as compacted resumes: the compact revision) was never sent the delete.
/// Fixed by "keep tombstone if revision == compactAtRev" (3.5.16 as 8d98510e1, 3.4.34). The
/// harness's delete-gap check sees it: a put, its delete at `r`, a put again, a compaction at
/// `r`, then the watch from `r`. Returns the watch check's violations.
fn watch_from_a_compacted_delete(release: &str) -> Vec<String> {
    use etcd_skew::check::watch;
    use etcd_skew::history::{Event, History, Outcome, Request};
    use etcd_skew::traffic::watcher::Watcher;
    use etcd_skew::traffic::Endpoint;
    use std::time::Instant;
    let r = common::releases(&[release]);
    common::runtime().block_on(async {
        let cluster = etcd_skew::cluster::ClusterBuilder::new(r)
            .start()
            .await
            .unwrap();
        let m = &cluster.members()[0];
        let started = Instant::now();
        let mut history = History::default();
        let mut acked = |request: Request, revision: i64, deleted: Option<i64>| {
            let mut outcome = Outcome::ok(revision);
            if let Outcome::Ok { deleted: d, .. } = &mut outcome {
                *d = deleted;
            }
            history.events.push(Event {
                client: 0,
                member: m.name.clone(),
                invoke_us: 0,
                complete_us: started.elapsed().as_micros() as u64,
                request,
                outcome,
            });
        };
        let put = |value: &str| Request::Put {
            key: "d/k".into(),
            value: value.into(),
            prev_kv: false,
        };
        let first = m.put("d/k", "1").await.unwrap();
        acked(put("1"), first, None);
        let gone = m
            .rpc("delete", |mut c| async move { c.delete("d/k", None).await })
            .await
            .unwrap();
        let deleted_at = gone.header().unwrap().revision();
        assert_eq!(gone.deleted(), 1);
        acked(
            Request::Delete {
                key: "d/k".into(),
                prev_kv: false,
            },
            deleted_at,
            Some(1),
        );
        let again = m.put("d/k", "2").await.unwrap();
        acked(put("2"), again, None);
        m.rpc("compact", |mut c| async move {
            c.compact(deleted_at, None).await
        })
        .await
        .unwrap();
        let endpoints = std::sync::Arc::new(std::sync::RwLock::new(vec![Endpoint::of(m)]));
        let w = Watcher::start_at(endpoints, "d/".into(), started, (false, false), deleted_at);
        let log = w.stop_at(again).await.unwrap();
        watch::check(&log, &history)
    })
}

/// Every pinned release: deterministic, and a cluster of one boots in a fraction of a second.
/// The drawn case that found it (`findings/watch-misses-delete-compacted-at-its-revision-3.4.23.json`)
/// bites one run in eight on 3.4.23, too rarely for `cargo test`.
#[test]
fn a_delete_compacted_at_its_own_revision_is_not_watched_before_3_5_16() {
    triaged(
        "findings/watch-misses-delete-compacted-at-its-revision-3.4.23.json",
        "3.4.23",
        "3.5.16",
    );
    for release in ["3.3.25", "3.4.23", "3.5.0", "3.5.1"] {
        let v = watch_from_a_compacted_delete(release);
        assert!(
            v.iter().any(|l| l.contains("missed the delete of d/k")),
            "{release}: the finding no longer reproduces: {v:?}"
        );
    }
    for release in ["3.5.16", "3.5.30"] {
        let v = watch_from_a_compacted_delete(release);
        assert_eq!(v, Vec::<String>::new(), "{release}, where etcd fixed it");
    }
}

/// etcd-io/etcd#20221 (also #19487, "Watch response revision can be lower than the required
/// starting revision"): a watch from a future revision on a member that then applies the
/// leader's snapshot gets events from before its start. Restore moves every synced watcher to
/// the unsynced group, and the next sync set each one's next revision to the store's current
/// one plus one, lowering a future watcher's; fixed by keeping the higher of the two
/// ("Avoid lowering revision of watchers in the future after restore": 3.5.22 #20290, 3.4.38
/// #20291, 3.6.3 #20281). Here: member `m` cut off from its peers while the leader writes past
/// its retained log, a watch opened on `m` from 50 revisions beyond the head, the cut repaired
/// (`m` saves and applies the leader's database snapshot), then 100 more writes that cross the
/// start. Returns the revisions below the start the watch delivered, and how many of the
/// writes from the start on it delivered.
fn future_watch_across_a_snapshot_restore(release: &str) -> (Vec<i64>, usize) {
    use etcd_client::WatchOptions;
    use etcd_skew::cluster::ClusterBuilder;
    use etcd_skew::release::facts;
    use std::time::{Duration, Instant};
    let r = common::releases(&[release]);
    // Writes past the leader's retained log: snapshot count + catch-up entries + a margin
    // (catch-up entries are 5000 where the release has no flag for them).
    let (flags, behind) = if facts::has_snapshot_catchup_entries(&r[0].version) {
        let f = vec![
            "--snapshot-count=10".to_string(),
            "--experimental-snapshot-catchup-entries=10".to_string(),
        ];
        (f, 200)
    } else {
        (vec!["--snapshot-count=10".to_string()], 5200)
    };
    common::runtime().block_on(async {
        let cluster = ClusterBuilder::new(vec![r[0].clone(); 3])
            .peer_proxies(true)
            .flags(&flags)
            .start()
            .await
            .unwrap();
        let leader = cluster.leader(Duration::from_secs(15)).await.unwrap();
        let cut = (leader + 1) % 3;
        let writer = cluster.member(leader).client().await.unwrap();
        let put = |n: usize| {
            let key = format!("w/{}", n % 16);
            let mut c = writer.clone();
            async move {
                let r =
                    tokio::time::timeout(Duration::from_secs(5), c.put(key, n.to_string(), None));
                r.await
                    .expect("a put answered within 5 s")
                    .expect("a put acknowledged")
            }
        };
        cluster.partition(cut).unwrap();
        let mut head = 0;
        for n in 0..behind {
            head = put(n).await.header().unwrap().revision();
        }
        let start = head + 50;
        let m = cluster.member(cut);
        let mut client = m.client().await.unwrap();
        let opts = WatchOptions::new().with_prefix().with_start_revision(start);
        let mut stream =
            tokio::time::timeout(Duration::from_secs(5), client.watch("w/", Some(opts)))
                .await
                .expect("the watch created within 5 s")
                .unwrap();
        cluster.repair();
        // Until the cut-off member has applied the leader's snapshot (bounded: 60 s).
        let deadline = Instant::now() + Duration::from_secs(60);
        while !m
            .log_since_start()
            .contains("received and saved database snapshot")
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            m.log_since_start()
                .contains("received and saved database snapshot"),
            "{release}: {} did not catch up from the leader's snapshot",
            m.name
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while m.status().await.map_or(0, |s| s.revision) < head && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut last = head;
        for n in 0..100 {
            last = put(behind + n).await.header().unwrap().revision();
        }
        drop(writer);
        let (mut below, mut from_start) = (Vec::new(), 0);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut reached = 0;
        while reached < last {
            let Ok(next) = tokio::time::timeout_at(deadline, stream.message()).await else {
                break;
            };
            let Some(resp) = next.expect("the watch stream stays open") else {
                break;
            };
            for ev in resp.events() {
                let rev = ev.kv().map_or(0, |kv| kv.mod_revision());
                reached = reached.max(rev);
                if rev < start {
                    below.push(rev);
                } else {
                    from_start += 1;
                }
            }
        }
        assert_eq!(
            reached, last,
            "{release}: the watch from {start} never delivered the last write ({last})"
        );
        (below, from_start)
    })
}

/// Deterministic on every affected release: each run shows it (3 of 3 on each). The drawn
/// case that found it (`findings/future-watch-gets-old-events-after-snapshot-restore-3.5.16.json`,
/// exploration's held watches) bites one run in four or so, too rarely for `cargo test`.
#[test]
fn a_future_watch_gets_old_events_after_a_snapshot_restore_before_3_5_22() {
    let replay = triaged(
        "findings/future-watch-gets-old-events-after-snapshot-restore-3.5.16.json",
        "3.5.16",
        "3.5.30",
    );
    assert!(replay.setup.held_watches, "found by a held watch");
    for release in ["3.3.25", "3.4.23", "3.5.0", "3.5.1", "3.5.16"] {
        let t = std::time::Instant::now();
        let (below, from_start) = future_watch_across_a_snapshot_restore(release);
        println!(
            "{release}: {} events below the start, {from_start} from it ({:.1?})",
            below.len(),
            t.elapsed()
        );
        assert!(
            !below.is_empty(),
            "{release}: the finding no longer reproduces ({from_start} events, none below the start)"
        );
    }
    let (below, from_start) = future_watch_across_a_snapshot_restore("3.5.30");
    assert_eq!(below, Vec::<i64>::new(), "3.5.30, where etcd fixed it");
    assert_eq!(from_start, 51, "3.5.30: every write from the start on");
}

/// etcd-io/etcd#18667: a txn through m1 whose taken branch reads at a future revision, then
/// puts. m1 refuses the whole txn (its applier checks the ranges before any write), but the
/// other members apply it without its ranges (`removeNeedlessRangeReqs`: a member no client
/// waits on strips a txn's ranges, and with them the check), so they take the put. Returns
/// each member's value of the key once every member has applied past the txn (a put through
/// m1 after it, read serializably on each).
fn txn_refused_for_a_future_get(release: &str) -> Vec<(String, Option<String>)> {
    use etcd_client::{GetOptions, Txn, TxnOp};
    let r = common::releases(&[release, release, release]);
    common::runtime().block_on(async {
        let cluster = etcd_skew::cluster::ClusterBuilder::new(r)
            .start()
            .await
            .unwrap();
        let m1 = &cluster.members()[0];
        let before = m1.put("t/k", "before").await.unwrap();
        let txn = Txn::new().and_then([
            TxnOp::get("t/k", Some(GetOptions::new().with_revision(before + 1000))),
            TxnOp::put("t/k", "refused", None),
        ]);
        let answer = m1.rpc("txn", |mut c| async move { c.txn(txn).await }).await;
        assert!(
            answer.is_err(),
            "{release}: m1 served a get 1000 revisions ahead"
        );
        let barrier = m1.put("t/barrier", "1").await.unwrap();
        let mut values = Vec::new();
        for m in cluster.members() {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let opts = || Some(GetOptions::new().with_serializable());
                let b = m
                    .rpc(
                        "get",
                        |mut c| async move { c.get("t/barrier", opts()).await },
                    )
                    .await
                    .unwrap();
                if b.header().unwrap().revision() >= barrier {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "{}: never applied the barrier",
                    m.name
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            let k = m
                .rpc("get", |mut c| async move {
                    c.get("t/k", Some(GetOptions::new().with_serializable()))
                        .await
                })
                .await
                .unwrap();
            let value = k
                .kvs()
                .first()
                .map(|kv| String::from_utf8_lossy(kv.value()).into_owned());
            values.push((m.name.clone(), value));
        }
        values
    })
}

/// Every pinned release, deterministic (no pinned release has etcd's fix, PR #21432 on main).
/// The drawn case that found it (`findings/txn-refused-for-a-read-at-revision-applied-elsewhere-3.5.16.json`)
/// fails only where one of its txns drew a future revision, one run in four.
#[test]
fn a_txn_refused_for_a_future_get_is_applied_by_the_other_members() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("findings/txn-refused-for-a-read-at-revision-applied-elsewhere-3.5.16.json");
    let replay = Replay::read(&path).unwrap();
    assert!(
        replay.setup.txn_reads_at_revision,
        "found by txns reading at revisions"
    );
    let triage = replay.triage.expect("a finding has its triage");
    assert!(
        triage.etcd_issue.contains("etcd-io/etcd#18667"),
        "{}",
        triage.etcd_issue
    );
    for release in ["3.3.25", "3.4.23", "3.5.0", "3.5.1", "3.5.16", "3.5.30"] {
        let values = txn_refused_for_a_future_get(release);
        println!("{release}: {values:?}");
        let value = |m: &str| values.iter().find(|(n, _)| n == m).unwrap().1.as_deref();
        assert_eq!(value("m1"), Some("before"), "{release}: m1 refused the txn");
        assert_eq!(
            (value("m2"), value("m3")),
            (Some("refused"), Some("refused")),
            "{release}: the finding no longer reproduces"
        );
    }
}
