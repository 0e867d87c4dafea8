//! Scenarios: declarative procedures ([`file`]) run step by step against the oracle ([`run`]),
//! and templates of them over a release pair ([`template`]).

pub mod file;
pub mod run;
pub mod template;

pub use file::{Scenario, ScenarioError};
pub use run::{run, ScenarioReport};
pub use template::{ReleaseRef, Section, Template};
