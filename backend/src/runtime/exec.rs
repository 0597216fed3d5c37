//! Running another process inside a running container, entering all of its
//! namespaces or only chosen ones (nsenter from the browser: say, only the net one).
//!
//! Like container creation, this re-execs the isolab binary, here as `isolab-exec`: a
//! fresh single-threaded process that may setns and fork freely, which the
//! multi-threaded server may not. The helper is not dumpable while it holds host
//! resources (CVE-2019-5736); it joins the container's cgroup, opens every namespace
//! file first (after entering the mount namespace the host's /proc is gone), enters
//! them user-first, forks so that the pid namespace applies, and the child drops to
//! the container's capabilities, sets no_new_privs, closes stray fds and execs.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use isolab_shared::{NamespaceKind, NamespaceSet};
use nix::sched::setns;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use serde::{Deserialize, Serialize};

use super::channel::{ControlChannel, ControlMessage, FailureKind};
use super::clone3::clone_flags;
use super::plan::{DEFAULT_CAPABILITIES, DEFAULT_PATH};
use super::security;
use super::state::ContainerRecord;
use super::{RuntimeConfig, RuntimeError};

/// The argv[0] of the exec helper; `main` dispatches on it.
pub const EXEC_ARGV0: &str = "isolab-exec";
/// The environment variable that carries the request to the helper.
pub(super) const REQUEST_ENV: &str = "ISOLAB_EXEC_REQUEST";

/// What to run, and where.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct ExecRequest {
    /// Host PID of the container's init, whose namespaces are entered.
    pub init_pid: u32,
    /// The namespace kinds to enter.
    pub namespaces: Vec<NamespaceKind>,
    /// `cgroup.procs` files to join first.
    pub cgroup_procs: Vec<PathBuf>,
    /// The argv.
    pub command: Vec<String>,
    /// The environment, as `KEY=value`.
    pub env: Vec<String>,
    /// Whether stdin is a terminal that should become the controlling one.
    pub tty: bool,
    /// The container's seccomp policy: an exec'd process runs under the same filter
    /// as the container's command, or it would be a way around it.
    #[serde(default)]
    pub seccomp: Option<isolab_shared::seccomp::SeccompPolicy>,
    /// Where the process's output goes: a new terminal, or the helper's own stdout.
    #[serde(default)]
    pub output: ExecOutput,
}

/// Where an exec'd process talks.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ExecOutput {
    /// A PTY opened inside the container, its master handed back ([`spawn`]).
    #[default]
    Terminal,
    /// stdin from /dev/null, stdout and stderr the helper's own (a capture pipe; see
    /// [`super::exec_capture`]); the helper reports the process's PID, a session leader.
    Pipe,
}

impl ExecRequest {
    /// A request to run `command` in the container of `record`, entering `only` (or
    /// every namespace the container has when `None`).
    pub fn for_container(
        record: &ContainerRecord,
        command: Vec<String>,
        only: Option<&NamespaceSet>,
        tty: bool,
    ) -> Result<ExecRequest, RuntimeError> {
        let init_pid = record
            .init_pid
            .filter(|_| record.init_alive())
            .ok_or_else(|| RuntimeError::NotRunning(record.id.clone()))?;
        if command.first().is_none_or(|c| c.is_empty()) {
            return Err(RuntimeError::Spec(isolab_shared::SpecError::EmptyCommand));
        }
        let own = &record.spec.namespaces;
        let namespaces: Vec<NamespaceKind> = match only {
            Some(set) => set.iter().collect(),
            None => own.iter().collect(),
        };
        let cgroup_procs = record
            .cgroup
            .as_ref()
            .map(|cg| {
                cg.paths()
                    .into_iter()
                    .map(|p| p.join("cgroup.procs"))
                    .collect()
            })
            .unwrap_or_default();
        let mut env = vec![format!("PATH={DEFAULT_PATH}"), "HOME=/root".to_string()];
        if tty {
            env.push("TERM=xterm-256color".to_string());
        }
        let keep: Vec<String> = DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect();
        let seccomp = isolab_shared::seccomp::resolve(&record.spec.security.seccomp, &keep)
            .map_err(isolab_shared::SpecError::from)?;
        Ok(ExecRequest {
            init_pid,
            namespaces,
            cgroup_procs,
            command,
            env,
            tty,
            output: ExecOutput::Terminal,
            seccomp,
        })
    }
}

/// Starts the exec helper and returns it with the PTY master of its process. The
/// helper opens the PTY in the mount namespace it entered, so the process's terminal
/// belongs to the container's devpts (`tty` inside names it), and sends the master
/// back over a control channel given as its stdin. The returned child exits with the
/// command's status (128 + signal if killed).
pub fn spawn(
    config: &RuntimeConfig,
    request: &ExecRequest,
) -> Result<(Child, OwnedFd), RuntimeError> {
    let (mut child, reply) = start_helper(config, request, Stdio::null(), Stdio::null())?;
    match reply {
        (ControlMessage::ExecTerminal, mut fds) if fds.len() == 1 => match fds.pop() {
            Some(master) => Ok((child, master)),
            None => Err(abandon(&mut child, "no terminal".into())),
        },
        (other, _) => Err(abandon(&mut child, format!("unexpected {other:?}"))),
    }
}

/// Starts the exec helper for `request` with `stdout` and `stderr` as its output,
/// and returns it with its first message on the control channel (its stdin). A
/// report of failure, or a helper that ends before it reports, is an error, and the
/// helper is gone by then.
pub(super) fn start_helper(
    config: &RuntimeConfig,
    request: &ExecRequest,
    stdout: Stdio,
    stderr: Stdio,
) -> Result<(Child, (ControlMessage, Vec<OwnedFd>)), RuntimeError> {
    let json = serde_json::to_string(request)
        .map_err(|e| RuntimeError::Protocol(format!("cannot encode the exec request: {e}")))?;
    let (ours, theirs) = ControlChannel::pair()?;
    let mut child = Command::new(&config.helper_exe)
        .arg0(EXEC_ARGV0)
        .env_clear()
        .env(REQUEST_ENV, json)
        .stdin(Stdio::from(theirs.into_fd()))
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|e| RuntimeError::Helper(config.helper_exe.clone(), e))?;
    match ours.recv() {
        Ok((ControlMessage::Failed { error, .. }, _)) => Err(abandon(&mut child, error)),
        Ok(reply) => Ok((child, reply)),
        Err(e) => Err(abandon(
            &mut child,
            format!("the exec helper ended early: {e}"),
        )),
    }
}

/// Ends and reaps a helper that failed or said something unexpected; the error to report.
pub(super) fn abandon(child: &mut Child, error: String) -> RuntimeError {
    let _ = child.kill();
    let _ = child.wait();
    RuntimeError::SetupFailed {
        step: "exec".into(),
        error,
    }
}

/// Entry point of the exec helper. Never returns.
pub fn exec_helper_main() -> ! {
    let _ = security::set_not_dumpable();
    // SAFETY: fd 0 is the control channel `spawn` gave us, ours alone from here on.
    let mut channel = Some(ControlChannel::from_fd(unsafe { OwnedFd::from_raw_fd(0) }));
    let code = enter_and_run(&mut channel).unwrap_or_else(|message| {
        match channel {
            // Before the terminal exists: the runtime reports it to the API's caller.
            Some(channel) => {
                let _ = channel.send(
                    &ControlMessage::Failed {
                        kind: FailureKind::Setup,
                        step: "exec".into(),
                        error: message,
                        steps: Vec::new(),
                    },
                    &[],
                );
            }
            // After: it shows in the terminal.
            None => eprintln!("isolab exec: {message}"),
        }
        126
    });
    std::process::exit(code)
}

/// Joins, enters, opens the terminal (handing its master over `channel`, which is then
/// gone), forks and waits for the command.
fn enter_and_run(channel: &mut Option<ControlChannel>) -> Result<i32, String> {
    let json = std::env::var(REQUEST_ENV).map_err(|_| "no exec request".to_string())?;
    let request: ExecRequest =
        serde_json::from_str(&json).map_err(|e| format!("bad exec request: {e}"))?;
    // Opened before the mount namespace changes: the pipe mode's stdin.
    let devnull = std::fs::File::open("/dev/null").map_err(|e| format!("open /dev/null: {e}"))?;
    let me = std::process::id().to_string();
    for procs in &request.cgroup_procs {
        std::fs::write(procs, &me).map_err(|e| format!("join {}: {e}", procs.display()))?;
    }
    // Open every namespace first: entering the mount namespace hides the host's /proc.
    // User goes first so that the others are entered with its privileges; mount last.
    let mut order = request.namespaces.clone();
    order.sort_by_key(|k| match k {
        NamespaceKind::User => 0,
        NamespaceKind::Mnt => 2,
        _ => 1,
    });
    let files = order
        .iter()
        .map(|&kind| {
            let path = format!("/proc/{}/ns/{}", request.init_pid, kind.name());
            std::fs::File::open(&path)
                .map(|f| (kind, OwnedFd::from(f)))
                .map_err(|e| format!("open {path}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (kind, fd) in &files {
        setns(fd, clone_flags(*kind))
            .map_err(|e| format!("setns({}): {e}", kind.clone_flag_name()))?;
    }
    drop(files);
    if request.namespaces.contains(&NamespaceKind::User) {
        // Host root is unmapped in the container's user namespace (it would show as
        // nobody); become its root, the uid the container's own processes have.
        nix::unistd::setresgid(0.into(), 0.into(), 0.into())
            .map_err(|e| format!("setresgid in the user namespace: {e}"))?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into())
            .map_err(|e| format!("setresuid in the user namespace: {e}"))?;
    }
    let argv = request
        .command
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "the command contains a NUL byte".to_string())?;
    let env = request
        .env
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "the environment contains a NUL byte".to_string())?;
    let entered_mnt = request.namespaces.contains(&NamespaceKind::Mnt);
    let seccomp = request
        .seccomp
        .as_ref()
        .map(super::seccomp::compile)
        .transpose()
        .map_err(|e| e.to_string())?;
    if request.output == ExecOutput::Pipe {
        return run_on_pipes(channel, devnull, &argv, &env, entered_mnt, seccomp.as_ref());
    }
    // The terminal comes from the devpts of the mount namespace we are in now.
    let (master, slave) = super::pty::open_pty_pair().map_err(|e| format!("open a pty: {e}"))?;
    if let Some(c) = channel.take() {
        c.send(&ControlMessage::ExecTerminal, &[master.as_fd()])
            .map_err(|e| format!("cannot hand the terminal over: {e}"))?;
        // Dropped here: fd 0 closes before the slave takes its place.
    }
    drop(master);
    for target in 0..3 {
        security::dup2_raw(slave.as_raw_fd(), target).map_err(|e| format!("dup2: {e}"))?;
    }
    drop(slave);
    // SAFETY: this helper is single-threaded, so the child may run any code.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            let message = exec_command(&argv, &env, request.tty, entered_mnt, seccomp.as_ref());
            eprintln!("isolab exec: {message}");
            // 127 as a shell does when the command is missing.
            std::process::exit(127);
        }
        ForkResult::Parent { child } => wait_for(child),
    }
}

/// Waits for the command; its status is the helper's (128 + signal if killed).
fn wait_for(child: nix::unistd::Pid) -> Result<i32, String> {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(128 + signal as i32),
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(format!("waitpid: {e}")),
        }
    }
}

/// The pipe mode: fork, the child reads /dev/null and writes to the helper's stdout
/// and stderr; the helper reports the child's PID (a session leader, so a caller that
/// gives up can end its whole session) and waits.
fn run_on_pipes(
    channel: &mut Option<ControlChannel>,
    devnull: std::fs::File,
    argv: &[CString],
    env: &[CString],
    entered_mnt: bool,
    seccomp: Option<&super::seccomp::CompiledFilter>,
) -> Result<i32, String> {
    // SAFETY: this helper is single-threaded, so the child may run any code.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            // fd 0 was the control channel: the child must not keep it.
            let message = match security::dup2_raw(devnull.as_raw_fd(), 0) {
                Ok(()) => exec_command(argv, env, false, entered_mnt, seccomp),
                Err(e) => format!("dup2: {e}"),
            };
            eprintln!("isolab exec: {message}");
            std::process::exit(127);
        }
        ForkResult::Parent { child } => {
            if let Some(c) = channel.take() {
                let pid = u32::try_from(child.as_raw()).unwrap_or(0);
                c.send(&ControlMessage::ExecStarted { pid }, &[])
                    .map_err(|e| format!("cannot report the process: {e}"))?;
            }
            wait_for(child)
        }
    }
}

/// In the forked child: session, terminal, hardening, exec. Returns only on failure.
fn exec_command(
    argv: &[CString],
    env: &[CString],
    tty: bool,
    entered_mnt: bool,
    seccomp: Option<&super::seccomp::CompiledFilter>,
) -> String {
    if let Err(e) = nix::unistd::setsid() {
        return format!("setsid: {e}");
    }
    if tty {
        // SAFETY: TIOCSCTTY on stdin, a terminal we were given.
        if unsafe { libc::ioctl(std::io::stdin().as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
            return format!("TIOCSCTTY: {}", nix::Error::last());
        }
    }
    if entered_mnt {
        if let Err(e) = nix::unistd::chdir("/") {
            return format!("chdir /: {e}");
        }
    }
    if let Err(e) = security::check_cwd_inside_root() {
        return e;
    }
    let keep: Vec<String> = DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect();
    if let Err(e) = security::drop_capabilities(&keep) {
        return format!("dropping capabilities: {e}");
    }
    if let Err(e) = nix::sys::prctl::set_no_new_privs() {
        return format!("no_new_privs: {e}");
    }
    if let Err(e) = security::cloexec_fds_above_stdio() {
        return format!("close_range: {e}");
    }
    let Some(program) = argv.first() else {
        return "empty command".to_string();
    };
    // The PATH lookup below (access) is allowed by any sane profile; the filter goes
    // on last, as for the container's command.
    if let Some(filter) = seccomp {
        if let Err(e) = filter.install() {
            return format!("seccomp: {e}");
        }
    }
    let err = if program.as_bytes().contains(&b'/') {
        nix::unistd::execve(program, argv, env)
    } else {
        // Look the program up along the container's PATH (we are in its mount ns).
        let path = DEFAULT_PATH
            .split(':')
            .filter_map(|dir| CString::new(format!("{dir}/{}", program.to_string_lossy())).ok())
            .find(|p| nix::unistd::access(p.as_c_str(), nix::unistd::AccessFlags::X_OK).is_ok());
        match path {
            Some(p) => nix::unistd::execve(&p, argv, env),
            None => return format!("{}: command not found", program.to_string_lossy()),
        }
    };
    match err {
        Err(e) => format!("{}: {e}", program.to_string_lossy()),
        Ok(never) => match never {},
    }
}
