//! The `host` terminal of a lesson checked headless on live: a root shell on the host
//! on a PTY of its own, so lines are read one at a time as a student types them
//! (`unshare -u sh` leaves the next line to the new shell). Everything started from it
//! shares its session, and ends with it.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::terminal::TerminalSession;
use crate::observe::proc_files::all_pids;
use crate::runtime::pty::open_pty_pair;

/// A shell on the host, the leader of its own session.
pub struct HostShell {
    child: Child,
    terminal: Arc<TerminalSession>,
}

impl HostShell {
    /// Starts `/bin/sh` on a new PTY; must be called inside a tokio runtime.
    pub fn start() -> std::io::Result<HostShell> {
        let (master, slave) = open_pty_pair().map_err(std::io::Error::from)?;
        let mut command = Command::new("/bin/sh");
        command
            .stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave))
            .env("PS1", "# ");
        // SAFETY: setsid and ioctl are async-signal-safe, as code between fork and
        // exec in a multi-threaded process must be.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        let terminal = TerminalSession::start(master)?;
        Ok(HostShell { child, terminal })
    }

    /// The shell's terminal: its input and output.
    pub fn terminal(&self) -> &Arc<TerminalSession> {
        &self.terminal
    }

    /// The shell's host PID: what the lesson's lines start descends from it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the shell still runs (a student's `exit` may have ended it).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills every process of the shell's session (what the lesson's lines started,
    /// in whatever namespaces), then the shell.
    pub fn end(&mut self) {
        let session = self.child.id();
        for pid in all_pids() {
            if pid != session && session_of(pid) == Some(session) {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for HostShell {
    fn drop(&mut self) {
        self.end();
    }
}

/// The session id of `pid`, from /proc/PID/stat (field 6, counted after comm).
fn session_of(pid: u32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    rest.split_whitespace().nth(3)?.parse().ok()
}
