//! Shared test plumbing: pinned releases from the real cache, a runtime, logging.
#![allow(dead_code)]

pub mod http;

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
    let known: Vec<String> = store
        .lock()
        .versions()
        .iter()
        .map(|v| v.to_string())
        .collect();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let s = etcd_skew::scenario::Scenario::load(&path, &known).unwrap_or_else(|e| panic!("{e}"));
    init_logging();
    runtime().block_on(async {
        let mut out = Vec::new();
        let r = etcd_skew::scenario::run(store, &s, &mut out).await;
        print!("{}", String::from_utf8_lossy(&out));
        r
    })
}
