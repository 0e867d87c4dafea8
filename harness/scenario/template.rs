//! Scenario templates: a procedure written once over a release pair (`{from}`, `{to}`) and
//! instantiated for every pair it applies to, so `validate` can run the guides' procedures on
//! any pair (a pinned release or a local build) instead of the pairs a file happened to name.
//!
//! A template is a scenario file with `#!` directive lines before its first step:
//!
//! ```text
//! #! pair: patch, minor          # the kinds of pair it applies to
//! #! when: to < 3.6, from >= 3.4 # extra conditions on either side's version
//! #! section: downgrade          # which verdict of the report it serves
//! # etcd's e2e TestReleaseUpgrade on {from} → {to}: …
//! cluster {from} {from} {from}
//! upgrade m1 {to}
//! expect-cluster-version {from-minor}
//! ```
//!
//! Kinds: `patch` (same minor, `to` newer), `minor` (`to` is the next minor), `each` (run once
//! on each release of the pair alone, as `{from}` = `{to}`). Placeholders: `{from}`, `{to}`
//! (release names as given), `{from-minor}`, `{to-minor}` (`3.4`). Errors name file and line.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::file::{Scenario, ScenarioError};
use crate::release::Version;

/// The kinds of pair a template applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairKind {
    /// Same `major.minor`, `to` newer: the cluster version does not move.
    Patch,
    /// `to` is the next minor of `from`: the cluster version rises once every member runs it.
    Minor,
    /// One release on its own (membership and maintenance procedures), once per side.
    Each,
}

/// Which verdict of a validation report a template's outcome counts towards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    /// Rolling and whole-cluster upgrades, new members of the newer release joining.
    Upgrade,
    /// Going back while some member still runs the older release (seeds 001, 003).
    Rollback,
    /// Going back after every member runs the newer release: refused across minors as
    /// documented, allowed between patches.
    Downgrade,
    /// The maintenance guide's procedures (seed 004) on each release alone.
    Operations,
}

impl Section {
    pub const ALL: [Section; 4] = [
        Section::Upgrade,
        Section::Rollback,
        Section::Downgrade,
        Section::Operations,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Section::Upgrade => "Upgrade",
            Section::Rollback => "Rollback from a partial upgrade",
            Section::Downgrade => "Downgrade after a full upgrade",
            Section::Operations => "Maintenance procedures on each release",
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Upgrade => "upgrade",
            Section::Rollback => "rollback",
            Section::Downgrade => "downgrade",
            Section::Operations => "operations",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    From,
    To,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Lt,
    Le,
    Ge,
    Gt,
    Eq,
}

/// `to < 3.6`: a bound on one side's version. A bound written `3.6` means `3.6.0`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Condition {
    side: Side,
    cmp: Cmp,
    version: Version,
}

impl Condition {
    fn holds(&self, from: &Version, to: &Version) -> bool {
        let v = match self.side {
            Side::From => from,
            Side::To => to,
        };
        let v = Version::new(v.major, v.minor, v.patch);
        match self.cmp {
            Cmp::Lt => v < self.version,
            Cmp::Le => v <= self.version,
            Cmp::Ge => v >= self.version,
            Cmp::Gt => v > self.version,
            Cmp::Eq => v == self.version,
        }
    }
}

/// A release as a template instantiates it: its name (a pinned version or a `--binary` name)
/// and its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseRef {
    pub name: String,
    pub version: Version,
}

impl ReleaseRef {
    pub fn new(name: impl Into<String>, version: Version) -> Self {
        ReleaseRef {
            name: name.into(),
            version,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Template {
    pub path: PathBuf,
    /// The file name without `.scn`: the stable name reports and shards use.
    pub name: String,
    pub kinds: Vec<PairKind>,
    pub section: Section,
    when: Vec<Condition>,
    /// For a kept finding (`findings/*.scn`): the etcd issue it is, in one line.
    pub finding: Option<String>,
    /// For a kept finding: the releases it is expected to fail on (etcd has the bug there).
    fails_on: Vec<Condition>,
    text: String,
}

/// What kind of pair `from → to` is, if any a template can serve.
pub fn pair_kind(from: &Version, to: &Version) -> Option<PairKind> {
    if from.major != to.major {
        return None;
    }
    if from.minor == to.minor && to > from {
        Some(PairKind::Patch)
    } else if to.minor == from.minor + 1 {
        Some(PairKind::Minor)
    } else {
        None
    }
}

impl Template {
    pub fn load(path: &Path) -> Result<Template, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            path: path.into(),
            line: None,
            message: e.to_string(),
        })?;
        Template::parse(path, &text)
    }

    /// Every `*.scn` under `dir`, sorted by name.
    pub fn load_dir(dir: &Path) -> Result<Vec<Template>, ScenarioError> {
        let entries = std::fs::read_dir(dir).map_err(|e| ScenarioError {
            path: dir.into(),
            line: None,
            message: e.to_string(),
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "scn"))
            .collect();
        paths.sort();
        paths.iter().map(|p| Template::load(p)).collect()
    }

    pub fn parse(path: &Path, text: &str) -> Result<Template, ScenarioError> {
        let err = |line: usize, message: String| ScenarioError {
            path: path.into(),
            line: Some(line),
            message,
        };
        let mut kinds = None;
        let mut section = None;
        let mut when = Vec::new();
        let mut finding = None;
        let mut fails_on = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = n + 1;
            let Some(directive) = raw.trim().strip_prefix("#!") else {
                continue;
            };
            let (key, whole) = directive
                .split_once(':')
                .ok_or_else(|| err(line, format!("`#!{directive}`: expected `#! KEY: VALUE`")))?;
            // A trailing `# …` is a comment, except in a finding's text (`PR #21737`).
            let value = whole.split(" #").next().unwrap_or_default();
            match key.trim() {
                "pair" => kinds = Some(pair_kinds(value).map_err(|m| err(line, m))?),
                "section" => section = Some(section_of(value).map_err(|m| err(line, m))?),
                "when" | "fails-on" => {
                    let list = if key.trim() == "when" {
                        &mut when
                    } else {
                        &mut fails_on
                    };
                    for c in value.split(',') {
                        list.push(parse_condition(c.trim()).map_err(|m| err(line, m))?);
                    }
                }
                "finding" => finding = Some(whole.trim().to_string()),
                other => {
                    return Err(err(
                        line,
                        format!(
                            "directive {other:?}: expected pair, when, section, finding or fails-on"
                        ),
                    ))
                }
            }
        }
        let missing = |what: &str| ScenarioError {
            path: path.into(),
            line: None,
            message: format!("a template needs a `#! {what}:` line"),
        };
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let t = Template {
            path: path.into(),
            name,
            kinds: kinds.ok_or_else(|| missing("pair"))?,
            section: section.ok_or_else(|| missing("section"))?,
            when,
            finding,
            fails_on,
            text: text.into(),
        };
        // Placeholders are checked now, on a made-up pair, so a typo fails at load and not
        // only for the pairs that happen to instantiate it.
        for (n, raw) in text.lines().enumerate() {
            if let Err(m) = substitute(raw, &example(), &example()) {
                return Err(err(n + 1, m));
            }
        }
        Ok(t)
    }

    /// Whether the template serves `from → to`; `Each` templates are asked per release.
    pub fn applies(&self, from: &Version, to: &Version) -> bool {
        let kind = pair_kind(from, to);
        kind.is_some_and(|k| self.kinds.contains(&k)) && self.when.iter().all(|c| c.holds(from, to))
    }

    /// Whether a kept finding is expected to fail on `release` (its `fails-on` conditions).
    pub fn expected_to_fail(&self, release: &Version) -> bool {
        self.finding.is_some() && self.fails_on.iter().all(|c| c.holds(release, release))
    }

    /// Whether an `each` template serves `release` alone.
    pub fn applies_alone(&self, release: &Version) -> bool {
        self.kinds.contains(&PairKind::Each) && self.when.iter().all(|c| c.holds(release, release))
    }

    /// The scenario for `from → to`, validated like a scenario file (errors name the template
    /// and line).
    pub fn instantiate(
        &self,
        from: &ReleaseRef,
        to: &ReleaseRef,
        known_releases: &[String],
    ) -> Result<Scenario, ScenarioError> {
        let mut text = String::new();
        for (n, raw) in self.text.lines().enumerate() {
            let line = substitute(raw, from, to).map_err(|message| ScenarioError {
                path: self.path.clone(),
                line: Some(n + 1),
                message,
            })?;
            // Directive lines stay out of the title (they are comments to the scenario parser).
            if raw.trim_start().starts_with("#!") {
                text.push('\n');
            } else {
                text.push_str(&line);
                text.push('\n');
            }
        }
        let mut s = Scenario::parse(&self.path, text.trim_start_matches('\n'), known_releases)?;
        // The leading blank lines trimmed above shift line numbers; put them back.
        let shift = text.len() - text.trim_start_matches('\n').len();
        for step in &mut s.steps {
            step.line += shift;
        }
        s.title = format!("{} [{} → {}]", s.title, from.name, to.name);
        Ok(s)
    }

    /// The name of one instance: `e2e-release-upgrade 3.4.23→3.5.16`, or with one release for
    /// an `each` template.
    pub fn instance_name(&self, from: &str, to: &str) -> String {
        if from == to {
            format!("{} {from}", self.name)
        } else {
            format!("{} {from}→{to}", self.name)
        }
    }
}

/// One template instantiated for the pair or one release of it.
#[derive(Clone, Debug)]
pub struct Instance {
    /// `e2e-release-upgrade 3.4.23→3.5.16`: unique within a validation, stable across runs
    /// (shards split on it).
    pub name: String,
    pub section: Section,
    /// The releases it runs on (one release twice for an `each` template).
    pub from: String,
    pub to: String,
    pub scenario: Scenario,
}

/// Every instance of `templates` that serves `from → to`: pair templates on the pair, `each`
/// templates on `from` and then on `to` alone.
pub fn instances(
    templates: &[Template],
    from: &ReleaseRef,
    to: &ReleaseRef,
    known_releases: &[String],
) -> Result<Vec<Instance>, ScenarioError> {
    let mut out = Vec::new();
    for t in templates {
        if t.applies(&from.version, &to.version) {
            out.push(Instance {
                name: t.instance_name(&from.name, &to.name),
                section: t.section,
                from: from.name.clone(),
                to: to.name.clone(),
                scenario: t.instantiate(from, to, known_releases)?,
            });
        }
    }
    let alone: Vec<&ReleaseRef> = if from == to {
        vec![from]
    } else {
        vec![from, to]
    };
    for r in alone {
        for t in templates {
            if t.applies_alone(&r.version) {
                out.push(Instance {
                    name: t.instance_name(&r.name, &r.name),
                    section: t.section,
                    from: r.name.clone(),
                    to: r.name.clone(),
                    scenario: t.instantiate(r, r, known_releases)?,
                });
            }
        }
    }
    Ok(out)
}

fn example() -> ReleaseRef {
    ReleaseRef::new("X", Version::new(3, 5, 0))
}

/// `line` with its placeholders filled in. In the step an unknown `{…}` is an error (a typo
/// must not reach etcd); in a comment it is text (`RaftAttributes{PeerURLs}`) and stays.
fn substitute(line: &str, from: &ReleaseRef, to: &ReleaseRef) -> Result<String, String> {
    let code = super::file::strip_comment(line);
    let comment = &line[code.len()..];
    Ok(format!(
        "{}{}",
        fill(code, from, to, true)?,
        fill(comment, from, to, false)?
    ))
}

fn fill(line: &str, from: &ReleaseRef, to: &ReleaseRef, strict: bool) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            if strict {
                return Err(format!("unclosed `{{` in {line:?}"));
            }
            break;
        };
        let key = &rest[start + 1..start + end];
        let minor = |v: &Version| format!("{}.{}", v.major, v.minor);
        out.push_str(&match key {
            "from" => from.name.clone(),
            "to" => to.name.clone(),
            "from-minor" => minor(&from.version),
            "to-minor" => minor(&to.version),
            other if !strict => format!("{{{other}}}"),
            other => {
                return Err(format!(
                    "placeholder {{{other}}}: expected {{from}}, {{to}}, {{from-minor}} or {{to-minor}}"
                ))
            }
        });
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn parse_condition(text: &str) -> Result<Condition, String> {
    let bad = || format!("condition {text:?}: expected like `to < 3.6` or `from >= 3.5.14`");
    let mut words = text.split_whitespace();
    let (Some(side), Some(cmp), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(bad());
    };
    let side = match side {
        "from" => Side::From,
        "to" => Side::To,
        _ => return Err(bad()),
    };
    let cmp = match cmp {
        "<" => Cmp::Lt,
        "<=" => Cmp::Le,
        ">=" => Cmp::Ge,
        ">" => Cmp::Gt,
        "==" => Cmp::Eq,
        _ => return Err(bad()),
    };
    let full = match version.matches('.').count() {
        1 => format!("{version}.0"),
        _ => version.to_string(),
    };
    let version: Version = full.parse().map_err(|_| bad())?;
    Ok(Condition { side, cmp, version })
}

/// A `#! pair:` directive's kinds.
fn pair_kinds(value: &str) -> Result<Vec<PairKind>, String> {
    value
        .split(',')
        .map(|k| match k.trim() {
            "patch" => Ok(PairKind::Patch),
            "minor" => Ok(PairKind::Minor),
            "each" => Ok(PairKind::Each),
            other => Err(format!(
                "pair kind {other:?}: expected patch, minor or each"
            )),
        })
        .collect()
}

/// A `#! section:` directive's section.
fn section_of(value: &str) -> Result<Section, String> {
    match value.trim() {
        "upgrade" => Ok(Section::Upgrade),
        "rollback" => Ok(Section::Rollback),
        "downgrade" => Ok(Section::Downgrade),
        "operations" => Ok(Section::Operations),
        other => Err(format!(
            "section {other:?}: expected upgrade, rollback, downgrade or operations"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    fn t(text: &str) -> Result<Template, String> {
        Template::parse(Path::new("t.scn"), text).map_err(|e| e.to_string())
    }

    const UPGRADE: &str = "#! pair: patch, minor\n#! section: upgrade\n# Upgrade {from} to {to}\ncluster {from} {from}\nupgrade m1 {to}\nexpect-cluster-version {from-minor}\n";

    #[test]
    fn kinds_of_pairs() {
        assert_eq!(pair_kind(&v("3.5.16"), &v("3.5.30")), Some(PairKind::Patch));
        assert_eq!(pair_kind(&v("3.4.23"), &v("3.5.16")), Some(PairKind::Minor));
        assert_eq!(pair_kind(&v("3.3.25"), &v("3.5.16")), None);
        assert_eq!(pair_kind(&v("3.5.30"), &v("3.5.16")), None);
        assert_eq!(pair_kind(&v("3.5.16"), &v("3.5.16")), None);
    }

    #[test]
    fn instantiates_a_pair_with_line_numbers_of_the_template() {
        let tpl = t(UPGRADE).unwrap();
        let known = vec!["3.4.23".to_string(), "3.5.16".into()];
        let s = tpl
            .instantiate(
                &ReleaseRef::new("3.4.23", v("3.4.23")),
                &ReleaseRef::new("3.5.16", v("3.5.16")),
                &known,
            )
            .unwrap();
        assert_eq!(s.title, "Upgrade 3.4.23 to 3.5.16 [3.4.23 → 3.5.16]");
        assert_eq!(s.steps[0].line, 4);
        assert_eq!(s.steps[1].op.to_string(), "upgrade m1 3.5.16");
        assert_eq!(s.steps[2].op.to_string(), "expect-cluster-version 3.4");
    }

    #[test]
    fn conditions_select_pairs() {
        let tpl = t(&format!("#! when: to < 3.6, from >= 3.4\n{UPGRADE}")).unwrap();
        assert!(tpl.applies(&v("3.4.23"), &v("3.5.16")));
        assert!(tpl.applies(&v("3.5.16"), &v("3.5.30")));
        assert!(!tpl.applies(&v("3.3.25"), &v("3.4.23")));
        assert!(!tpl.applies(&v("3.5.30"), &v("3.6.0")));
        assert!(!tpl.applies_alone(&v("3.5.16")), "not an `each` template");
        let each =
            t("#! pair: each\n#! section: operations\n#! when: from >= 3.5\ncluster {from}\n")
                .unwrap();
        assert!(each.applies_alone(&v("3.5.0")));
        assert!(!each.applies_alone(&v("3.4.23")));
        assert!(!each.applies(&v("3.5.0"), &v("3.5.1")));
    }

    #[test]
    fn a_kept_finding_says_where_it_fails() {
        let f = t("#! pair: each\n#! section: operations\n#! when: from >= 3.4\n#! finding: etcd-io/etcd#21694 (fixed by PR #21737)\n#! fails-on: from < 3.5.31\ncluster {from}\n").unwrap();
        assert_eq!(
            f.finding.as_deref(),
            Some("etcd-io/etcd#21694 (fixed by PR #21737)")
        );
        assert!(f.expected_to_fail(&v("3.5.30")));
        assert!(!f.expected_to_fail(&v("3.5.31")));
        assert!(f.applies_alone(&v("3.5.31")) && !f.applies_alone(&v("3.3.25")));
        assert!(
            !t(UPGRADE).unwrap().expected_to_fail(&v("3.5.0")),
            "not a finding"
        );
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            t("#! pair: major\n").unwrap_err(),
            "t.scn:1: pair kind \"major\": expected patch, minor or each"
        );
        assert_eq!(
            t("#! pair: patch\n#! section: upgrade\ncluster {form}\n").unwrap_err(),
            "t.scn:3: placeholder {form}: expected {from}, {to}, {from-minor} or {to-minor}"
        );
        // In a comment braces are text.
        assert!(t("#! pair: patch\n#! section: upgrade\n# RaftAttributes{PeerURLs} {\ncluster {from} # {x}\n").is_ok());
        assert_eq!(
            t("#! pair: patch\n#! section: upgrade\n#! when: to ~ 3\n").unwrap_err(),
            "t.scn:3: condition \"to ~ 3\": expected like `to < 3.6` or `from >= 3.5.14`"
        );
        assert_eq!(
            t("#! section: upgrade\ncluster {from}\n").unwrap_err(),
            "t.scn: a template needs a `#! pair:` line"
        );
    }
}
