//! The negotiation oracle: a pure model of a cluster ([`state`]) driven by rules that each cite
//! the guide or etcd behaviour behind them ([`rules`]).

pub mod refusal;
pub mod rules;
pub mod state;

pub use refusal::EtcdRefusal;
pub use state::{KeyModel, Model};
