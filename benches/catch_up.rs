//! Catch-up time (issue 13) under criterion: each iteration copies the cached template, starts
//! the cluster and measures one case; the time criterion sees is the measured catch-up alone
//! (`iter_custom`), not the copy or the cluster start. Few samples, flat sampling: one
//! iteration is a whole cluster.
//!
//! Sizes: 1 MB by default so `cargo bench` stays short; `ETCD_SKEW_BENCH_MB=1,10,50,100` for
//! the curve (the first run builds each template). `ETCD_SKEW_BENCH_PAIR=3.3.25:3.4.23` picks
//! the pair (default 3.4.23:3.5.16). The README's numbers come from `etcd-skew bench catch-up`,
//! which records every figure; this is for comparing a change quickly.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use etcd_skew::bench::catch_up::MeasureOptions;
use etcd_skew::bench::cli;
use etcd_skew::bench::dataset::DatasetSpec;
use etcd_skew::bench::spec::{self, Case, Pair};
use etcd_skew::bench::template::Template;
use etcd_skew::release::ReleaseStore;

fn catch_up(c: &mut Criterion) {
    let store = ReleaseStore::from_env().expect("binaries.lock loads");
    let pair_env = std::env::var("ETCD_SKEW_BENCH_PAIR").unwrap_or_else(|_| "3.4.23:3.5.16".into());
    let (from, to) = pair_env
        .split_once(':')
        .expect("ETCD_SKEW_BENCH_PAIR is FROM:TO");
    let pair = Pair::resolve(&store, from, to).unwrap_or_else(|e| panic!("{e}"));
    let sizes =
        spec::parse_sizes(&std::env::var("ETCD_SKEW_BENCH_MB").unwrap_or_else(|_| "1".into()))
            .unwrap_or_else(|e| panic!("ETCD_SKEW_BENCH_MB: {e}"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let opts = MeasureOptions {
        timeout: Duration::from_secs(600),
        ..MeasureOptions::default()
    };
    let mut g = c.benchmark_group(format!("catch-up {}", pair.label()));
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    for mb in sizes {
        let spec = DatasetSpec { mb, v3_keys: 0 };
        let t = rt
            .block_on(Template::ensure(store.root(), &pair.from, &spec, false))
            .unwrap_or_else(|e| panic!("{e}"));
        for case in [Case::Upgrade, Case::Baseline] {
            g.bench_function(format!("{case}/{mb}MB"), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            let s = rt
                                .block_on(cli::sample(&t, &pair, case, None, &opts))
                                .unwrap_or_else(|e| panic!("{e}"));
                            Duration::from_secs_f64(s.seconds)
                        })
                        .sum()
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, catch_up);
criterion_main!(benches);
