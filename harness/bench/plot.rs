//! The catch-up curves as SVG and PNG: size on x, seconds on y (log scale, so a 1 s curve and
//! the guide's 120 s both read), one line per pair, case and storage, and the upgrade guides'
//! "up to two minutes at 50 MB" marked.
//!
//! Text needs a font and plotters' bitmap backend has none built in: the `ab_glyph` feature
//! takes one TrueType file, DejaVu Sans (Debian `fonts-dejavu-core`) or `ETCD_SKEW_FONT`, so no
//! fontconfig or system font lookup is involved.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::error::BenchError;
use super::report::Point;

const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const SIZE: (u32, u32) = (1100, 700);

fn font_path() -> PathBuf {
    std::env::var_os("ETCD_SKEW_FONT")
        .map(PathBuf::from)
        .unwrap_or_else(|| DEFAULT_FONT.into())
}

/// Registers the font once per process.
fn register_font(out: &Path) -> Result<(), BenchError> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let p = font_path();
        let bytes = std::fs::read(&p).map_err(|e| {
            format!(
                "font {}: {e} (install fonts-dejavu-core or set ETCD_SKEW_FONT)",
                p.display()
            )
        })?;
        let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, leaked)
            .map_err(|_| format!("font {}: not a usable TrueType font", p.display()))
    })
    .clone()
    .map_err(|message| BenchError::Plot {
        path: out.to_path_buf(),
        message,
    })
}

/// Writes `<stem>.svg` and `<stem>.png`.
pub fn write(points: &[Point], stem: &Path) -> Result<(PathBuf, PathBuf), BenchError> {
    let svg = stem.with_extension("svg");
    let png = stem.with_extension("png");
    register_font(&png)?;
    let err = |p: &Path| {
        let p = p.to_path_buf();
        move |message: String| BenchError::Plot {
            path: p.clone(),
            message,
        }
    };
    draw(SVGBackend::new(&svg, SIZE).into_drawing_area(), points).map_err(err(&svg))?;
    draw(BitMapBackend::new(&png, SIZE).into_drawing_area(), points).map_err(err(&png))?;
    Ok((svg, png))
}

type Curve<'a> = ((String, String, String), Vec<&'a Point>);

fn curves(points: &[Point]) -> Vec<Curve<'_>> {
    let mut out: Vec<Curve> = Vec::new();
    for p in points {
        let k = (p.pair.clone(), p.case.to_string(), p.storage.clone());
        match out.iter_mut().find(|(key, _)| *key == k) {
            Some((_, v)) => v.push(p),
            None => out.push((k, vec![p])),
        }
    }
    for (_, v) in &mut out {
        v.sort_by_key(|p| p.mb);
    }
    out
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, points: &[Point]) -> Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let max_mb = points.iter().map(|p| p.mb).max().unwrap_or(100).max(50) as f64 * 1.05;
    let min_s = points
        .iter()
        .map(|p| p.median_seconds)
        .fold(1.0, f64::min)
        .max(0.01)
        / 1.5;
    let max_s = points.iter().map(|p| p.max_seconds).fold(150.0, f64::max) * 1.5;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "etcd catch-up after restart/upgrade vs v2 data size",
            ("sans-serif", 26),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(0f64..max_mb, (min_s..max_s).log_scale())
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("v2 data (MB)")
        .y_desc("seconds until caught up (log)")
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(e)?;
    // The guides' figure: up to two minutes at 50 MB.
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 120.0), (max_mb, 120.0)],
            RED.mix(0.4).stroke_width(1),
        )))
        .map_err(e)?;
    chart
        .draw_series(std::iter::once(Cross::new(
            (50.0, 120.0),
            9,
            RED.stroke_width(3),
        )))
        .map_err(e)?
        .label("guides: up to 2 min at 50 MB")
        .legend(|(x, y)| Cross::new((x + 10, y), 6, RED.stroke_width(3)));
    for (n, ((pair, case, storage), ps)) in curves(points).into_iter().enumerate() {
        let color = Palette99::pick(n).to_rgba();
        let style = if storage == "tmpfs" {
            color.stroke_width(2)
        } else {
            color.stroke_width(4)
        };
        let xy: Vec<(f64, f64)> = ps
            .iter()
            .map(|p| (f64::from(p.mb), p.median_seconds))
            .collect();
        chart
            .draw_series(LineSeries::new(xy.clone(), style))
            .map_err(e)?
            .label(format!("{pair} {case} ({storage})"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        chart
            .draw_series(xy.into_iter().map(|c| Circle::new(c, 4, color.filled())))
            .map_err(e)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::spec::Case;

    fn point(case: Case, storage: &str, mb: u32, s: f64) -> Point {
        Point {
            pair: "3.4.23→3.5.16".into(),
            case,
            storage: storage.into(),
            mb,
            samples: 1,
            median_seconds: s,
            min_seconds: s,
            max_seconds: s,
            median_health_seconds: None,
            max_resolution_ms: 10.0,
            max_peak_rss_mb: 1.0,
            median_cpu_seconds: 1.0,
            max_peer_mb_received: None,
        }
    }

    #[test]
    fn writes_svg_and_png_with_labels() {
        let dir = tempfile::tempdir().unwrap();
        let pts = vec![
            point(Case::Upgrade, "tmpfs", 1, 0.3),
            point(Case::Upgrade, "tmpfs", 10, 1.2),
            point(Case::NewMember, "disk (/x)", 1, 0.5),
        ];
        let (svg, png) = write(&pts, &dir.path().join("c")).unwrap();
        let text = std::fs::read_to_string(svg).unwrap();
        assert!(text.contains("up to 2 min at 50 MB") && text.contains("new-member"));
        let bytes = std::fs::read(png).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }
}
