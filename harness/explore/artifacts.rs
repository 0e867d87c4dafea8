//! A failed case's artifacts, next to the members' logs and data dirs the cluster kept:
//! `history.jsonl`, `watch.json`, `leases.json`, `timeline.json` and `timeline.svg`. Best
//! effort: a file that cannot be written must not hide the failure it documents.

use std::path::Path;

use super::epoch::Recorded;
use super::record::Applied;
use super::timeline;

/// Writes the records of a failed case into `dir`; the first write error, if any, is returned
/// after every file was tried.
pub fn write(dir: &Path, recorded: &Recorded, applied: &[Applied]) -> std::io::Result<()> {
    let json = |v: serde_json::Result<Vec<u8>>| v.map_err(std::io::Error::other);
    let results = [
        recorded.history.write_jsonl(&dir.join("history.jsonl")),
        json(serde_json::to_vec_pretty(&recorded.watches))
            .and_then(|b| std::fs::write(dir.join("watch.json"), b)),
        json(serde_json::to_vec_pretty(&recorded.leases))
            .and_then(|b| std::fs::write(dir.join("leases.json"), b)),
        json(serde_json::to_vec_pretty(applied))
            .and_then(|b| std::fs::write(dir.join("timeline.json"), b)),
        std::fs::write(dir.join("timeline.svg"), timeline::svg(applied)),
    ];
    results.into_iter().collect()
}
