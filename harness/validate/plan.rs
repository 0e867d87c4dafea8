//! The units of a validation, numbered in the one order shards split: the template instances
//! that apply to the pair, then the kept findings (`findings/`) on each release they concern.

use std::path::{Path, PathBuf};

use super::report::Recorded;
use super::{ValidateConfig, ValidateError};
use crate::explore::{self, Replay};
use crate::release::{Release, ReleaseStore};
use crate::scenario::template::{self, Instance};
use crate::scenario::{ReleaseRef, Template};

/// How a kept finding runs: an exploration replay file, or a scenario template.
pub enum BugCase {
    Replay(Box<Replay>),
    Scenario(Box<Template>),
}

/// A kept finding to check on one release.
pub struct PlannedBug {
    pub path: PathBuf,
    pub case: BugCase,
    pub release: String,
    pub summary: String,
    pub etcd_issue: String,
    pub recorded: Recorded,
}

impl PlannedBug {
    pub(super) fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The units of a validation, in the order shards number them.
pub struct Plan {
    pub instances: Vec<Instance>,
    pub known_bugs: Vec<PlannedBug>,
    from: ReleaseRef,
    to: ReleaseRef,
}

impl Plan {
    /// The pair's side named `name`.
    pub(super) fn side(&self, name: &str) -> &ReleaseRef {
        if self.to.name == name {
            &self.to
        } else {
            &self.from
        }
    }

    /// Exploration targets with their share of the time left: the pair, then each alone.
    pub(super) fn targets(&self) -> Vec<(ReleaseRef, ReleaseRef, f64)> {
        if self.from == self.to {
            return vec![(self.from.clone(), self.from.clone(), 1.0)];
        }
        vec![
            // Shares of the time left when explorations begin.
            (self.from.clone(), self.to.clone(), 0.5),
            (self.from.clone(), self.from.clone(), 0.25),
            (self.to.clone(), self.to.clone(), 0.25),
        ]
    }

    /// The names of the units, in shard order (for listings and tests).
    pub fn unit_names(&self) -> Vec<String> {
        let mut v = vec!["compatibility diff".to_string()];
        v.extend(self.instances.iter().map(|i| i.name.clone()));
        v.extend(
            self.known_bugs
                .iter()
                .map(|b| format!("known bug {} on {}", b.file_name(), b.release)),
        );
        v
    }
}

/// Every unit a validation of `from → to` has: template instances, kept findings per release.
pub fn plan(
    store: &ReleaseStore,
    cfg: &ValidateConfig,
    from: &Release,
    to: &Release,
) -> Result<Plan, ValidateError> {
    let known = store.names();
    let (f, t) = (
        ReleaseRef::new(&from.name, from.version.clone()),
        ReleaseRef::new(&to.name, to.version.clone()),
    );
    let templates = Template::load_dir(&cfg.templates).map_err(Box::new)?;
    let instances = template::instances(&templates, &f, &t, &known).map_err(Box::new)?;
    let known_bugs = known_bugs(&cfg.findings, &[&f, &t])?;
    Ok(Plan {
        instances,
        known_bugs,
        from: f,
        to: t,
    })
}

/// Kept findings (`findings/*.json` with a triage) for each release, in file order.
fn known_bugs(dir: &Path, releases: &[&ReleaseRef]) -> Result<Vec<PlannedBug>, ValidateError> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "scn"))
            .collect(),
        Err(_) => Vec::new(),
    };
    paths.sort();
    let mut out = Vec::new();
    let mut sides: Vec<&ReleaseRef> = releases.to_vec();
    sides.dedup();
    let names: Vec<&str> = sides.iter().map(|r| r.name.as_str()).collect();
    for path in paths {
        if path.extension().is_some_and(|x| x == "scn") {
            let t = Template::load(&path).map_err(Box::new)?;
            let Some(issue) = t.finding.clone() else {
                continue;
            };
            for r in sides.iter().filter(|r| t.applies_alone(&r.version)) {
                out.push(PlannedBug {
                    path: path.clone(),
                    release: r.name.clone(),
                    summary: t.name.replace('-', " "),
                    etcd_issue: issue.clone(),
                    recorded: Recorded::Predicted {
                        fails: t.expected_to_fail(&r.version),
                    },
                    case: BugCase::Scenario(Box::new(t.clone())),
                });
            }
            continue;
        }
        let replay = Replay::read(&path).map_err(|message| ValidateError::Finding {
            path: path.clone(),
            message,
        })?;
        let Some(triage) = replay.triage.clone() else {
            continue;
        };
        for name in &names {
            let on = |list: &[explore::replay::OnRelease]| {
                list.iter()
                    .find(|o| o.pair() == (*name, *name))
                    .map(|o| o.rate)
            };
            let recorded = match (on(&triage.fails_on), on(&triage.passes_on)) {
                (Some(rate), _) => Recorded::FailsOn { rate },
                (None, Some(rate)) => Recorded::PassesOn { rate },
                (None, None) => Recorded::Unknown,
            };
            out.push(PlannedBug {
                path: path.clone(),
                case: BugCase::Replay(Box::new(replay.clone())),
                release: name.to_string(),
                summary: triage.summary.clone(),
                etcd_issue: triage.etcd_issue.clone(),
                recorded,
            });
        }
    }
    Ok(out)
}
