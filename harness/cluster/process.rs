//! One supervised etcd process.
//!
//! A child's life is an explicit state machine — running, paused, exited — and every transition
//! is bounded in time: terminate sends SIGTERM, waits a grace period, then SIGKILL. Nothing may
//! outlive the harness, so every child
//! - runs in its own process group, which all signals target;
//! - has PR_SET_PDEATHSIG=SIGKILL, so the kernel kills it if the harness dies (even by SIGKILL);
//! - is killed when its handle is dropped (panics and early returns included).
//!
//! PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process. Async
//! runtimes retire idle threads, so all children are forked by one spawner thread that lives as
//! long as the process.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::error::ClusterError;
use super::wait::{poll, Probe};

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

fn spawner() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("etcd-skew-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawn the process-spawner thread");
        Mutex::new(tx)
    })
}

/// Spawns `cmd` in a new process group with PR_SET_PDEATHSIG=SIGKILL, from the spawner thread.
pub fn spawn_supervised(mut cmd: Command) -> std::io::Result<Child> {
    let parent = std::process::id();
    cmd.process_group(0);
    // SAFETY: the closure only calls async-signal-safe functions (prctl, getppid, _exit).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The harness may have died between fork and prctl: then nobody would kill us.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let (tx, rx) = mpsc::channel();
    spawner()
        .lock()
        .unwrap()
        .send((cmd, tx))
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?
}

/// Where a supervised process is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcState {
    Running,
    /// Stopped with SIGSTOP: holds its ports and locks but answers nothing.
    Paused,
    Exited(ExitStatus),
}

/// A running child and its process group, killed on drop. Methods take `&self` (the child sits
/// behind a mutex) so that cluster-wide waits can look at every member while polling.
pub struct Supervised {
    pid: u32,
    inner: Mutex<(Child, ProcState)>,
}

impl Supervised {
    pub fn spawn(cmd: Command) -> std::io::Result<Supervised> {
        let child = spawn_supervised(cmd)?;
        Ok(Supervised {
            pid: child.id(),
            inner: Mutex::new((child, ProcState::Running)),
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    fn signal(&self, sig: Signal) {
        // The group id is the child's pid (process_group(0)). ESRCH: already gone; fine.
        let _ = killpg(Pid::from_raw(self.pid as i32), sig);
    }

    /// Locks the child and refreshes its state (reaping it if it exited).
    fn refreshed(&self) -> MutexGuard<'_, (Child, ProcState)> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !matches!(g.1, ProcState::Exited(_)) {
            if let Ok(Some(status)) = g.0.try_wait() {
                g.1 = ProcState::Exited(status);
            }
        }
        g
    }

    pub fn state(&self) -> ProcState {
        self.refreshed().1
    }

    /// SIGSTOP: the member freezes (heartbeats stop, peers see it as down).
    pub fn pause(&self) {
        let mut g = self.refreshed();
        if g.1 == ProcState::Running {
            self.signal(Signal::SIGSTOP);
            g.1 = ProcState::Paused;
        }
    }

    /// SIGCONT after [`pause`](Self::pause).
    pub fn resume(&self) {
        let mut g = self.refreshed();
        if g.1 == ProcState::Paused {
            self.signal(Signal::SIGCONT);
            g.1 = ProcState::Running;
        }
    }

    /// SIGKILL and reap: no shutdown work at all, as in a crash.
    pub fn kill(&self) -> ExitStatus {
        let mut g = self.refreshed();
        if let ProcState::Exited(s) = g.1 {
            return s;
        }
        self.signal(Signal::SIGKILL);
        // SIGKILL cannot be caught; the wait is the kernel tearing the process down.
        let status = g.0.wait().expect("wait for a SIGKILLed child");
        g.1 = ProcState::Exited(status);
        status
    }

    /// SIGTERM, then SIGKILL if it has not exited after `grace`.
    pub async fn terminate(&self, grace: Duration) -> ExitStatus {
        {
            let mut g = self.refreshed();
            if let ProcState::Exited(s) = g.1 {
                return s;
            }
            if g.1 == ProcState::Paused {
                self.signal(Signal::SIGCONT);
                g.1 = ProcState::Running;
            }
        }
        self.signal(Signal::SIGTERM);
        let exited = poll("graceful exit", grace, Duration::from_millis(20), || {
            let s = self.state();
            async move {
                match s {
                    ProcState::Exited(st) => Ok(st),
                    _ => Err(Probe::NotYet(format!("{s:?}"))),
                }
            }
        })
        .await;
        match exited {
            Ok(status) => status,
            Err(ClusterError::Timeout { .. }) | Err(_) => self.kill(),
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.kill();
    }
}
