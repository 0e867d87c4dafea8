//! The timeline picture of a case (SVG): one row per member, time across; each row colored by
//! the release the member runs, marks where an operation hit it, a top row with the cluster
//! version, the failing step in red. Drawn from the applied-operation log alone.

use std::fmt::Write;

use super::record::Applied;

const PALETTE: [&str; 6] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Left margin (member names), drawing width, row height, rows of operation labels.
const LEFT: f64 = 90.0;
const WIDTH: f64 = 900.0;
const ROW: f64 = 28.0;
const LABEL_ROWS: f64 = 3.0;

/// The picture's scale and rows: every member and release that appears, in order of appearance.
struct Layout {
    end: u64,
    members: Vec<String>,
    releases: Vec<String>,
}

impl Layout {
    fn new(applied: &[Applied]) -> Layout {
        let end = applied.iter().map(|a| a.end_ms).max().unwrap_or(1).max(1);
        let mut members: Vec<String> = Vec::new();
        let mut releases: Vec<String> = Vec::new();
        for m in applied.iter().flat_map(|a| &a.members) {
            if !members.contains(&m.name) {
                members.push(m.name.clone());
            }
            if !releases.contains(&m.release) {
                releases.push(m.release.clone());
            }
        }
        Layout {
            end,
            members,
            releases,
        }
    }

    fn x(&self, ms: u64) -> f64 {
        LEFT + WIDTH * ms as f64 / self.end as f64
    }

    fn color(&self, release: &str) -> &'static str {
        PALETTE[self.releases.iter().position(|r| r == release).unwrap_or(0) % PALETTE.len()]
    }

    fn rows(&self) -> f64 {
        self.members.len() as f64
    }
}

pub fn svg(applied: &[Applied]) -> String {
    let l = Layout::new(applied);
    let height = ROW * (l.rows() + 2.0 + LABEL_ROWS) + 30.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="monospace" font-size="11">"#,
        LEFT + WIDTH + 20.0
    );
    let _ = writeln!(out, r#"<text x="4" y="{}">cluster</text>"#, ROW * 0.7);
    for (i, m) in l.members.iter().enumerate() {
        let _ = writeln!(
            out,
            r#"<text x="4" y="{}">{}</text>"#,
            ROW * (i as f64 + 1.7),
            esc(m)
        );
    }
    states(&mut out, &l, applied);
    marks(&mut out, &l, applied);
    legend(&mut out, &l);
    out
}

/// The state after each step holds until the next step ends: the cluster version on the top
/// row, each member's release (color), state (faded: paused, grey: down) and leadership.
fn states(out: &mut String, l: &Layout, applied: &[Applied]) {
    for (k, a) in applied.iter().enumerate() {
        let t1 = applied.get(k + 1).map_or(l.end, |n| n.end_ms);
        let (x0, x1) = (l.x(a.end_ms), l.x(t1));
        let w = (x1 - x0).max(1.0);
        if let Some(cv) = &a.cluster_version {
            let _ = writeln!(
                out,
                r##"<rect x="{x0}" y="4" width="{w}" height="{}" fill="#e8e8e8" stroke="#fff"/><text x="{}" y="{}">{}</text>"##,
                ROW - 8.0,
                x0 + 2.0,
                ROW * 0.7,
                esc(cv)
            );
        }
        for m in &a.members {
            let Some(i) = l.members.iter().position(|n| n == &m.name) else {
                continue;
            };
            let y = ROW * (i as f64 + 1.0) + 4.0;
            let color = l.color(&m.release);
            let (fill, opacity) = match m.state {
                "running" => (color, 1.0),
                "paused" => (color, 0.35),
                _ => ("#bbbbbb", 1.0),
            };
            let stroke = if m.leader {
                r##" stroke="#000" stroke-width="2""##
            } else {
                ""
            };
            let _ = writeln!(
                out,
                r#"<rect x="{x0}" y="{y}" width="{w}" height="{}" fill="{fill}" fill-opacity="{opacity}"{stroke}><title>{} {} {}{}</title></rect>"#,
                ROW - 8.0,
                esc(&m.name),
                esc(&m.release),
                m.state,
                if m.leader { " (leader)" } else { "" }
            );
        }
    }
}

/// Operations: a mark on the row of the member they name (else the cluster row), red if the
/// step failed, labelled underneath.
fn marks(out: &mut String, l: &Layout, applied: &[Applied]) {
    for a in applied {
        let color = if a.outcome.is_err() {
            "#d62728"
        } else {
            "#222"
        };
        let op = a.op.rsplit(": ").next().unwrap_or(&a.op);
        let row_of = l
            .members
            .iter()
            .position(|m| op.split(|c: char| !c.is_alphanumeric()).any(|w| w == m));
        let y = ROW * row_of.map_or(0.0, |i| i as f64 + 1.0) + 2.0;
        let detail = match &a.outcome {
            Ok(s) | Err(s) => s.clone(),
        };
        let x = l.x(a.start_ms);
        let _ = writeln!(
            out,
            r#"<line x1="{x}" x2="{x}" y1="{y}" y2="{}" stroke="{color}" stroke-width="3"><title>{} ({}–{} ms): {}</title></line>"#,
            y + ROW - 4.0,
            esc(&a.op),
            a.start_ms,
            a.end_ms,
            esc(&detail)
        );
        let ly = ROW * (l.rows() + 1.6) + 11.0 * (a.step % LABEL_ROWS as usize) as f64;
        // Labels near the right edge end at their mark instead of running off the picture.
        let anchor = if x > LEFT + WIDTH * 0.75 {
            "end"
        } else {
            "start"
        };
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{ly}" fill="{color}" font-size="9" text-anchor="{anchor}">{}</text>"#,
            x + 2.0,
            esc(op)
        );
    }
}

/// One swatch per release and one for down members, and how to read the rest.
fn legend(out: &mut String, l: &Layout) {
    let ly = ROW * (l.rows() + 1.0 + LABEL_ROWS) + 24.0;
    let swatches = l.releases.iter().map(|r| (r.as_str(), l.color(r)));
    for (i, (r, c)) in swatches.chain([("down", "#bbbbbb")]).enumerate() {
        let lx = LEFT + 110.0 * i as f64;
        let _ = writeln!(
            out,
            r#"<rect x="{lx}" y="{}" width="12" height="12" fill="{c}"/><text x="{}" y="{ly}">{}</text>"#,
            ly - 10.0,
            lx + 16.0,
            esc(r)
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{ly}">leader: black border; paused: faded; {} ms</text></svg>"#,
        LEFT + WIDTH - 330.0,
        l.end
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::record::MemberState;

    fn applied(step: usize, op: &str, t: (u64, u64), ok: bool, members: &str) -> Applied {
        Applied {
            step,
            op: op.into(),
            start_ms: t.0,
            end_ms: t.1,
            outcome: if ok {
                Ok("ok".into())
            } else {
                Err("boom".into())
            },
            versions: String::new(),
            members: members
                .split_whitespace()
                .map(|w| {
                    let (n, r) = w.split_once('=').unwrap();
                    let state = if n == "m2" { "down" } else { "running" };
                    MemberState {
                        name: n.into(),
                        release: r.into(),
                        state,
                        leader: n == "m1",
                    }
                })
                .collect(),
            cluster_version: Some("3.4".into()),
        }
    }

    #[test]
    fn draws_members_releases_and_the_failing_step() {
        let s = svg(&[
            applied(
                0,
                "cluster 3.4.23 3.4.23 3.4.23",
                (0, 100),
                true,
                "m1=3.4.23 m2=3.4.23 m3=3.4.23",
            ),
            applied(
                1,
                "upgrade(0): upgrade m1 3.5.16",
                (100, 900),
                true,
                "m1=3.5.16 m2=3.4.23 m3=3.4.23",
            ),
            applied(
                2,
                "kill(1): kill m2",
                (900, 950),
                false,
                "m1=3.5.16 m2=3.4.23 m3=3.4.23",
            ),
        ]);
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert!(s.contains(">m3<") && s.contains("3.5.16") && s.contains("#d62728"));
        assert!(
            s.contains("(leader)") && s.contains("#bbbbbb"),
            "leader and down members are drawn"
        );
    }
}
