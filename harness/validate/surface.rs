//! What a running member of a release shows operators and clients beyond its flags: the
//! Prometheus metric names on `/metrics`, and how its HTTP endpoints answer (`/version`,
//! `/health`, v2 keys, the `/v3`, `/v3beta` and `/v3alpha` gRPC gateways). The guides list
//! exactly these as what changes between releases (seed 002 "Difference in Prometheus
//! metrics", seed 003 "/v3beta will be removed in 3.5"); here they are read off the binaries.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::cluster::member::http_client;
use crate::cluster::{ClusterBuilder, ClusterError};
use crate::release::Release;

/// How one endpoint answered: its HTTP status and the top-level keys of a JSON object body
/// (the "shape"; values such as versions and revisions differ on every run).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// `GET /version` or `POST /v3/kv/range`.
    pub request: String,
    /// `None` when the request got no HTTP answer at all.
    pub status: Option<u16>,
    pub keys: Vec<String>,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(s) if self.keys.is_empty() => write!(f, "HTTP {s}"),
            Some(s) => write!(f, "HTTP {s} {{{}}}", self.keys.join(", ")),
            None => f.write_str("no answer"),
        }
    }
}

/// A release's metric names and endpoint answers, from one member started alone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Surface {
    pub metrics: BTreeSet<String>,
    pub answers: Vec<Answer>,
}

/// The requests every release is asked (the gateway ones with a range of key `foo`).
const REQUESTS: &[(&str, &str)] = &[
    ("GET", "/version"),
    ("GET", "/health"),
    ("GET", "/livez"),
    ("GET", "/readyz"),
    ("GET", "/v2/keys/"),
    ("POST", "/v3/kv/range"),
    ("POST", "/v3beta/kv/range"),
    ("POST", "/v3alpha/kv/range"),
];

/// Metric family names of a Prometheus text exposition: the `# TYPE NAME KIND` lines (a
/// histogram's `_bucket`/`_sum`/`_count` series belong to its one family).
pub fn metric_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Starts one member of `release` alone (its default flags), reads its surface, stops it.
pub async fn probe(release: &Release) -> Result<Surface, ClusterError> {
    let cluster = ClusterBuilder::new(vec![release.clone()]).start().await?;
    let base = cluster.members()[0].client_url.clone();
    let http = http_client(None);
    let mut surface = Surface::default();
    // A failed scrape leaves the metric set empty, which the diff would report as every
    // metric removed: fail instead.
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| cluster.members()[0].request_err("GET /metrics", e))?
        .text()
        .await
        .map_err(|e| cluster.members()[0].request_err("GET /metrics", e))?;
    surface.metrics = metric_names(&text);
    for (method, path) in REQUESTS {
        let url = format!("{base}{path}");
        let request = match *method {
            "POST" => http.post(url).body(r#"{"key":"Zm9v"}"#),
            _ => http.get(url),
        };
        let (status, keys) = match request.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let body: Option<serde_json::Value> = r.json().await.ok();
                let keys = match body {
                    Some(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
                    _ => Vec::new(),
                };
                (Some(status), keys)
            }
            Err(_) => (None, Vec::new()),
        };
        surface.answers.push(Answer {
            request: format!("{method} {path}"),
            status,
            keys,
        });
    }
    drop(cluster);
    Ok(surface)
}

/// An endpoint that answers differently on the two releases.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedAnswer {
    pub request: String,
    pub older: String,
    pub newer: String,
}

/// Metrics and endpoints from the older release to the newer one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurfaceDiff {
    /// Served by the older release only (dashboards and alerts on them break on upgrade).
    pub metrics_removed: Vec<String>,
    /// Served by the newer release only (they vanish on downgrade).
    pub metrics_added: Vec<String>,
    pub answers_changed: Vec<ChangedAnswer>,
}

pub fn diff(older: &Surface, newer: &Surface) -> SurfaceDiff {
    SurfaceDiff {
        metrics_removed: older.metrics.difference(&newer.metrics).cloned().collect(),
        metrics_added: newer.metrics.difference(&older.metrics).cloned().collect(),
        answers_changed: older
            .answers
            .iter()
            .filter_map(|o| {
                let n = newer.answers.iter().find(|n| n.request == o.request)?;
                (n != o).then(|| ChangedAnswer {
                    request: o.request.clone(),
                    older: o.to_string(),
                    newer: n.to_string(),
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_families_from_type_lines() {
        let text = "# HELP etcd_server_is_leader Whether or not this member is a leader.\n# TYPE etcd_server_is_leader gauge\netcd_server_is_leader 1\n# TYPE etcd_disk_wal_fsync_duration_seconds histogram\netcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 3\netcd_disk_wal_fsync_duration_seconds_sum 0.1\n";
        let names: Vec<String> = metric_names(text).into_iter().collect();
        assert_eq!(
            names,
            [
                "etcd_disk_wal_fsync_duration_seconds",
                "etcd_server_is_leader"
            ]
        );
    }

    #[test]
    fn diff_lists_metrics_and_changed_answers() {
        let answer = |request: &str, status, keys: &[&str]| Answer {
            request: request.into(),
            status,
            keys: keys.iter().map(|k| k.to_string()).collect(),
        };
        let older = Surface {
            metrics: ["a", "b"].iter().map(|s| s.to_string()).collect(),
            answers: vec![
                answer("GET /version", Some(200), &["etcdcluster", "etcdserver"]),
                answer("POST /v3beta/kv/range", Some(200), &["header"]),
            ],
        };
        let newer = Surface {
            metrics: ["b", "c"].iter().map(|s| s.to_string()).collect(),
            answers: vec![
                answer("GET /version", Some(200), &["etcdcluster", "etcdserver"]),
                answer("POST /v3beta/kv/range", Some(404), &[]),
            ],
        };
        let d = diff(&older, &newer);
        assert_eq!(d.metrics_removed, ["a"]);
        assert_eq!(d.metrics_added, ["c"]);
        assert_eq!(
            d.answers_changed,
            [ChangedAnswer {
                request: "POST /v3beta/kv/range".into(),
                older: "HTTP 200 {header}".into(),
                newer: "HTTP 404".into(),
            }]
        );
    }
}
