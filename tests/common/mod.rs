//! Shared test plumbing: pinned releases from the real cache, a runtime, logging.
#![allow(dead_code)]

pub mod http;
pub mod relay;

use std::sync::OnceLock;

use etcd_skew::release::{Release, ReleaseStore};

pub fn store() -> &'static ReleaseStore {
    static STORE: OnceLock<ReleaseStore> = OnceLock::new();
    STORE.get_or_init(|| ReleaseStore::from_env().expect("binaries.lock loads"))
}

/// Fetches (once per cache) and verifies each named release.
pub fn releases(names: &[&str]) -> Vec<Release> {
    init_logging();
    names
        .iter()
        .map(|n| store().resolve(n).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Loads and runs one scenario file (path relative to the crate) on real clusters, printing its
/// steps; the report says whether and where it failed.
pub fn run_scenario(file: &str) -> etcd_skew::scenario::ScenarioReport {
    let store = store();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let s = etcd_skew::scenario::Scenario::load(&path, &store.names())
        .unwrap_or_else(|e| panic!("{e}"));
    run_parsed(&s)
}

/// Runs a parsed scenario on real clusters, printing its steps.
fn run_parsed(s: &etcd_skew::scenario::Scenario) -> etcd_skew::scenario::ScenarioReport {
    init_logging();
    runtime().block_on(async {
        let mut out = Vec::new();
        let r = etcd_skew::scenario::run(store(), s, &mut out).await;
        print!("{}", String::from_utf8_lossy(&out));
        r
    })
}

/// Runs `scenarios/templates/NAME.scn` on `from → to` (an `each` template when they are equal),
/// after checking that the template claims to apply there.
pub fn run_template(name: &str, from: &str, to: &str) -> etcd_skew::scenario::ScenarioReport {
    run_template_at(&format!("scenarios/templates/{name}.scn"), from, to)
}

/// Runs the template at `file` (relative to the crate) on `from → to`, as `run_template`.
pub fn run_template_at(file: &str, from: &str, to: &str) -> etcd_skew::scenario::ScenarioReport {
    use etcd_skew::scenario::{ReleaseRef, Template};
    let store = store();
    let name = file;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let t = Template::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let side = |n: &str| ReleaseRef::new(n, store.resolve(n).unwrap().version);
    let (from, to) = (side(from), side(to));
    let applies = if from == to {
        t.applies_alone(&from.version)
    } else {
        t.applies(&from.version, &to.version)
    };
    assert!(
        applies,
        "{name} does not apply to {} → {}",
        from.name, to.name
    );
    let s = t
        .instantiate(&from, &to, &store.names())
        .unwrap_or_else(|e| panic!("{e}"));
    run_parsed(&s)
}

/// Held by tests that load the machine (several clusters, or timing-sensitive faults): the
/// 2 cores run one of them at a time, as the brief asks.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}
