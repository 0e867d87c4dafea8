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
