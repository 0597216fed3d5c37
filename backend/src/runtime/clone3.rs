//! Makes the container's PID 1 with one clone3(2): new namespaces, born in the cgroup2
//! directory, and (from the helper) a child of the runtime.

use std::os::fd::AsRawFd;
use std::time::Instant;

use isolab_shared::plan::around;
use isolab_shared::{NamespaceKind, SetupStep};
use nix::sched::CloneFlags;

use super::apply::StepFailed;
use super::channel::FailureKind;
use super::plan::Plan;
use super::steps::StepLog;

/// clone3's flag for "born in this cgroup2 directory" (linux/sched.h); libc's constant
/// is 32-bit.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The clone3(2) argument block (include/uapi/linux/sched.h).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Makes PID 1 with one clone3: in the new namespaces (all but cgroup, which PID 1
/// unshares itself so that its cgroup becomes the namespace's root), born inside the
/// cgroup2 directory (CLONE_INTO_CGROUP: no migration), and a child of the runtime
/// (CLONE_PARENT, so the runtime can wait for it). Gives 0 in the child.
pub(super) fn spawn_init(
    plan: &Plan,
    log: &mut StepLog,
    for_parent: bool,
) -> Result<u32, StepFailed> {
    let ns_flags = plan
        .namespaces
        .iter()
        .filter(|k| **k != NamespaceKind::Cgroup)
        .fold(CloneFlags::empty(), |f, k| f | clone_flags(*k));
    let v2 = match &plan.cgroup.v2_dir {
        Some(dir) => Some(
            nix::fcntl::open(
                dir.as_path(),
                nix::fcntl::OFlag::O_PATH
                    | nix::fcntl::OFlag::O_DIRECTORY
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map_err(|e| StepFailed {
                kind: FailureKind::Setup,
                step: format!("open {dir:?}"),
                error: e.to_string(),
            })?,
        ),
        None => None,
    };
    let mut flags = ns_flags.bits() as u64;
    if for_parent {
        flags |= libc::CLONE_PARENT as u64;
    }
    if v2.is_some() {
        flags |= CLONE_INTO_CGROUP;
    }
    let args = CloneArgs {
        flags,
        // With CLONE_PARENT the kernel takes the helper's own exit signal (SIGCHLD)
        // and refuses any other.
        exit_signal: if for_parent { 0 } else { libc::SIGCHLD as u64 },
        cgroup: v2.as_ref().map(|fd| fd.as_raw_fd() as u64).unwrap_or(0),
        ..Default::default()
    };
    let step = around::clone_pid1(plan.namespaces.iter().copied(), for_parent, v2.is_some());
    let started = Instant::now();
    // SAFETY: this process is single-threaded (a fresh exec that started no threads),
    // so a fork-like clone (no new stack) is safe.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid == 0 {
        return Ok(0);
    }
    let result = if pid > 0 {
        Ok(pid as u32)
    } else {
        Err(nix::Error::last())
    };
    log.extend([SetupStep {
        phase: step.phase,
        name: step.name.into(),
        call: step.call.clone(),
        error: result.as_ref().err().map(|e| e.to_string()),
        duration_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    }]);
    result.map_err(|e| StepFailed {
        kind: FailureKind::Setup,
        step: step.call,
        error: e.to_string(),
    })
}

/// The clone(2)/setns(2) flag of a namespace kind.
pub(crate) fn clone_flags(kind: NamespaceKind) -> CloneFlags {
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
