//! The timeline picture of a case (SVG): a time axis; one row per member, time across, each
//! row colored by the release the member runs, marks where an operation hit it, a top row with
//! the cluster version, the failing step in red; operation labels placed in as many rows as
//! they need never to overlap; under the members a traffic panel (requests per second, errors,
//! median and worst latency per time slice, as Jepsen's plots draw them) with every operation's
//! span shaded across it; and the failure's first line as the caption. Drawn from the
//! applied-operation log and the traffic history alone.

use std::fmt::Write;

use super::record::Applied;
use crate::history::kv::{Event, Outcome};

const PALETTE: [&str; 6] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948",
];
const FAILED: &str = "#d62728";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Left margin (member names), drawing width, row height, axis height, traffic panel height.
const LEFT: f64 = 90.0;
const WIDTH: f64 = 900.0;
const ROW: f64 = 28.0;
const AXIS: f64 = 20.0;
const LABEL_ROW: f64 = 12.0;
const TRAFFIC: f64 = 90.0;
/// Width of one character of a 9 px monospace label (DejaVu Sans Mono: 0.6 em).
const CHAR: f64 = 5.5;

/// The picture's scale and rows: every member and release that appears, in order of appearance.
struct Layout {
    end: u64,
    members: Vec<String>,
    releases: Vec<String>,
}

impl Layout {
    fn new(applied: &[Applied], events: &[Event]) -> Layout {
        let ops_end = applied.iter().map(|a| a.end_ms).max().unwrap_or(1);
        let traffic_end = events
            .iter()
            .map(|e| e.complete_us / 1000)
            .max()
            .unwrap_or(0);
        let end = ops_end.max(traffic_end).max(1);
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

    /// Top of the cluster row; member `i`'s row is below it.
    fn row_y(&self, i: Option<usize>) -> f64 {
        AXIS + ROW * i.map_or(0.0, |i| i as f64 + 1.0)
    }

    /// Below the last member row.
    fn members_bottom(&self) -> f64 {
        self.row_y(Some(self.members.len()))
    }
}

/// An operation's label and where it goes: `row` counts label rows under the members.
struct Label {
    x: f64,
    anchor: &'static str,
    row: usize,
}

/// Places each label in the first row where it clears the labels already there (a label near
/// the right edge ends at its mark instead of running off the picture).
fn place_labels(l: &Layout, texts: &[(u64, &str)]) -> Vec<Label> {
    let mut row_ends: Vec<f64> = Vec::new();
    texts
        .iter()
        .map(|(start, text)| {
            let x = l.x(*start);
            let w = text.chars().count() as f64 * CHAR;
            let (anchor, from, to) = if x + w > LEFT + WIDTH + 10.0 {
                ("end", x - w, x)
            } else {
                ("start", x + 2.0, x + 2.0 + w)
            };
            let row = match row_ends.iter().position(|&e| e + 6.0 < from) {
                Some(r) => r,
                None => {
                    row_ends.push(f64::MIN);
                    row_ends.len() - 1
                }
            };
            row_ends[row] = to;
            Label {
                x: if anchor == "end" { x } else { x + 2.0 },
                anchor,
                row,
            }
        })
        .collect()
}

/// What an operation's label shows: the operation without the explorer's step prefix.
fn label_of(a: &Applied) -> &str {
    a.op.rsplit(": ").next().unwrap_or(&a.op)
}

pub fn svg(applied: &[Applied], events: &[Event]) -> String {
    let l = Layout::new(applied, events);
    let texts: Vec<(u64, &str)> = applied.iter().map(|a| (a.start_ms, label_of(a))).collect();
    let labels = place_labels(&l, &texts);
    let label_rows = labels.iter().map(|x| x.row + 1).max().unwrap_or(0) as f64;
    let labels_top = l.members_bottom() + 6.0;
    let traffic_top = labels_top + LABEL_ROW * label_rows + 16.0;
    let legend_y = traffic_top + TRAFFIC + 34.0;
    let failure = applied.iter().find_map(|a| a.outcome.as_ref().err());
    let height = legend_y + if failure.is_some() { 40.0 } else { 14.0 };
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="DejaVu Sans Mono, monospace" font-size="11">"#,
        LEFT + WIDTH + 60.0
    );
    axis(&mut out, &l, traffic_top + TRAFFIC);
    let _ = writeln!(
        out,
        r#"<text x="4" y="{}">cluster</text>"#,
        l.row_y(None) + ROW * 0.7
    );
    for (i, m) in l.members.iter().enumerate() {
        let _ = writeln!(
            out,
            r#"<text x="4" y="{}">{}</text>"#,
            l.row_y(Some(i)) + ROW * 0.7,
            esc(m)
        );
    }
    states(&mut out, &l, applied);
    marks(&mut out, &l, applied, &labels, labels_top);
    traffic(&mut out, &l, applied, events, traffic_top);
    legend(&mut out, &l, legend_y);
    if let Some(f) = failure {
        let first = f.lines().next().unwrap_or("");
        let shown: String = first.chars().take(150).collect();
        let _ = writeln!(
            out,
            r#"<text x="4" y="{}" fill="{FAILED}" font-weight="bold">failed: {}</text>"#,
            legend_y + 24.0,
            esc(&shown)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Seconds along the top, with faint lines down to the bottom of the traffic panel.
fn axis(out: &mut String, l: &Layout, bottom: f64) {
    let secs = l.end as f64 / 1000.0;
    let step = [0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0]
        .into_iter()
        .find(|s| secs / s <= 12.0)
        .unwrap_or(600.0);
    let mut t = 0.0;
    while t <= secs + 1e-9 {
        let x = l.x((t * 1000.0) as u64);
        let _ = writeln!(
            out,
            r##"<line x1="{x}" x2="{x}" y1="{}" y2="{bottom}" stroke="#e4e4e4"/><text x="{x}" y="12" font-size="9" text-anchor="middle">{t}s</text>"##,
            AXIS - 4.0
        );
        t += step;
    }
}

/// The state after each step holds until the next step ends: the cluster version on the top
/// row, each member's release (color), state (faded: paused, grey: down) and leadership.
fn states(out: &mut String, l: &Layout, applied: &[Applied]) {
    for (k, a) in applied.iter().enumerate() {
        let t1 = applied.get(k + 1).map_or(l.end, |n| n.end_ms);
        let (x0, x1) = (l.x(a.end_ms), l.x(t1));
        let w = (x1 - x0).max(1.0);
        if let Some(cv) = &a.cluster_version {
            let _ = write!(
                out,
                r##"<rect x="{x0}" y="{}" width="{w}" height="{}" fill="#e8e8e8" stroke="#fff"><title>cluster version {}</title></rect>"##,
                l.row_y(None) + 4.0,
                ROW - 8.0,
                esc(cv)
            );
            // The version is written where it changes, and only where it fits.
            let changed = k == 0 || applied[k - 1].cluster_version.as_ref() != Some(cv);
            if changed && w > cv.len() as f64 * 7.0 + 4.0 {
                let _ = write!(
                    out,
                    r#"<text x="{}" y="{}">{}</text>"#,
                    x0 + 2.0,
                    l.row_y(None) + ROW * 0.7,
                    esc(cv)
                );
            }
            out.push('\n');
        }
        for m in &a.members {
            let Some(i) = l.members.iter().position(|n| n == &m.name) else {
                continue;
            };
            let y = l.row_y(Some(i)) + 4.0;
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
/// step failed, labelled underneath in the row `place_labels` chose.
fn marks(out: &mut String, l: &Layout, applied: &[Applied], labels: &[Label], top: f64) {
    for (a, label) in applied.iter().zip(labels) {
        let color = if a.outcome.is_err() { FAILED } else { "#222" };
        let op = label_of(a);
        let row_of = l
            .members
            .iter()
            .position(|m| op.split(|c: char| !c.is_alphanumeric()).any(|w| w == m));
        let y = l.row_y(row_of) + 2.0;
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
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" fill="{color}" font-size="9" text-anchor="{}">{}</text>"#,
            label.x,
            top + LABEL_ROW * (label.row as f64 + 0.8),
            label.anchor,
            esc(op)
        );
    }
}

/// The traffic panel: per time slice, acknowledged requests per second (grey bars) with the
/// failed or unanswered ones stacked on top (red), and the median and worst latency (lines,
/// own scale on the right); every operation's span shaded behind.
fn traffic(out: &mut String, l: &Layout, applied: &[Applied], events: &[Event], top: f64) {
    let bottom = top + TRAFFIC;
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{top}" width="{WIDTH}" height="{TRAFFIC}" fill="none" stroke="#999"/><text x="4" y="{}">traffic</text><text x="4" y="{}" font-size="9">requests/s</text>"##,
        top + 44.0,
        top + 56.0
    );
    for a in applied.iter().filter(|a| a.start_ms > 0 || a.step > 0) {
        let (x0, x1) = (l.x(a.start_ms), l.x(a.end_ms));
        let _ = writeln!(
            out,
            r##"<rect x="{x0}" y="{top}" width="{}" height="{TRAFFIC}" fill="{}" fill-opacity="0.10"><title>{}</title></rect>"##,
            (x1 - x0).max(1.5),
            if a.outcome.is_err() {
                FAILED
            } else {
                "#f28e2b"
            },
            esc(&a.op)
        );
    }
    if events.is_empty() {
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" font-size="9">no traffic recorded</text>"#,
            LEFT + 6.0,
            top + 14.0
        );
        return;
    }
    let slices = 120usize;
    let slice_ms = (l.end as f64 / slices as f64).max(1.0);
    let mut ok = vec![0u32; slices];
    let mut bad = vec![0u32; slices];
    let mut lat: Vec<Vec<u64>> = vec![Vec::new(); slices];
    for e in events {
        let i = ((e.invoke_us as f64 / 1000.0 / slice_ms) as usize).min(slices - 1);
        match e.outcome {
            Outcome::Ok { .. } => ok[i] += 1,
            _ => bad[i] += 1,
        }
        lat[i].push(e.complete_us.saturating_sub(e.invoke_us));
    }
    let per_sec = 1000.0 / slice_ms;
    let max_rate = (0..slices)
        .map(|i| (ok[i] + bad[i]) as f64 * per_sec)
        .fold(1.0, f64::max);
    let max_lat = lat.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let bar_w = WIDTH / slices as f64;
    let (mut p50, mut worst) = (Vec::new(), Vec::new());
    for i in 0..slices {
        let x = LEFT + bar_w * i as f64;
        let h_ok = (TRAFFIC - 4.0) * ok[i] as f64 * per_sec / max_rate;
        let h_bad = (TRAFFIC - 4.0) * bad[i] as f64 * per_sec / max_rate;
        let _ = write!(
            out,
            r##"<rect x="{x}" y="{}" width="{}" height="{h_ok}" fill="#9aa5b1"/>"##,
            bottom - h_ok,
            bar_w * 0.9
        );
        if bad[i] > 0 {
            let _ = write!(
                out,
                r#"<rect x="{x}" y="{}" width="{}" height="{h_bad}" fill="{FAILED}"><title>{} failed or unanswered</title></rect>"#,
                bottom - h_ok - h_bad,
                bar_w * 0.9,
                bad[i]
            );
        }
        if !lat[i].is_empty() {
            lat[i].sort_unstable();
            let y = |us: u64| bottom - (TRAFFIC - 4.0) * us as f64 / max_lat;
            let cx = x + bar_w / 2.0;
            p50.push(format!("{cx:.1},{:.1}", y(lat[i][lat[i].len() / 2])));
            worst.push(format!("{cx:.1},{:.1}", y(*lat[i].last().unwrap())));
        }
    }
    out.push('\n');
    let _ = writeln!(
        out,
        r##"<polyline points="{}" fill="none" stroke="#4e79a7" stroke-width="1.5"/><polyline points="{}" fill="none" stroke="#b07aa1" stroke-width="1" stroke-dasharray="3,2"/>"##,
        p50.join(" "),
        worst.join(" ")
    );
    let _ = writeln!(
        out,
        r##"<text x="{}" y="{}" font-size="9" text-anchor="end">{max_rate:.0}/s</text><text x="{}" y="{}" font-size="9" fill="#b07aa1">{:.0} ms</text><text x="{}" y="{}" font-size="9" fill="#b07aa1">0</text>"##,
        LEFT - 4.0,
        top + 10.0,
        LEFT + WIDTH + 4.0,
        top + 10.0,
        max_lat / 1000.0,
        LEFT + WIDTH + 4.0,
        bottom
    );
}

/// One swatch per release and one for down members, and how to read the rest.
fn legend(out: &mut String, l: &Layout, ly: f64) {
    let swatches = l.releases.iter().map(|r| (r.as_str(), l.color(r)));
    let mut lx = LEFT;
    for (r, c) in swatches.chain([("down", "#bbbbbb")]) {
        let _ = writeln!(
            out,
            r#"<rect x="{lx}" y="{}" width="12" height="12" fill="{c}"/><text x="{}" y="{ly}">{}</text>"#,
            ly - 10.0,
            lx + 16.0,
            esc(r)
        );
        lx += 16.0 + r.chars().count() as f64 * 7.0 + 18.0;
    }
    let _ = writeln!(
        out,
        r##"<text x="{lx}" y="{ly}" font-size="10">leader: black border; paused: faded · traffic: ok (grey), failed/unanswered (red), latency median (blue), worst (dashed)</text>"##
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
        let s = svg(
            &[
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
            ],
            &[],
        );
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert!(s.contains(">m3<") && s.contains("3.5.16") && s.contains("#d62728"));
        assert!(
            s.contains("(leader)") && s.contains("#bbbbbb"),
            "leader and down members are drawn"
        );
    }

    #[test]
    fn labels_close_together_never_overlap() {
        // "member-add r1 3.5.0" once ran into "start m3" on the same line.
        let mut ops: Vec<Applied> = [
            "cluster 3.5.0 3.5.0 3.5.0",
            "member-add r1 3.5.0",
            "start m3",
            "kill m1",
            "restart m2",
            "defrag m1",
        ]
        .iter()
        .enumerate()
        .map(|(i, op)| applied(i, op, (i as u64 * 10, i as u64 * 10 + 5), true, "m1=3.5.0"))
        .collect();
        // A long last step crowds the short ones into the first tenth of the picture.
        ops.last_mut().unwrap().end_ms = 1000;
        let l = Layout::new(&ops, &[]);
        let texts: Vec<(u64, &str)> = ops.iter().map(|a| (a.start_ms, label_of(a))).collect();
        let labels = place_labels(&l, &texts);
        let span = |k: usize| {
            let w = texts[k].1.len() as f64 * CHAR;
            match labels[k].anchor {
                "end" => (labels[k].x - w, labels[k].x),
                _ => (labels[k].x, labels[k].x + w),
            }
        };
        for a in 0..labels.len() {
            for b in a + 1..labels.len() {
                if labels[a].row == labels[b].row {
                    let ((a0, a1), (b0, b1)) = (span(a), span(b));
                    assert!(
                        a1 < b0 || b1 < a0,
                        "{} and {} overlap",
                        texts[a].1,
                        texts[b].1
                    );
                }
            }
        }
        assert!(
            labels.iter().map(|l| l.row).max().unwrap() >= 2,
            "they needed rows"
        );
    }

    #[test]
    fn the_traffic_panel_shows_rates_errors_and_latency() {
        let event = |t_ms: u64, ok: bool| Event {
            client: 0,
            member: "m1".into(),
            invoke_us: t_ms * 1000,
            complete_us: t_ms * 1000 + 2500,
            request: crate::history::kv::Request::Put {
                key: "k".into(),
                value: format!("v{t_ms}"),
                prev_kv: false,
            },
            outcome: if ok {
                Outcome::Ok {
                    listed: None,
                    revision: 2,
                    value: None,
                    succeeded: None,
                    kvs: vec![],
                    deleted: None,
                }
            } else {
                Outcome::Unknown {
                    error: "timeout".into(),
                }
            },
        };
        let events: Vec<Event> = (0..200).map(|t| event(t * 5, t % 50 != 7)).collect();
        let ops = [
            applied(0, "cluster 3.5.16", (0, 10), true, "m1=3.5.16"),
            applied(1, "kill(0): kill m1", (400, 420), false, "m1=3.5.16"),
        ];
        let s = svg(&ops, &events);
        assert!(s.contains("failed or unanswered</title>"), "error bars");
        assert!(s.contains("<polyline"), "latency lines");
        assert!(s.contains(">0s<") && s.contains("requests/s"));
        assert!(s.contains("failed: boom"), "the failure is the caption");
    }
}
