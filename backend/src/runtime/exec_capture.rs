//! Commands whose output is captured, not shown: a check of a lesson runs one in a
//! container (through the exec helper's pipe mode) or on the host (`sh -c`), reads
//! stdout and stderr as one text, and gives up after a deadline, ending the command's
//! whole session so nothing it started lingers.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::channel::ControlMessage;
use super::exec::{abandon, start_helper, ExecOutput, ExecRequest};
use super::{RuntimeConfig, RuntimeError};

/// Most output kept from one command; the rest is read and dropped.
pub const MAX_CAPTURE_BYTES: usize = 1024 * 1024;
/// How often the reader looks whether the command has ended.
const POLL_SLICE: Duration = Duration::from_millis(20);

/// How a captured command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Captured {
    /// It exited with this status (128 + signal if killed); stdout and stderr in order.
    Finished { exit: i32, output: String },
    /// It ran past the deadline and was killed, with everything in its session.
    TimedOut,
}

/// Runs `request`'s command in its container with its output captured.
pub fn run_in_container(
    config: &RuntimeConfig,
    request: &ExecRequest,
    timeout: Duration,
) -> Result<Captured, RuntimeError> {
    let mut request = request.clone();
    request.output = ExecOutput::Pipe;
    request.tty = false;
    let (read, write) = capture_pipe()?;
    let (mut child, reply) = start_helper(
        config,
        &request,
        Stdio::from(clone_fd(&write)?),
        Stdio::from(write),
    )?;
    let pid = match reply {
        (ControlMessage::ExecStarted { pid }, _) => pid,
        (other, _) => return Err(abandon(&mut child, format!("unexpected {other:?}"))),
    };
    collect(read, child, pid, timeout)
}

/// Runs `line` with `sh -c` on the host, in a process group of its own.
pub fn run_on_host(line: &str, timeout: Duration) -> Result<Captured, RuntimeError> {
    let (read, write) = capture_pipe()?;
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg(line)
        .stdin(Stdio::null())
        .stdout(Stdio::from(clone_fd(&write)?))
        .stderr(Stdio::from(write))
        .process_group(0)
        .spawn()
        .map_err(|e| RuntimeError::Helper("/bin/sh".into(), e))?;
    let group = child.id();
    collect(read, child, group, timeout)
}

fn capture_pipe() -> Result<(OwnedFd, OwnedFd), RuntimeError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| RuntimeError::Sys("pipe2", e))
}

fn clone_fd(fd: &OwnedFd) -> Result<OwnedFd, RuntimeError> {
    fd.try_clone()
        .map_err(|e| RuntimeError::Sys("dup", nix::Error::from_raw(e.raw_os_error().unwrap_or(0))))
}

/// Reads the output until the child ends (then what is left in the pipe: a
/// background job may hold it open) or the deadline passes (then kills `group`).
fn collect(
    read: OwnedFd,
    mut child: Child,
    group: u32,
    timeout: Duration,
) -> Result<Captured, RuntimeError> {
    let deadline = Instant::now() + timeout;
    let mut file = std::fs::File::from(read);
    let mut output = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut open = true;
    loop {
        if let Some(status) = child.try_wait().map_err(io_error("wait"))? {
            if open {
                drain(&mut file, &mut output, &mut chunk);
            }
            let exit = status
                .code()
                .or_else(|| std::os::unix::process::ExitStatusExt::signal(&status).map(|s| 128 + s))
                .unwrap_or(-1);
            let output = String::from_utf8_lossy(&output).into_owned();
            return Ok(Captured::Finished { exit, output });
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = kill(Pid::from_raw(-(group as i32)), Signal::SIGKILL);
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Captured::TimedOut);
        }
        if !open {
            std::thread::sleep(POLL_SLICE.min(deadline - now));
            continue;
        }
        let wait = POLL_SLICE.min(deadline - now);
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
        let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(nix::Error::EINTR) => continue,
            Ok(_) => match file.read(&mut chunk) {
                Ok(0) => open = false,
                Ok(n) => keep(&mut output, &chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error("read")(e)),
            },
            Err(e) => return Err(RuntimeError::Sys("poll", e)),
        }
    }
}

/// Reads what the pipe holds now, without waiting for writers that are still alive.
fn drain(file: &mut std::fs::File, output: &mut Vec<u8>, chunk: &mut [u8]) {
    loop {
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(n) if n > 0 => match file.read(chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => keep(output, &chunk[..n]),
            },
            _ => return,
        }
    }
}

fn keep(output: &mut Vec<u8>, bytes: &[u8]) {
    let room = MAX_CAPTURE_BYTES.saturating_sub(output.len());
    output.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

fn io_error(call: &'static str) -> impl Fn(std::io::Error) -> RuntimeError {
    move |e| RuntimeError::Sys(call, nix::Error::from_raw(e.raw_os_error().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_command_gives_its_status_and_both_streams() {
        let got = run_on_host("echo out; echo err >&2; exit 3", Duration::from_secs(5));
        assert_eq!(
            got.ok(),
            Some(Captured::Finished {
                exit: 3,
                output: "out\nerr\n".to_string()
            })
        );
    }

    #[test]
    fn a_background_job_does_not_hold_the_answer_back() {
        let started = Instant::now();
        let got = run_on_host("sleep 2 & echo done", Duration::from_secs(5));
        assert!(
            matches!(got, Ok(Captured::Finished { exit: 0, .. })),
            "{got:?}"
        );
        assert!(started.elapsed() < Duration::from_millis(1500));
    }

    #[test]
    fn a_command_past_its_deadline_is_killed_with_its_group() {
        let started = Instant::now();
        let got = run_on_host("sleep 30 & sleep 31", Duration::from_millis(300));
        assert_eq!(got.ok(), Some(Captured::TimedOut));
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}
