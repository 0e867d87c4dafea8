//! Replay files: everything needed to run a case again, exactly: the release pair, the traffic
//! settings and seed, the cluster configuration and the step list, and how often it failed.
//! Written for every failure (the shrunk one), read by `etcd-skew replay FILE`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::CaseConfig;
use super::plan::Step;
use super::setup::CaseSetup;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Replay {
    /// The exploration seed the case came from (for the record; the steps are explicit).
    pub seed: u64,
    pub setup: CaseSetup,
    /// The cluster configuration drawn (absent in files older than configurations: defaults).
    #[serde(default)]
    pub config: CaseConfig,
    pub inject_faults: bool,
    pub steps: Vec<Step>,
    /// What failed when this file was written.
    pub failure: String,
    /// How often the case failed when it was found.
    #[serde(default)]
    pub fails: Option<FailRate>,
    /// For a kept finding (`findings/`): what it is and where it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage: Option<Triage>,
}

/// A kept finding's triage: the etcd issue it is, and its measured rates per release (pair).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triage {
    /// What it is, in one line.
    pub summary: String,
    /// The etcd issue (or "harness bug: …" with its fix).
    pub etcd_issue: String,
    /// Releases (`A` or `A:B`) where it fails, with the measured rate.
    pub fails_on: Vec<OnRelease>,
    /// Releases where it passes (etcd fixed it, or never had it).
    pub passes_on: Vec<OnRelease>,
}

/// A release (`A`, a pair with itself, or `A:B`) and a measured rate there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnRelease {
    pub release: String,
    pub rate: FailRate,
}

impl OnRelease {
    /// (older, newer) of `A` or `A:B`.
    pub fn pair(&self) -> (&str, &str) {
        self.release
            .split_once(':')
            .unwrap_or((&self.release, &self.release))
    }
}

impl Replay {
    /// The same case on another release pair.
    pub fn on(&self, older: &str, newer: &str) -> Replay {
        let mut r = self.clone();
        r.setup.older = older.into();
        r.setup.newer = newer.into();
        r
    }
}

/// Failing runs out of runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailRate {
    pub failed: u32,
    pub runs: u32,
}

impl std::fmt::Display for FailRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fails {} of {}", self.failed, self.runs)
    }
}

impl Replay {
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(self).expect("replay serializes"),
        )?;
        std::fs::rename(tmp, path)
    }

    /// Reads a replay file; the error names the file and what is wrong.
    pub fn read(path: &Path) -> Result<Replay, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}
