//! A [`Report`] as a terminal summary, Markdown, one self-contained HTML page (styles and
//! timeline pictures inline, no network) and JUnit XML for CI dashboards. All four read the
//! same [`Report::sections`] verdicts.

use std::fmt::Write;

use super::report::{Outcome, Recorded, Report};

mod html;
mod junit;

pub use html::html;
pub use junit::junit;

/// `&`, `<`, `>`, `"` and `'` escaped, for HTML and XML text and attributes.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Passed => "passed".into(),
        Outcome::Failed { reason } => format!("FAILED: {reason}"),
        Outcome::NotRun { reason } => format!("not run: {reason}"),
    }
}

pub(super) fn recorded_text(r: &Recorded) -> String {
    match r {
        Recorded::FailsOn { rate } => format!("known to fail here ({rate})"),
        Recorded::PassesOn { rate } => format!("recorded passing ({rate})"),
        Recorded::Unknown => "not recorded for this release".into(),
        Recorded::Predicted { fails: true } => "fails on this release (by its fails-on)".into(),
        Recorded::Predicted { fails: false } => "fixed in this release (by its fails-on)".into(),
    }
}

pub(super) fn what_was_explored(r: &Report) -> String {
    let cases: usize = r.explorations.iter().map(|e| e.cases.len()).sum();
    let ops: usize = r.explorations.iter().map(|e| e.operations).sum();
    let requests: usize = r.explorations.iter().map(|e| e.requests).sum();
    let mut configs: Vec<&String> = r.explorations.iter().flat_map(|e| &e.configs).collect();
    configs.sort();
    configs.dedup();
    let scenarios = r.scenarios.iter().filter(|s| s.outcome.ran()).count();
    format!(
        "{scenarios} scenarios run; {cases} exploration cases, {ops} operations, {requests} requests, {} configurations drawn; {:.0} s of a {} s budget{}",
        configs.len(),
        r.elapsed_secs,
        r.budget_secs,
        if r.shards.is_empty() {
            String::new()
        } else {
            format!(
                "; shards {}",
                r.shards.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")
            )
        }
    )
}

/// What a terminal shows at the end: a line per section, every failure with its reproduce
/// command, and the verdict.
pub fn summary(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n== validate {} → {}", r.from.name, r.to.name);
    for sec in r.sections() {
        let _ = writeln!(
            s,
            "{:<14} {:<50} {}",
            sec.verdict.to_string(),
            sec.title,
            sec.summary
        );
    }
    for f in r.scenarios.iter().filter(|x| x.outcome.failed()) {
        let _ = writeln!(
            s,
            "\nFAILED scenario {} at {}",
            f.name,
            f.failed_step.as_deref().unwrap_or("?")
        );
        let _ = writeln!(s, "  {}", outcome_text(&f.outcome));
        let _ = writeln!(s, "  reproduce: {}", f.reproduce);
        if let Some(a) = &f.artifacts {
            let _ = writeln!(s, "  artifacts: {a}");
        }
    }
    for e in &r.explorations {
        if let Some(f) = &e.finding {
            let _ = writeln!(
                s,
                "\nFAILED exploration {} ({}), shrunk to {{{}}} [{}]: {}",
                e.target,
                f.rate,
                f.config,
                f.steps.join(", "),
                f.reason.lines().next().unwrap_or("")
            );
            let _ = writeln!(s, "  reproduce: {}", f.reproduce);
            if let Some(a) = &f.artifacts {
                let _ = writeln!(s, "  artifacts: {a}");
            }
        }
    }
    for k in r.known_bugs.iter().filter(|k| k.affects()) {
        let _ = writeln!(
            s,
            "\nKNOWN BUG of {}: {} ({})\n  {}; this run: {}\n  reproduce: {}",
            k.release,
            k.summary,
            k.etcd_issue.split(" (").next().unwrap_or(&k.etcd_issue),
            recorded_text(&k.recorded),
            match &k.outcome {
                Outcome::Failed { .. } => format!("reproduced ({})", k.runs),
                Outcome::Passed => format!("not reproduced in {} runs", k.runs.runs),
                Outcome::NotRun { reason } => format!("not run ({reason})"),
            },
            k.reproduce
        );
    }
    for e in &r.harness_errors {
        let _ = writeln!(s, "\nHARNESS ERROR: {e}");
    }
    let _ = writeln!(s, "\nexplored: {}", what_was_explored(r));
    let _ = writeln!(s, "{}", r.headline());
    s
}

/// The report as Markdown (for a PR comment or a CI job summary).
pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# etcd-skew validate {} → {}\n", r.from.name, r.to.name);
    let _ = writeln!(s, "**{}**\n", r.headline());
    let _ = writeln!(
        s,
        "- from: {} ({}, {})\n- to: {} ({}, {})\n- explored: {}\n",
        r.from.name,
        r.from.version,
        r.from.source,
        r.to.name,
        r.to.version,
        r.to.source,
        what_was_explored(r)
    );
    let _ = writeln!(s, "| section | verdict | summary |\n|---|---|---|");
    for sec in r.sections() {
        let _ = writeln!(s, "| {} | {} | {} |", sec.title, sec.verdict, sec.summary);
    }
    let _ = writeln!(s, "\n## Scenarios\n\n| section | scenario | outcome | seconds | reproduce |\n|---|---|---|---|---|");
    for x in &r.scenarios {
        let _ = writeln!(
            s,
            "| {} | {} | {}{} | {:.1} | `{}` |",
            x.section,
            x.name,
            outcome_text(&x.outcome).replace('|', "\\|"),
            x.failed_step
                .as_ref()
                .map(|f| format!(" at {f}"))
                .unwrap_or_default(),
            x.seconds,
            x.reproduce
        );
    }
    let _ = writeln!(s, "\n## Exploration\n\n| target | outcome | cases | operations | requests | seconds |\n|---|---|---|---|---|---|");
    for e in &r.explorations {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.0} |",
            e.target,
            outcome_text(&e.outcome).replace('|', "\\|"),
            e.cases.len(),
            e.operations,
            e.requests,
            e.seconds
        );
    }
    for e in &r.explorations {
        if let Some(f) = &e.finding {
            let _ = writeln!(
                s,
                "\n**{}** {}, shrunk to `{{{}}}` `[{}]`:\n\n```\n{}\n```\nReproduce: `{}`",
                e.target,
                f.rate,
                f.config,
                f.steps.join(", "),
                f.reason,
                f.reproduce
            );
        }
    }
    known_bugs_md(&mut s, r);
    if let Some(sec) = r.sections().into_iter().find(|s| s.key == "catch-up") {
        let _ = writeln!(s, "\n## {}\n\n{}: {}", sec.title, sec.verdict, sec.summary);
    }
    compat_md(&mut s, r);
    s
}

/// The kept findings that concern either release, as this run re-checked them.
fn known_bugs_md(s: &mut String, r: &Report) {
    let _ = writeln!(s, "\n## Known etcd bugs\n");
    if r.known_bugs.is_empty() {
        let _ = writeln!(s, "No kept finding concerns either release.");
    } else {
        let _ = writeln!(s, "| release | finding | etcd issue | recorded | this run | reproduce |\n|---|---|---|---|---|---|");
        for k in &r.known_bugs {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} ({} runs) | `{}` |",
                k.release,
                k.summary,
                k.etcd_issue.split(" (").next().unwrap_or(&k.etcd_issue),
                recorded_text(&k.recorded),
                outcome_text(&k.outcome).replace('|', "\\|"),
                k.runs.runs,
                k.reproduce
            );
        }
    }
}

/// What changes between the two releases' flags, metrics and answers.
fn compat_md(s: &mut String, r: &Report) {
    let _ = writeln!(
        s,
        "\n## Compatibility changes ({} → {})\n",
        r.from.name, r.to.name
    );
    match &r.compat {
        None => {
            let _ = writeln!(s, "Not run.");
        }
        Some(c) => {
            if let Some(f) = &c.flags {
                for (what, list) in [
                    ("Flags removed (drop them before upgrading)", &f.removed),
                    ("Flags added (drop them before downgrading)", &f.added),
                    ("Flags renamed", &f.renamed),
                    ("Defaults changed", &f.defaults_changed),
                ] {
                    let _ = writeln!(
                        s,
                        "- {what}: {}",
                        if list.is_empty() {
                            "none".into()
                        } else {
                            list.join(", ")
                        }
                    );
                }
            }
            if let Some(d) = &c.surface {
                let _ = writeln!(
                    s,
                    "- Metrics only in {}: {}",
                    r.from.name,
                    d.metrics_removed.join(", ")
                );
                let _ = writeln!(
                    s,
                    "- Metrics only in {}: {}",
                    r.to.name,
                    d.metrics_added.join(", ")
                );
                for a in &d.answers_changed {
                    let _ = writeln!(s, "- `{}`: {} → {}", a.request, a.older, a.newer);
                }
            }
            for e in &c.errors {
                let _ = writeln!(s, "- not read: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::report::tests::{report, scenario};
    use super::*;
    use crate::scenario::Section;

    fn sample() -> Report {
        report(vec![
            scenario(
                "e2e-release-upgrade 3.4.23→3.5.16",
                Section::Upgrade,
                Outcome::Passed,
            ),
            scenario(
                "rollback-after-full-upgrade 3.4.23→3.5.16",
                Section::Downgrade,
                Outcome::Failed {
                    reason: "expected <refusal> & got start".into(),
                },
            ),
            scenario(
                "quorum-loss 3.4.23",
                Section::Operations,
                Outcome::NotRun {
                    reason: "budget spent".into(),
                },
            ),
        ])
    }

    #[test]
    fn junit_counts_failures_and_skips_and_escapes() {
        let x = junit(&sample());
        assert!(
            x.contains("<testsuite name=\"downgrade\" tests=\"1\" failures=\"1\" skipped=\"0\""),
            "{x}"
        );
        assert!(
            x.contains("<testsuite name=\"operations\" tests=\"1\" failures=\"0\" skipped=\"1\""),
            "{x}"
        );
        assert!(
            x.contains("message=\"expected &lt;refusal&gt; &amp; got start\""),
            "{x}"
        );
        assert!(!x.contains("<refusal>"));
    }

    #[test]
    fn every_format_says_what_did_not_run() {
        let r = sample();
        let md = markdown(&r);
        assert!(
            md.contains("| Maintenance procedures on each release | not run |")
                || md.contains("| Maintenance procedures on each release | incomplete |"),
            "{md}"
        );
        assert!(md.contains("not run: budget spent"));
        let h = html(&r);
        assert!(h.contains("data-section=\"operations\""));
        assert!(h.contains("expected &lt;refusal&gt; &amp; got start"));
        assert!(summary(&r)
            .contains("FAILED scenario rollback-after-full-upgrade 3.4.23→3.5.16 at line 9"));
    }
}
