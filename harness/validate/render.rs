//! A [`Report`] as a terminal summary, Markdown, one self-contained HTML page (styles and
//! timeline pictures inline, no network) and JUnit XML for CI dashboards. All four read the
//! same [`Report::sections`] verdicts.

use std::fmt::Write;

use super::report::{Outcome, Recorded, Report, Verdict};

/// `&`, `<`, `>`, `"` and `'` escaped, for HTML and XML text and attributes.
fn esc(s: &str) -> String {
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

fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Passed => "passed".into(),
        Outcome::Failed { reason } => format!("FAILED: {reason}"),
        Outcome::NotRun { reason } => format!("not run: {reason}"),
    }
}

fn recorded_text(r: &Recorded) -> String {
    match r {
        Recorded::FailsOn { rate } => format!("known to fail here ({rate})"),
        Recorded::PassesOn { rate } => format!("recorded passing ({rate})"),
        Recorded::Unknown => "not recorded for this release".into(),
        Recorded::Predicted { fails: true } => "fails on this release (by its fails-on)".into(),
        Recorded::Predicted { fails: false } => "fixed in this release (by its fails-on)".into(),
    }
}

fn what_was_explored(r: &Report) -> String {
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
    if let Some(sec) = r.sections().into_iter().find(|s| s.key == "catch-up") {
        let _ = writeln!(s, "\n## {}\n\n{}: {}", sec.title, sec.verdict, sec.summary);
    }
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
    s
}

const STYLE: &str = "
body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#1d2330;line-height:1.4}
h1{font-size:24px;margin-bottom:4px} h2{font-size:18px;margin-top:28px;border-bottom:1px solid #d7dbe3;padding-bottom:4px}
.meta{color:#566;font-size:13px}
.headline{font-size:17px;font-weight:bold;padding:10px 14px;border-radius:6px;margin:14px 0}
.v-safe{background:#e3f4e8;color:#185c2e} .v-findings{background:#fde4e4;color:#8b1a1a}
.v-incomplete,.v-not-run{background:#fff3d6;color:#6b4b00} .v-info{background:#e6eefb;color:#1f3f73}
.badge{display:inline-block;white-space:nowrap;min-width:84px;text-align:center;border-radius:4px;padding:2px 6px;font-size:12px;font-weight:bold}
table{border-collapse:collapse;width:100%;font-size:13px;margin:8px 0}
th,td{border:1px solid #d7dbe3;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f5f8} code,pre{font-family:'DejaVu Sans Mono',monospace;font-size:12px}
pre{background:#f6f7f9;padding:8px;overflow-x:auto;white-space:pre-wrap}
.timeline{overflow-x:auto;border:1px solid #d7dbe3;margin:8px 0}
ul.changes li{margin:2px 0}
";

fn badge(v: Verdict) -> String {
    let class = match v {
        Verdict::Safe => "v-safe",
        Verdict::Findings => "v-findings",
        Verdict::Incomplete => "v-incomplete",
        Verdict::NotRun => "v-not-run",
        Verdict::Info => "v-info",
    };
    format!(
        "<span class=\"badge {class}\">{}</span>",
        esc(&v.to_string())
    )
}

/// A unit's outcome as a badge in its verdict's colors: passed, FAILED, not run.
fn outcome_badge(o: &Outcome) -> String {
    let (v, text) = match o {
        Outcome::Passed => (Verdict::Safe, "passed"),
        Outcome::Failed { .. } => (Verdict::Findings, "FAILED"),
        Outcome::NotRun { .. } => (Verdict::NotRun, "not run"),
    };
    badge(v).replace(&format!(">{}<", esc(&v.to_string())), &format!(">{text}<"))
}

/// One self-contained page: every section with its verdict and evidence, failing timelines
/// inline. A short script at the end counts the rendered sections into `#rendered` (what the
/// browser test reads back).
pub fn html(r: &Report) -> String {
    let mut s = String::new();
    let title = format!("etcd-skew validate {} → {}", r.from.name, r.to.name);
    let verdict_class = match r.verdict() {
        Verdict::Safe => "v-safe",
        Verdict::Findings => "v-findings",
        _ => "v-incomplete",
    };
    let named = |s: &super::report::Side| {
        if s.name == s.version {
            format!("{} ({})", s.name, s.source)
        } else {
            format!("{} = etcd {} ({})", s.name, s.version, s.source)
        }
    };
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n<div class=\"meta\">{} → {}<br>{}</div>\n<div class=\"headline {verdict_class}\">{}</div>\n",
        esc(&title),
        esc(&title),
        esc(&named(&r.from)),
        esc(&named(&r.to)),
        esc(&what_was_explored(r)),
        esc(&r.headline())
    );
    s.push_str("<section data-section=\"verdicts\"><h2>Verdicts</h2><table><tr><th>section</th><th>verdict</th><th>summary</th></tr>");
    for sec in r.sections() {
        let _ = write!(
            s,
            "<tr><td><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td></tr>",
            esc(&sec.key),
            esc(&sec.title),
            badge(sec.verdict),
            esc(&sec.summary)
        );
    }
    s.push_str("</table></section>\n");
    let sections = r.sections();
    for sec in sections
        .iter()
        .filter(|s| ["upgrade", "rollback", "downgrade", "operations"].contains(&s.key.as_str()))
    {
        let _ = write!(
            s,
            "<section id=\"{}\" data-section=\"{}\"><h2>{} {}</h2>",
            esc(&sec.key),
            esc(&sec.key),
            esc(&sec.title),
            badge(sec.verdict)
        );
        let rows: Vec<_> = r
            .scenarios
            .iter()
            .filter(|x| x.section.to_string() == sec.key)
            .collect();
        if rows.is_empty() {
            s.push_str("<p>No procedure applies to this pair.</p>");
        } else {
            s.push_str("<table><tr><th>scenario</th><th>outcome</th><th>seconds</th><th>evidence</th></tr>");
            for x in rows {
                let mut evidence = String::new();
                if let Some(f) = &x.failed_step {
                    let _ = write!(evidence, "<div>at {}</div>", esc(f));
                }
                if let Outcome::Failed { reason } | Outcome::NotRun { reason } = &x.outcome {
                    let _ = write!(evidence, "<pre>{}</pre>", esc(reason));
                }
                if let Some(a) = &x.artifacts {
                    let _ = write!(evidence, "<div>artifacts: <code>{}</code></div>", esc(a));
                }
                let _ = write!(
                    evidence,
                    "<div>reproduce: <code>{}</code></div>",
                    esc(&x.reproduce)
                );
                let _ = write!(
                    s,
                    "<tr><td><b>{}</b><br><span class=\"meta\">{}</span></td><td>{}</td><td>{:.1}</td><td>{}</td></tr>",
                    esc(&x.name),
                    esc(&x.title),
                    outcome_badge(&x.outcome),
                    x.seconds,
                    evidence
                );
            }
            s.push_str("</table>");
        }
        s.push_str("</section>\n");
    }
    let g = sections
        .iter()
        .find(|s| s.key == "guarantees")
        .expect("section");
    let _ = write!(
        s,
        "<section id=\"guarantees\" data-section=\"guarantees\"><h2>{} {}</h2><table><tr><th>target</th><th>outcome</th><th>cases</th><th>operations</th><th>requests</th><th>seconds</th><th>configurations</th></tr>",
        esc(&g.title),
        badge(g.verdict)
    );
    for e in &r.explorations {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{}</td></tr>",
            esc(&e.target),
            outcome_badge(&e.outcome),
            esc(match &e.outcome {
                Outcome::NotRun { reason } => reason,
                _ => "",
            }),
            e.cases.len(),
            e.operations,
            e.requests,
            e.seconds,
            if e.configs.is_empty() {
                String::new()
            } else {
                format!(
                    "<details><summary>{} drawn</summary><ul>{}</ul></details>",
                    e.configs.len(),
                    e.configs.iter().map(|c| format!("<li>{}</li>", esc(c))).collect::<String>()
                )
            }
        );
    }
    s.push_str("</table>");
    for e in &r.explorations {
        if let Some(f) = &e.finding {
            let _ = write!(
                s,
                "<h3>{}: {}</h3><div>shrunk to <code>{{{}}}</code> <code>[{}]</code></div><pre>{}</pre><div>reproduce: <code>{}</code></div>",
                esc(&e.target),
                esc(&f.rate.to_string()),
                esc(&f.config),
                esc(&f.steps.join(", ")),
                esc(&f.reason),
                esc(&f.reproduce)
            );
            if let Some(a) = &f.artifacts {
                let _ = write!(s, "<div>artifacts: <code>{}</code></div>", esc(a));
            }
            if let Some(svg) = &f.timeline_svg {
                // The SVG is the harness's own drawing; it goes in as markup, without its XML
                // declaration.
                let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
                let _ = write!(s, "<div class=\"timeline\">{body}</div>");
            }
        }
    }
    s.push_str("</section>\n");
    let k = sections
        .iter()
        .find(|s| s.key == "known-bugs")
        .expect("section");
    let _ = write!(
        s,
        "<section id=\"known-bugs\" data-section=\"known-bugs\"><h2>{} {}</h2>",
        esc(&k.title),
        badge(k.verdict)
    );
    if r.known_bugs.is_empty() {
        s.push_str("<p>No kept finding concerns either release.</p>");
    } else {
        s.push_str("<table><tr><th>release</th><th>finding</th><th>etcd issue</th><th>recorded</th><th>this run</th><th>reproduce</th></tr>");
        for b in &r.known_bugs {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} {} ({} runs)</td><td><code>{}</code></td></tr>",
                esc(&b.release),
                esc(&b.summary),
                esc(&b.etcd_issue),
                esc(&recorded_text(&b.recorded)),
                outcome_badge(&b.outcome),
                esc(&outcome_text(&b.outcome)),
                b.runs.runs,
                esc(&b.reproduce)
            );
        }
        s.push_str("</table>");
    }
    s.push_str("</section>\n");
    let c = sections
        .iter()
        .find(|s| s.key == "compatibility")
        .expect("section");
    let _ = write!(
        s,
        "<section id=\"compatibility\" data-section=\"compatibility\"><h2>{} {}</h2>",
        esc(&c.title),
        badge(c.verdict)
    );
    match &r.compat {
        None => s.push_str("<p>Not run.</p>"),
        Some(compat) => {
            s.push_str("<ul class=\"changes\">");
            let mut item = |what: &str, list: &[String]| {
                let _ = write!(
                    s,
                    "<li><b>{}</b>: {}</li>",
                    esc(what),
                    if list.is_empty() {
                        "none".to_string()
                    } else {
                        list.iter()
                            .map(|x| format!("<code>{}</code>", esc(x)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                );
            };
            if let Some(f) = &compat.flags {
                item("Flags removed (drop them before upgrading)", &f.removed);
                item("Flags added (drop them before downgrading)", &f.added);
                item("Flags renamed", &f.renamed);
                item("Defaults changed", &f.defaults_changed);
            }
            if let Some(d) = &compat.surface {
                item(
                    &format!("Metrics only in {}", r.from.name),
                    &d.metrics_removed,
                );
                item(&format!("Metrics only in {}", r.to.name), &d.metrics_added);
                let answers: Vec<String> = d
                    .answers_changed
                    .iter()
                    .map(|a| format!("{}: {} → {}", a.request, a.older, a.newer))
                    .collect();
                item("Endpoints answering differently", &answers);
            }
            for e in &compat.errors {
                item("Not read", std::slice::from_ref(e));
            }
            s.push_str("</ul>");
        }
    }
    s.push_str("</section>\n");
    if let (Some(c), Some(sec)) = (&r.catch_up, sections.iter().find(|s| s.key == "catch-up")) {
        let _ = write!(
            s,
            "<section id=\"catch-up\" data-section=\"catch-up\"><h2>{} {}</h2><p>{}</p>",
            esc(&sec.title),
            badge(sec.verdict),
            esc(&sec.summary)
        );
        if let Some(svg) = &c.plot_svg {
            let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
            let _ = write!(s, "<div class=\"timeline\">{body}</div>");
        }
        s.push_str("</section>\n");
    }
    for e in &r.harness_errors {
        let _ = write!(
            s,
            "<div class=\"headline v-findings\">harness error: {}</div>",
            esc(e)
        );
    }
    s.push_str("<p class=\"meta\" id=\"rendered\"></p>\n<script>document.getElementById('rendered').textContent = document.querySelectorAll('section[data-section]').length + ' sections rendered';</script>\n</body></html>\n");
    s
}

/// JUnit XML: one test suite per section, one test case per unit; a unit not run is
/// `<skipped>` with its reason, never a pass.
pub fn junit(r: &Report) -> String {
    struct Case {
        name: String,
        seconds: f64,
        outcome: Outcome,
        detail: String,
    }
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
