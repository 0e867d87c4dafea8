//! The timeline picture of a case (SVG): one row per member, time across; each row colored by
//! the release the member runs, marks where an operation hit it, a top row with the cluster
//! version, the failing step in red. Drawn from the applied-operation log alone.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::case::Applied;

const PALETTE: [&str; 6] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948",
];

/// Parses `m1=3.5.16/3.5 m2=…` into (member → (release, cluster version)).
fn parse_versions(s: &str) -> BTreeMap<String, (String, String)> {
    s.split_whitespace()
        .filter_map(|w| {
            let (m, rest) = w.split_once('=')?;
            let (r, c) = rest.split_once('/')?;
            Some((m.to_string(), (r.to_string(), c.to_string())))
        })
        .collect()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn svg(applied: &[Applied]) -> String {
    let end = applied.iter().map(|a| a.end_ms).max().unwrap_or(1).max(1);
    let mut members: Vec<String> = Vec::new();
    let mut releases: Vec<String> = Vec::new();
    for a in applied {
        for (m, (r, _)) in parse_versions(&a.versions) {
            if !members.contains(&m) {
                members.push(m);
            }
            if !releases.contains(&r) {
                releases.push(r);
            }
        }
    }
    let (left, width, row) = (90.0, 900.0, 28.0);
    let x = |ms: u64| left + width * ms as f64 / end as f64;
    let height = row * (members.len() as f64 + 3.0) + 40.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="monospace" font-size="11">"#,
        left + width + 20.0
    );
    let _ = writeln!(out, r#"<text x="4" y="{}">cluster</text>"#, row * 0.7);
    for (i, m) in members.iter().enumerate() {
        let _ = writeln!(
            out,
            r#"<text x="4" y="{}">{}</text>"#,
            row * (i as f64 + 1.7),
            esc(m)
        );
    }
    // Segments between consecutive observations.
    let mut prev_t = 0;
    for a in applied {
        let v = parse_versions(&a.versions);
        if v.is_empty() {
            continue;
        }
        let (x0, x1) = (x(prev_t), x(a.end_ms));
        if let Some((_, c)) = v.values().next() {
            let _ = writeln!(
                out,
                r##"<rect x="{x0}" y="4" width="{}" height="{}" fill="#ddd"/><text x="{}" y="{}">{}</text>"##,
                (x1 - x0).max(1.0),
                row - 8.0,
                x0 + 2.0,
                row * 0.7,
                esc(c)
            );
        }
        for (i, m) in members.iter().enumerate() {
            if let Some((r, _)) = v.get(m) {
                let color =
                    PALETTE[releases.iter().position(|x| x == r).unwrap_or(0) % PALETTE.len()];
                let y = row * (i as f64 + 1.0) + 4.0;
                let _ = writeln!(
                    out,
                    r#"<rect x="{x0}" y="{y}" width="{}" height="{}" fill="{color}"><title>{}</title></rect>"#,
                    (x1 - x0).max(1.0),
                    row - 8.0,
                    esc(r)
                );
            }
        }
        prev_t = a.end_ms;
    }
    // Operation marks on the row of the member they name (or across the top).
    for a in applied {
        let color = if a.outcome.is_err() {
            "#d62728"
        } else {
            "#222"
        };
        let row_of = members
            .iter()
            .position(|m| a.op.split(|c: char| !c.is_alphanumeric()).any(|w| w == m));
        let y = row * (row_of.map_or(0.0, |i| i as f64 + 1.0)) + 2.0;
        let label = a.op.rsplit(": ").next().unwrap_or(&a.op);
        let _ = writeln!(
            out,
            r#"<line x1="{0}" x2="{0}" y1="{y}" y2="{1}" stroke="{color}" stroke-width="2"><title>{2} ({3}–{4} ms): {5}</title></line>"#,
            x(a.start_ms),
            y + row - 4.0,
            esc(&a.op),
            a.start_ms,
            a.end_ms,
            esc(&match &a.outcome {
                Ok(s) | Err(s) => s.clone(),
            })
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" fill="{color}" font-size="9">{}</text>"#,
            x(a.start_ms) + 2.0,
            row * (members.len() as f64 + 1.6) + 10.0 * (a.step % 3) as f64,
            esc(label)
        );
    }
    let ly = row * (members.len() as f64 + 2.6) + 20.0;
    for (i, r) in releases.iter().enumerate() {
        let lx = left + 120.0 * i as f64;
        let _ = writeln!(
            out,
            r#"<rect x="{lx}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{ly}">{}</text>"#,
            ly - 10.0,
            PALETTE[i % PALETTE.len()],
            lx + 16.0,
            esc(r)
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{ly}">{end} ms</text></svg>"#,
        left + width - 60.0
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_members_releases_and_the_failing_step() {
        let a = |step, op: &str, t: (u64, u64), ok: bool, v: &str| Applied {
            step,
            op: op.into(),
            start_ms: t.0,
            end_ms: t.1,
            outcome: if ok {
                Ok("ok".into())
            } else {
                Err("boom".into())
            },
            versions: v.into(),
        };
        let s = svg(&[
            a(
                0,
                "cluster 3.4.23 3.4.23 3.4.23",
                (0, 100),
                true,
                "m1=3.4.23/3.4 m2=3.4.23/3.4 m3=3.4.23/3.4",
            ),
            a(
                1,
                "upgrade(0): upgrade m1 3.5.16",
                (100, 900),
                true,
                "m1=3.5.16/3.4 m2=3.4.23/3.4 m3=3.4.23/3.4",
            ),
            a(2, "kill(1): kill m2", (900, 950), false, ""),
        ]);
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert!(s.contains(">m3<") && s.contains("3.5.16") && s.contains("#d62728"));
    }
}
