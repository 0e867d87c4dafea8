//! The report as JUnit XML for CI dashboards.

use std::fmt::Write;

use super::{esc, recorded_text};
use crate::validate::report::{Outcome, Report};

/// One unit as a JUnit test case.
struct Case {
    name: String,
    seconds: f64,
    outcome: Outcome,
    detail: String,
}

/// The report's units as test suites, one per section, in the order they first appear.
fn suites(r: &Report) -> Vec<(String, Vec<Case>)> {
    let mut suites: Vec<(String, Vec<Case>)> = Vec::new();
    let mut push = |suite: String, case: Case| match suites.iter_mut().find(|(n, _)| *n == suite) {
        Some((_, cases)) => cases.push(case),
        None => suites.push((suite, vec![case])),
    };
    for x in &r.scenarios {
        push(
            x.section.to_string(),
            Case {
                name: x.name.clone(),
                seconds: x.seconds,
                outcome: x.outcome.clone(),
                detail: format!(
                    "{}\nreproduce: {}{}",
                    x.failed_step.as_deref().unwrap_or(""),
                    x.reproduce,
                    x.artifacts
                        .as_ref()
                        .map(|a| format!("\nartifacts: {a}"))
                        .unwrap_or_default()
                ),
            },
        );
    }
    for e in &r.explorations {
        push(
            "guarantees".into(),
            Case {
                name: format!("explore {}", e.target),
                seconds: e.seconds,
                outcome: e.outcome.clone(),
                detail: e
                    .finding
                    .as_ref()
                    .map(|f| format!("{}\nreproduce: {}", f.reason, f.reproduce))
                    .unwrap_or_default(),
            },
        );
    }
    for k in &r.known_bugs {
        let outcome = if k.affects() {
            Outcome::Failed {
                reason: format!(
                    "{} ({}): {}",
                    k.summary,
                    k.etcd_issue,
                    recorded_text(&k.recorded)
                ),
            }
        } else {
            k.outcome.clone()
        };
        push(
            "known-bugs".into(),
            Case {
                name: format!("{} on {}", k.file, k.release),
                seconds: 0.0,
                outcome,
                detail: format!("reproduce: {}", k.reproduce),
            },
        );
    }
    suites
}

/// JUnit XML: one test suite per section, one test case per unit; a unit not run is
/// `<skipped>` with its reason, never a pass.
pub fn junit(r: &Report) -> String {
    let suites = suites(r);
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        "<testsuites name=\"etcd-skew validate {} → {}\">",
        esc(&r.from.name),
        esc(&r.to.name)
    );
    for (suite, cases) in &suites {
        let failures = cases.iter().filter(|c| c.outcome.failed()).count();
        let skipped = cases.iter().filter(|c| !c.outcome.ran()).count();
        let time: f64 = cases.iter().map(|c| c.seconds).sum();
        let _ = writeln!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" time=\"{time:.1}\">",
            esc(suite),
            cases.len()
        );
        for c in cases {
            let _ = write!(
                s,
                "    <testcase classname=\"etcd-skew.{}\" name=\"{}\" time=\"{:.1}\"",
                esc(suite),
                esc(&c.name),
                c.seconds
            );
            match &c.outcome {
                Outcome::Passed => s.push_str("/>\n"),
                Outcome::Failed { reason } => {
                    let _ = writeln!(
                        s,
                        "><failure message=\"{}\">{}</failure></testcase>",
                        esc(reason.lines().next().unwrap_or("")),
                        esc(&format!("{reason}\n{}", c.detail))
                    );
                }
                Outcome::NotRun { reason } => {
                    let _ = writeln!(s, "><skipped message=\"{}\"/></testcase>", esc(reason));
                }
            }
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}
