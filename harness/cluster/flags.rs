//! Command-line flags per release: each version gets only the flags it accepts.
//!
//! The rules, by minor version (from the 3.3→3.4 upgrade guide and the 3.5→3.4 downgrade
//! guide's flag diff, and `etcd --help` of each pinned binary):
//! - 3.3 has no `--logger`/`--log-outputs`; it logs with capnslog and serves v2 by default.
//! - 3.4 serves v2 only with `--enable-v2=true`; logger defaults to capnslog.
//! - 3.5 keeps `--enable-v2` (deprecated); logger defaults to zap (JSON lines).
//! - 3.6 removed the v2 API and `--enable-v2`.
//!
//! Loggers are left at each release's default on purpose: the refusal lines the oracle matches
//! are the ones an operator of that release sees. Adding etcd 3.6 means adding its rules here.

use std::path::Path;

use crate::release::facts;
use crate::release::Version;

/// Raft timing. Fast by default: members run on loopback and tmpfs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub heartbeat_ms: u32,
    pub election_ms: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            heartbeat_ms: 50,
            election_ms: 500,
        }
    }
}

/// `--initial-cluster-state`: `new` to bootstrap, `existing` to join a running cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialState {
    New,
    Existing,
}

/// TLS material of one member (paths), as the maintenance notes' TLS procedures use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFlags {
    /// Client TLS too (https client URLs, client certs required); off: peer TLS only.
    pub client: bool,
    pub trusted_ca: std::path::PathBuf,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
    pub peer_trusted_ca: std::path::PathBuf,
    pub peer_cert: std::path::PathBuf,
    pub peer_key: std::path::PathBuf,
}

/// Everything that varies per member start.
#[derive(Clone, Debug)]
pub struct MemberFlags<'a> {
    pub name: &'a str,
    pub data_dir: &'a Path,
    pub client_url: &'a str,
    /// The peer URL the member advertises (a proxy, when the cluster has peer-link proxies).
    pub peer_url: &'a str,
    /// The peer URL it listens on.
    pub listen_peer_url: &'a str,
    pub initial_cluster: &'a str,
    pub initial_state: InitialState,
    pub token: &'a str,
    pub timing: Timing,
    pub enable_v2: bool,
    pub tls: Option<&'a TlsFlags>,
    /// Appended verbatim: a scenario's own flags (`--next-cluster-version-compatible`…).
    pub extra: &'a [String],
}

/// The argument list for `etcd` of `version`.
pub fn render(version: &Version, f: &MemberFlags) -> Vec<String> {
    let mut a = vec![
        format!("--name={}", f.name),
        format!("--data-dir={}", f.data_dir.display()),
        format!("--listen-client-urls={}", f.client_url),
        format!("--advertise-client-urls={}", f.client_url),
        format!("--listen-peer-urls={}", f.listen_peer_url),
        format!("--initial-advertise-peer-urls={}", f.peer_url),
        format!("--initial-cluster={}", f.initial_cluster),
        format!(
            "--initial-cluster-state={}",
            match f.initial_state {
                InitialState::New => "new",
                InitialState::Existing => "existing",
            }
        ),
        format!("--initial-cluster-token={}", f.token),
        format!("--heartbeat-interval={}", f.timing.heartbeat_ms),
        format!("--election-timeout={}", f.timing.election_ms),
    ];
    if facts::has_enable_v2_flag(version) {
        // 3.3 defaults to true, 3.4/3.5 to false: say it explicitly either way.
        a.push(format!("--enable-v2={}", f.enable_v2));
    }
    if let Some(t) = f.tls {
        if t.client {
            a.push(format!("--trusted-ca-file={}", t.trusted_ca.display()));
            a.push(format!("--cert-file={}", t.cert.display()));
            a.push(format!("--key-file={}", t.key.display()));
            a.push("--client-cert-auth=true".into());
        }
        a.push(format!(
            "--peer-trusted-ca-file={}",
            t.peer_trusted_ca.display()
        ));
        a.push(format!("--peer-cert-file={}", t.peer_cert.display()));
        a.push(format!("--peer-key-file={}", t.peer_key.display()));
        a.push("--peer-client-cert-auth=true".into());
    }
    a.extend(f.extra.iter().cloned());
    a
}

/// A scenario or exploration flag that the member's release cannot take: it has no such flag
/// (under either spelling), or the value does not parse as the flag's type.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("etcd {release} refuses {flag} (`etcd {flag} --version` fails: no such flag, or a value it cannot parse)")]
pub struct UnknownFlag {
    pub release: String,
    /// The flag as given, with its value.
    pub flag: String,
}

/// Checks extra flags against what the release accepts, mapping a flag etcd renamed (the
/// `--experimental-` prefix, see [`facts::RENAMED_FLAGS`]) to the spelling this release has.
/// `accepts(flag)` asks the binary with the flag as it will run, value included (its `--help`
/// text is incomplete: 3.5.16 takes `--experimental-snapshot-catchup-entries` without listing
/// it; and a made-up value would not parse for every type: `100ms` is a duration, `1` is not).
/// `release` names the release in the error.
pub fn adapt_extra(
    release: &str,
    mut accepts: impl FnMut(&str) -> bool,
    extra: &[String],
) -> Result<Vec<String>, UnknownFlag> {
    extra
        .iter()
        .map(|f| {
            let (name, value) = match f.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (f.as_str(), None),
            };
            if accepts(f) {
                return Ok(f.clone());
            }
            let renamed = facts::RENAMED_FLAGS
                .iter()
                .find_map(|(exp, grad)| {
                    (name == *exp)
                        .then_some(*grad)
                        .or((name == *grad).then_some(*exp))
                })
                .map(|other| match value {
                    Some(v) => format!("{other}={v}"),
                    None => other.to_string(),
                });
            match renamed {
                Some(other) if accepts(&other) => Ok(other),
                _ => Err(UnknownFlag {
                    release: release.to_string(),
                    flag: f.clone(),
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags_for(v: &str, enable_v2: bool) -> Vec<String> {
        let f = MemberFlags {
            name: "m1",
            data_dir: Path::new("/d"),
            client_url: "http://127.0.0.1:1",
            peer_url: "http://127.0.0.1:2",
            listen_peer_url: "http://127.0.0.1:2",
            initial_cluster: "m1=http://127.0.0.1:2",
            initial_state: InitialState::New,
            token: "t",
            timing: Timing::default(),
            enable_v2,
            tls: None,
            extra: &[],
        };
        render(&v.parse().unwrap(), &f)
    }

    #[test]
    fn v2_flag_per_release() {
        assert!(flags_for("3.4.23", true).contains(&"--enable-v2=true".to_string()));
        assert!(flags_for("3.3.25", false).contains(&"--enable-v2=false".to_string()));
        assert!(!flags_for("3.6.0", true)
            .iter()
            .any(|f| f.starts_with("--enable-v2")));
        assert!(!flags_for("3.3.25", true)
            .iter()
            .any(|f| f.starts_with("--logger")));
    }

    #[test]
    fn extra_flags_are_checked_and_renamed_per_release() {
        let known = ["--snapshot-count", "--experimental-compaction-batch-limit"];
        // Asked with the value, as the binary is: a name it knows and a number it parses.
        let accepts = |f: &str| {
            let (name, value) = f.split_once('=').unwrap();
            known.contains(&name) && value.parse::<u64>().is_ok()
        };
        let ok = adapt_extra("3.5.16", accepts, &["--snapshot-count=10".into()]).unwrap();
        assert_eq!(ok, vec!["--snapshot-count=10"]);
        let mapped =
            adapt_extra("3.5.16", accepts, &["--compaction-batch-limit=5".into()]).unwrap();
        assert_eq!(mapped, vec!["--experimental-compaction-batch-limit=5"]);
        assert_eq!(
            adapt_extra(
                "3.3.25",
                accepts,
                &["--experimental-snapshot-catchup-entries=2".into()]
            )
            .unwrap_err()
            .flag,
            "--experimental-snapshot-catchup-entries=2"
        );
        // A value of the wrong type is refused, naming the flag as given.
        let e = adapt_extra("3.5.16", accepts, &["--snapshot-count=lots".into()]).unwrap_err();
        assert_eq!(e.flag, "--snapshot-count=lots");
        assert!(
            e.to_string().contains("refuses --snapshot-count=lots"),
            "{e}"
        );
    }
}
