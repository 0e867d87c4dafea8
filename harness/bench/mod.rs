//! Catch-up benchmark (issue 13): how long a newly upgraded member takes to catch up with a
//! cluster holding a large v2 dataset, per release pair, as a curve over the dataset size.
//!
//! [`spec`] parses what to measure (pairs, sizes, cases) once, at the edge; [`dataset`] fills a
//! cluster of the older release through the v2 HTTP API; [`template`] keeps each filled
//! dataset in the cache (stopped members' data dirs + a verified manifest) so samples copy it
//! instead of rebuilding; [`probe`] reads `/metrics` and `/proc`; [`catch_up`] runs one case
//! and times it; [`report`] turns samples into a table, JSON and slopes; [`plot`] draws them;
//! [`cli`] is the `etcd-skew bench catch-up` command.

pub mod catch_up;
pub mod cli;
pub mod dataset;
pub mod error;
pub mod plot;
pub mod probe;
pub mod report;
pub mod spec;
pub mod template;

pub use error::BenchError;
