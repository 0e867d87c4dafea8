//! Operations: the vocabulary ([`op`]), how each acts on a live cluster and the model and what
//! outcome the model predicts ([`apply`]), and the oracle that compares the two after every
//! step ([`oracle`]).

pub mod apply;
pub mod op;
pub mod oracle;

pub use apply::{Runner, StepError};
pub use op::{parse_line, Op, Target};
