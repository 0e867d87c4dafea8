//! Samples → summary rows (median per point), slopes (seconds per MB, least squares over the
//! medians), a terminal table and a JSON document. Pure: values in, values out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::catch_up::Sample;
use super::spec::Case;

/// One point of a curve: the samples of (pair, case, storage, size).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub pair: String,
    pub case: Case,
    pub storage: String,
    pub mb: u32,
    pub samples: usize,
    pub median_seconds: f64,
    pub min_seconds: f64,
    pub max_seconds: f64,
    pub median_health_seconds: Option<f64>,
    pub max_resolution_ms: f64,
    pub max_peak_rss_mb: f64,
    pub median_cpu_seconds: f64,
    pub max_peer_mb_received: Option<f64>,
}

/// One curve's cost growth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slope {
    pub pair: String,
    pub case: Case,
    pub storage: String,
    /// Seconds per MB of v2 data (least squares over the medians); `None` with one size.
    pub seconds_per_mb: Option<f64>,
    /// Intercept: the size-independent part (start-up, election contact).
    pub intercept_seconds: Option<f64>,
}

/// The whole report, as written to `catch-up.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub machine: Machine,
    pub datasets: Vec<DatasetInfo>,
    /// Samples that ended in an error (a timeout, a failed start), one line each.
    pub failures: Vec<String>,
    pub samples: Vec<Sample>,
    pub points: Vec<Point>,
    pub slopes: Vec<Slope>,
}

/// What a template holds, from its manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DatasetInfo {
    pub release: String,
    pub mb: u32,
    pub v2_keys: u64,
    pub ttl_keys: u64,
    pub v3_keys: u64,
    pub build_snapshot_count: u64,
    /// Per member: `.snap` files and bytes, `db` bytes.
    pub snap_files: Vec<u64>,
    pub snap_bytes: Vec<u64>,
    pub db_bytes: Vec<u64>,
    pub fill_seconds: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    pub cores: usize,
    pub loadavg_before: String,
    pub loadavg_after: String,
    pub poll_interval_ms: f64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

type CurveKey = (String, Case, String);

pub fn points(samples: &[Sample]) -> Vec<Point> {
    let mut groups: BTreeMap<(CurveKey, u32), Vec<&Sample>> = BTreeMap::new();
    for s in samples {
        groups
            .entry(((s.pair.clone(), s.case, s.storage.clone()), s.mb))
            .or_default()
            .push(s);
    }
    groups
        .into_iter()
        .map(|(((pair, case, storage), mb), ss)| {
            let mut secs: Vec<f64> = ss.iter().map(|s| s.seconds).collect();
            let mut health: Vec<f64> = ss.iter().filter_map(|s| s.health_seconds).collect();
            let mut cpu: Vec<f64> = ss.iter().map(|s| s.cpu_seconds).collect();
            let mb_f = |b: u64| b as f64 / 1048576.0;
            Point {
                pair,
                case,
                storage,
                mb,
                samples: ss.len(),
                min_seconds: secs.iter().copied().fold(f64::INFINITY, f64::min),
                max_seconds: secs.iter().copied().fold(0.0, f64::max),
                median_seconds: median(&mut secs),
                median_health_seconds: (!health.is_empty()).then(|| median(&mut health)),
                max_resolution_ms: ss.iter().map(|s| s.resolution_ms).fold(0.0, f64::max),
                max_peak_rss_mb: ss
                    .iter()
                    .map(|s| mb_f(s.peak_rss_bytes))
                    .fold(0.0, f64::max),
                median_cpu_seconds: median(&mut cpu),
                max_peer_mb_received: ss
                    .iter()
                    .filter_map(|s| s.peer_bytes_received)
                    .map(mb_f)
                    .reduce(f64::max),
            }
        })
        .collect()
}

/// Least-squares line through (mb, median seconds) of each curve.
pub fn slopes(points: &[Point]) -> Vec<Slope> {
    let mut curves: BTreeMap<CurveKey, Vec<(f64, f64)>> = BTreeMap::new();
    for p in points {
        curves
            .entry((p.pair.clone(), p.case, p.storage.clone()))
            .or_default()
            .push((f64::from(p.mb), p.median_seconds));
    }
    curves
        .into_iter()
        .map(|((pair, case, storage), xy)| {
            let fit = fit_line(&xy);
            Slope {
                pair,
                case,
                storage,
                seconds_per_mb: fit.map(|f| f.0),
                intercept_seconds: fit.map(|f| f.1),
            }
        })
        .collect()
}

/// (slope, intercept), or `None` unless two distinct x values.
pub fn fit_line(xy: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = xy.len() as f64;
    let mx = xy.iter().map(|p| p.0).sum::<f64>() / n;
    let my = xy.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = xy.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if xy.len() < 2 || sxx == 0.0 {
        return None;
    }
    let sxy: f64 = xy.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let b = sxy / sxx;
    Some((b, my - b * mx))
}

/// A Markdown table (also readable on a terminal) of the points, then the slopes.
pub fn table(points: &[Point], slopes: &[Slope]) -> String {
    let mut s = String::from(
        "| pair | case | storage | v2 MB | n | caught up s (min–max) | /health s | res. ms | peak RSS MB | CPU s | peer MB in |\n\
         |---|---|---|---:|---:|---|---:|---:|---:|---:|---:|\n",
    );
    for p in points {
        s +=
            &format!(
            "| {} | {} | {} | {} | {} | {:.2} ({:.2}–{:.2}) | {} | {:.0} | {:.0} | {:.2} | {} |\n",
            p.pair,
            p.case,
            p.storage,
            p.mb,
            p.samples,
            p.median_seconds,
            p.min_seconds,
            p.max_seconds,
            p.median_health_seconds.map_or("-".into(), |h| format!("{h:.2}")),
            p.max_resolution_ms,
            p.max_peak_rss_mb,
            p.median_cpu_seconds,
            p.max_peer_mb_received.map_or("-".into(), |m| format!("{m:.1}")),
        );
    }
    s += "\n| pair | case | storage | s per MB | intercept s |\n|---|---|---|---:|---:|\n";
    for l in slopes {
        s += &format!(
            "| {} | {} | {} | {} | {} |\n",
            l.pair,
            l.case,
            l.storage,
            l.seconds_per_mb.map_or("-".into(), |v| format!("{v:.4}")),
            l.intercept_seconds
                .map_or("-".into(), |v| format!("{v:.2}")),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(mb: u32, seconds: f64) -> Sample {
        Sample {
            pair: "a→b".into(),
            case: Case::Upgrade,
            mb,
            storage: "tmpfs".into(),
            seconds,
            health_seconds: Some(seconds / 2.0),
            resolution_ms: 12.0,
            target_index: 1,
            peak_rss_bytes: 1 << 20,
            cpu_seconds: 1.0,
            peer_bytes_received: None,
            snapshots_received: None,
            paused_seconds: 0.0,
        }
    }

    #[test]
    fn medians_and_slope_of_a_line() {
        let s = vec![
            sample(1, 1.0),
            sample(1, 3.0),
            sample(1, 2.0),
            sample(10, 11.0),
            sample(100, 101.0),
        ];
        let p = points(&s);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].median_seconds, 2.0);
        assert_eq!((p[0].min_seconds, p[0].max_seconds), (1.0, 3.0));
        let l = slopes(&p);
        let b = l[0].seconds_per_mb.unwrap();
        assert!((b - 1.0).abs() < 0.01, "{b}");
        assert!(fit_line(&[(5.0, 1.0)]).is_none());
        assert!(table(&p, &l).contains("| a→b | upgrade | tmpfs | 100 | 1 | 101.00"));
    }
}
