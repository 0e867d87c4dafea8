//! Splitting work across machines, the way CI matrices do (`--shard K/N`): item `i` of a
//! deterministic sequence belongs to shard `i mod N + 1`. Explorations draw every case from
//! the one seed on every shard and run only their own, so shards `1/N … N/N` together run
//! exactly the cases of an unsharded run; `merge` joins their reports.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Shard `index` of `count` (1-based, as CI matrices number them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether item `i` (0-based) of a sequence is this shard's.
    pub fn owns(&self, i: usize) -> bool {
        i % self.count as usize == (self.index - 1) as usize
    }
}

/// `--shard` text that is not `K/N` with `1 <= K <= N`.
#[derive(Debug, thiserror::Error)]
#[error("shard {0:?}: expected K/N with 1 <= K <= N, e.g. 1/4")]
pub struct ShardError(String);

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError(s.to_string());
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_a_sequence() {
        let shards: Vec<Shard> = (1..=3).map(|k| format!("{k}/3").parse().unwrap()).collect();
        for i in 0..30 {
            assert_eq!(shards.iter().filter(|s| s.owns(i)).count(), 1, "item {i}");
        }
        assert!("1/1".parse::<Shard>().unwrap().owns(7));
    }

    #[test]
    fn bad_shards_are_refused() {
        for s in ["0/2", "3/2", "1/0", "x/2", "2"] {
            assert_eq!(
                s.parse::<Shard>().unwrap_err().to_string(),
                format!("shard {s:?}: expected K/N with 1 <= K <= N, e.g. 1/4")
            );
        }
    }
}
