//! What to measure, parsed once at the edge: release pairs, dataset sizes, cases. Every bad
//! value becomes one [`BenchError`] line naming the field and the value.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::BenchError;
use crate::release::{Release, ReleaseStore, Version};

/// The first minor release without the v2 API (etcd 3.6 removed it and `--enable-v2`).
const FIRST_WITHOUT_V2: (u32, u32) = (3, 6);

/// The largest dataset accepted: beyond it a template no longer fits a cache on a laptop.
pub const MAX_MB: u32 = 4096;

/// An older release and the newer one its members move to.
#[derive(Clone, Debug)]
pub struct Pair {
    pub from: Release,
    pub to: Release,
}

impl Pair {
    /// `3.3.25→3.4.23`: how tables, JSON and the plot name the pair.
    pub fn label(&self) -> String {
        format!("{}→{}", self.from.name, self.to.name)
    }

    /// Resolves (fetching if needed) both releases; refuses one without the v2 API, since the
    /// dataset is v2 data the newer member must serve.
    pub fn resolve(store: &ReleaseStore, from: &str, to: &str) -> Result<Pair, BenchError> {
        Ok(Pair {
            from: resolve_v2(store, from)?,
            to: resolve_v2(store, to)?,
        })
    }
}

fn resolve_v2(store: &ReleaseStore, name: &str) -> Result<Release, BenchError> {
    let r = store.resolve(name).map_err(|e| BenchError::Release {
        release: name.to_string(),
        reason: e.to_string(),
        source: Some(Box::new(e)),
    })?;
    check_v2(&r.name, &r.version)?;
    Ok(r)
}

/// Refuses a release that has no v2 API.
pub fn check_v2(name: &str, v: &Version) -> Result<(), BenchError> {
    if (v.major, v.minor) >= FIRST_WITHOUT_V2 {
        return Err(BenchError::Release {
            release: name.to_string(),
            reason: format!("etcd {v} has no v2 API (removed in 3.6); the dataset is v2 data"),
            source: None,
        });
    }
    Ok(())
}

/// Parses `--v2-mb 1,10,50,100`: positive whole megabytes (MiB), at most [`MAX_MB`].
pub fn parse_sizes(s: &str) -> Result<Vec<u32>, BenchError> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let p = part.trim();
        let mb: u32 = p
            .parse()
            .map_err(|_| BenchError::bad("--v2-mb", p, "expected whole megabytes, e.g. 1,10,50"))?;
        if mb == 0 || mb > MAX_MB {
            return Err(BenchError::bad(
                "--v2-mb",
                p,
                format!("must be between 1 and {MAX_MB} MB"),
            ));
        }
        if !out.contains(&mb) {
            out.push(mb);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The four ways a member meets the dataset (issue 13, "The measurement").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Case {
    /// Stop one member, start it on the newer release on its data dir.
    Upgrade,
    /// The same restart on the older release: the cost of the version change is the ratio.
    Baseline,
    /// A brand-new member of the newer release, added to the cluster: it needs a snapshot.
    NewMember,
    /// A member down while the others wrote on and snapshotted past it, restarted on the newer
    /// release: it too needs a snapshot, but has a data dir.
    BehindSnapshot,
}

impl Case {
    pub const ALL: [Case; 4] = [
        Case::Upgrade,
        Case::Baseline,
        Case::NewMember,
        Case::BehindSnapshot,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Case::Upgrade => "upgrade",
            Case::Baseline => "baseline",
            Case::NewMember => "new-member",
            Case::BehindSnapshot => "behind-snapshot",
        }
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Case {
    type Err = BenchError;
    fn from_str(s: &str) -> Result<Case, BenchError> {
        Case::ALL
            .into_iter()
            .find(|c| c.name() == s.trim())
            .ok_or_else(|| {
                BenchError::bad(
                    "--cases",
                    s,
                    "expected upgrade, baseline, new-member or behind-snapshot",
                )
            })
    }
}

/// Parses `--cases upgrade,baseline`.
pub fn parse_cases(s: &str) -> Result<Vec<Case>, BenchError> {
    let mut v = s
        .split(',')
        .map(str::parse)
        .collect::<Result<Vec<Case>, _>>()?;
    v.sort();
    v.dedup();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_refuse_zero_and_garbage() {
        assert_eq!(parse_sizes("100, 1,10,10").unwrap(), vec![1, 10, 100]);
        for bad in ["0", "1,x", "", "-3", "1.5", "99999"] {
            let e = parse_sizes(bad).unwrap_err().to_string();
            assert!(e.starts_with("--v2-mb: "), "{bad}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn releases_without_v2_are_refused() {
        assert!(check_v2("3.5.16", &"3.5.16".parse().unwrap()).is_ok());
        let e = check_v2("3.6.0", &"3.6.0".parse().unwrap()).unwrap_err();
        assert!(e.to_string().contains("3.6.0"), "{e}");
    }

    #[test]
    fn cases_parse_by_name() {
        assert_eq!(
            parse_cases("new-member,upgrade").unwrap(),
            vec![Case::Upgrade, Case::NewMember]
        );
        assert!(parse_cases("upgrade,sideways").is_err());
    }
}
