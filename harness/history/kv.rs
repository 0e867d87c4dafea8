//! The recorded KV history: every request a client issued, when it was invoked and when it
//! completed, and what came back. The traffic writes it; the checkers read it; the file format
//! is JSON lines, one [`Event`] per line.

use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A KV request. Values are unique per write (`c<client>-<n>`), so a read names the write it saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Put {
        key: String,
        value: String,
    },
    Delete {
        key: String,
    },
    /// Txn: if the key's value equals `expect` (absent: `None`) then put `value`.
    Cas {
        key: String,
        expect: Option<String>,
        value: String,
    },
    Get {
        key: String,
        serializable: bool,
    },
}

impl Request {
    pub fn key(&self) -> &str {
        match self {
            Request::Put { key, .. }
            | Request::Delete { key }
            | Request::Cas { key, .. }
            | Request::Get { key, .. } => key,
        }
    }

    pub fn is_write(&self) -> bool {
        !matches!(self, Request::Get { .. })
    }
}

/// What came back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Acknowledged. `revision` is the response header's; `value` what a get read; `succeeded`
    /// whether a txn's compare held.
    Ok {
        revision: i64,
        value: Option<String>,
        succeeded: Option<bool>,
    },
    /// Known not to have taken effect (never sent, or rejected before execution).
    Failed { error: String },
    /// Sent, no answer (timeout, connection lost): may or may not have taken effect.
    Unknown { error: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub client: u32,
    pub member: String,
    /// Microseconds since the traffic started.
    pub invoke_us: u64,
    pub complete_us: u64,
    #[serde(flatten)]
    pub request: Request,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    pub events: Vec<Event>,
}

impl History {
    pub fn write_jsonl(&self, path: &Path) -> std::io::Result<()> {
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        for e in &self.events {
            serde_json::to_writer(&mut f, e)?;
            f.write_all(b"\n")?;
        }
        f.flush()
    }

    pub fn read_jsonl(path: &Path) -> std::io::Result<History> {
        let f = std::io::BufReader::new(std::fs::File::open(path)?);
        let mut events = Vec::new();
        for (n, line) in f.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let e = serde_json::from_str(&line).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}:{}: {e}", path.display(), n + 1),
                )
            })?;
            events.push(e);
        }
        Ok(History { events })
    }

    pub fn writes_acknowledged(&self) -> usize {
        self.events
            .iter()
            .filter(|e| e.request.is_write() && matches!(e.outcome, Outcome::Ok { .. }))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json_lines() {
        let h = History {
            events: vec![Event {
                client: 1,
                member: "m1".into(),
                invoke_us: 5,
                complete_us: 9,
                request: Request::Cas {
                    key: "k".into(),
                    expect: None,
                    value: "c1-1".into(),
                },
                outcome: Outcome::Ok {
                    revision: 4,
                    value: None,
                    succeeded: Some(true),
                },
            }],
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.jsonl");
        h.write_jsonl(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.contains("\"op\":\"cas\"") && text.contains("\"status\":\"ok\""),
            "{text}"
        );
        assert_eq!(History::read_jsonl(&p).unwrap(), h);
    }
}
