//! What a case runs on besides its steps, and the release pairs an exploration walks.

use serde::{Deserialize, Serialize};

use crate::release::Version;

/// What a case needs besides its steps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseSetup {
    /// Older and newer release of the pair under test.
    pub older: String,
    pub newer: String,
    pub traffic_seed: u64,
    pub clients: usize,
    /// Requests per second over all clients (0: unlimited).
    pub rate: u32,
    pub keys: usize,
    /// Hold one watch per member from far beyond the head across the case's faults
    /// (`traffic::short_watch::held_loop`). Off in replay files written before held watches
    /// (they ran without them). A smoke case of a release before 3.5.22 leaves them out: a
    /// member that restores a snapshot sends them old events (etcd#20221, kept in `findings/`).
    #[serde(default)]
    pub held_watches: bool,
    /// Multi-key txns read some keys at a revision of their own (past, compacted or future),
    /// and so are sometimes refused whole. Off unless asked for: on every pinned release a
    /// refused txn is applied by the members its client is not connected to (etcd#18667,
    /// kept in `findings/`), which ends an exploration at once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub txn_reads_at_revision: bool,
}

/// Why a release list cannot be explored.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PairError {
    /// No release named at all.
    #[error("no release to explore")]
    Empty,
    /// A release is listed before an older one: its "upgrades" would be downgrades.
    #[error("releases go oldest first: {newer} is listed before the older {older}")]
    NewestFirst {
        newer: Box<NamedRelease>,
        older: Box<NamedRelease>,
    },
}

/// A release as the user named it, and its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedRelease {
    pub name: String,
    pub version: Version,
}

/// The name, and the version too when the name does not say it (a local build).
impl std::fmt::Display for NamedRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.name == self.version.to_string() {
            f.write_str(&self.name)
        } else {
            write!(f, "{} ({})", self.name, self.version)
        }
    }
}

/// The (older, newer) pairs of a release list, oldest first: each adjacent pair. A single
/// release pairs with itself (a case of patch-free restarts, kills and faults, whose upgrade
/// steps do nothing). Releases come as (name, version): a local build is named by the user but
/// ordered by what its `etcd --version` says.
pub fn release_pairs(releases: &[(String, Version)]) -> Result<Vec<(String, String)>, PairError> {
    match releases {
        [] => Err(PairError::Empty),
        [(only, _)] => Ok(vec![(only.clone(), only.clone())]),
        _ => releases
            .windows(2)
            .map(|w| {
                let ((a, va), (b, vb)) = (&w[0], &w[1]);
                if va > vb {
                    let named = |name: &String, version: &Version| {
                        Box::new(NamedRelease {
                            name: name.clone(),
                            version: version.clone(),
                        })
                    };
                    Err(PairError::NewestFirst {
                        newer: named(a, va),
                        older: named(b, vb),
                    })
                } else {
                    Ok((a.clone(), b.clone()))
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(names: &[&str]) -> Vec<(String, Version)> {
        names
            .iter()
            .map(|n| (n.to_string(), n.parse().unwrap()))
            .collect()
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.into(), b.into())
    }

    #[test]
    fn adjacent_pairs_oldest_first() {
        assert_eq!(
            release_pairs(&list(&["3.4.23", "3.5.16", "3.5.30"])),
            Ok(vec![pair("3.4.23", "3.5.16"), pair("3.5.16", "3.5.30")])
        );
    }

    #[test]
    fn newest_first_is_refused_naming_both() {
        let e = release_pairs(&list(&["3.5.16", "3.4.23"])).unwrap_err();
        assert!(matches!(&e, PairError::NewestFirst { newer, older, .. }
                if newer.name == "3.5.16" && older.name == "3.4.23"));
        let line = e.to_string();
        assert_eq!(
            line,
            "releases go oldest first: 3.5.16 is listed before the older 3.4.23"
        );
        assert!(
            line.contains("3.5.16") && line.contains("3.4.23") && !line.contains('\n'),
            "{line}"
        );
        // Anywhere in the list.
        assert!(release_pairs(&list(&["3.3.25", "3.5.0", "3.4.23"])).is_err());
    }

    #[test]
    fn one_release_pairs_with_itself() {
        assert_eq!(
            release_pairs(&list(&["3.5.0"])),
            Ok(vec![pair("3.5.0", "3.5.0")])
        );
        assert_eq!(release_pairs(&[]), Err(PairError::Empty));
    }

    #[test]
    fn a_local_build_is_ordered_by_its_version() {
        let releases = vec![
            ("3.5.16".to_string(), "3.5.16".parse().unwrap()),
            ("dev".to_string(), "3.6.0-alpha.0".parse().unwrap()),
        ];
        assert_eq!(release_pairs(&releases), Ok(vec![pair("3.5.16", "dev")]));
        let same = list(&["3.5.16", "3.5.16"]);
        assert!(
            release_pairs(&same).is_ok(),
            "equal versions are no downgrade"
        );
    }
}
