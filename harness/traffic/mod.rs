//! Traffic: concurrent KV clients ([`clients`]) and the history they record ([`history`]), a
//! watcher that follows their keys ([`watcher`]), a lease client ([`leases`]).

pub mod clients;
pub mod history;
pub mod leases;
pub mod watcher;

pub use clients::{Endpoints, Traffic, TrafficConfig};
pub use history::{Event, History, Outcome, Request};
