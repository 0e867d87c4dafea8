//! Security operations: auth on and off, a put as a user (allowed or denied as the model's
//! RBAC predicts), and certificate rotation (seed 004).

use std::fmt;

use super::error::{disagree, judge, Judged, Prediction, StepError};
use super::op::{args, Op};
use super::runner::Runner;
use crate::cluster::auth::{ROOT, USER, USER_PREFIX, USER_ROLE};
use crate::cluster::member::{http_client, REQUEST_TIMEOUT};
use crate::cluster::pki::Leaf;
use crate::cluster::{ClusterError, RpcFailure};
use crate::model::EtcdRefusal;
use crate::release::error::{causes, error_chain};

/// Which certificates a rotation replaces (seed 004, certificate rotation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertKind {
    /// Server (client-facing) certs, reloaded live since 3.2.
    Server,
    /// Peer certs, reloaded live since 3.2.
    Peer,
    /// A new CA: every cert re-issued, every member restarted.
    Ca,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Security {
    /// Root user + a user with a role, then auth enable.
    AuthEnable,
    AuthDisable,
    /// A put as `user` (root, or the role-limited user `alice`).
    PutAs {
        user: String,
        key: String,
        value: String,
    },
    RotateCerts {
        kind: CertKind,
    },
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Security::AuthEnable => f.write_str("auth-enable"),
            Security::AuthDisable => f.write_str("auth-disable"),
            Security::PutAs { user, key, value } => write!(f, "put-as {user} {key} {value}"),
            Security::RotateCerts { kind } => {
                write!(f, "rotate-certs {}", format!("{kind:?}").to_lowercase())
            }
        }
    }
}

pub fn parse(verb: &str, a: &[&str]) -> Result<Op, String> {
    let usage = super::registry::find(verb).map_or("", |v| v.usage);
    let n = |k: usize| args::exactly(verb, a, k, usage);
    let op = match verb {
        "auth-enable" => n(0).map(|_| Security::AuthEnable)?,
        "auth-disable" => n(0).map(|_| Security::AuthDisable)?,
        "put-as" => {
            n(3)?;
            if ![ROOT.0, USER.0].contains(&a[0]) {
                return Err(format!("put-as: user {:?} is not root or alice", a[0]));
            }
            Security::PutAs {
                user: a[0].into(),
                key: a[1].into(),
                value: a[2].into(),
            }
        }
        "rotate-certs" => {
            n(1)?;
            let kind = match a[0] {
                "server" => CertKind::Server,
                "peer" => CertKind::Peer,
                "ca" => CertKind::Ca,
                o => return Err(format!("rotate-certs: {o:?} is not server, peer or ca")),
            };
            Security::RotateCerts { kind }
        }
        other => return Err(format!("not a security step: {other}")),
    };
    Ok(op.into())
}

/// Whether a request failed in the TLS handshake: rustls reports certificate errors as an
/// `io::Error` wrapping a `rustls::Error`, somewhere in the client's error chain.
fn is_tls_error(e: &(dyn std::error::Error + 'static)) -> bool {
    causes(e).any(|c| c.downcast_ref::<rustls::Error>().is_some())
}

#[cfg(test)]
mod tls_error_tests {
    use super::is_tls_error;
    use std::io::{Error, ErrorKind};

    #[test]
    fn finds_rustls_inside_nested_io_errors() {
        let rustls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let nested = Error::other(Error::new(ErrorKind::InvalidData, rustls));
        assert!(is_tls_error(&nested));
        assert!(!is_tls_error(&Error::new(
            ErrorKind::ConnectionRefused,
            "refused"
        )));
    }
}

impl Runner<'_> {
    pub(super) async fn apply_security(&mut self, op: &Security) -> Result<String, StepError> {
        match op {
            Security::AuthEnable => {
                let via = self.via(&None).await?;
                self.cluster_mut()?.enable_auth(via).await?;
                self.model.auth = true;
                Ok(format!(
                    "auth on: users {} and {} (role {USER_ROLE} on {USER_PREFIX})",
                    ROOT.0, USER.0
                ))
            }
            Security::AuthDisable => {
                let via = self.via(&None).await?;
                self.cluster_mut()?.disable_auth(via).await?;
                self.model.auth = false;
                Ok("auth off, users deleted".into())
            }
            Security::PutAs { user, key, value } => self.put_as(user, key, value).await,
            Security::RotateCerts { kind } => self.rotate(*kind).await,
        }
    }

    /// A put as a named user: the model predicts whether auth lets it through.
    async fn put_as(&mut self, user: &str, key: &str, value: &str) -> Result<String, StepError> {
        let i = self.via(&None).await?;
        let m = self.cluster()?.member(i);
        let password = if user == ROOT.0 { ROOT.1 } else { USER.1 };
        let creds = self.model.auth.then_some((user, password));
        let (k, v) = (key.to_string(), value.to_string());
        let result = match m.client_as(creds).await {
            Ok(mut c) => match tokio::time::timeout(REQUEST_TIMEOUT, c.put(k, v, None)).await {
                Ok(r) => r.map(|_| ()).map_err(|e| ClusterError::Rpc {
                    member: m.name.clone(),
                    op: "put".into(),
                    source: RpcFailure::Etcd(e),
                }),
                Err(_) => Err(ClusterError::Rpc {
                    member: m.name.clone(),
                    op: "put".into(),
                    source: RpcFailure::TimedOut,
                }),
            },
            Err(e) => Err(e),
        };
        let predicted = if self.model.may_write(user, key, USER_PREFIX) {
            Prediction::Accept
        } else {
            Prediction::Refuse(EtcdRefusal::PermissionDenied)
        };
        match judge(&format!("put {key:?} as {user}"), &predicted, result)? {
            Judged::Accepted(()) => {
                self.model.ack(key, Some(value));
                Ok("acknowledged".into())
            }
            Judged::Refused(e) => Ok(format!("denied as predicted: {e}")),
        }
    }

    /// Certificate rotation (seed 004): server and peer certs live, the CA with a restart of
    /// every member. Live rotations are checked by the SAN the members now serve; a CA rotation
    /// by the old CA no longer being accepted.
    async fn rotate(&mut self, kind: CertKind) -> Result<String, StepError> {
        let leaf = match kind {
            CertKind::Server => Leaf::Server,
            CertKind::Peer => Leaf::Peer,
            CertKind::Ca => return self.rotate_ca().await,
        };
        let marker = self
            .cluster_mut()?
            .rotate_live(leaf)
            .await
            .map_err(|e| match e {
                e @ ClusterError::Timeout { .. } => disagree(
                    format!("live {kind:?} certificate reload"),
                    "the new certificate served (reloaded per connection since 3.2)",
                    e.to_string(),
                ),
                e => StepError::from(e),
            })?;
        Ok(format!(
            "every live member serves the new {kind:?} certificate ({marker})"
        ))
    }

    async fn rotate_ca(&mut self) -> Result<String, StepError> {
        let old = self
            .cluster()?
            .client_tls()
            .ok_or_else(|| StepError::precondition("the cluster does not run TLS"))?;
        let running: Vec<String> = self.model.running().iter().map(|s| s.to_string()).collect();
        self.cluster_mut()?.rotate_ca().await.map_err(|e| match e {
            e @ ClusterError::MemberExited { .. } => disagree(
                "restart with the new CA",
                "every member starts",
                e.to_string(),
            ),
            e => StepError::from(e),
        })?;
        for n in &running {
            self.model.stop(n);
            let binary = self.model.members[n].binary.clone();
            self.model
                .start(n, &binary, &[])
                .map_err(|r| StepError::precondition(r.to_string()))?;
        }
        let i = self.via(&None).await?;
        let url = format!("{}/version", self.cluster()?.member(i).client_url);
        match http_client(Some(&old)).get(&url).send().await {
            Ok(r) => Err(disagree(
                "a client trusting only the old CA",
                "refused (TLS)",
                format!("HTTP {}", r.status()),
            )),
            Err(e) if is_tls_error(&e) => Ok(format!(
                "every member restarted on the new CA; the old CA is refused at {url}"
            )),
            Err(e) => Err(disagree(
                "a client trusting only the old CA",
                "a TLS certificate error",
                error_chain(&e),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::op::parse_line;

    #[test]
    fn lines_round_trip_through_display() {
        for l in [
            "auth-enable",
            "auth-disable",
            "put-as alice app/x 1",
            "rotate-certs ca",
        ] {
            assert_eq!(parse_line(l).unwrap().to_string(), l);
        }
        assert!(parse_line("put-as bob k v")
            .unwrap_err()
            .contains("not root or alice"));
    }
}
