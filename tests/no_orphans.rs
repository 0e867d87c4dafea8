//! No etcd outlives the harness: not after SIGKILL of the harness, not after Ctrl-C, not after
//! a panicking test. Each case runs the harness as a child process and watches the etcd pids it
//! reported.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Alive means present and not a zombie (an orphan reaped late by init is already dead).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// This test process adopts orphans (PR_SET_CHILD_SUBREAPER), so etcds whose harness died are
/// reparented here and can be reaped instead of lingering as zombies until init gets to them.
fn adopt_orphans() {
    nix::sys::prctl::set_child_subreaper(true).unwrap();
}

fn wait_all_dead(pids: &[u32], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        for &p in pids {
            // Reaps it if it is a dead orphan adopted by this process; ECHILD otherwise.
            let _ = nix::sys::wait::waitpid(
                Pid::from_raw(p as i32),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
        }
        if pids.iter().all(|&p| !alive(p)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    for &p in &left {
        let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL);
    }
    panic!("{what}: etcd pids still alive 15 s later: {left:?}");
}

/// The `etcd-skew up` child, killed if the test fails before it is done with it.
struct Harness(Child);

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `etcd-skew up` and reads its report until `ready`: (child, etcd pids, data dir).
fn start_up() -> (Harness, Vec<u32>, String) {
    adopt_orphans();
    common::releases(&["3.4.23"]);
    let mut child = Harness(
        Command::new(env!("CARGO_BIN_EXE_etcd-skew"))
            .args(["up", "--members", "3", "--release", "3.4.23"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = mpsc::channel();
    let out = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut pids, mut data) = (Vec::new(), String::new());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("`etcd-skew up` did not report ready: {e}"));
        if let Some(pid) = line.split_whitespace().find_map(|w| w.strip_prefix("pid=")) {
            pids.push(pid.parse().unwrap());
        }
        if let Some(d) = line.strip_prefix("data ") {
            data = d.to_string();
        }
        if line.starts_with("ready") {
            break;
        }
    }
    assert_eq!(pids.len(), 3);
    assert!(pids.iter().all(|&p| alive(p)));
    (child, pids, data)
}

#[test]
fn sigkill_of_the_harness_leaves_no_etcd() {
    let (mut child, pids, data) = start_up();
    child.0.kill().unwrap(); // SIGKILL: no destructor, no signal handler runs.
    child.0.wait().unwrap();
    wait_all_dead(&pids, "after SIGKILL of the harness");
    // Nothing could clean the data dir; remove it for the next run.
    let _ = std::fs::remove_dir_all(data);
}

#[test]
fn ctrl_c_stops_the_cluster_and_removes_its_data() {
    let (mut child, pids, data) = start_up();
    kill(Pid::from_raw(child.0.id() as i32), Signal::SIGINT).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "`etcd-skew up` ignored Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    wait_all_dead(&pids, "after Ctrl-C");
    assert!(
        !std::path::Path::new(&data).exists(),
        "data dir {data} was not removed"
    );
}

/// Run only as a child of the test below: starts a cluster, reports pids, panics.
#[test]
#[ignore = "run by a_panicking_test_leaves_no_etcd in a child process"]
fn panicking_child() {
    let Ok(report) = std::env::var("ETCD_SKEW_PANIC_REPORT") else {
        return;
    };
    let r = common::releases(&["3.4.23"]);
    common::runtime().block_on(async {
        let cluster = etcd_skew::cluster::ClusterBuilder::new(vec![r[0].clone(); 3])
            .start()
            .await
            .unwrap();
        let pids: Vec<String> = cluster
            .members()
            .iter()
            .map(|m| m.pid().unwrap().to_string())
            .collect();
        std::fs::write(&report, pids.join(" ")).unwrap();
        panic!("deliberate panic with a live cluster");
    });
}

#[test]
fn a_panicking_test_leaves_no_etcd() {
    adopt_orphans();
    common::releases(&["3.4.23"]);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("pids");
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "panicking_child", "--ignored", "--nocapture"])
        .env("ETCD_SKEW_PANIC_REPORT", &report)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the child test must fail");
    assert!(stderr.contains("deliberate panic"), "{stderr}");
    let pids: Vec<u32> = std::fs::read_to_string(&report)
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 3);
    wait_all_dead(&pids, "after a panicking test");
    // A failed run keeps its artifacts and says where.
    let kept = stderr
        .lines()
        .find_map(|l| {
            l.split_once("data dirs in ")
                .map(|(_, p)| p.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no kept-artifacts path printed: {stderr}"));
    assert!(std::path::Path::new(&kept).join("logs/m1.log").exists());
    std::fs::remove_dir_all(kept).unwrap();
}
