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

/// A line without its comment: `#` starts one outside double quotes (so `expect-log m1
/// "a # b"` keeps its text).
pub(crate) fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

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
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ScenarioError {
    pub path: PathBuf,
    /// The line at fault; `None` when the whole file is (missing, unreadable, empty).
    pub line: Option<usize>,
    pub message: String,
}

impl Scenario {
    pub fn load(path: &Path, known_releases: &[String]) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            path: path.into(),
            line: None,
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
            line: (line > 0).then_some(line),
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
        for (n, raw) in text.lines().enumerate() {
            let line = n + 1;
            let content = strip_comment(raw).trim();
            if content.is_empty() {
                continue;
            }
            let op = parse_line(content).map_err(|m| err(line, m))?;
            let refs = op.refs();
            match (refs.bootstraps, steps.is_empty()) {
                (true, false) => {
                    return Err(err(line, "`cluster` may only be the first step".into()))
                }
                (false, true) => {
                    return Err(err(
                        line,
                        "the first step must be `cluster RELEASE…`".into(),
                    ))
                }
                _ => {}
            }
            for r in &refs.releases {
                if !known_releases.iter().any(|k| k == r) {
                    return Err(err(
                        line,
                        format!(
                            "release {r} is not pinned in binaries.lock (pinned: {})",
                            known_releases.join(", ")
                        ),
                    ));
                }
            }
            for t in &refs.members {
                if let Target::Named(name) = t {
                    if !members.contains(name) {
                        return Err(err(
                            line,
                            format!(
                                "no member {name} at this point (members: {})",
                                members.iter().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        ));
                    }
                }
            }
            members.extend(refs.adds);
            if let Some(Target::Named(n)) = refs.removes {
                members.remove(n);
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
        assert_eq!(
            parse("cluster 3.4.23\nlearner-add m2 3.4.23\nlearner-promote m3\n").unwrap_err(),
            "s.scn:3: no member m3 at this point (members: m1, m2)"
        );
        assert!(parse("cluster 3.4.23\ndefrag m9\n")
            .unwrap_err()
            .starts_with("s.scn:2: no member m9"));
        assert!(parse("cluster 3.4.23\nexpect-log m1 \"x\" within soon\n")
            .unwrap_err()
            .starts_with("s.scn:2: `expect-log`"));
        assert!(parse("cluster 3.4.23\nstart m1 3.9.9\n")
            .unwrap_err()
            .starts_with("s.scn:2: release 3.9.9 is not pinned"));
    }

    #[test]
    fn a_missing_file_names_no_line() {
        let e = Scenario::load(Path::new("missing.scn"), &known()).unwrap_err();
        assert!(e.to_string().starts_with("missing.scn: "), "{e}");
    }

    #[test]
    fn hash_inside_quotes_is_text() {
        let s = parse("cluster 3.4.23\nexpect-log m1 \"a # b\" # comment\n").unwrap();
        assert_eq!(s.steps[1].op.to_string(), "expect-log m1 \"a # b\"");
    }
}
