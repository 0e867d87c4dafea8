//! What a member's process and `/metrics` say, read without the gRPC API so every release
//! answers the same way (3.3's Status RPC has no applied index).
//!
//! The raft indexes come from two gauges every pinned release exports despite their names:
//! `etcd_server_proposals_applied_total` is set to the applied index and
//! `etcd_server_proposals_committed_total` to the committed index (etcdserver's `applyAll` and
//! `monitor`). Snapshot bytes come from `etcd_network_peer_received_bytes_total`, which the
//! snapshot handler also feeds, and `etcd_network_snapshot_receive_success` (3.4+) counts the
//! snapshots received.

use std::time::Duration;

/// The metric values this benchmark reads; absent ones are `None`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    pub applied_index: Option<u64>,
    pub committed_index: Option<u64>,
    /// Bytes received from peers (raft messages and snapshots), summed over peers.
    pub peer_bytes_received: Option<u64>,
    /// Snapshots received (3.4+ export this; 3.3 does not).
    pub snapshots_received: Option<u64>,
}

/// Parses the Prometheus text format, summing a metric's samples over its labels.
pub fn parse_metrics(text: &str) -> Metrics {
    let mut m = Metrics::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name_labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let name = name_labels.split('{').next().unwrap_or_default();
        let Ok(v) = value.trim().parse::<f64>() else {
            continue;
        };
        let slot = match name {
            "etcd_server_proposals_applied_total" => &mut m.applied_index,
            "etcd_server_proposals_committed_total" => &mut m.committed_index,
            "etcd_network_peer_received_bytes_total" => &mut m.peer_bytes_received,
            "etcd_network_snapshot_receive_success" => &mut m.snapshots_received,
            _ => continue,
        };
        *slot = Some(slot.unwrap_or(0) + v as u64);
    }
    m
}

/// A client for `/metrics`, bounded tighter than the cluster's: a probe of a busy member must
/// come back within the poll's resolution, not block a whole request timeout.
pub fn metrics_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .expect("HTTP client")
}

pub async fn metrics(http: &reqwest::Client, client_url: &str) -> Result<Metrics, String> {
    let resp = http
        .get(format!("{client_url}/metrics"))
        .send()
        .await
        .map_err(|e| format!("GET /metrics: {e}"))?;
    let text = resp
        .text()
        .await
        .map_err(|e| format!("GET /metrics: {e}"))?;
    Ok(parse_metrics(&text))
}

/// Peak resident memory and CPU seconds (user + system) of a live process, from `/proc`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcUsage {
    pub peak_rss_bytes: u64,
    pub cpu_seconds: f64,
}

pub fn proc_usage(pid: u32) -> Option<ProcUsage> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some(ProcUsage {
        peak_rss_bytes: parse_vm_hwm(&status)?,
        cpu_seconds: parse_cpu_ticks(&stat)? as f64 / ticks,
    })
}

/// `VmHWM:   123456 kB` → bytes.
pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// utime + stime (fields 14 and 15) of `/proc/PID/stat`; the command name (field 2) may hold
/// spaces, so fields are counted after its closing parenthesis.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14 → index 11.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_sum_over_labels_and_skip_comments() {
        let text = "# HELP etcd_server_proposals_applied_total x\n\
            etcd_server_proposals_applied_total 1234\n\
            etcd_server_proposals_committed_total 1240\n\
            etcd_network_peer_received_bytes_total{From=\"a\"} 100\n\
            etcd_network_peer_received_bytes_total{From=\"b\"} 2.5e+06\n\
            etcd_server_has_leader 1\n";
        let m = parse_metrics(text);
        assert_eq!(m.applied_index, Some(1234));
        assert_eq!(m.committed_index, Some(1240));
        assert_eq!(m.peer_bytes_received, Some(2_500_100));
        assert_eq!(m.snapshots_received, None);
    }

    #[test]
    fn proc_fields_parse() {
        assert_eq!(
            parse_vm_hwm("VmPeak:\t 9 kB\nVmHWM:\t   2048 kB\n"),
            Some(2 << 20)
        );
        let stat = "42 (etcd (x) y) S 1 2 3 4 5 6 7 8 9 10 150 50 0 0 20 0";
        assert_eq!(parse_cpu_ticks(stat), Some(200));
        let me = proc_usage(std::process::id()).unwrap();
        assert!(me.peak_rss_bytes > 0);
    }
}
