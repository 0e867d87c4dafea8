//! Traffic: concurrent KV clients ([`clients`]), a watcher that follows their keys
//! ([`watcher`]), a lease client ([`leases`]). What they record is plain data in
//! [`crate::history`].

pub mod clients;
pub mod leases;
pub mod profile;
pub mod watcher;

pub use clients::{Endpoint, Endpoints, Traffic, TrafficConfig};
pub use profile::Profile;
