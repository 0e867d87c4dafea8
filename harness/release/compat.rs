//! What changed for operators between two releases' flags, computed from the binaries as the
//! 3.5→3.4 downgrade guide says to (`diff <(etcd-3.5 -h | grep -- --) <(etcd-3.4 -h | grep --
//! --)`): flags removed, added, renamed (the `--experimental-` prefix dropped or added), and
//! defaults changed. The help text is the source: it lists every flag as `  --name 'default'`
//! (or `  --name` for a flag without a shown default), under section headings.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use super::{Release, ReleaseError};

/// Flags a help text lists: name → shown default (`None` when none is shown).
pub type HelpFlags = BTreeMap<String, Option<String>>;

/// Parses `etcd --help`: every line that starts with two spaces and `--`.
pub fn parse_help(text: &str) -> HelpFlags {
    text.lines()
        .filter_map(|l| l.strip_prefix("  --"))
        .filter(|rest| !rest.starts_with(' '))
        .map(|rest| {
            let (name, default) = match rest.split_once(' ') {
                Some((n, d)) => (n, Some(d.trim().trim_matches('\'').to_string())),
                None => (rest.trim(), None),
            };
            (format!("--{name}"), default)
        })
        .collect()
}

/// A flag whose default differs between the two releases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultChange {
    pub flag: String,
    pub older: Option<String>,
    pub newer: Option<String>,
}

/// A flag renamed between the releases, with its defaults on each side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rename {
    pub older: String,
    pub newer: String,
    pub older_default: Option<String>,
    pub newer_default: Option<String>,
}

/// The flag changes from an older release to a newer one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlagDiff {
    /// In the older release only (an upgrade must drop them from the configuration).
    pub removed: Vec<String>,
    /// In the newer release only (a downgrade must remove them from the configuration).
    pub added: Vec<String>,
    pub renamed: Vec<Rename>,
    pub defaults_changed: Vec<DefaultChange>,
}

/// The other spelling of a flag: with the `--experimental-` prefix dropped, or added.
fn other_spelling(flag: &str) -> String {
    match flag.strip_prefix("--experimental-") {
        Some(rest) => format!("--{rest}"),
        None => format!("--experimental-{}", &flag[2..]),
    }
}

/// The changes from `older`'s flags to `newer`'s.
pub fn diff(older: &HelpFlags, newer: &HelpFlags) -> FlagDiff {
    let mut d = FlagDiff::default();
    for (flag, default) in older {
        match newer.get(flag) {
            Some(n) if n != default => d.defaults_changed.push(DefaultChange {
                flag: flag.clone(),
                older: default.clone(),
                newer: n.clone(),
            }),
            Some(_) => {}
            None => {
                let other = other_spelling(flag);
                match newer.get(&other) {
                    Some(n) if !older.contains_key(&other) => d.renamed.push(Rename {
                        older: flag.clone(),
                        newer: other,
                        older_default: default.clone(),
                        newer_default: n.clone(),
                    }),
                    _ => d.removed.push(flag.clone()),
                }
            }
        }
    }
    let renamed_to: Vec<&String> = d.renamed.iter().map(|r| &r.newer).collect();
    d.added = newer
        .keys()
        .filter(|f| !older.contains_key(*f) && !renamed_to.contains(f))
        .cloned()
        .collect();
    d
}

/// Why a release's help could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HelpError {
    /// The binary no longer matches its pin: it is not run.
    #[error("{release}: not verified")]
    Unverified {
        release: String,
        #[source]
        source: Box<ReleaseError>,
    },
    #[error("running {binary} --help")]
    Run {
        binary: String,
        #[source]
        source: std::io::Error,
    },
}

/// Runs the release's `etcd --help` once its binary matched its pin (every pinned release
/// prints the text and exits; it reads no input and opens nothing), killed after 10 s.
pub fn help_of(release: &Release) -> Result<HelpFlags, HelpError> {
    release.verify().map_err(|e| HelpError::Unverified {
        release: release.name.clone(),
        source: Box::new(e),
    })?;
    let etcd = release.etcd();
    let out = super::bounded::output(
        Command::new(etcd).arg("--help").env_clear(),
        Duration::from_secs(10),
    )
    .map_err(|source| HelpError::Run {
        binary: etcd.display().to_string(),
        source,
    })?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok(parse_help(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "Member:\n  --name 'default'\n    Human-readable name.\n  --pre-vote 'false'\n    Enable pre-vote.\n  --experimental-backend-bbolt-freelist-type 'array'\n    Freelist.\n  --debug 'false'\n    Debug, with --logger in the text.\n";
    const NEW: &str = "Member:\n  --name 'default'\n    Human-readable name.\n  --pre-vote 'true'\n    Enable pre-vote.\n  --backend-bbolt-freelist-type 'map'\n    Freelist.\n  --experimental-memory-mlock\n    Lock pages.\n";

    #[test]
    fn help_lines_are_flags_with_their_defaults() {
        let f = parse_help(NEW);
        assert_eq!(f.get("--pre-vote"), Some(&Some("true".to_string())));
        assert_eq!(f.get("--experimental-memory-mlock"), Some(&None));
        // Description lines are not flags, even when they mention one.
        assert_eq!(parse_help(OLD).len(), 4);
    }

    #[test]
    fn removed_added_renamed_and_defaults() {
        let d = diff(&parse_help(OLD), &parse_help(NEW));
        assert_eq!(d.removed, ["--debug"]);
        assert_eq!(d.added, ["--experimental-memory-mlock"]);
        assert_eq!(
            d.renamed,
            [Rename {
                older: "--experimental-backend-bbolt-freelist-type".into(),
                newer: "--backend-bbolt-freelist-type".into(),
                older_default: Some("array".into()),
                newer_default: Some("map".into()),
            }]
        );
        assert_eq!(
            d.defaults_changed,
            [DefaultChange {
                flag: "--pre-vote".into(),
                older: Some("false".into()),
                newer: Some("true".into()),
            }]
        );
    }
}
