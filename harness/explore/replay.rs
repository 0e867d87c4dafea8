//! Replay files: everything needed to run a case again, exactly: the release pair, the traffic
//! settings and seed, and the step list. Written for every failure (the shrunk one), read by
//! `etcd-skew replay FILE`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::plan::Step;
use super::setup::CaseSetup;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Replay {
    /// The exploration seed the case came from (for the record; the steps are explicit).
    pub seed: u64,
    pub setup: CaseSetup,
    pub inject_faults: bool,
    pub steps: Vec<Step>,
    /// What failed when this file was written.
    pub failure: String,
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
