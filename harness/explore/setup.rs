//! What a case runs on besides its steps.

use serde::{Deserialize, Serialize};

/// What a case needs besides its steps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseSetup {
    /// Older and newer release of the pair under test.
    pub older: String,
    pub newer: String,
    pub members: usize,
    pub traffic_seed: u64,
    pub clients: usize,
    /// Requests per second over all clients (0: unlimited).
    pub rate: u32,
    pub keys: usize,
}
