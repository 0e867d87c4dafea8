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
        std::fs::write(
            dir.join("timeline.svg"),
            timeline::svg(applied, &recorded.history.events),
        ),
    ];
    results.into_iter().collect()
}

/// Copies a kept artifacts dir `from` (on tmpfs, gone at reboot or when /dev/shm is cleaned)
/// into `to`, where a CI job can keep it: the records, the members' logs and their data dirs,
/// except write-ahead-log segments (`wal/`), which etcd preallocates at 64 MB each; the bbolt
/// file holds the data, and `from` keeps the WAL. Symlinks and sockets are skipped.
pub fn preserve(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (kind, name) = (entry.file_type()?, entry.file_name());
        if kind.is_dir() && name != "wal" {
            preserve(&entry.path(), &to.join(&name))?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preserve_copies_records_logs_and_data_but_not_the_wal() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        let f = from.path();
        for dir in ["logs", "m1.etcd/member/snap", "m1.etcd/member/wal"] {
            std::fs::create_dir_all(f.join(dir)).unwrap();
        }
        for file in [
            "history.jsonl",
            "logs/m1.log",
            "m1.etcd/member/snap/db",
            "m1.etcd/member/wal/0.tmp",
        ] {
            std::fs::write(f.join(file), file).unwrap();
        }
        let kept = to.path().join("artifacts");
        preserve(f, &kept).unwrap();
        for file in ["history.jsonl", "logs/m1.log", "m1.etcd/member/snap/db"] {
            assert_eq!(std::fs::read_to_string(kept.join(file)).unwrap(), file);
        }
        assert!(!kept.join("m1.etcd/member/wal").exists());
    }
}
