//! A validation's results and the verdicts drawn from them. The JSON form of [`Report`] is
//! what tools read and what `merge` joins across shards; every rendering (Markdown, HTML,
//! JUnit) is drawn from the same verdicts, so no format can call "safe" what another calls
//! "not run".

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::surface::SurfaceDiff;
use crate::explore::{FailRate, Shard};
use crate::scenario::Section;

/// How one unit of work ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Outcome {
    Passed,
    Failed {
        reason: String,
    },
    /// Not run, and why (budget spent, another shard's, not asked).
    NotRun {
        reason: String,
    },
}

impl Outcome {
    pub fn failed(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }
    pub fn ran(&self) -> bool {
        !matches!(self, Outcome::NotRun { .. })
    }
}

/// A release as the report names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    pub name: String,
    pub version: String,
    /// Where its binaries came from (a lock source, or `local PATH`).
    pub source: String,
}

/// One scenario template instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub name: String,
    pub section: Section,
    pub title: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub seconds: f64,
    pub steps_run: usize,
    /// The failing step as `line N: op`, with the template's line numbers.
    pub failed_step: Option<String>,
    /// Member logs and data dirs kept from a failed run.
    pub artifacts: Option<String>,
    /// The command that runs this instance alone.
    pub reproduce: String,
}

/// A failure an exploration found and shrunk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExploreFinding {
    pub reason: String,
    pub config: String,
    pub steps: Vec<String>,
    pub rate: FailRate,
    pub replay: String,
    pub reproduce: String,
    pub artifacts: Option<String>,
    /// The failing run's timeline picture (SVG text), inlined into the HTML report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline_svg: Option<String>,
}

/// One exploration target: the pair, or one release alone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExplorationResult {
    /// `3.4.23→3.5.16` or `3.4.23 alone`.
    pub target: String,
    pub older: String,
    pub newer: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub seed: u64,
    /// Indices (in draw order) of the cases run: what this shard covered.
    pub cases: Vec<u32>,
    pub shrink_runs: u32,
    pub operations: usize,
    pub requests: usize,
    pub configs: Vec<String>,
    pub seconds: f64,
    pub finding: Option<ExploreFinding>,
    /// Cases that passed with checks left open (undecided reads, inconclusive keys).
    #[serde(default)]
    pub left_open: u32,
}

/// What `findings/` records about a kept finding on one release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "recorded", rename_all = "kebab-case")]
pub enum Recorded {
    FailsOn {
        rate: FailRate,
    },
    PassesOn {
        rate: FailRate,
    },
    /// The release is in neither list (a local build, a newly pinned release).
    Unknown,
    /// A kept scenario (deterministic): its `fails-on` conditions say whether etcd has the bug
    /// on this release.
    Predicted {
        fails: bool,
    },
}

/// A kept finding checked against one release of the pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KnownBugResult {
    pub file: String,
    pub release: String,
    pub summary: String,
    pub etcd_issue: String,
    #[serde(flatten)]
    pub recorded: Recorded,
    /// Failed = reproduced this run.
    pub outcome: Outcome,
    pub runs: FailRate,
    pub reproduce: String,
}

impl KnownBugResult {
    /// Whether the release has this bug: recorded as failing there, or reproduced now.
    pub fn affects(&self) -> bool {
        matches!(
            self.recorded,
            Recorded::FailsOn { .. } | Recorded::Predicted { fails: true }
        ) || self.outcome.failed()
    }
}

/// Flag changes as the report lists them (from `release::compat`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagChanges {
    pub removed: Vec<String>,
    pub added: Vec<String>,
    /// `--old → --new`.
    pub renamed: Vec<String>,
    /// `--flag: 'old' → 'new'`.
    pub defaults_changed: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompatResult {
    pub flags: Option<FlagChanges>,
    pub surface: Option<SurfaceDiff>,
    /// What could not be read, in one line each.
    pub errors: Vec<String>,
}

/// The catch-up benchmark at one v2 size (`--catch-up MB`): how long the upgraded member took,
/// against the same restart on the older release.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatchUpResult {
    pub mb: u32,
    pub outcome: Outcome,
    /// (case, seconds) per sample: `upgrade` and `baseline`.
    pub samples: Vec<(String, f64)>,
    /// The plot (SVG text), inlined into the HTML report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plot_svg: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub from: Side,
    pub to: Side,
    pub budget_secs: u64,
    pub elapsed_secs: f64,
    /// The shards this report covers (one, or several once merged); empty: unsharded.
    #[serde(default)]
    pub shards: Vec<Shard>,
    pub scenarios: Vec<ScenarioResult>,
    pub explorations: Vec<ExplorationResult>,
    pub known_bugs: Vec<KnownBugResult>,
    /// Whether kept findings were part of the run (`--only` may leave them out).
    #[serde(default = "yes")]
    pub known_bugs_checked: bool,
    /// `None`: not run (another shard's, or not asked).
    pub compat: Option<CompatResult>,
    /// Only when asked (`--catch-up MB`).
    #[serde(default)]
    pub catch_up: Option<CatchUpResult>,
    /// Work the harness could not do (exit status 2): a release that would not start, …
    pub harness_errors: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A section's (or the whole report's) verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Everything of the section ran and passed.
    Safe,
    /// Something failed: see its evidence.
    Findings,
    /// Some of it ran and passed, some did not run: no verdict on the rest.
    Incomplete,
    NotRun,
    /// Informational (compatibility changes): nothing to pass or fail.
    Info,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Safe => "safe",
            Verdict::Findings => "FINDINGS",
            Verdict::Incomplete => "incomplete",
            Verdict::NotRun => "not run",
            Verdict::Info => "changes listed",
        })
    }
}

/// One section of the report with its verdict and a one-line summary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SectionVerdict {
    pub key: String,
    pub title: String,
    pub verdict: Verdict,
    pub summary: String,
}

/// The verdict of a set of outcomes: failed if any failed, safe if all ran, else how much ran.
fn verdict_of<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> (Verdict, String) {
    let (mut passed, mut failed, mut not_run) = (0, 0, 0);
    for o in outcomes {
        match o {
            Outcome::Passed => passed += 1,
            Outcome::Failed { .. } => failed += 1,
            Outcome::NotRun { .. } => not_run += 1,
        }
    }
    let summary = format!("{passed} passed, {failed} failed, {not_run} not run");
    let v = if failed > 0 {
        Verdict::Findings
    } else if passed + failed == 0 {
        Verdict::NotRun
    } else if not_run > 0 {
        Verdict::Incomplete
    } else {
        Verdict::Safe
    };
    (v, summary)
}

impl Report {
    /// Every section in report order, with its verdict.
    pub fn sections(&self) -> Vec<SectionVerdict> {
        let mut out = Vec::new();
        self.procedure_sections(&mut out);
        self.guarantees_section(&mut out);
        self.known_bugs_section(&mut out);
        self.compatibility_section(&mut out);
        self.catch_up_section(&mut out);
        out
    }

    /// Upgrade, rollback, downgrade, operations: from the scenario outcomes.
    fn procedure_sections(&self, out: &mut Vec<SectionVerdict>) {
        for section in Section::ALL {
            let outcomes: Vec<&Outcome> = self
                .scenarios
                .iter()
                .filter(|s| s.section == section)
                .map(|s| &s.outcome)
                .collect();
            let (verdict, summary) = if outcomes.is_empty() {
                (
                    Verdict::NotRun,
                    "no procedure applies to this pair".to_string(),
                )
            } else {
                let (v, s) = verdict_of(outcomes.iter().copied());
                (v, format!("scenarios: {s}"))
            };
            out.push(SectionVerdict {
                key: section.to_string(),
                title: section.title().into(),
                verdict,
                summary,
            });
        }
    }

    fn guarantees_section(&self, out: &mut Vec<SectionVerdict>) {
        let (verdict, summary) = verdict_of(self.explorations.iter().map(|e| &e.outcome));
        let cases: usize = self.explorations.iter().map(|e| e.cases.len()).sum();
        let requests: usize = self.explorations.iter().map(|e| e.requests).sum();
        let open: u32 = self.explorations.iter().map(|e| e.left_open).sum();
        let open = match open {
            0 => String::new(),
            n => format!(" ({n} passed with checks left open: undecided or inconclusive)"),
        };
        out.push(SectionVerdict {
            key: "guarantees".into(),
            title: "Data and watch guarantees under faults".into(),
            verdict,
            summary: format!("explorations: {summary}; {cases} cases{open}, {requests} requests"),
        });
    }

    /// A release recorded (or predicted) as failing is a finding, even when not run now.
    fn known_bugs_section(&self, out: &mut Vec<SectionVerdict>) {
        let affected = self.known_bugs.iter().filter(|k| k.affects()).count();
        let reproduced = self
            .known_bugs
            .iter()
            .filter(|k| k.outcome.failed())
            .count();
        let skipped = self
            .known_bugs
            .iter()
            .filter(|k| matches!(k.recorded, Recorded::Unknown) && !k.outcome.ran())
            .count();
        let verdict = if !self.known_bugs_checked {
            Verdict::NotRun
        } else if affected > 0 {
            Verdict::Findings
        } else if skipped > 0 {
            Verdict::Incomplete
        } else {
            Verdict::Safe
        };
        out.push(SectionVerdict {
            key: "known-bugs".into(),
            title: "Known etcd bugs of either release".into(),
            verdict,
            summary: if !self.known_bugs_checked {
                "not asked".into()
            } else if self.known_bugs.is_empty() {
                "no kept finding concerns either release".into()
            } else {
                format!(
                    "{affected} of {} kept findings affect these releases, {reproduced} reproduced this run",
                    self.known_bugs.len()
                )
            },
        });
    }

    fn compatibility_section(&self, out: &mut Vec<SectionVerdict>) {
        let (verdict, summary) = match &self.compat {
            None => (Verdict::NotRun, "not run".to_string()),
            Some(c) => {
                let flags = c.flags.as_ref().map_or("flags: not read".into(), |f| {
                    format!(
                        "flags: {} removed, {} added, {} renamed, {} defaults changed",
                        f.removed.len(),
                        f.added.len(),
                        f.renamed.len(),
                        f.defaults_changed.len()
                    )
                });
                let surface = c.surface.as_ref().map_or("metrics: not read".into(), |s| {
                    format!(
                        "metrics: {} removed, {} added; endpoints: {} answer differently",
                        s.metrics_removed.len(),
                        s.metrics_added.len(),
                        s.answers_changed.len()
                    )
                });
                let v = if c.errors.is_empty() {
                    Verdict::Info
                } else {
                    Verdict::Incomplete
                };
                (v, format!("{flags}; {surface}"))
            }
        };
        out.push(SectionVerdict {
            key: "compatibility".into(),
            title: "Compatibility changes for operators".into(),
            verdict,
            summary,
        });
    }

    fn catch_up_section(&self, out: &mut Vec<SectionVerdict>) {
        if let Some(c) = &self.catch_up {
            let shown: Vec<String> = c
                .samples
                .iter()
                .map(|(case, secs)| format!("{case} {secs:.2} s"))
                .collect();
            out.push(SectionVerdict {
                key: "catch-up".into(),
                title: format!("Catch-up of an upgraded member on {} MB of v2 data", c.mb),
                verdict: match &c.outcome {
                    Outcome::Passed => Verdict::Info,
                    Outcome::Failed { .. } => Verdict::Findings,
                    Outcome::NotRun { .. } => Verdict::NotRun,
                },
                summary: match &c.outcome {
                    Outcome::Passed => shown.join(", "),
                    other => format!("{other:?}"),
                },
            });
        }
    }

    /// The whole report's verdict: findings if any section has some, safe only if every
    /// section ran completely.
    pub fn verdict(&self) -> Verdict {
        let sections = self.sections();
        if sections.iter().any(|s| s.verdict == Verdict::Findings) {
            Verdict::Findings
        } else if sections
            .iter()
            .all(|s| matches!(s.verdict, Verdict::Safe | Verdict::Info))
        {
            Verdict::Safe
        } else {
            Verdict::Incomplete
        }
    }

    /// 0 no findings, 1 findings, 2 the harness could not do its work.
    pub fn exit_code(&self) -> i32 {
        if !self.harness_errors.is_empty() {
            2
        } else if self.verdict() == Verdict::Findings {
            1
        } else {
            0
        }
    }

    /// The verdict line a terminal shows last.
    pub fn headline(&self) -> String {
        let pair = format!("{} → {}", self.from.name, self.to.name);
        match self.verdict() {
            Verdict::Findings => {
                let with: Vec<String> = self
                    .sections()
                    .into_iter()
                    .filter(|s| s.verdict == Verdict::Findings)
                    .map(|s| s.key)
                    .collect();
                format!("{pair}: FINDINGS in {}", with.join(", "))
            }
            Verdict::Safe => format!("{pair}: safe in everything checked"),
            _ => {
                let open: Vec<String> = self
                    .sections()
                    .into_iter()
                    .filter(|s| matches!(s.verdict, Verdict::NotRun | Verdict::Incomplete))
                    .map(|s| format!("{} ({})", s.key, s.verdict))
                    .collect();
                format!(
                    "{pair}: no findings, but not everything was checked: {}",
                    open.join(", ")
                )
            }
        }
    }
}

/// Reports that cannot be merged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MergeError {
    #[error("no reports to merge")]
    Empty,
    #[error("{what}: one report validates {a}, another {b}")]
    Differ {
        what: &'static str,
        a: String,
        b: String,
    },
    #[error("shard {0} appears in two reports")]
    ShardTwice(Shard),
}

/// One unit's results from several shards: the run one wins over "another shard's".
fn pick<T: Clone>(items: Vec<T>, key: impl Fn(&T) -> String, ran: impl Fn(&T) -> bool) -> Vec<T> {
    let mut by: BTreeMap<String, T> = BTreeMap::new();
    let mut order = Vec::new();
    for item in items {
        let k = key(&item);
        match by.get(&k) {
            Some(old) if ran(old) => {}
            Some(_) => {
                by.insert(k, item);
            }
            None => {
                order.push(k.clone());
                by.insert(k, item);
            }
        }
    }
    order.into_iter().filter_map(|k| by.remove(&k)).collect()
}

/// Joins shard reports of one validation into one report.
pub fn merge(reports: Vec<Report>) -> Result<Report, MergeError> {
    let first = reports.first().ok_or(MergeError::Empty)?.clone();
    let mut shards = Vec::new();
    for r in &reports {
        for (what, a, b) in [
            ("from", &first.from.name, &r.from.name),
            ("to", &first.to.name, &r.to.name),
        ] {
            if a != b {
                return Err(MergeError::Differ {
                    what,
                    a: a.clone(),
                    b: b.clone(),
                });
            }
        }
        for s in &r.shards {
            if shards.contains(s) {
                return Err(MergeError::ShardTwice(*s));
            }
            shards.push(*s);
        }
    }
    shards.sort_by_key(|s| s.index);
    let scenarios = pick(
        reports.iter().flat_map(|r| r.scenarios.clone()).collect(),
        |s: &ScenarioResult| s.name.clone(),
        |s| s.outcome.ran(),
    );
    let known_bugs = pick(
        reports.iter().flat_map(|r| r.known_bugs.clone()).collect(),
        |k: &KnownBugResult| format!("{} {}", k.file, k.release),
        |k| k.outcome.ran(),
    );
    let mut explorations: Vec<ExplorationResult> = Vec::new();
    for e in reports.iter().flat_map(|r| r.explorations.clone()) {
        match explorations.iter_mut().find(|x| x.target == e.target) {
            None => explorations.push(e),
            Some(x) => {
                x.cases.extend(e.cases);
                x.cases.sort_unstable();
                x.shrink_runs += e.shrink_runs;
                x.operations += e.operations;
                x.requests += e.requests;
                x.left_open += e.left_open;
                x.seconds = x.seconds.max(e.seconds);
                for c in e.configs {
                    if !x.configs.contains(&c) {
                        x.configs.push(c);
                    }
                }
                x.outcome = match (&x.outcome, &e.outcome) {
                    (Outcome::Failed { .. }, _) => x.outcome.clone(),
                    (_, Outcome::Failed { .. }) => e.outcome.clone(),
                    (Outcome::Passed, _) | (_, Outcome::Passed) => Outcome::Passed,
                    _ => x.outcome.clone(),
                };
                if x.finding.is_none() {
                    x.finding = e.finding;
                }
            }
        }
    }
    Ok(Report {
        from: first.from.clone(),
        to: first.to.clone(),
        budget_secs: first.budget_secs,
        elapsed_secs: reports.iter().map(|r| r.elapsed_secs).fold(0.0, f64::max),
        shards,
        scenarios,
        explorations,
        known_bugs,
        known_bugs_checked: reports.iter().any(|r| r.known_bugs_checked),
        compat: reports.iter().find_map(|r| r.compat.clone()),
        catch_up: reports.iter().find_map(|r| r.catch_up.clone()),
        harness_errors: reports
            .iter()
            .flat_map(|r| r.harness_errors.clone())
            .collect(),
    })
}

#[cfg(test)]
pub(crate) mod tests;
