//! Randomized exploration: cases of a drawn cluster configuration ([`config`]) and step
//! sequence ([`plan`]) run as real cases under traffic ([`case`]: each step [`translate`]d to
//! operations, traffic in [`epoch`]s, a failure's [`artifacts`]), searched and shrunk with
//! proptest, flaky failures kept by retries ([`search`]), split over machines ([`shard`]), saved as replay files ([`replay`]),
//! drawn as timelines ([`timeline`]) from the [`record`] of applied operations.

pub mod artifacts;
pub mod case;
pub mod config;
pub mod epoch;
pub mod plan;
pub mod record;
pub mod replay;
pub mod search;
pub mod setup;
pub mod shard;
pub mod timeline;
pub mod translate;

pub use case::{run_case, CaseOutcome};
pub use config::CaseConfig;
pub use plan::{Step, Weights};
pub use replay::{FailRate, Replay};
pub use search::{explore, ExploreConfig, ExploreReport, Finding};
pub use setup::{release_pairs, CaseSetup, NamedRelease, PairError};
pub use shard::Shard;
