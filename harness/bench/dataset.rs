//! Fills a cluster of the older release with v2 data through the v2 HTTP API, the way an old
//! deployment accumulated it: many directories, many keys, mostly small values with a tail of
//! large ones, some TTL keys, optionally some v3 keys.
//!
//! The plan is deterministic (a function of the spec), so two builds of the same template hold
//! the same keys. Writes go round-robin through every member, several in flight.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::BenchError;
use crate::cluster::{Cluster, ClusterError};

/// Bumped whenever the plan or the build procedure changes: templates of another builder
/// version are stale and rebuilt.
pub const BUILDER_VERSION: u32 = 1;

/// Concurrent writers: enough to keep a leader busy, few enough not to time out on disk.
const WRITERS: usize = 8;

/// The key written last; the measurement reads it back through the caught-up member.
pub const LAST_KEY: &str = "/bench/last";

/// TTL of the TTL keys: long enough that none expires during a benchmark (an expiry is a write).
const TTL_SECONDS: u32 = 86_400;

/// Value sizes of the mix and how many keys out of 100 get each.
const SIZE_CLASSES: [(usize, u64); 4] = [(256, 60), (2048, 30), (8192, 9), (65536, 1)];

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DatasetSpec {
    /// v2 value bytes to write, in MiB.
    pub mb: u32,
    /// v3 keys (1 KiB values) written besides, 0 for none.
    pub v3_keys: u32,
}

impl DatasetSpec {
    pub fn target_bytes(&self) -> u64 {
        u64::from(self.mb) << 20
    }

    /// Mean value size of the mix, to size `--snapshot-count` before the keys are known.
    fn mean_value_size() -> u64 {
        SIZE_CLASSES.iter().map(|(s, w)| *s as u64 * w).sum::<u64>() / 100
    }

    /// `--snapshot-count` while building: about a third of the writes, so every member takes
    /// a few snapshots and ends with its v2 store in a `.snap` file, as a long-running cluster
    /// does (the default 100000 would leave a small dataset only in the WAL). Not smaller:
    /// each snapshot serializes the whole v2 store, so many would make building quadratic.
    pub fn snapshot_count(&self) -> u64 {
        (self.target_bytes() / Self::mean_value_size() / 3).clamp(100, 100_000)
    }

    /// The v2 keys to write: path, value size, TTL or not.
    pub fn plan(&self) -> Vec<PlannedKey> {
        let mut out = Vec::new();
        let mut bytes = 0;
        let mut i: u64 = 0;
        while bytes < self.target_bytes() {
            let h = mix64(i ^ 0x5eed);
            let mut pick = h % 100;
            let mut size = SIZE_CLASSES[0].0;
            for (s, w) in SIZE_CLASSES {
                if pick < w {
                    size = s;
                    break;
                }
                pick -= w;
            }
            out.push(PlannedKey {
                path: format!("/bench/d{:02}/s{:02}/k{i:07}", i % 64, (i / 64) % 16),
                size,
                ttl: (h >> 32) % 20 == 0,
                index: i,
            });
            bytes += size as u64;
            i += 1;
        }
        out
    }
}

#[derive(Clone, Debug)]
pub struct PlannedKey {
    pub path: String,
    pub size: usize,
    pub ttl: bool,
    pub index: u64,
}

impl PlannedKey {
    /// A deterministic printable value of the planned size.
    pub fn value(&self) -> String {
        let mut s = String::with_capacity(self.size);
        let mut x = mix64(self.index);
        while s.len() < self.size {
            x = mix64(x);
            s.push((b'a' + (x % 26) as u8) as char);
        }
        s
    }
}

/// splitmix64: a fixed, dependency-free hash for the plan.
fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// What a fill wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Filled {
    pub v2_keys: u64,
    pub ttl_keys: u64,
    pub v2_value_bytes: u64,
    pub v3_keys: u64,
    pub last_key: String,
    pub last_value: String,
    pub seconds: f64,
}

/// Progress of a long write: a bar on a terminal, a plain line every few seconds otherwise.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    label: String,
    total: u64,
    start: Instant,
    last_line: Mutex<Instant>,
}

impl Progress {
    pub fn new(label: &str, total_bytes: u64, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::new(total_bytes);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            b.set_prefix(label.to_string());
            b
        });
        Progress {
            bar,
            label: label.to_string(),
            total: total_bytes.max(1),
            start: Instant::now(),
            last_line: Mutex::new(if quiet { far_future() } else { Instant::now() }),
        }
    }

    fn tick(&self, keys: u64, bytes: u64) {
        if let Some(b) = &self.bar {
            b.set_position(bytes);
            b.set_message(format!("{keys} keys"));
            return;
        }
        let mut last = self.last_line.lock().unwrap();
        if last.elapsed() >= Duration::from_secs(5) {
            *last = Instant::now();
            let secs = self.start.elapsed().as_secs_f64();
            let rate = bytes as f64 / secs.max(1e-3);
            let eta = (self.total.saturating_sub(bytes)) as f64 / rate.max(1.0);
            eprintln!(
                "{}: {keys} keys, {:.1}/{:.1} MB, {:.2} MB/s, ETA {eta:.0}s",
                self.label,
                bytes as f64 / 1048576.0,
                self.total as f64 / 1048576.0,
                rate / 1048576.0
            );
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

/// One v2 write with a TTL or not; bounded by the client's timeout, retried twice (a write
/// forwarded by a follower during a leader's snapshot may time out and succeed on retry).
pub async fn v2_put(
    http: &reqwest::Client,
    client_url: &str,
    key: &str,
    value: &str,
    ttl: Option<u32>,
) -> Result<(), String> {
    let url = format!("{client_url}/v2/keys{key}");
    let ttl_s = ttl.map(|t| t.to_string());
    let mut last = String::new();
    for _ in 0..3 {
        let mut form = vec![("value", value)];
        if let Some(t) = &ttl_s {
            form.push(("ttl", t));
        }
        match http.put(&url).form(&form).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("PUT {key}: HTTP {}", r.status()),
            Err(e) => last = format!("PUT {key}: {e}"),
        }
    }
    Err(last)
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .expect("HTTP client")
}

/// Writes the plan of `spec` into `cluster` (all members running), then `v3_keys` v3 keys,
/// then [`LAST_KEY`].
pub async fn fill(
    cluster: &Cluster,
    spec: &DatasetSpec,
    progress: &Progress,
) -> Result<Filled, BenchError> {
    let start = Instant::now();
    let plan = Arc::new(spec.plan());
    let urls: Arc<Vec<String>> = Arc::new(
        cluster
            .members()
            .iter()
            .map(|m| m.client_url.clone())
            .collect(),
    );
    let next = Arc::new(AtomicU64::new(0));
    let (keys, bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let http = http_client();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let (plan, urls, next, keys, bytes, http) = (
            plan.clone(),
            urls.clone(),
            next.clone(),
            keys.clone(),
            bytes.clone(),
            http.clone(),
        );
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(k) = plan.get(i) else { return Ok(()) };
                let url = &urls[(i + w) % urls.len()];
                v2_put(
                    &http,
                    url,
                    &k.path,
                    &k.value(),
                    k.ttl.then_some(TTL_SECONDS),
                )
                .await?;
                keys.fetch_add(1, Ordering::Relaxed);
                bytes.fetch_add(k.size as u64, Ordering::Relaxed);
            }
        });
    }
    let mut failed = None;
    loop {
        tokio::select! {
            r = tasks.join_next() => match r {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => { failed.get_or_insert(e); tasks.abort_all(); }
                Some(Err(e)) if e.is_cancelled() => {}
                Some(Err(e)) => { failed.get_or_insert(e.to_string()); }
            },
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                progress.tick(keys.load(Ordering::Relaxed), bytes.load(Ordering::Relaxed));
            }
        }
    }
    progress.finish();
    if let Some(e) = failed {
        return Err(ClusterError::Invalid(format!("filling the v2 dataset: {e}")).into());
    }
    let m = cluster.member(0);
    for i in 0..spec.v3_keys {
        m.put(&format!("/bench-v3/k{i:06}"), &"v".repeat(1024))
            .await?;
    }
    let last_value = format!("written-after-{}-keys", plan.len());
    v2_put(&http, &m.client_url, LAST_KEY, &last_value, None)
        .await
        .map_err(|e| ClusterError::Invalid(format!("writing {LAST_KEY}: {e}")))?;
    Ok(Filled {
        v2_keys: plan.len() as u64,
        ttl_keys: plan.iter().filter(|k| k.ttl).count() as u64,
        v2_value_bytes: plan.iter().map(|k| k.size as u64).sum(),
        v3_keys: u64::from(spec.v3_keys),
        last_key: LAST_KEY.to_string(),
        last_value,
        seconds: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_reaches_the_size_with_a_mix() {
        let spec = DatasetSpec { mb: 2, v3_keys: 0 };
        let plan = spec.plan();
        let bytes: u64 = plan.iter().map(|k| k.size as u64).sum();
        assert!((2 << 20..(2 << 20) + 65536).contains(&bytes));
        assert!(plan.iter().any(|k| k.ttl) && plan.iter().any(|k| !k.ttl));
        assert!(plan.iter().any(|k| k.size == 256) && plan.iter().any(|k| k.size == 8192));
        assert_eq!(plan[3].value(), spec.plan()[3].value(), "deterministic");
        assert_eq!(plan[3].value().len(), plan[3].size);
        let writes = plan.len() as u64;
        assert!(
            spec.snapshot_count() * 2 < writes,
            "members snapshot while filling"
        );
    }
}
