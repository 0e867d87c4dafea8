//! etcd version numbers: a binary's `major.minor.patch[-pre]` and the cluster version's
//! `major.minor`, which is what members negotiate (etcd compares minors, never patches).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A binary's version as `etcd --version` and `/version`'s `etcdserver` report it. Ordered
/// like semver: a pre-release (`3.5.30-rc.0`) sorts below its release.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// Pre-release suffix of a development build (`3.6.0-alpha.0`), if any.
    pub pre: Option<String>,
}

/// The unit of cluster-version negotiation: etcd raises and refuses by `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MinorVersion {
    pub major: u32,
    pub minor: u32,
}

/// A string that is not `MAJOR.MINOR.PATCH[-PRE]`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid etcd version {0:?}: expected MAJOR.MINOR.PATCH, e.g. 3.5.16")]
pub struct ParseVersionError(pub String);

impl Version {
    pub fn new(major: u32, minor: u32, patch: u32) -> Self {
        Version {
            major,
            minor,
            patch,
            pre: None,
        }
    }

    pub fn minor_version(&self) -> MinorVersion {
        MinorVersion {
            major: self.major,
            minor: self.minor,
        }
    }

    /// Reads the version line of `etcd --version` output (`etcd Version: 3.5.16`).
    pub fn from_version_output(output: &str) -> Option<Version> {
        output
            .lines()
            .find_map(|l| l.trim().strip_prefix("etcd Version:"))
            .and_then(|v| v.trim().parse().ok())
    }
}

impl FromStr for Version {
    type Err = ParseVersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseVersionError(s.to_string());
        let t = s.trim().trim_start_matches('v');
        let (core, pre) = match t.split_once('-') {
            // The suffix ends up in cache paths: letters, digits, dots and dashes only, no "..".
            Some((c, p))
                if !p.is_empty()
                    && !p.contains("..")
                    && p.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') =>
            {
                (c, Some(p.to_string()))
            }
            Some(_) => return Err(err()),
            None => (t, None),
        };
        let mut parts = core.split('.');
        let mut next = || -> Result<u32, ParseVersionError> {
            let p = parts.next().ok_or_else(err)?;
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            p.parse().map_err(|_| err())
        };
        let (major, minor, patch) = (next()?, next()?, next()?);
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(Version {
            major,
            minor,
            patch,
            pre,
        })
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => std::cmp::Ordering::Equal,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(_), None) => std::cmp::Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl TryFrom<String> for Version {
    type Error = ParseVersionError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Version> for String {
    fn from(v: Version) -> String {
        v.to_string()
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so that table columns (`{:<8}`) line up.
        let s = match &self.pre {
            Some(p) => format!("{}.{}.{}-{p}", self.major, self.minor, self.patch),
            None => format!("{}.{}.{}", self.major, self.minor, self.patch),
        };
        f.pad(&s)
    }
}

impl MinorVersion {
    pub const fn new(major: u32, minor: u32) -> Self {
        MinorVersion { major, minor }
    }

    /// Parses a cluster version as `/version`'s `etcdcluster` reports it (`3.4.0`); etcd
    /// reports `not_decided` (3.3/3.4) or an empty string before the leader decided: `None`.
    pub fn from_cluster_field(s: &str) -> Option<MinorVersion> {
        let v: Version = s.parse().ok()?;
        Some(v.minor_version())
    }
}

impl fmt::Display for MinorVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for MinorVersion {
    type Err = ParseVersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseVersionError(s.to_string());
        // Exactly MAJOR.MINOR: `3.5.1` here would be a patch mistaken for a cluster version.
        let (a, b) = s.trim().split_once('.').ok_or_else(err)?;
        Ok(MinorVersion {
            major: a.parse().map_err(|_| err())?,
            minor: b.parse().map_err(|_| err())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_and_dev_versions() {
        assert_eq!("3.5.16".parse::<Version>().unwrap(), Version::new(3, 5, 16));
        let dev: Version = "v3.6.0-alpha.0".parse().unwrap();
        assert_eq!(dev.pre.as_deref(), Some("alpha.0"));
        assert_eq!(dev.to_string(), "3.6.0-alpha.0");
        for bad in [
            "3.5",
            "3.5.x",
            "",
            "3.5.1.2",
            "3.5.1-",
            "a.b.c",
            "3.5.0-/../..",
            "3.5.0-a/b",
        ] {
            assert!(bad.parse::<Version>().is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_etcd_version_output_and_cluster_field() {
        let out = "etcd Version: 3.4.23\nGit SHA: Not provided\nGo Version: go1.19.8\n";
        assert_eq!(
            Version::from_version_output(out),
            Some(Version::new(3, 4, 23))
        );
        assert_eq!(
            MinorVersion::from_cluster_field("3.4.0"),
            Some(MinorVersion::new(3, 4))
        );
        assert_eq!(MinorVersion::from_cluster_field("not_decided"), None);
        assert_eq!(MinorVersion::from_cluster_field(""), None);
        assert!(MinorVersion::new(3, 4) < MinorVersion::new(3, 5));
        assert!("3.5.1".parse::<MinorVersion>().is_err());
        assert!("3.5.30-rc.0".parse::<Version>().unwrap() < Version::new(3, 5, 30));
        assert!(Version::new(3, 5, 29) < "3.5.30-rc.0".parse::<Version>().unwrap());
    }
}
