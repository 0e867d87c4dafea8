//! TLS for a cluster, as the maintenance notes (seed 004) run it: one CA, server certs for the
//! client port, peer certs for the peer port, a client cert for etcdctl and the harness, all
//! generated here with rcgen (SANs 127.0.0.1 and localhost). Files only: no cluster, so members
//! can hold client material without a cycle; rotating live members is [`super::rotation`].

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::error::ClusterError;
use super::flags::TlsFlags;

/// PEM material a client needs: the CA to trust, and its own cert and key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientTls {
    pub ca: Vec<u8>,
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

/// Which leaf certificates to issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leaf {
    Server,
    Peer,
    Client,
}

impl Leaf {
    pub(super) fn file(self) -> &'static str {
        match self {
            Leaf::Server => "server",
            Leaf::Peer => "peer",
            Leaf::Client => "client",
        }
    }
}

/// A cluster's PKI: the files members read, and the CA that signs them.
pub struct Pki {
    dir: PathBuf,
    ca: Issuer<'static, KeyPair>,
    ca_pem: String,
    /// Bumped by every rotation; rotated certs carry `rotated-<n>.etcd-skew.test` as an extra SAN
    /// so a client can tell which certificate a member serves.
    pub generation: u32,
}

fn tls_err(e: impl std::fmt::Display) -> ClusterError {
    ClusterError::io("generate TLS material", e)
}

fn new_ca(generation: u32) -> Result<(Issuer<'static, KeyPair>, String), ClusterError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, format!("etcd-skew CA {generation}"));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().map_err(tls_err)?;
    let pem = params.self_signed(&key).map_err(tls_err)?.pem();
    Ok((Issuer::new(params, key), pem))
}

/// Writes `data` to `path` with one rename, so a member never reads half a file.
fn write_atomic(path: &Path, data: &[u8]) -> Result<(), ClusterError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| ClusterError::io(path.display().to_string(), e))
}

impl Pki {
    /// A new CA and every leaf, written under `dir`.
    pub fn create(dir: &Path) -> Result<Pki, ClusterError> {
        std::fs::create_dir_all(dir).map_err(|e| ClusterError::io(dir.display().to_string(), e))?;
        let (ca, ca_pem) = new_ca(0)?;
        let pki = Pki {
            dir: dir.to_path_buf(),
            ca,
            ca_pem,
            generation: 0,
        };
        pki.write_ca()?;
        for leaf in [Leaf::Server, Leaf::Peer, Leaf::Client] {
            pki.issue(leaf)?;
        }
        Ok(pki)
    }

    fn write_ca(&self) -> Result<(), ClusterError> {
        write_atomic(&self.dir.join("ca.pem"), self.ca_pem.as_bytes())
    }

    /// The SAN that marks certificates of the current generation.
    pub fn marker(&self) -> String {
        format!("rotated-{}.etcd-skew.test", self.generation)
    }

    /// Issues `leaf` from the current CA into `<leaf>.pem` / `<leaf>-key.pem` (key first).
    pub fn issue(&self, leaf: Leaf) -> Result<(), ClusterError> {
        let sans = vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
            self.marker(),
        ];
        let mut params = CertificateParams::new(sans).map_err(tls_err)?;
        params.distinguished_name.push(
            DnType::CommonName,
            if leaf == Leaf::Client {
                "root"
            } else {
                "etcd-skew member"
            },
        );
        params.extended_key_usages = match leaf {
            Leaf::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
            // Members also dial each other (and themselves) with these.
            _ => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        };
        let key = KeyPair::generate().map_err(tls_err)?;
        let cert = params.signed_by(&key, &self.ca).map_err(tls_err)?;
        write_atomic(
            &self.dir.join(format!("{}-key.pem", leaf.file())),
            key.serialize_pem().as_bytes(),
        )?;
        write_atomic(
            &self.dir.join(format!("{}.pem", leaf.file())),
            cert.pem().as_bytes(),
        )
    }

    /// Replaces `leaf` with a new certificate from the same CA (a live rotation).
    pub fn rotate(&mut self, leaf: Leaf) -> Result<String, ClusterError> {
        self.generation += 1;
        self.issue(leaf)?;
        Ok(self.marker())
    }

    /// A new CA and every leaf re-issued from it (members must restart to trust it).
    pub fn rotate_ca(&mut self) -> Result<String, ClusterError> {
        self.generation += 1;
        let (ca, pem) = new_ca(self.generation)?;
        self.ca = ca;
        self.ca_pem = pem;
        self.write_ca()?;
        for leaf in [Leaf::Server, Leaf::Peer, Leaf::Client] {
            self.issue(leaf)?;
        }
        Ok(self.marker())
    }

    /// The member flags: the same files for every member (their SANs cover 127.0.0.1); client
    /// TLS too, or peer TLS only.
    pub fn flags(&self, client: bool) -> TlsFlags {
        let f = |n: &str| self.dir.join(n);
        TlsFlags {
            client,
            trusted_ca: f("ca.pem"),
            cert: f("server.pem"),
            key: f("server-key.pem"),
            peer_trusted_ca: f("ca.pem"),
            peer_cert: f("peer.pem"),
            peer_key: f("peer-key.pem"),
        }
    }

    /// What a peer-link proxy presents on both sides (the peer certificate, which serves and
    /// dials) and trusts, read from the current files.
    pub fn peer(&self) -> Result<ClientTls, ClusterError> {
        self.material(Leaf::Peer)
    }

    /// What the harness's clients present and trust, read from the current files.
    pub fn client(&self) -> Result<ClientTls, ClusterError> {
        self.material(Leaf::Client)
    }

    /// The CA and `leaf`'s certificate and key, read from the current files.
    fn material(&self, leaf: Leaf) -> Result<ClientTls, ClusterError> {
        let read = |n: &str| {
            std::fs::read(self.dir.join(n)).map_err(|e| ClusterError::io(n.to_string(), e))
        };
        Ok(ClientTls {
            ca: read("ca.pem")?,
            cert: read(&format!("{}.pem", leaf.file()))?,
            key: read(&format!("{}-key.pem", leaf.file()))?,
        })
    }
}
