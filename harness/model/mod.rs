//! The negotiation oracle: a pure model of a cluster ([`state`]) driven by rules that each cite
//! the guide or etcd behaviour behind them ([`rules`]).

pub mod rules;
pub mod state;

pub use rules::Refusal;
pub use state::{KeyModel, Model};
