//! Loopback port reservation.
//!
//! Ports come from below the kernel's ephemeral range (32768+ on Linux), because members' own
//! outgoing peer connections draw from that range and could take a port we handed out if we
//! bound port 0. Blocks of ports are reserved across processes with a file lock per block (so
//! parallel test binaries never share one); nextest's `NEXTEST_TEST_GLOBAL_SLOT` picks the first
//! block to try, so concurrent tests start apart. Within a block, a port is used only if it can
//! be bound right now; a port stolen in between shows up as etcd's "address already in use",
//! which the cluster answers by retrying on fresh ports.

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;

use nix::fcntl::{Flock, FlockArg};

use super::error::ClusterError;

const FIRST_PORT: u16 = 20_000;
const END_PORT: u16 = 32_000;
/// Enough for a 7-member cluster's client and peer ports plus their peer-link proxies.
pub const BLOCK_LEN: u16 = 40;

/// A block of ports this process holds until dropped.
pub struct PortBlock {
    base: u16,
    next: u16,
    _lock: Flock<File>,
}

fn lock_dir() -> PathBuf {
    std::env::var_os("ETCD_SKEW_PORT_LOCKS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("etcd-skew-ports"))
}

impl PortBlock {
    /// Reserves a free block.
    pub fn reserve() -> Result<PortBlock, ClusterError> {
        let dir = lock_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| ClusterError::io(format!("port lock dir {}", dir.display()), e))?;
        let blocks = (END_PORT - FIRST_PORT) / BLOCK_LEN;
        let start = match std::env::var("NEXTEST_TEST_GLOBAL_SLOT")
            .ok()
            .and_then(|s| s.parse::<u16>().ok())
        {
            Some(slot) => slot % blocks,
            None => rand::random::<u16>() % blocks,
        };
        for i in 0..blocks {
            let b = (start + i) % blocks;
            let path = dir.join(format!("block-{b}.lock"));
            let f = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| ClusterError::io(format!("port lock {}", path.display()), e))?;
            if let Ok(lock) = Flock::lock(f, FlockArg::LockExclusiveNonblock) {
                let base = FIRST_PORT + b * BLOCK_LEN;
                return Ok(PortBlock {
                    base,
                    next: base,
                    _lock: lock,
                });
            }
        }
        Err(ClusterError::NoPorts {
            range: format!("{FIRST_PORT}..{END_PORT}"),
            dir,
        })
    }

    /// The next port of the block that can be bound on 127.0.0.1 right now.
    pub fn take(&mut self) -> Result<u16, ClusterError> {
        while self.next < self.base + BLOCK_LEN {
            let p = self.next;
            self.next += 1;
            if TcpListener::bind((Ipv4Addr::LOCALHOST, p)).is_ok() {
                return Ok(p);
            }
        }
        Err(ClusterError::NoPorts {
            range: format!("{}..{} (block used up)", self.base, self.base + BLOCK_LEN),
            dir: lock_dir(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_exclusive_and_below_the_ephemeral_range() {
        let mut a = PortBlock::reserve().unwrap();
        let b = PortBlock::reserve().unwrap();
        assert_ne!(a.base, b.base);
        let p = a.take().unwrap();
        assert!((FIRST_PORT..END_PORT).contains(&p));
        let held = TcpListener::bind((Ipv4Addr::LOCALHOST, a.next)).unwrap();
        let q = a.take().unwrap();
        assert_ne!(
            Some(q),
            held.local_addr().ok().map(|a| a.port()),
            "a bound port is skipped"
        );
    }
}
