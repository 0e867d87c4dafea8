//! The store as the evidence shows it: every key's changes by revision, and the revisions
//! the watch covered.

use std::collections::{BTreeMap, HashMap};

use crate::history::WatchLog;

/// One key's changes: the value after the change at each revision (`None`: deleted).
pub(super) type KeyTimeline = BTreeMap<i64, Option<String>>;

/// The store as the evidence shows it.
#[derive(Default)]
pub(super) struct Timeline {
    pub(super) keys: HashMap<String, KeyTimeline>,
    /// The revision each (key, value) was written at.
    pub(super) written_at: HashMap<(String, String), i64>,
}

impl Timeline {
    /// Records that `key` was `value` from `revision` on, per `source`; a disagreement is a
    /// violation.
    pub(super) fn insert(
        &mut self,
        key: &str,
        revision: i64,
        value: Option<&str>,
        source: &str,
        out: &mut Vec<String>,
    ) {
        let changes = self.keys.entry(key.to_string()).or_default();
        match changes.get(&revision) {
            Some(had) if had.as_deref() != value => out.push(format!(
                "{source} shows {key} = {} at revision {revision}, but it was {} there",
                show(value),
                show(had.as_deref())
            )),
            Some(_) => {}
            None => {
                changes.insert(revision, value.map(str::to_string));
            }
        }
        if let Some(v) = value {
            let at = self
                .written_at
                .entry((key.to_string(), v.to_string()))
                .or_insert(revision);
            if *at != revision {
                out.push(format!(
                    "{source} shows {key} = {v:?} written at revision {revision}, but it was written at {at}"
                ));
            }
        }
    }

    /// The key at `revision`: its value (`None`: absent) and mod revision (0 if absent), with
    /// the revision of the change that made it so (0: none recorded).
    pub(super) fn at(&self, key: &str, revision: i64) -> (Option<&str>, i64, i64) {
        match self
            .keys
            .get(key)
            .and_then(|c| c.range(..=revision).next_back())
        {
            Some((r, Some(v))) => (Some(v.as_str()), *r, *r),
            Some((r, None)) => (None, 0, *r),
            None => (None, 0, 0),
        }
    }
}

impl Timeline {
    /// The key's life at `revision`: its version (puts since it was created), its create
    /// revision (0: absent), and the revision of the delete before that creation (0: none
    /// recorded), after which every change must be known for the first two to be.
    pub(super) fn life(&self, key: &str, revision: i64) -> (i64, i64, i64) {
        let Some(changes) = self.keys.get(key) else {
            return (0, 0, 0);
        };
        let (mut version, mut created) = (0, 0);
        for (r, v) in changes.range(..=revision).rev() {
            if v.is_none() {
                return (version, created, *r);
            }
            version += 1;
            created = *r;
        }
        (version, created, 0)
    }
}

pub(super) fn show(v: Option<&str>) -> String {
    v.map_or("<absent>".into(), |v| format!("{v:?}"))
}

/// The revisions the watch delivered everything of: from its start to its last event, less
/// compacted gaps.
pub(super) struct Coverage<'a>(pub(super) &'a WatchLog, pub(super) i64);

impl Coverage<'_> {
    /// Is every revision in `(after, upto]` covered?
    pub(super) fn covers(&self, after: i64, upto: i64) -> bool {
        let (log, last) = (self.0, self.1);
        upto <= after
            || (after + 1 >= log.start_revision
                && upto <= last
                && !log
                    .compacted
                    .iter()
                    .any(|(a, b)| *a <= upto && *b > after + 1))
    }
}
