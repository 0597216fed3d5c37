//! The container's minimal init: starts the command as PID 2, forwards signals to it,
//! reaps every zombie, and ends with the command's status.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Instant;

use nix::sched::CloneFlags;
use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::apply::StepFailed;
use super::channel::FailureKind;
use super::plan::Plan;
use super::seccomp::CompiledFilter;
use super::security;
use super::steps::StepLog;

/// The command's process runs on this much stack until it execs.
const CHILD_STACK_BYTES: usize = 256 * 1024;

/// Signals init forwards to the command, plus SIGCHLD, which it handles itself.
pub fn handled_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ] {
        set.add(s);
    }
    set
}

/// Starts the command as PID 2 (a vfork-style clone) and execs it; an exec error comes back over a
/// close-on-exec pipe, so success is seen as EOF.
pub fn spawn_command(
    plan: &Plan,
    program: &CString,
    stdio: &[OwnedFd],
    signals: &SigSet,
    seccomp: Option<&CompiledFilter>,
    log: &mut StepLog,
) -> Result<Pid, StepFailed> {
    let fail = |step: &str, error: String| StepFailed {
        kind: FailureKind::Setup,
        step: step.to_string(),
        error,
    };
    let cstrings = |v: &[String]| -> Result<Vec<CString>, StepFailed> {
        v.iter()
            .map(|s| {
                CString::new(s.as_str()).map_err(|_| fail("command", format!("NUL byte in {s:?}")))
            })
            .collect()
    };
    let argv = cstrings(&plan.command)?;
    let envp = cstrings(&plan.env)?;
    let (status_r, status_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| fail("pipe2", e.to_string()))?;
    let started = Instant::now();
    // The child shares init's memory and init sleeps until it has exec'd (vfork's
    // contract): no copy of init's page tables to make, nor to tear down at exec.
    let mut stack = vec![0u8; CHILD_STACK_BYTES];
    let run_child = Box::new(|| -> isize {
        let error = prepare_and_exec(program, &argv, &envp, stdio, signals, seccomp);
        let _ = nix::unistd::write(&status_w, error.as_bytes());
        // SAFETY: _exit ends the child without running anything of init's.
        unsafe { libc::_exit(127) }
    });
    // SAFETY: the child runs on its own stack; init is single-threaded and suspended
    // until the child execs or exits, so nothing else touches the shared memory (or a
    // lock in it) meanwhile. The child has its own fd table and signal handlers.
    let child = unsafe {
        nix::sched::clone(
            run_child,
            &mut stack,
            CloneFlags::CLONE_VM | CloneFlags::CLONE_VFORK,
            Some(libc::SIGCHLD),
        )
    }
    .map_err(|e| fail("clone", e.to_string()))?;
    drop(stack);
    drop(status_w);
    let mut error = String::new();
    let _ = std::fs::File::from(status_r).read_to_string(&mut error);
    let step = isolab_shared::plan::around::exec_command(plan.tty, &plan.command);
    log.extend([isolab_shared::SetupStep {
        phase: step.phase,
        name: step.name.into(),
        call: step.call,
        error: (!error.is_empty()).then(|| error.clone()),
        duration_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    }]);
    if error.is_empty() {
        Ok(child)
    } else {
        let _ = waitpid(child, None);
        Err(StepFailed {
            kind: FailureKind::CommandNotExecutable,
            step: "exec".into(),
            error,
        })
    }
}

/// Runs in the forked child; returns only on failure, with the reason.
fn prepare_and_exec(
    program: &CString,
    argv: &[CString],
    envp: &[CString],
    stdio: &[OwnedFd],
    signals: &SigSet,
    seccomp: Option<&CompiledFilter>,
) -> String {
    let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(signals), None);
    // Rust's runtime ignores SIGPIPE, and ignored signals survive exec.
    // SAFETY: restoring the default disposition has no preconditions.
    let _ =
        unsafe { nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl) };
    if let Err(e) = nix::unistd::setsid() {
        return format!("setsid: {e}");
    }
    match stdio {
        [tty] => {
            // SAFETY: TIOCSCTTY on our own pty slave, in a new session.
            if unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
                return format!("TIOCSCTTY: {}", nix::Error::last());
            }
            for target in 0..3 {
                if let Err(e) = security::dup2_raw(tty.as_raw_fd(), target) {
                    return format!("dup2: {e}");
                }
            }
        }
        [i, o, e] => {
            for (fd, target) in [(i, 0), (o, 1), (e, 2)] {
                if let Err(err) = security::dup2_raw(fd.as_raw_fd(), target) {
                    return format!("dup2: {err}");
                }
            }
        }
        _ => {}
    }
    if let Err(e) = security::cloexec_fds_above_stdio() {
        return format!("close_range: {e}");
    }
    if let Err(e) = security::check_cwd_inside_root() {
        return e;
    }
    // Last: from here on the command's own rules hold, and only execve remains.
    if let Some(filter) = seccomp {
        if let Err(e) = filter.install() {
            return format!("seccomp: {e}");
        }
    }
    match nix::unistd::execve(program, argv, envp) {
        Err(e) => format!("execve {program:?}: {e}"),
        Ok(never) => match never {},
    }
}

/// Reaps children and forwards signals until `child` ends; gives (code, signal).
pub fn reap_until_exit(child: Pid, signals: &SigSet) -> (Option<i32>, Option<i32>) {
    loop {
        let sig = match signals.wait() {
            Ok(s) => s,
            Err(_) => continue,
        };
        if sig != Signal::SIGCHLD {
            let _ = kill(child, sig);
            continue;
        }
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == child => return (Some(code), None),
                Ok(WaitStatus::Signaled(pid, s, _)) if pid == child => {
                    return (None, Some(s as i32))
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    }
}
