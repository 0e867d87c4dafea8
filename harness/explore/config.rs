//! The cluster configuration a case runs: a drawn dimension of every case, beside its steps.
//! Default configurations hide where etcd breaks (with `--snapshot-count` 100000 no case ever
//! takes or sends a raft snapshot), so each case draws a member count and the knobs behind
//! etcd's snapshot, compaction, watch and raft-timing code, prints them in its case line,
//! records them in its replay file, and shrinks each toward etcd's default (`None`).
//!
//! Knobs are written in etcd's 3.4/3.5 spelling; a knob a release of the case lacks is left out
//! for that case ([`CaseConfig::flags`], from the facts in `release/facts.rs`), and the flag
//! renderer maps the `--experimental-` prefix per release.

use std::fmt;

use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use crate::release::{facts, Version};
use crate::traffic::Profile;

/// One case's cluster configuration. `None` is etcd's default (the harness's for timing).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct CaseConfig {
    /// Members at boot (1, 3 or 5); 0 in an old replay file means 3.
    pub members: usize,
    /// `--snapshot-count`: applied entries between raft snapshots (etcd: 100000; 10000 in 3.6).
    pub snapshot_count: Option<u64>,
    /// `--experimental-snapshot-catchup-entries`: entries kept behind a snapshot for slow
    /// followers (5000; the flag exists from 3.5.14).
    pub snapshot_catchup_entries: Option<u64>,
    /// `--experimental-compaction-batch-limit`: keys deleted per compaction batch (1000; 3.4+).
    pub compaction_batch_limit: Option<u64>,
    /// `--experimental-watch-progress-notify-interval` in ms (10 min; 3.4+).
    pub watch_progress_notify_ms: Option<u64>,
    /// `--heartbeat-interval` / `--election-timeout` in ms (the harness's 50 / 500).
    pub timing: Option<(u64, u64)>,
    /// `--auto-compaction-mode=periodic --auto-compaction-retention=Ns` (off).
    pub auto_compaction_secs: Option<u64>,
    /// TLS between members (`--peer-cert-file`…, certificates from the cluster's own CA); the
    /// peer-link proxies terminate it, so network faults still apply. Clients stay plain-text.
    pub peer_tls: bool,
    /// What the traffic sends (etcd's API broadly, or what the Kubernetes apiserver sends).
    pub profile: Profile,
}

impl CaseConfig {
    /// Three members and every knob at its default: what cases ran before configurations.
    pub fn defaults() -> CaseConfig {
        CaseConfig {
            members: 3,
            ..CaseConfig::default()
        }
    }

    /// Members at boot.
    pub fn member_count(&self) -> usize {
        if self.members == 0 {
            3
        } else {
            self.members
        }
    }

    /// The extra etcd flags for a case whose members run `releases`: a knob is rendered only if
    /// every one of them has its flag (flags stay with a member across upgrades).
    pub fn flags(&self, releases: &[&Version]) -> Vec<String> {
        let c = self.effective(releases);
        let mut f = Vec::new();
        if let Some(n) = c.snapshot_count {
            f.push(format!("--snapshot-count={n}"));
        }
        if let Some(n) = c.snapshot_catchup_entries {
            f.push(format!("--experimental-snapshot-catchup-entries={n}"));
        }
        if let Some(n) = c.compaction_batch_limit {
            f.push(format!("--experimental-compaction-batch-limit={n}"));
        }
        if let Some(ms) = c.watch_progress_notify_ms {
            f.push(format!(
                "--experimental-watch-progress-notify-interval={ms}ms"
            ));
        }
        if let Some((hb, el)) = c.timing {
            f.push(format!("--heartbeat-interval={hb}"));
            f.push(format!("--election-timeout={el}"));
        }
        if let Some(s) = c.auto_compaction_secs {
            f.push("--auto-compaction-mode=periodic".into());
            f.push(format!("--auto-compaction-retention={s}s"));
        }
        f
    }

    /// The configuration as it runs on `releases`: knobs a release lacks dropped, so the case
    /// line says what the members got.
    pub fn effective(&self, releases: &[&Version]) -> CaseConfig {
        let all = |has: fn(&Version) -> bool| releases.iter().all(|v| has(v));
        CaseConfig {
            members: self.member_count(),
            snapshot_catchup_entries: self
                .snapshot_catchup_entries
                .filter(|_| all(facts::has_snapshot_catchup_entries)),
            compaction_batch_limit: self
                .compaction_batch_limit
                .filter(|_| all(facts::has_compaction_batch_limit)),
            watch_progress_notify_ms: self
                .watch_progress_notify_ms
                .filter(|_| all(facts::has_watch_progress_notify_interval)),
            ..self.clone()
        }
    }

    /// The election timeout members run with, in ms.
    pub fn election_ms(&self) -> u64 {
        self.timing.map_or(500, |(_, e)| e)
    }
}

/// `3 members, snapshot-count 100, …` (only what differs from the defaults besides the size).
impl fmt::Display for CaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} members", self.member_count())?;
        let knobs = [
            ("snapshot-count", self.snapshot_count.map(|n| n.to_string())),
            (
                "catch-up-entries",
                self.snapshot_catchup_entries.map(|n| n.to_string()),
            ),
            (
                "compaction-batch-limit",
                self.compaction_batch_limit.map(|n| n.to_string()),
            ),
            (
                "progress-notify",
                self.watch_progress_notify_ms.map(|n| format!("{n}ms")),
            ),
            (
                "heartbeat/election",
                self.timing.map(|(h, e)| format!("{h}/{e}ms")),
            ),
            (
                "auto-compaction",
                self.auto_compaction_secs.map(|s| format!("periodic {s}s")),
            ),
        ];
        for (name, v) in knobs {
            if let Some(v) = v {
                write!(f, ", {name} {v}")?;
            }
        }
        if self.peer_tls {
            f.write_str(", peer TLS")?;
        }
        if self.profile != Profile::default() {
            write!(f, ", {} traffic", self.profile)?;
        }
        Ok(())
    }
}

/// A knob: etcd's default first (what shrinking moves to), else one of `values`.
fn knob(values: &'static [u64]) -> BoxedStrategy<Option<u64>> {
    prop_oneof![
        2 => Just(None),
        3 => proptest::sample::select(values).prop_map(Some),
    ]
    .boxed()
}

/// Configurations, shrinking toward three members and etcd's defaults.
pub fn config() -> BoxedStrategy<CaseConfig> {
    (
        prop_oneof![6 => Just(3usize), 2 => Just(1usize), 2 => Just(5usize)],
        knob(&[10, 50, 100, 1000]),
        knob(&[10, 100, 1000]),
        knob(&[1, 10, 100]),
        knob(&[100, 1000]),
        prop_oneof![
            2 => Just(None),
            1 => proptest::sample::select(&[(100u64, 1000u64), (20, 200), (50, 250)][..]).prop_map(Some),
        ],
        knob(&[2, 10]),
        prop_oneof![3 => Just(false), 1 => Just(true)],
        prop_oneof![2 => Just(Profile::Etcd), 1 => Just(Profile::Kubernetes)],
    )
        .prop_map(
            |(members, snap, catchup, batch, notify, timing, auto, peer_tls, profile)| CaseConfig {
                members,
                snapshot_count: snap,
                snapshot_catchup_entries: catchup,
                compaction_batch_limit: batch,
                watch_progress_notify_ms: notify,
                timing,
                auto_compaction_secs: auto,
                peer_tls,
                profile,
            },
        )
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    fn every_knob() -> CaseConfig {
        CaseConfig {
            members: 5,
            snapshot_count: Some(10),
            snapshot_catchup_entries: Some(100),
            compaction_batch_limit: Some(1),
            watch_progress_notify_ms: Some(100),
            timing: Some((100, 1000)),
            auto_compaction_secs: Some(2),
            peer_tls: true,
            profile: Profile::Kubernetes,
        }
    }

    #[test]
    fn knobs_a_release_lacks_are_left_out() {
        let c = every_knob();
        let new = c.flags(&[&v("3.5.16"), &v("3.5.30")]);
        assert!(new.contains(&"--experimental-snapshot-catchup-entries=100".to_string()));
        assert!(new.contains(&"--experimental-compaction-batch-limit=1".to_string()));
        // 3.5.0 predates the catch-up flag (3.5.14); 3.3 has neither 3.4 flag.
        let old = c.flags(&[&v("3.5.0"), &v("3.5.1")]);
        assert!(!old.iter().any(|f| f.contains("catchup")), "{old:?}");
        let oldest = c.flags(&[&v("3.3.25"), &v("3.4.23")]);
        assert!(
            !oldest
                .iter()
                .any(|f| f.contains("batch") || f.contains("progress")),
            "{oldest:?}"
        );
        assert!(oldest.contains(&"--snapshot-count=10".to_string()));
        assert!(oldest.contains(&"--auto-compaction-retention=2s".to_string()));
        assert!(CaseConfig::defaults().flags(&[&v("3.5.16")]).is_empty());
        // What the case line shows: what the members got.
        assert_eq!(
            c.effective(&[&v("3.3.25")]).to_string(),
            "5 members, snapshot-count 10, heartbeat/election 100/1000ms, auto-compaction periodic 2s, peer TLS, kubernetes traffic"
        );
    }

    #[test]
    fn the_case_line_shows_what_was_drawn() {
        assert_eq!(CaseConfig::defaults().to_string(), "3 members");
        assert_eq!(
            every_knob().to_string(),
            "5 members, snapshot-count 10, catch-up-entries 100, compaction-batch-limit 1, \
             progress-notify 100ms, heartbeat/election 100/1000ms, auto-compaction periodic 2s, \
             peer TLS, kubernetes traffic"
        );
    }

    #[test]
    fn replay_files_round_trip_and_old_ones_mean_defaults() {
        let c = every_knob();
        let back: CaseConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        let old: CaseConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(old.member_count(), 3);
        assert!(old.flags(&[&v("3.5.16")]).is_empty());
    }

    #[test]
    fn drawn_configurations_vary_and_shrink_to_the_defaults() {
        let mut r = TestRunner::new_with_rng(
            Default::default(),
            TestRng::from_seed(RngAlgorithm::ChaCha, &[3; 32]),
        );
        let mut sizes = std::collections::BTreeSet::new();
        let mut shrunk_to_default = 0;
        for _ in 0..50 {
            let mut tree = config().new_tree(&mut r).unwrap();
            sizes.insert(tree.current().member_count());
            // Shrinking as far as it goes (every simplification "still fails") ends at the
            // defaults: that is what a failure independent of the configuration shrinks to.
            while tree.simplify() {}
            if tree.current() == CaseConfig::defaults() {
                shrunk_to_default += 1;
            }
        }
        assert_eq!(sizes, [1, 3, 5].into_iter().collect());
        assert_eq!(shrunk_to_default, 50);
    }
}
