//! `isolab run`: a command in a new container, with its exit code passed on.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::Context;
use isolab::runtime::{self, Container, RuntimeConfig};
use isolab_shared::seccomp::{SeccompProfile, SeccompSetting};
use isolab_shared::{limits, ContainerSpec, NamespaceSet};

use crate::RunArgs;

/// The runtime's settings, with this binary as its helper.
pub fn runtime_config(state_root: PathBuf) -> anyhow::Result<RuntimeConfig> {
    let exe = std::env::current_exe().context("cannot find the isolab binary")?;
    let mut config = RuntimeConfig::new(exe);
    config.state_root = state_root;
    Ok(config)
}

fn spec_of(args: &RunArgs) -> anyhow::Result<ContainerSpec> {
    let mut spec = ContainerSpec {
        name: args.name.clone(),
        image: args.image.clone(),
        command: args.command.clone(),
        hostname: args.hostname.clone(),
        tty: args.tty,
        env: args.env.clone(),
        userns: args.userns.unwrap_or_default(),
        ..Default::default()
    };
    if let Some(ns) = &args.ns {
        spec.namespaces = NamespaceSet::parse_list(ns)?;
    }
    if let Some(p) = &args.pids {
        spec.limits.pids = Some(limits::parse_pids(p)?);
    }
    if let Some(m) = &args.memory {
        spec.limits.memory_bytes = Some(limits::parse_memory(m)?);
    }
    if let Some(c) = &args.cpus {
        spec.limits.cpus = Some(limits::parse_cpus(c)?);
    }
    for opt in &args.security_opt {
        spec.security.seccomp = seccomp_option(opt)?;
    }
    Ok(spec)
}

/// One `--security-opt`: `seccomp=unconfined`, `seccomp=default` or
/// `seccomp=PROFILE.json`, whose file is read here and inlined into the spec.
fn seccomp_option(opt: &str) -> anyhow::Result<SeccompSetting> {
    let Some(value) = opt.strip_prefix("seccomp=") else {
        anyhow::bail!(
            "unknown --security-opt {opt:?}: use seccomp=unconfined or seccomp=PROFILE.json"
        );
    };
    Ok(match value {
        "unconfined" => SeccompSetting::Unconfined,
        "default" => SeccompSetting::Default,
        path => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the seccomp profile {path}"))?;
            let profile =
                SeccompProfile::from_json(&text).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
            SeccompSetting::Profile(Box::new(profile))
        }
    })
}

/// Signals the CLI passes on to the container instead of dying from them.
const FORWARDED: [nix::sys::signal::Signal; 5] = {
    use nix::sys::signal::Signal;
    [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGWINCH,
    ]
};

fn forwarded_signals() -> nix::sys::signal::SigSet {
    let mut set = nix::sys::signal::SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set
}

/// PID 1 of the container, for the signal handler (0 until it exists).
static FORWARD_TO: AtomicI32 = AtomicI32::new(0);
/// The PTY master whose window follows this terminal's (-1 without a tty).
static RESIZE_FD: AtomicI32 = AtomicI32::new(-1);

/// Passes a signal on to the container's PID 1, or copies this terminal's new size to
/// the PTY on SIGWINCH. A handler rather than a waiting thread: a second thread costs
/// each run its start and, at exit, a wakeup to end it.
extern "C" fn forward_signal(sig: libc::c_int) {
    // Only async-signal-safe calls here: atomics, ioctl and kill.
    if sig == libc::SIGWINCH {
        let master = RESIZE_FD.load(Ordering::Relaxed);
        if master >= 0 {
            // SAFETY: stdin lives as long as the process; the master stays open while
            // RESIZE_FD names it (it is reset before the master is closed).
            let (stdin, master) = unsafe {
                (
                    BorrowedFd::borrow_raw(libc::STDIN_FILENO),
                    BorrowedFd::borrow_raw(master),
                )
            };
            // Both are single ioctls on stack data, fine in a handler.
            if let Some((cols, rows)) = super::tty::window_size(stdin) {
                let _ = runtime::resize(master, cols, rows);
            }
        }
        return;
    }
    let pid = FORWARD_TO.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe; pid > 0 names one process.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Installs [`forward_signal`] for the forwarded signals, then unblocks them, so any
/// that arrived while the container was being made are passed on now.
fn start_forwarding(init_pid: i32, resize_fd: Option<i32>) -> anyhow::Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler};
    FORWARD_TO.store(init_pid, Ordering::Relaxed);
    RESIZE_FD.store(resize_fd.unwrap_or(-1), Ordering::Relaxed);
    // SA_RESTART: the blocking reads and waits of the main path resume after a signal.
    let action = SigAction::new(
        SigHandler::Handler(forward_signal),
        SaFlags::SA_RESTART,
        nix::sys::signal::SigSet::empty(),
    );
    for s in FORWARDED {
        // SAFETY: the handler makes only async-signal-safe calls.
        unsafe { sigaction(s, &action) }.context("cannot install signal handlers")?;
    }
    forwarded_signals()
        .thread_unblock()
        .context("cannot unblock signals")
}

/// Runs `args`' command in a new container and returns its exit code.
pub fn run(args: RunArgs, state_root: PathBuf) -> anyhow::Result<std::process::ExitCode> {
    let spec = spec_of(&args)?;
    let mut config = runtime_config(state_root)?;
    // A one-shot run shows no usage and changes no limits later: only the cgroups its
    // limits need (making a v1 memory group alone takes milliseconds).
    config.all_cgroup_controllers = false;
    // With --rm nothing is kept, so the container is removed while its PID 1's
    // namespaces are torn down (PID 1 is reaped by whoever inherits it).
    config.release_before_teardown = args.rm;
    // Blocked until the container exists: PID 1 starts with them blocked (it waits for
    // them itself), and one that arrives meanwhile is passed on, not fatal.
    forwarded_signals()
        .thread_block()
        .context("cannot block signals")?;
    // Create and start in one go.
    let mut container = match Container::run(&config, &spec, runtime::Stdio::Inherit) {
        Ok(c) => c,
        // Like a shell (and docker run): 127 when the command is not there, 126 when
        // it cannot be run.
        Err(e @ runtime::RuntimeError::CommandNotFound(_)) => {
            eprintln!("isolab: {e}");
            return Ok(std::process::ExitCode::from(127));
        }
        Err(e @ runtime::RuntimeError::CommandNotExecutable(_)) => {
            eprintln!("isolab: {e}");
            return Ok(std::process::ExitCode::from(126));
        }
        Err(e) => return Err(e.into()),
    };
    let master = container.take_tty();
    let raw_mode = match &master {
        Some(m) => {
            let stdin = std::io::stdin();
            if let Some((cols, rows)) = super::tty::window_size(stdin.as_fd()) {
                let _ = runtime::resize(m.as_fd(), cols, rows);
            }
            super::tty::RawMode::enter(stdin.as_fd())
        }
        None => None,
    };
    let init_pid = container.init_pid().unwrap_or(0) as i32;
    if let Err(e) = start_forwarding(init_pid, master.as_ref().map(|m| m.as_raw_fd())) {
        // The container still runs and is still waited for and removed below.
        eprintln!("isolab: signals will not reach the container: {e:#}");
    }
    if let Some(m) = master {
        let relayed = super::tty::relay(m);
        // The master is closed now; its fd number may be reused.
        RESIZE_FD.store(-1, Ordering::Relaxed);
        relayed.context("terminal relay failed")?;
    }
    let waited = if args.rm {
        container.wait_and_delete()
    } else {
        // A command that could not be exec'd leaves nothing behind, --rm or not.
        container.wait().inspect_err(|_| {
            let _ = container.delete();
        })
    };
    drop(raw_mode);
    let exit = match waited {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("isolab: {e}");
            return Ok(std::process::ExitCode::from(127));
        }
    };
    let code = exit.shell_code().clamp(0, 255) as u8;
    if exit.oom_killed {
        eprintln!("isolab: the container ran out of memory (OOM-killed)");
    }
    Ok(std::process::ExitCode::from(code))
}
