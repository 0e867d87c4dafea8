//! sha256 of files, streamed: etcd binaries are tens of megabytes.

use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256 as Hasher};

use super::lock::Sha256;

pub fn sha256_file(path: &Path) -> io::Result<Sha256> {
    let mut f = std::fs::File::open(path)?;
    sha256_reader(&mut f)
}

pub fn sha256_reader(r: &mut impl Read) -> io::Result<Sha256> {
    let mut h = Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(sha256_hex(h.finalize().as_slice()))
}

pub fn sha256_bytes(data: &[u8]) -> Sha256 {
    sha256_hex(Hasher::digest(data).as_slice())
}

fn sha256_hex(d: &[u8]) -> Sha256 {
    Sha256::parse(&hex::encode(d)).expect("a sha256 digest is 64 hex digits")
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_digest() {
        assert_eq!(
            super::sha256_bytes(b"abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
