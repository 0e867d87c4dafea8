//! The scenario file format: one operation per line, `#` comments, blank lines ignored. A file
//! reads like the guide it follows:
//!
//! ```text
//! # 3.4 → 3.5 rolling upgrade
//! cluster 3.4.23 3.4.23 3.4.23
//! put before-upgrade yes
//! snapshot-save backup from leader
//! upgrade m1 3.5.16          # moves leadership away first if m1 leads
//! expect-cluster-version 3.4
//! ```
//!
//! Parsing validates everything that can be known before running: verbs and arguments, that
//! the first step is `cluster`, that releases are pinned, that named members exist at that
//! point (`member-add` names the member it adds). Errors name the file and line.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::ops::op::{parse_line, Op, Target};

#[derive(Clone, Debug)]
pub struct Step {
    pub line: usize,
    pub op: Op,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub path: PathBuf,
    /// The file's leading comment block: what procedure it follows.
    pub title: String,
    pub steps: Vec<Step>,
}

/// A scenario file that does not parse or validate; `Display` is one line naming file and line.
#[derive(Debug, thiserror::Error)]
#[error("{}:{line}: {message}", path.display())]
pub struct ScenarioError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

impl Scenario {
    pub fn load(path: &Path, known_releases: &[String]) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            path: path.into(),
            line: 0,
            message: e.to_string(),
        })?;
        Scenario::parse(path, &text, known_releases)
    }

    pub fn parse(
        path: &Path,
        text: &str,
        known_releases: &[String],
    ) -> Result<Scenario, ScenarioError> {
        let err = |line: usize, message: String| ScenarioError {
            path: path.into(),
            line,
            message,
        };
        let title = text
            .lines()
            .take_while(|l| l.trim_start().starts_with('#'))
            .map(|l| l.trim_start().trim_start_matches('#').trim())
            .collect::<Vec<_>>()
            .join(" ");
        let mut steps = Vec::new();
        let mut members: BTreeSet<String> = BTreeSet::new();
        let mut next = 1;
        for (n, raw) in text.lines().enumerate() {
            let line = n + 1;
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let op = parse_line(content).map_err(|m| err(line, m))?;
            let release_ok = |r: &String| {
                if known_releases.contains(r) {
                    Ok(())
                } else {
                    Err(err(
                        line,
                        format!(
                            "release {r} is not pinned in binaries.lock (pinned: {})",
                            known_releases.join(", ")
                        ),
                    ))
                }
            };
            match (&op, steps.is_empty()) {
                (Op::Cluster { .. }, false) => {
                    return Err(err(line, "`cluster` may only be the first step".into()))
                }
                (Op::Cluster { .. }, true) => {}
                (_, true) => {
                    return Err(err(
                        line,
                        "the first step must be `cluster RELEASE…`".into(),
                    ))
                }
                _ => {}
            }
            let check_target = |t: &Target| match t {
                Target::Named(name) if !members.contains(name) => Err(err(
                    line,
                    format!(
                        "no member {name} at this point (members: {})",
                        members.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )),
                _ => Ok(()),
            };
            match &op {
                Op::Cluster { releases, .. } => {
                    for r in releases {
                        release_ok(r)?;
                    }
                    for _ in releases {
                        members.insert(format!("m{next}"));
                        next += 1;
                    }
                }
                Op::Put { via: Some(t), .. } => check_target(t)?,
                Op::Stop { member }
                | Op::Kill { member }
                | Op::Pause { member }
                | Op::Resume { member }
                | Op::MoveLeaderAway { member }
                | Op::MemberMigrate { member }
                | Op::CopyBackend { member, .. } => check_target(member)?,
                Op::SnapshotSave { from, .. } => check_target(from)?,
                Op::Partition { member, .. } | Op::Slow { member, .. } => check_target(member)?,
                Op::DropLink { from, to, .. } => {
                    check_target(from)?;
                    check_target(to)?;
                }
                Op::Start {
                    member, release, ..
                } => {
                    check_target(member)?;
                    if let Some(r) = release {
                        release_ok(r)?;
                    }
                }
                Op::Upgrade { member, release } => {
                    check_target(member)?;
                    release_ok(release)?;
                }
                Op::MemberAdd {
                    name, release, via, ..
                } => {
                    if let Some(t) = via {
                        check_target(t)?;
                    }
                    release_ok(release)?;
                    // A refused add may be retried under the same name, so no duplicate check.
                    members.insert(name.clone());
                }
                Op::MemberRemove { member } => {
                    check_target(member)?;
                    if let Target::Named(n) = member {
                        members.remove(n);
                    }
                }
                _ => {}
            }
            steps.push(Step { line, op });
        }
        if steps.is_empty() {
            return Err(err(0, "no steps".into()));
        }
        Ok(Scenario {
            path: path.into(),
            title,
            steps,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<String> {
        vec!["3.4.23".into(), "3.5.16".into()]
    }

    fn parse(text: &str) -> Result<Scenario, String> {
        Scenario::parse(Path::new("s.scn"), text, &known()).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_a_procedure() {
        let s = parse("# Upgrade\n# one at a time\ncluster 3.4.23 3.4.23 3.4.23\n\nupgrade m1 3.5.16 # first\nmember-add m4 3.5.16\nstop m4\n").unwrap();
        assert_eq!(s.title, "Upgrade one at a time");
        assert_eq!(s.steps.len(), 4);
        assert_eq!(s.steps[1].line, 5);
    }

    #[test]
    fn errors_name_file_and_line() {
        assert_eq!(
            parse("cluster 3.4.23\nstop m2\n").unwrap_err(),
            "s.scn:2: no member m2 at this point (members: m1)"
        );
        assert!(parse("cluster 3.4.99\n")
            .unwrap_err()
            .starts_with("s.scn:1: release 3.4.99 is not pinned"));
        assert!(parse("put k v\n")
            .unwrap_err()
            .starts_with("s.scn:1: the first step must be"));
        assert!(parse("cluster 3.4.23\nfrobnicate\n")
            .unwrap_err()
            .starts_with("s.scn:2: unknown step"));
        assert_eq!(
            parse("cluster 3.4.23 3.4.23\nmember-remove m2\nstop m2\n").unwrap_err(),
            "s.scn:3: no member m2 at this point (members: m1)"
        );
    }
}
