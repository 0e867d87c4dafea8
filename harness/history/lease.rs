//! What the lease client did and saw: per lease, its grant and renewals, the revoke, and every
//! read of its key. The lease client writes it; the lease check reads it; `leases.json` in a
//! failed case's artifacts.

use serde::{Deserialize, Serialize};

/// A read of a leased key: when, through whom, and whether the key was there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub member: String,
    pub invoke_us: u64,
    pub complete_us: u64,
    pub present: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub lease: i64,
    pub key: String,
    pub ttl_s: i64,
    /// Invocation of the grant and of every acknowledged keepalive: the lease cannot expire
    /// before the last of these plus the TTL.
    pub renewals_us: Vec<u64>,
    /// (invoke, complete) of an acknowledged revoke.
    pub revoked: Option<(u64, u64)>,
    pub observations: Vec<Observation>,
}
