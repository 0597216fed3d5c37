//! The init helper: the isolab binary re-exec'd as `isolab-init`, single-threaded.
//!
//! 1. not dumpable (CVE-2019-5736), reads the [`Plan`] from the control channel (its stdin);
//! 2. unshares the namespaces; with a user namespace, waits for the runtime to write
//!    the id maps, then becomes root inside;
//! 3. clone(CLONE_PARENT) makes the container's PID 1 a child of the runtime (so the
//!    runtime can wait for it) and the helper exits;
//! 4. PID 1 applies the plan's steps, reports them, waits for `Start`, forks the command
//!    as PID 2 and stays a minimal init ([`super::reaper`]).

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::Instant;

use isolab_shared::{IsolationFacts, NamespaceKind, SetupPhase, SetupStep};
use nix::sched::{unshare, CloneFlags};

use super::apply::{apply, StepFailed};
use super::channel::{ControlChannel, ControlMessage};
use super::plan::Plan;
use super::reaper;
use super::security;
use super::steps::StepLog;

/// The argv[0] the runtime gives the helper; `main` dispatches on it.
pub const INIT_ARGV0: &str = "isolab-init";

/// The name of the step that looks the command up (its failure means exit code 127).
pub const FIND_COMMAND_STEP: &str = "find the command";

/// Entry point of the helper process. Never returns.
pub fn init_helper_main() -> ! {
    let code = match run_helper() {
        Ok(()) => 0,
        Err(code) => code,
    };
    std::process::exit(code)
}

/// The helper's work; `Err` is the exit code after a failure was reported.
fn run_helper() -> Result<(), i32> {
    let _ = security::set_not_dumpable();
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
    let fail = |channel: &ControlChannel, log: StepLog, e: StepFailed| {
        let _ = channel.send(
            &ControlMessage::Failed {
                step: e.step,
                error: e.error,
                steps: log.into_steps(),
            },
            &[],
        );
        1
    };
    if let Err(e) = enter_namespaces(&plan, &channel, &mut log) {
        return Err(fail(&channel, log, e));
    }
    // SAFETY: this process is single-threaded (a fresh exec that started no threads),
    // so a fork-like clone is safe; CLONE_PARENT makes PID 1 the runtime's child.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match pid {
        0 => {
            let code = container_init(&plan, stdio, &channel, log);
            std::process::exit(code)
        }
        p if p > 0 => {
            let _ = channel.send(&ControlMessage::Spawned { init_pid: p as u32 }, &[]);
            Ok(())
        }
        _ => {
            let e = StepFailed {
                step: "clone(CLONE_PARENT)".into(),
                error: nix::Error::last().to_string(),
            };
            Err(fail(&channel, log, e))
        }
    }
}

fn clone_flags(kind: NamespaceKind) -> CloneFlags {
    match kind {
        NamespaceKind::Pid => CloneFlags::CLONE_NEWPID,
        NamespaceKind::Net => CloneFlags::CLONE_NEWNET,
        NamespaceKind::Ipc => CloneFlags::CLONE_NEWIPC,
        NamespaceKind::Uts => CloneFlags::CLONE_NEWUTS,
        NamespaceKind::Mnt => CloneFlags::CLONE_NEWNS,
        NamespaceKind::User => CloneFlags::CLONE_NEWUSER,
        NamespaceKind::Cgroup => CloneFlags::CLONE_NEWCGROUP,
    }
}

/// unshare(2) of every requested kind in one call (the user namespace, if any, is made
/// first by the kernel and owns the others), then the id maps.
fn enter_namespaces(
    plan: &Plan,
    channel: &ControlChannel,
    log: &mut StepLog,
) -> Result<(), StepFailed> {
    if plan.namespaces.is_empty() {
        return Ok(());
    }
    let flags = plan
        .namespaces
        .iter()
        .fold(CloneFlags::empty(), |f, k| f | clone_flags(*k));
    let names: Vec<&str> = plan
        .namespaces
        .iter()
        .map(|k| k.clone_flag_name())
        .collect();
    let call = format!("unshare({})", names.join("|"));
    log.record(SetupPhase::Namespaces, "unshare", call.clone(), || {
        unshare(flags)
    })
    .map_err(|e| StepFailed {
        step: call,
        error: e.to_string(),
    })?;
    if plan.id_mapping.is_some() {
        let started = Instant::now();
        let pid = std::process::id();
        let mapped = channel
            .send(&ControlMessage::UidMapNeeded { pid }, &[])
            .and_then(|()| channel.recv());
        let ok = matches!(mapped, Ok((ControlMessage::UidMapped, _)));
        log.extend([SetupStep {
            phase: SetupPhase::Namespaces,
            name: "id maps (by the runtime)".into(),
            call: format!("write /proc/{pid}/setgroups \"deny\", uid_map, gid_map"),
            error: (!ok).then(|| "the runtime did not write the maps".to_string()),
            duration_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        }]);
        if !ok {
            return Err(StepFailed {
                step: "id maps".into(),
                error: "not written".into(),
            });
        }
        log.record(
            SetupPhase::Namespaces,
            "become root inside",
            "setresgid(0,0,0); setresuid(0,0,0)",
            || {
                let root_g = nix::unistd::Gid::from_raw(0);
                let root_u = nix::unistd::Uid::from_raw(0);
                nix::unistd::setresgid(root_g, root_g, root_g)?;
                nix::unistd::setresuid(root_u, root_u, root_u)
            },
        )
        .map_err(|e| StepFailed {
            step: "setresuid(0)".into(),
            error: e.to_string(),
        })?;
    }
    Ok(())
}

/// PID 1 of the container: set up, report, wait for Start, run the command, reap.
fn container_init(
    plan: &Plan,
    stdio: Vec<OwnedFd>,
    channel: &ControlChannel,
    mut log: StepLog,
) -> i32 {
    let _ = nix::sys::prctl::set_name(c"isolab-init");
    // Block the signals init handles, before anything else can arrive.
    let signals = reaper::handled_signals();
    let _ = signals.thread_block();
    let mut facts = IsolationFacts::default();
    let report_failure = |log: StepLog, e: StepFailed| {
        let _ = channel.send(
            &ControlMessage::Failed {
                step: e.step,
                error: e.error,
                steps: log.into_steps(),
            },
            &[],
        );
        1
    };
    for step in &plan.steps {
        if let Err(e) = apply(step, &mut log, &mut facts) {
            return report_failure(log, e);
        }
    }
    if let Some(m) = plan.id_mapping {
        facts.uid_map = vec![m.entry()];
        facts.gid_map = vec![m.entry()];
    }
    let program = match resolve_program(plan) {
        Ok(p) => p,
        Err(e) => return report_failure(log, e),
    };
    let pty = if plan.tty {
        match open_pty(&mut log) {
            Ok(p) => Some(p),
            Err(e) => return report_failure(log, e),
        }
    } else {
        None
    };
    let created = ControlMessage::Created {
        steps: log.into_steps(),
        isolation: facts,
    };
    let master: Vec<BorrowedFd<'_>> = pty.iter().map(|(m, _)| m.as_fd()).collect();
    if channel.send(&created, &master).is_err() {
        return 1;
    }
    let (master, slave) = match pty {
        Some((m, s)) => (Some(m), Some(s)),
        None => (None, None),
    };
    drop(master);
    match channel.recv() {
        Ok((ControlMessage::Start, _)) => {}
        _ => return 1,
    }
    let mut log = StepLog::new();
    let stdio: Vec<OwnedFd> = match slave {
        Some(s) => vec![s],
        None => stdio,
    };
    match reaper::spawn_command(plan, &program, &stdio, &signals, &mut log) {
        Ok(child) => {
            drop(stdio);
            let _ = channel.send(
                &ControlMessage::Started {
                    steps: log.into_steps(),
                },
                &[],
            );
            let (code, signal) = reaper::reap_until_exit(child, &signals);
            let _ = channel.send(&ControlMessage::Exited { code, signal }, &[]);
            code.unwrap_or_else(|| 128 + signal.unwrap_or(0))
        }
        Err(e) => {
            let _ = channel.send(
                &ControlMessage::Failed {
                    step: e.step,
                    error: e.error,
                    steps: log.into_steps(),
                },
                &[],
            );
            127
        }
    }
}

/// Finds the program in the container's PATH (after pivot_root, so the lookup sees
/// the container's files, never the host's).
fn resolve_program(plan: &Plan) -> Result<CString, StepFailed> {
    let not_found = |what: String| StepFailed {
        step: FIND_COMMAND_STEP.into(),
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
    use nix::fcntl::OFlag;
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    let r = log.record(
        SetupPhase::Process,
        "open pty",
        "open(\"/dev/ptmx\", O_RDWR|O_NOCTTY|O_CLOEXEC); unlockpt; open(ptsname)",
        || {
            let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
            grantpt(&master)?;
            unlockpt(&master)?;
            let name = ptsname_r(&master)?;
            let slave = nix::fcntl::open(
                name.as_str(),
                OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )?;
            let slave = std::os::fd::IntoRawFd::into_raw_fd(slave);
            // SAFETY: both fds were just opened by us; PtyMaster owns its fd.
            let master_fd =
                unsafe { OwnedFd::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(master)) };
            Ok::<_, nix::Error>((master_fd, unsafe { OwnedFd::from_raw_fd(slave) }))
        },
    );
    r.map_err(|e| StepFailed {
        step: "open pty".into(),
        error: e.to_string(),
    })
}
