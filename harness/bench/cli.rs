//! `etcd-skew bench catch-up`: parses the flags once, measures every (pair, size, storage,
//! case, sample), prints a line per sample and the table, writes `catch-up.json`, `.svg`,
//! `.png` into `--out`. `main.rs` only delegates here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand};

use super::catch_up::{self, LastWrite, MeasureOptions, Sample, BEHIND_SNAPSHOT_COUNT};
use super::dataset::DatasetSpec;
use super::error::BenchError;
use super::report::{self, DatasetInfo, Machine, Report};
use super::spec::{self, Case, Pair};
use super::template::Template;
use crate::release::ReleaseStore;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// How long a newly upgraded member takes to catch up on a large v2 dataset (issue 13).
    CatchUp(CatchUpArgs),
}

#[derive(Args, Debug, Clone)]
pub struct CatchUpArgs {
    /// The older release (with --to); default: the pairs 3.3.25→3.4.23 and 3.4.23→3.5.16.
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// The newer release.
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// More pairs, FROM:TO (any pinned release or --binary name).
    #[arg(long = "pair", value_name = "FROM:TO")]
    pub pairs: Vec<String>,
    /// v2 dataset sizes in MB.
    #[arg(long = "v2-mb", default_value = "1,10,50,100")]
    pub v2_mb: String,
    /// v3 keys (1 KiB values) written besides the v2 data.
    #[arg(long, default_value_t = 0)]
    pub v3_keys: u32,
    /// Samples per point.
    #[arg(long, default_value = "3")]
    pub samples: String,
    /// Cases to run.
    #[arg(long, default_value = "upgrade,baseline,new-member,behind-snapshot")]
    pub cases: String,
    /// Where members' data dirs go: `tmpfs` or a disk path; repeat for both.
    #[arg(long = "data-root", default_value = "tmpfs")]
    pub data_roots: Vec<String>,
    /// Seconds a member may take to catch up before the sample is an error.
    #[arg(long, default_value = "600")]
    pub timeout: String,
    /// Output directory for catch-up.json, .svg, .png and table.md.
    #[arg(long, default_value = "bench-out")]
    pub out: PathBuf,
    /// No progress bar or progress lines.
    #[arg(long)]
    pub quiet: bool,
}

/// The validated plan of a run.
struct Plan {
    pairs: Vec<Pair>,
    sizes: Vec<u32>,
    samples: usize,
    cases: Vec<Case>,
    roots: Vec<Option<PathBuf>>,
    opts: MeasureOptions,
}

fn parse_positive(field: &'static str, s: &str) -> Result<u64, BenchError> {
    match s.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(BenchError::bad(
            field,
            s,
            "expected a whole number of at least 1",
        )),
    }
}

fn plan(store: &ReleaseStore, a: &CatchUpArgs) -> Result<Plan, BenchError> {
    let sizes = spec::parse_sizes(&a.v2_mb)?;
    let samples = parse_positive("--samples", &a.samples)? as usize;
    let timeout = Duration::from_secs(parse_positive("--timeout", &a.timeout)?);
    let cases = spec::parse_cases(&a.cases)?;
    let mut names: Vec<(String, String)> = Vec::new();
    if let (Some(f), Some(t)) = (&a.from, &a.to) {
        names.push((f.clone(), t.clone()));
    }
    for p in &a.pairs {
        let (f, t) = p
            .split_once(':')
            .ok_or_else(|| BenchError::bad("--pair", p, "expected FROM:TO, e.g. 3.4.23:3.5.16"))?;
        names.push((f.into(), t.into()));
    }
    if names.is_empty() {
        names = vec![
            ("3.3.25".into(), "3.4.23".into()),
            ("3.4.23".into(), "3.5.16".into()),
        ];
    }
    let pairs = names
        .iter()
        .map(|(f, t)| Pair::resolve(store, f, t))
        .collect::<Result<Vec<_>, _>>()?;
    let roots = a
        .data_roots
        .iter()
        .map(|r| {
            if r == "tmpfs" {
                return Ok(None);
            }
            let p = PathBuf::from(r);
            if !p.is_dir() {
                return Err(BenchError::bad(
                    "--data-root",
                    r,
                    "not a directory (or `tmpfs`)",
                ));
            }
            Ok(Some(p))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Plan {
        pairs,
        sizes,
        samples,
        cases,
        roots,
        opts: MeasureOptions {
            timeout,
            ..MeasureOptions::default()
        },
    })
}

/// Runs `etcd-skew bench …`.
pub async fn run(args: BenchArgs, store: &ReleaseStore) -> Result<(), BenchError> {
    match args.command {
        BenchCommand::CatchUp(a) => catch_up_command(a, store).await,
    }
}

async fn catch_up_command(a: CatchUpArgs, store: &ReleaseStore) -> Result<(), BenchError> {
    let plan = plan(store, &a)?;
    std::fs::create_dir_all(&a.out).map_err(|e| BenchError::io(a.out.display().to_string(), e))?;
    let loadavg_before = loadavg();
    let mut samples = Vec::new();
    let mut datasets = Vec::new();
    let mut failures = Vec::new();
    for pair in &plan.pairs {
        for &mb in &plan.sizes {
            let spec = DatasetSpec {
                mb,
                v3_keys: a.v3_keys,
            };
            let t = Template::ensure(store.root(), &pair.from, &spec, a.quiet).await?;
            if !datasets
                .iter()
                .any(|d: &DatasetInfo| d.release == pair.from.name && d.mb == mb)
            {
                datasets.push(dataset_info(&t));
            }
            for root in &plan.roots {
                for &case in &plan.cases {
                    for n in 0..plan.samples {
                        let s = match sample(&t, pair, case, root.as_deref(), &plan.opts).await {
                            Ok(s) => s,
                            Err(e) => {
                                let what =
                                    format!("{} {case} {mb} MB #{}: {e}", pair.label(), n + 1);
                                eprintln!("etcd-skew: sample failed: {what}");
                                failures.push(what);
                                continue;
                            }
                        };
                        println!(
                            "{} {case} {mb} MB {} #{}: caught up in {:.2}s (resolution {:.0} ms), /health {}",
                            pair.label(),
                            s.storage,
                            n + 1,
                            s.seconds,
                            s.resolution_ms,
                            s.health_seconds.map_or("-".into(), |h| format!("{h:.2}s")),
                        );
                        samples.push(s);
                    }
                }
            }
        }
    }
    let points = report::points(&samples);
    let slopes = report::slopes(&points);
    let table = report::table(&points, &slopes);
    println!("\n{table}");
    let rep = Report {
        machine: Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            loadavg_before,
            loadavg_after: loadavg(),
            poll_interval_ms: plan.opts.interval.as_secs_f64() * 1000.0,
        },
        datasets,
        failures: failures.clone(),
        samples,
        points,
        slopes,
    };
    write_atomic(&a.out.join("table.md"), table.as_bytes())?;
    let json = serde_json::to_vec_pretty(&rep).expect("serializable");
    write_atomic(&a.out.join("catch-up.json"), &json)?;
    let (svg, png) = super::plot::write(&rep.points, &a.out.join("catch-up"))?;
    println!(
        "wrote {}, {}, {}",
        a.out.join("catch-up.json").display(),
        svg.display(),
        png.display()
    );
    Ok(())
}

/// One sample: a fresh copy of the template, one case on it.
pub async fn sample(
    t: &Template,
    pair: &Pair,
    case: Case,
    root: Option<&Path>,
    opts: &MeasureOptions,
) -> Result<Sample, BenchError> {
    let flags = match case {
        Case::BehindSnapshot => vec![format!("--snapshot-count={BEHIND_SNAPSHOT_COUNT}")],
        _ => vec![format!("--snapshot-count={}", t.manifest.snapshot_count)],
    };
    let mut inst = t.instantiate(&pair.from, root, &flags).await?;
    let last = LastWrite {
        key: t.manifest.filled.last_key.clone(),
        value: t.manifest.filled.last_value.clone(),
    };
    let r = catch_up::run_case(&mut inst.cluster, pair, case, &last, opts).await;
    if r.is_err() {
        let kept = inst.cluster.keep_artifacts();
        eprintln!(
            "etcd-skew: {case} failed; logs and data kept in {}",
            kept.display()
        );
    }
    let mut s = r?;
    s.mb = t.manifest.spec.mb;
    s.storage = root.map_or("tmpfs".into(), |p| format!("disk ({})", p.display()));
    Ok(s)
}

fn dataset_info(t: &Template) -> DatasetInfo {
    let m = &t.manifest;
    DatasetInfo {
        release: m.release.clone(),
        mb: m.spec.mb,
        v2_keys: m.filled.v2_keys,
        ttl_keys: m.filled.ttl_keys,
        v3_keys: m.filled.v3_keys,
        build_snapshot_count: m.snapshot_count,
        snap_files: m.members.iter().map(|x| x.snap_files).collect(),
        snap_bytes: m.members.iter().map(|x| x.snap_bytes).collect(),
        db_bytes: m.members.iter().map(|x| x.db_bytes).collect(),
        fill_seconds: m.filled.seconds,
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Temp file + rename: a reader never sees half a report.
fn write_atomic(path: &Path, data: &[u8]) -> Result<(), BenchError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| BenchError::io(path.display().to_string(), e))
}
