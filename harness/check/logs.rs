//! Member logs at the end of a case: a panic or a fatal line is a finding even when every data
//! check passed, because etcd logs one just before it exits on its own (a crash the harness
//! then restarts would otherwise go unnoticed) or when it hit an invariant it cannot recover
//! from. etcd's robustness suite fails a run the same way (`validateLogs`: no "panic" and no
//! fatal-level line in any member's output).
//!
//! The log is the harness's own file per member: every start appends a start marker line
//! ([`START_MARKER`]) and then etcd's output. A start that etcd refused as the oracle predicted
//! (a downgrade below the cluster version) ends in a fatal line by design; the start operation
//! marks such a start with [`REFUSED_MARKER`] and its lines are not judged here.

/// The line the harness writes before each start of a member (then the release and flags).
pub const START_MARKER: &str = "=== etcd-skew: start";
/// The line the harness writes after a start that was refused as predicted.
pub const REFUSED_MARKER: &str = "=== etcd-skew: refused as predicted";

/// The panic and fatal lines of one member's log (at most `limit`), outside starts refused as
/// predicted. Recognised shapes, per logger: a Go runtime panic (`panic: …`, `fatal error: …`);
/// zap JSON (3.4 with `--logger=zap`, 3.5+) with level `panic`, `dpanic` or `fatal`; capnslog
/// text (3.3, 3.4's default) with level `C` (its `Fatal` and `Panic` both log at CRITICAL).
pub fn fatal_lines(log: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    for start in starts(log) {
        if start.contains(REFUSED_MARKER) {
            continue;
        }
        for line in start.lines().filter(|l| is_fatal(l)) {
            if out.len() == limit {
                return out;
            }
            out.push(line.trim().chars().take(400).collect());
        }
    }
    out
}

/// The log cut at each start marker (text before the first marker is its own piece).
fn starts(log: &str) -> Vec<&str> {
    let mut cuts: Vec<usize> = vec![0];
    cuts.extend(log.match_indices(START_MARKER).map(|(i, _)| i));
    cuts.push(log.len());
    cuts.windows(2).map(|w| &log[w[0]..w[1]]).collect()
}

fn is_fatal(line: &str) -> bool {
    let l = line.trim_start();
    if l.starts_with("panic: ") || l.starts_with("fatal error: ") {
        return true;
    }
    if l.starts_with('{') {
        return [
            "\"level\":\"panic\"",
            "\"level\":\"dpanic\"",
            "\"level\":\"fatal\"",
        ]
        .iter()
        .any(|p| l.contains(p));
    }
    // capnslog: `2024-01-02 15:04:05.000000 C | etcdserver: …` (date, time, level, `|`).
    let mut words = l.split_whitespace();
    matches!(
        (words.next(), words.next(), words.next(), words.next()),
        (Some(date), Some(_), Some("C"), Some("|")) if date.len() == 10 && date.as_bytes()[4] == b'-'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZAP_INFO: &str = r#"{"level":"info","ts":"2024-01-02T15:04:05.000Z","caller":"etcdserver/server.go:1","msg":"published local member"}"#;
    const ZAP_PANIC: &str = r#"{"level":"panic","ts":"2024-01-02T15:04:06.000Z","caller":"mvcc/kvstore.go:2","msg":"unexpected error","error":"x"}"#;
    const ZAP_FATAL: &str = r#"{"level":"fatal","ts":"2024-01-02T15:04:06.000Z","caller":"etcdmain/etcd.go:3","msg":"discovery failed"}"#;
    const CAPNS_WARN: &str =
        "2024-01-02 15:04:05.123456 W | etcdserver: read-only range request took too long";
    const CAPNS_CRIT: &str =
        "2024-01-02 15:04:05.123456 C | etcdserver: read wal error (unexpected EOF)";

    fn start(release: &str) -> String {
        format!("{START_MARKER} m1 ({release}) --name m1\n")
    }

    #[test]
    fn a_quiet_log_has_no_fatal_line() {
        let log = format!("{}{ZAP_INFO}\n{CAPNS_WARN}\n", start("3.5.16"));
        assert!(fatal_lines(&log, 5).is_empty());
    }

    #[test]
    fn each_logger_s_panic_and_fatal_lines_are_found() {
        for bad in [
            ZAP_PANIC,
            ZAP_FATAL,
            CAPNS_CRIT,
            "panic: runtime error: index out of range [3] with length 3",
            "fatal error: concurrent map writes",
        ] {
            let log = format!("{}{ZAP_INFO}\n{bad}\ngoroutine 1 [running]:\n", start("r"));
            assert_eq!(fatal_lines(&log, 5), vec![bad.to_string()], "{bad}");
        }
    }

    #[test]
    fn a_start_refused_as_predicted_is_not_judged_but_the_next_start_is() {
        let refused = format!(
            "{}{CAPNS_CRIT}\n{REFUSED_MARKER}\n{}{ZAP_INFO}\n",
            start("3.4.23"),
            start("3.5.16")
        );
        assert!(fatal_lines(&refused, 5).is_empty());
        let crashed_later = format!("{refused}{ZAP_PANIC}\n");
        assert_eq!(fatal_lines(&crashed_later, 5), vec![ZAP_PANIC.to_string()]);
    }

    #[test]
    fn at_most_limit_lines_are_returned() {
        let log = format!("{}{ZAP_FATAL}\n{ZAP_FATAL}\n{ZAP_FATAL}\n", start("r"));
        assert_eq!(fatal_lines(&log, 2).len(), 2);
    }

    #[test]
    fn text_that_merely_mentions_panic_is_not_fatal() {
        let log = format!(
            "{}{}\n",
            start("r"),
            r#"{"level":"warn","msg":"recovered from panic in handler","error":"panic: x"}"#
        );
        assert!(fatal_lines(&log, 5).is_empty());
    }
}
