//! Scenarios: declarative procedures ([`file`]) run step by step against the oracle ([`run`]).

pub mod file;
pub mod run;

pub use file::{Scenario, ScenarioError};
pub use run::{run, ScenarioReport};
