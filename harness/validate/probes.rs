//! What a validation measures from the binaries rather than checks: the compatibility diff
//! (flags from `--help`, metrics and endpoints from a running member) and the catch-up
//! benchmark.

use std::path::Path;

use super::report::{CatchUpResult, CompatResult, FlagChanges, Outcome};
use super::surface;
use crate::release::compat;
use crate::release::{Release, ReleaseStore};

/// The flag diff (from the binaries' help) and the surface diff (from one running member of
/// each); what could not be read goes to `errors`.
pub(super) async fn compat_of(from: &Release, to: &Release) -> CompatResult {
    let mut errors = Vec::new();
    let flags = match (compat::help_of(from), compat::help_of(to)) {
        (Ok(a), Ok(b)) => {
            let d = compat::diff(&a, &b);
            let shown = |d: &Option<String>| format!("'{}'", d.as_deref().unwrap_or(""));
            Some(FlagChanges {
                removed: d.removed,
                added: d.added,
                renamed: d
                    .renamed
                    .iter()
                    .map(|r| format!("{} → {}", r.older, r.newer))
                    .collect(),
                defaults_changed: d
                    .defaults_changed
                    .iter()
                    .map(|c| format!("{}: {} → {}", c.flag, shown(&c.older), shown(&c.newer)))
                    .collect(),
            })
        }
        (a, b) => {
            for e in [a.err(), b.err()].into_iter().flatten() {
                let chain: Vec<String> = crate::release::error::causes(&e)
                    .map(|c| c.to_string())
                    .collect();
                errors.push(format!("flags: {}", chain.join(": ")));
            }
            None
        }
    };
    let surface = match (surface::probe(from).await, surface::probe(to).await) {
        (Ok(a), Ok(b)) => Some(surface::diff(&a, &b)),
        (a, b) => {
            for e in [a.err(), b.err()].into_iter().flatten() {
                errors.push(format!("metrics and endpoints: {e}"));
            }
            None
        }
    };
    CompatResult {
        flags,
        surface,
        errors,
    }
}

/// The catch-up benchmark's upgrade and baseline cases once each at `mb` MB of v2 data (the
/// dataset template is built once and cached), with its plot.
pub(super) async fn catch_up(
    store: &ReleaseStore,
    from: &Release,
    to: &Release,
    mb: u32,
    out: &Path,
) -> CatchUpResult {
    use crate::bench::{
        catch_up::MeasureOptions,
        cli::sample,
        dataset::DatasetSpec,
        spec::{Case, Pair},
        template::Template,
    };
    let mut result = CatchUpResult {
        mb,
        outcome: Outcome::Passed,
        samples: Vec::new(),
        plot_svg: None,
    };
    let run = async {
        let pair = Pair::resolve(store, &from.name, &to.name)?;
        let t = Template::ensure(
            store.root(),
            &pair.from,
            &DatasetSpec { mb, v3_keys: 0 },
            true,
        )
        .await?;
        let mut samples = Vec::new();
        for case in [Case::Upgrade, Case::Baseline] {
            samples.push(sample(&t, &pair, case, None, &MeasureOptions::default()).await?);
        }
        let points = crate::bench::report::points(&samples);
        std::fs::create_dir_all(out)
            .map_err(|e| crate::bench::error::BenchError::io(out.display().to_string(), e))?;
        let (svg, _) = crate::bench::plot::write(&points, &out.join("catch-up"))?;
        Ok::<_, crate::bench::error::BenchError>((samples, std::fs::read_to_string(svg).ok()))
    };
    match run.await {
        Ok((samples, svg)) => {
            result.samples = samples
                .iter()
                .map(|s| (s.case.to_string(), s.seconds))
                .collect();
            result.plot_svg = svg;
        }
        Err(e) => {
            result.outcome = Outcome::NotRun {
                reason: format!("the benchmark could not run: {e}"),
            }
        }
    }
    result
}
