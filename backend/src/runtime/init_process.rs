//! The init helper: the isolab binary re-exec'd as `isolab-init`, single-threaded.
//!
//! 1. not dumpable (CVE-2019-5736), reads the [`Plan`] from the control channel (its stdin);
//! 2. unshares the namespaces; with a user namespace, waits for the runtime to write
//!    the id maps, then becomes root inside;
//! 3. clone(CLONE_PARENT) makes the container's PID 1 a child of the runtime (so the
//!    runtime can wait for it) and the helper exits;
//! 4. PID 1 applies the plan's steps (compiling the seccomp filter), reports them,
//!    waits for `Start`, forks the command as PID 2, which installs the filter and
//!    execs, and stays a minimal init ([`super::reaper`]).

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::Instant;

use isolab_shared::plan::around;
use isolab_shared::{IsolationFacts, NamespaceKind, SetupPhase, SetupStep};
use nix::sched::{unshare, CloneFlags};

use super::apply::{apply, StepFailed};
use super::channel::{ControlChannel, ControlMessage, FailureKind};
use super::clone3::spawn_init;
use super::plan::{Plan, PlannedStep};
use super::proc_title::{retitle, rewrite_environ};
use super::reaper;
use super::security;
use super::steps::StepLog;

/// The `argv[0]` the runtime gives the helper; `main` dispatches on it.
pub const INIT_ARGV0: &str = "isolab-init";

/// Entry point of the helper process. Never returns.
pub fn init_helper_main() -> ! {
    let code = match run_helper() {
        Ok(()) => 0,
        Err(code) => code,
    };
    std::process::exit(code)
}

/// For a single-threaded caller (the CLI): makes PID 1 directly as the caller's child,
/// with no helper process in between. Returns its PID; the child never returns.
/// `environ` (NUL-terminated variables, at most the size of
/// [`environ_area`](super::proc_title::environ_area)) replaces what the child shows as
/// its environment, the caller's own.
pub fn fork_init(
    plan: &Plan,
    stdio: Vec<OwnedFd>,
    control: OwnedFd,
    environ: &[u8],
    log: &mut StepLog,
) -> Result<u32, StepFailed> {
    let keep: Vec<i32> = stdio
        .iter()
        .map(|f| f.as_raw_fd())
        .chain([control.as_raw_fd()])
        .collect();
    match spawn_init(plan, log, false)? {
        0 => {
            let _ = security::set_not_dumpable();
            retitle(INIT_ARGV0);
            rewrite_environ(environ);
            let _ = nix::unistd::setsid();
            close_all_but(&keep);
            if let Ok(null) = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
            {
                for fd in 0..3 {
                    let _ = security::dup2_raw(null.as_raw_fd(), fd);
                }
            }
            let channel = ControlChannel::from_fd(control);
            let code = container_init(plan, stdio, &channel);
            std::process::exit(code)
        }
        pid => Ok(pid),
    }
}

/// Closes every fd above 2 except `keep`: the caller's other files must not reach
/// the container's PID 1.
fn close_all_but(keep: &[i32]) {
    let open: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    for fd in open {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: closing an fd this forked child does not use.
            unsafe { libc::close(fd) };
        }
    }
}

/// The helper's work; `Err` is the exit code after a failure was reported.
fn run_helper() -> Result<(), i32> {
    let _ = security::set_not_dumpable();
    retitle(INIT_ARGV0);
    // A session of its own: the caller's controlling terminal (a host tty) must not
    // stay attached to the container's PID 1.
    let _ = nix::unistd::setsid();
    // The channel arrives as stdin; move it to a close-on-exec fd and put /dev/null on 0.
    // SAFETY: F_DUPFD_CLOEXEC only duplicates fd 0.
    let channel =
        match nix::errno::Errno::result(unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3) }) {
            // SAFETY: F_DUPFD_CLOEXEC returned a fresh fd we own.
            Ok(fd) => ControlChannel::from_fd(unsafe { OwnedFd::from_raw_fd(fd) }),
            Err(_) => return Err(120),
        };
    if let Ok(null) = std::fs::File::open("/dev/null") {
        let _ = security::dup2_raw(null.as_raw_fd(), 0);
    }
    let (plan, stdio) = match channel.recv() {
        Ok((ControlMessage::Plan(plan), fds)) => (plan, fds),
        _ => return Err(121),
    };
    let mut log = StepLog::new();
    match spawn_init(&plan, &mut log, true) {
        Ok(0) => {
            let code = container_init(&plan, stdio, &channel);
            std::process::exit(code)
        }
        Ok(pid) => {
            let spawned = ControlMessage::Spawned {
                init_pid: pid,
                steps: log.into_steps(),
            };
            let _ = channel.send(&spawned, &[]);
            if plan.id_mapping.is_some() {
                let _ = channel.send(&ControlMessage::UidMapNeeded { pid }, &[]);
            }
            Ok(())
        }
        Err(e) => {
            report_failure(&channel, log, e);
            Err(1)
        }
    }
}

/// Joins PID 1 (a single thread) to each cgroup v1 directory by writing "0" to
/// `tasks`: moving one thread skips the global lock (and RCU wait) that a write to
/// cgroup.procs takes, several milliseconds on a quiet host. Its children inherit it.
/// Done before the id maps: the credentials are still the host root's.
fn join_v1_cgroups(plan: &Plan, log: &mut StepLog) -> Result<(), StepFailed> {
    for dir in &plan.cgroup.v1_dirs {
        let tasks = dir.join("tasks");
        let call = format!("write({tasks:?}, \"0\")");
        log.record(SetupPhase::Cgroup, "join cgroup (v1)", call.clone(), || {
            std::fs::write(&tasks, "0")
        })
        .map_err(|e| StepFailed {
            kind: FailureKind::Setup,
            step: call,
            error: e.to_string(),
        })?;
    }
    Ok(())
}

/// PID 1's first steps: with a user namespace, wait for the runtime to write the id
/// maps, then become root inside; with a cgroup namespace, unshare it now that PID 1
/// is in the container's cgroup.
fn enter_own_namespaces(
    plan: &Plan,
    channel: &ControlChannel,
    log: &mut StepLog,
) -> Result<(), StepFailed> {
    if let Some(m) = plan.id_mapping {
        let started = Instant::now();
        let ok = matches!(channel.recv(), Ok((ControlMessage::UidMapped, _)));
        log.extend([SetupStep {
            phase: SetupPhase::Namespaces,
            name: super::plan::ID_MAP_STEP.into(),
            call: m.call(),
            error: (!ok).then(|| "the runtime did not write the maps".to_string()),
            duration_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        }]);
        if !ok {
            return Err(StepFailed {
                kind: FailureKind::Setup,
                step: "id maps".into(),
                error: "not written".into(),
            });
        }
        let step = around::become_root();
        log.record(step.phase, step.name, step.call, || {
            let root_g = nix::unistd::Gid::from_raw(0);
            let root_u = nix::unistd::Uid::from_raw(0);
            nix::unistd::setresgid(root_g, root_g, root_g)?;
            nix::unistd::setresuid(root_u, root_u, root_u)
        })
        .map_err(|e| StepFailed {
            kind: FailureKind::Setup,
            step: "setresuid(0)".into(),
            error: e.to_string(),
        })?;
    }
    if plan.namespaces.contains(&NamespaceKind::Cgroup) {
        let step = around::cgroup_namespace();
        log.record(step.phase, step.name, step.call, || {
            unshare(CloneFlags::CLONE_NEWCGROUP)
        })
        .map_err(|e| StepFailed {
            kind: FailureKind::Setup,
            step: "unshare(CLONE_NEWCGROUP)".into(),
            error: e.to_string(),
        })?;
    }
    Ok(())
}

/// Tells the runtime which step failed, with the steps applied so far. A lost message
/// is fine: the runtime then sees the channel close and reports the exit instead.
fn report_failure(channel: &ControlChannel, log: StepLog, e: StepFailed) {
    let _ = channel.send(
        &ControlMessage::Failed {
            kind: e.kind,
            step: e.step,
            error: e.error,
            steps: log.into_steps(),
        },
        &[],
    );
}

/// PID 1 of the container: set up, report, wait for Start, run the command, reap.
fn container_init(plan: &Plan, stdio: Vec<OwnedFd>, channel: &ControlChannel) -> i32 {
    let mut log = StepLog::new();
    if let Err(e) = join_v1_cgroups(plan, &mut log) {
        report_failure(channel, log, e);
        return 1;
    }
    // Opened now, while the host's cgroup tree is in reach and the credentials are
    // still the host root's; O_CLOEXEC keeps them from the command.
    let leave_to: Vec<std::fs::File> = if plan.leave_cgroup_at_exit {
        plan.cgroup
            .v1_roots
            .iter()
            .filter_map(|root| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(root.join("tasks"))
                    .ok()
            })
            .collect()
    } else {
        Vec::new()
    };
    // Block the signals init handles, before anything else can arrive.
    let signals = reaper::handled_signals();
    let _ = signals.thread_block();
    let mut facts = IsolationFacts::default();
    let fail = |log: StepLog, e: StepFailed| {
        report_failure(channel, log, e);
        1
    };
    if let Err(e) = enter_own_namespaces(plan, channel, &mut log) {
        return fail(log, e);
    }
    let mut seccomp = None;
    // Steps recorded without their call text, which is written once the command runs
    // (formatting some forty calls would otherwise delay its start).
    let mut deferred: Vec<(usize, &PlannedStep)> = Vec::new();
    // The device program is not PID 1's: the runtime attached it with the group.
    for step in plan.pid1_steps() {
        let applied = match step {
            // Compiled here, once; the command's process installs it (see seccomp/).
            PlannedStep::Seccomp { filter } => {
                super::seccomp::prepare(step, filter.as_ref(), &mut log, &mut facts)
                    .map(|compiled| seccomp = compiled)
            }
            _ => {
                apply(step, &plan.cgroup, &mut log, &mut facts).map(|at| deferred.push((at, step)))
            }
        };
        if let Err(e) = applied {
            return fail(with_calls(log, &deferred), e);
        }
    }
    if let Some(m) = plan.id_mapping {
        facts.uid_map = vec![m.entry()];
        facts.gid_map = vec![m.entry()];
    }
    let program = match resolve_program(plan) {
        Ok(p) => p,
        Err(e) => return fail(with_calls(log, &deferred), e),
    };
    let pty = if plan.tty {
        match open_pty(&mut log) {
            Ok(p) => Some(p),
            Err(e) => return fail(with_calls(log, &deferred), e),
        }
    } else {
        None
    };
    let (master, slave) = match pty {
        Some((m, s)) => (Some(m), Some(s)),
        None => (None, None),
    };
    let stdio: Vec<OwnedFd> = match slave {
        Some(s) => vec![s],
        None => stdio,
    };
    // Created carries the setup steps, the isolation facts and the PTY master.
    let report_created = |log: StepLog, facts: IsolationFacts| {
        let created = ControlMessage::Created {
            steps: with_calls(log, &deferred).into_steps(),
            isolation: facts,
            tty_fd_in_init: master.as_ref().map(|m| m.as_raw_fd()),
        };
        let fds: Vec<BorrowedFd<'_>> = master.iter().map(|m| m.as_fd()).collect();
        channel.send(&created, &fds).is_ok()
    };
    let child = if plan.start_now {
        // Command first, report second: building the report overlaps the command's
        // start instead of delaying it, and one message replaces Created + Started.
        let child = match reaper::spawn_command(
            plan,
            &program,
            &stdio,
            &signals,
            seccomp.as_ref(),
            &mut log,
        ) {
            Ok(child) => child,
            Err(e) => {
                report_failure(channel, with_calls(log, &deferred), e);
                return 127;
            }
        };
        if !report_created(log, facts) {
            return 1;
        }
        child
    } else {
        if !report_created(log, facts) {
            return 1;
        }
        match channel.recv() {
            Ok((ControlMessage::Start, _)) => {}
            _ => return 1,
        }
        let mut log = StepLog::new();
        match reaper::spawn_command(plan, &program, &stdio, &signals, seccomp.as_ref(), &mut log) {
            Ok(child) => {
                let _ = channel.send(
                    &ControlMessage::Started {
                        steps: log.into_steps(),
                    },
                    &[],
                );
                child
            }
            Err(e) => {
                report_failure(channel, log, e);
                return 127;
            }
        }
    };
    // The command holds the slave and its stdio. PID 1 keeps its copy of the master
    // (close-on-exec, and PID 1 is not dumpable) for a server that adopts the container
    // after a restart: it takes the terminal back with pidfd_getfd.
    drop(stdio);
    let (code, signal) = reaper::reap_until_exit(child, &signals);
    for root in &leave_to {
        // "0" to `tasks` moves this one thread without the global lock.
        let _ = (&*root).write_all(b"0");
    }
    let _ = channel.send(&ControlMessage::Exited { code, signal }, &[]);
    code.unwrap_or_else(|| 128 + signal.unwrap_or(0))
}

/// `log` with the call text of each deferred step written in.
fn with_calls(mut log: StepLog, deferred: &[(usize, &PlannedStep)]) -> StepLog {
    for (at, step) in deferred {
        log.set_call(*at, step.call());
    }
    log
}

/// Finds the program in the container's PATH (after pivot_root, so the lookup sees
/// the container's files, never the host's).
fn resolve_program(plan: &Plan) -> Result<CString, StepFailed> {
    let not_found = |what: String| StepFailed {
        kind: FailureKind::CommandNotFound,
        step: "find the command".into(),
        error: what,
    };
    let first = plan
        .command
        .first()
        .ok_or_else(|| not_found("empty command".into()))?;
    let candidates: Vec<std::path::PathBuf> = if first.contains('/') {
        vec![first.into()]
    } else {
        let path = plan
            .env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(super::plan::DEFAULT_PATH);
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(first))
            .collect()
    };
    for c in candidates {
        if nix::unistd::access(&c, nix::unistd::AccessFlags::X_OK).is_ok() && !c.is_dir() {
            return CString::new(c.as_os_str().as_encoded_bytes())
                .map_err(|_| not_found(format!("bad command name {first:?}")));
        }
    }
    Err(not_found(format!(
        "{first}: command not found in the container"
    )))
}

/// Opens a PTY pair from the container's own devpts (/dev/ptmx after pivot_root).
fn open_pty(log: &mut StepLog) -> Result<(OwnedFd, OwnedFd), StepFailed> {
    let step = around::open_pty();
    log.record(step.phase, step.name, step.call, super::pty::open_pty_pair)
        .map_err(|e| StepFailed {
            kind: FailureKind::Setup,
            step: "open pty".into(),
            error: e.to_string(),
        })
}
