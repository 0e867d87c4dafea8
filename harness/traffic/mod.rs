//! Traffic: concurrent KV clients ([`clients`]), a watcher that follows their keys
//! ([`watcher`]) with short-lived watches beside it ([`short_watch`]), a lease client
//! ([`leases`]). What they record is plain data in
//! [`crate::history`].

pub mod clients;
pub mod leases;
pub mod profile;
pub mod short_watch;
pub mod watcher;

pub use clients::{Endpoint, Endpoints, Traffic, TrafficConfig};
pub use profile::Profile;
