//! External tools (apt-get, dpkg-deb, pip, etcd --version) run with a deadline.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `cmd` to completion within `timeout`, capturing stdout and stderr (through files, so a
/// chatty tool cannot block on a full pipe). Errors name the tool and say what it printed.
pub fn run_bounded(cmd: &mut Command, scratch: &Path, timeout: Duration) -> Result<String, String> {
    let tool = format!("{:?}", cmd.get_program());
    let out = tempfile::NamedTempFile::new_in(scratch).map_err(|e| e.to_string())?;
    let err = tempfile::NamedTempFile::new_in(scratch).map_err(|e| e.to_string())?;
    // Its own process group (a timeout kills the tool and its helpers, e.g. apt's methods), and
    // PR_SET_PDEATHSIG: this thread waits for it, so the signal fires only if we die.
    cmd.process_group(0);
    // SAFETY: prctl is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.reopen().map_err(|e| e.to_string())?)
        .stderr(err.reopen().map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("cannot run {tool}: {e}"))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{tool} did not finish within {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(out.path()).unwrap_or_default();
    if status.success() {
        Ok(stdout)
    } else {
        let stderr = std::fs::read_to_string(err.path()).unwrap_or_default();
        let said: Vec<&str> = stderr
            .lines()
            .chain(stdout.lines())
            .filter(|l| {
                !l.trim().is_empty() && !l.starts_with("W: Download is performed unsandboxed")
            })
            .collect();
        let tail = said[said.len().saturating_sub(3)..].join(" | ");
        Err(format!("{tool} failed ({status}): {tail}"))
    }
}
