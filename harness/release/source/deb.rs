//! Debian's `etcd-server` / `etcd-client` packages. `apt-get download` runs with a private
//! sources list and state dir inside the cache, so the machine's own apt setup is never touched;
//! apt checks each package against the suite's signed index, and we check it against the pin.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{run_bounded, FetchConfig};

/// The Debian mirror to use: the configured one, else the first `.../debian` URI in this
/// machine's apt sources (one-line `.list` or deb822 `.sources`). Never a host written in code.
pub fn mirror(cfg: &FetchConfig) -> Result<String, String> {
    if let Some(m) = &cfg.deb_mirror {
        return Ok(m.trim_end_matches('/').to_string());
    }
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    for f in files {
        let name = f.to_string_lossy();
        if !(name.ends_with(".list") || name.ends_with(".sources")) {
            continue;
        }
        if let Ok(text) = std::fs::read_to_string(&f) {
            if let Some(uri) = debian_uri(&text) {
                return Ok(uri);
            }
        }
    }
    Err("no Debian mirror (a URI ending in /debian) in /etc/apt/sources.list{,.d}; set ETCD_SKEW_DEB_MIRROR".into())
}

/// First URI ending in `/debian` in an apt sources file of either syntax.
pub fn debian_uri(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| {
            let uris: Vec<&str> = if let Some(rest) = l.strip_prefix("URIs:") {
                rest.split_whitespace().collect()
            } else if l.starts_with("deb ") {
                l.split_whitespace()
                    .filter(|w| w.contains("://"))
                    .take(1)
                    .collect()
            } else {
                Vec::new()
            };
            uris.into_iter()
                .map(|u| u.trim_end_matches('/').to_string())
                .collect::<Vec<_>>()
        })
        .find(|u| u.ends_with("/debian"))
}

/// Downloads `packages` at `package_version` from `suite` into `dest`; `state` is the private
/// apt state folder for that suite (callers hold a lock on it).
pub fn download(
    suite: &str,
    package_version: &str,
    packages: &[String],
    state: &Path,
    dest: &Path,
    cfg: &FetchConfig,
) -> Result<Vec<PathBuf>, String> {
    let mirror = mirror(cfg)?;
    for d in ["lists/partial", "cache/archives/partial"] {
        std::fs::create_dir_all(state.join(d)).map_err(|e| e.to_string())?;
    }
    let keyring = Path::new("/usr/share/keyrings/debian-archive-keyring.gpg");
    let signed = if keyring.exists() {
        format!("[signed-by={}] ", keyring.display())
    } else {
        String::new()
    };
    let list = state.join("sources.list");
    std::fs::write(&list, format!("deb {signed}{mirror} {suite} main\n"))
        .map_err(|e| e.to_string())?;
    let apt = |args: &[String], cwd: &Path| {
        let mut cmd = Command::new("apt-get");
        cmd.current_dir(cwd)
            .arg("-q")
            .arg(format!("-o=Dir::Etc::SourceList={}", list.display()))
            .arg("-o=Dir::Etc::SourceParts=/dev/null")
            .arg(format!(
                "-o=Dir::State::Lists={}",
                state.join("lists").display()
            ))
            .arg(format!("-o=Dir::Cache={}", state.join("cache").display()))
            .args(args);
        run_bounded(&mut cmd, dest, cfg.timeout)
    };
    let wanted: Vec<String> = packages
        .iter()
        .map(|p| format!("{p}={package_version}"))
        .collect();
    let mut download = vec!["download".to_string()];
    download.extend(wanted);
    let has_lists = std::fs::read_dir(state.join("lists"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().ends_with("_Packages"))
        })
        .unwrap_or(false);
    if !has_lists {
        apt(&["update".into()], dest)?;
    }
    if let Err(first) = apt(&download, dest) {
        // The lists may be stale (the package moved on in the suite): refresh once, retry.
        apt(&["update".into()], dest).map_err(|e| format!("{first}; then {e}"))?;
        apt(&download, dest)?;
    }
    packages
        .iter()
        .map(|p| super::wheel::find_one_prefixed(dest, &format!("{p}_"), ".deb"))
        .collect()
}

/// Unpacks a .deb with `dpkg-deb -x` and returns its root.
pub fn unpack(deb: &Path, root: &Path, cfg: &FetchConfig) -> Result<(), String> {
    std::fs::create_dir_all(root).map_err(|e| e.to_string())?;
    let mut cmd = Command::new("dpkg-deb");
    cmd.arg("-x").arg(deb).arg(root);
    run_bounded(&mut cmd, root, cfg.timeout).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::debian_uri;

    #[test]
    fn finds_the_debian_mirror_in_both_syntaxes() {
        let deb822 = "Types: deb\n# http://snapshot.debian.org/x\nURIs: http://deb.example/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://deb.example/debian-security\n";
        assert_eq!(
            debian_uri(deb822).as_deref(),
            Some("http://deb.example/debian")
        );
        let oneline = "deb https://other.example/apt stable main\ndeb [arch=amd64] http://m.example/debian/ bookworm main\n";
        assert_eq!(
            debian_uri(oneline).as_deref(),
            Some("http://m.example/debian")
        );
        assert_eq!(
            debian_uri("deb-src http://m.example/debian bookworm main\n"),
            None
        );
    }
}
