//! Upstream release tarballs: `{base}/v{V}/etcd-v{V}-linux-amd64.tar.gz`, where `base` is GitHub
//! releases or a mirror with the same layout (CI behind a proxy, an air-gapped artifact store).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::Digest;

use super::FetchConfig;
use crate::release::error::error_chain;
use crate::release::lock::Sha256;
use crate::release::version::Version;

pub fn archive_name(version: &Version) -> String {
    format!("etcd-v{version}-linux-amd64.tar.gz")
}

pub fn tarball_url(base: &str, version: &Version) -> String {
    format!(
        "{}/v{version}/{}",
        base.trim_end_matches('/'),
        archive_name(version)
    )
}

pub fn sha256sums_url(base: &str, version: &Version) -> String {
    format!("{}/v{version}/SHA256SUMS", base.trim_end_matches('/'))
}

fn http(cfg: &FetchConfig) -> Result<reqwest::blocking::Client, String> {
    reqwest::blocking::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(cfg.timeout)
        .user_agent(concat!("etcd-skew/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: sha2::Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Streams `url` into `dest`, returning the body's sha256. A non-2xx status or a body cut short
/// (fewer bytes than Content-Length) is an error.
pub fn download(url: &str, dest: &Path, cfg: &FetchConfig) -> Result<Sha256, String> {
    let client = http(cfg)?;
    let mut resp = client
        .get(url)
        .send()
        .map_err(|e| format!("GET {url}: {}", error_chain(&e)))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    let expected_len = resp.content_length();
    let file = std::fs::File::create(dest).map_err(|e| e.to_string())?;
    let mut w = Hashing {
        inner: io::BufWriter::new(file),
        hasher: sha2::Sha256::new(),
    };
    let n = resp
        .copy_to(&mut w)
        .map_err(|e| format!("GET {url}: body: {}", error_chain(&e)))?;
    w.flush().map_err(|e| e.to_string())?;
    if let Some(len) = expected_len {
        if n != len {
            return Err(format!("GET {url}: body truncated: {n} of {len} bytes"));
        }
    }
    Ok(Sha256::parse(&hex::encode(w.hasher.finalize())).expect("64 hex digits"))
}

/// Fetches a small text file (SHA256SUMS).
pub fn get_text(url: &str, cfg: &FetchConfig) -> Result<String, String> {
    let resp = http(cfg)?
        .get(url)
        .send()
        .map_err(|e| format!("GET {url}: {}", error_chain(&e)))?;
    if !resp.status().is_success() {
        return Err(format!("GET {url}: HTTP {}", resp.status()));
    }
    resp.text()
        .map_err(|e| format!("GET {url}: {}", error_chain(&e)))
}

/// The sha256 that a release's SHA256SUMS publishes for `file`.
pub fn published_sha256(sums: &str, file: &str) -> Option<Sha256> {
    sums.lines().find_map(|l| {
        let mut parts = l.split_whitespace();
        let (hash, name) = (parts.next()?, parts.next()?);
        (name.trim_start_matches('*') == file)
            .then(|| Sha256::parse(hash))
            .flatten()
    })
}

/// Unpacks the wanted binaries (`etcd-vX-linux-amd64/etcd` …) from a release tarball into `out`.
pub fn extract(archive: &Path, wanted: &[String], out: &Path) -> Result<Vec<PathBuf>, String> {
    let f = std::fs::File::open(archive).map_err(|e| e.to_string())?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut found = Vec::new();
    for entry in tar.entries().map_err(|e| format!("bad tarball: {e}"))? {
        let mut entry = entry.map_err(|e| format!("bad tarball: {e}"))?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        // Only top-level files of the release folder: docs may hold files of the same name.
        if path.components().count() != 2 || !wanted.iter().any(|w| w == name) {
            continue;
        }
        let dest = out.join(name);
        let mut file = std::fs::File::create(&dest).map_err(|e| e.to_string())?;
        io::copy(&mut entry, &mut file).map_err(|e| format!("bad tarball: {e}"))?;
        found.push(dest);
    }
    Ok(found)
}
