//! The report as one self-contained HTML page.

use std::fmt::Write;

use super::{esc, outcome_text, recorded_text, what_was_explored};
use crate::validate::report::{Outcome, Report, SectionVerdict, Side, Verdict};

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
    let named = |s: &Side| {
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
    let sections = r.sections();
    verdicts(&mut s, &sections);
    procedures(&mut s, r, &sections);
    guarantees(&mut s, r, &sections);
    known_bugs(&mut s, r, &sections);
    compatibility(&mut s, r, &sections);
    catch_up(&mut s, r, &sections);
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

/// The verdict table, each section linked.
fn verdicts(s: &mut String, sections: &[SectionVerdict]) {
    s.push_str("<section data-section=\"verdicts\"><h2>Verdicts</h2><table><tr><th>section</th><th>verdict</th><th>summary</th></tr>");
    for sec in sections {
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
}

/// The four scenario sections, each instance with its outcome and evidence.
fn procedures(s: &mut String, r: &Report, sections: &[SectionVerdict]) {
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
}

/// The explorations, and each finding with its shrunk case and timeline.
fn guarantees(s: &mut String, r: &Report, sections: &[SectionVerdict]) {
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
}

/// The kept findings on each release.
fn known_bugs(s: &mut String, r: &Report, sections: &[SectionVerdict]) {
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
}

/// Flags, metrics and endpoints that changed.
fn compatibility(s: &mut String, r: &Report, sections: &[SectionVerdict]) {
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
}

/// The catch-up benchmark with its plot, when asked.
fn catch_up(s: &mut String, r: &Report, sections: &[SectionVerdict]) {
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
}
