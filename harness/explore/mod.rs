//! Randomized exploration: step sequences ([`plan`]) run as real cases under traffic
//! ([`case`]), searched and shrunk with proptest ([`search`]), saved as replay files
//! ([`replay`]), drawn as timelines ([`timeline`]).

pub mod case;
pub mod plan;
pub mod replay;
pub mod search;
pub mod timeline;

pub use case::{run_case, CaseOutcome, CaseSetup};
pub use plan::{Step, Weights};
pub use replay::Replay;
pub use search::{explore, ExploreConfig, ExploreReport};
