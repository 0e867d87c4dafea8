//! Operations: the vocabulary ([`op`], every verb listed once in [`registry`]), one file per
//! family holding each operation's words, references, model prediction and action on the live
//! cluster ([`lifecycle`], [`data`], [`membership`], [`backup`], [`faults`], [`security`],
//! [`expect`], [`lease`]), the [`runner`] that dispatches them, member starts ([`starting`]), and the [`oracle`] that compares model and
//! cluster after every step.

pub mod backup;
pub mod data;
pub mod error;
pub mod expect;
pub mod faults;
pub mod lease;
pub mod lifecycle;
pub mod membership;
pub mod op;
pub mod oracle;
pub mod registry;
pub mod runner;
pub mod security;
pub mod starting;

pub use error::StepError;
pub use op::{parse_line, Op, Target};
pub use runner::{Runner, AGREEMENT_TIMEOUT};
