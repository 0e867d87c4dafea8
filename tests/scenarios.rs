//! Every scenario file under `scenarios/` runs as its own test on real clusters, checked by the
//! oracle after every step. A file without a test here fails `every_scenario_file_has_a_test`.

mod common;

use std::path::Path;

use etcd_skew::scenario::{self, Scenario};

fn run(file: &str) {
    let store = common::store();
    let known: Vec<String> = store
        .lock()
        .versions()
        .iter()
        .map(|v| v.to_string())
        .collect();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let s = Scenario::load(&path, &known).unwrap_or_else(|e| panic!("{e}"));
    // Fetch what the scenario needs before the clock of any step starts.
    common::init_logging();
    let report = common::runtime().block_on(async {
        let mut out = Vec::new();
        let r = scenario::run(store, &s, &mut out).await;
        print!("{}", String::from_utf8_lossy(&out));
        r
    });
    if let Some(f) = report.failure() {
        panic!("{f}");
    }
}

macro_rules! scenario_tests {
    ($($name:ident => $file:literal),* $(,)?) => {
        $( #[test] fn $name() { run($file) } )*
        const FILES: &[&str] = &[$($file),*];
    };
}

scenario_tests! {
    upgrade_3_4_to_3_5 => "scenarios/upgrade-3.4-to-3.5.scn",
}

#[test]
fn every_scenario_file_has_a_test() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| format!("scenarios/{}", e.file_name().to_string_lossy()))
        .filter(|f| f.ends_with(".scn"))
        .collect();
    files.sort();
    let mut listed: Vec<String> = FILES.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "add a line to scenario_tests! for each scenario file"
    );
}
