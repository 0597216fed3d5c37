//! The seccomp filter in the model: a call the caller's filter refuses fails before
//! the kernel looks at anything else, as on the real kernel where the filter runs at
//! syscall entry, before any capability check. Also the key-management calls, which
//! the model has only so that the filter has something to refuse.

use super::Kernel;
use crate::namespace::NamespaceKind;
use crate::seccomp::SeccompAction;
use crate::sim::errno::{Errno, SysResult};
use crate::sim::process::Pid;

impl Kernel {
    /// Runs `pid`'s seccomp filter on `name(args)`: Ok when the call may go on.
    pub fn seccomp_check(&self, pid: Pid, name: &str, args: [u64; 6]) -> SysResult<()> {
        let Some(filter) = &self.proc(pid)?.seccomp else {
            return Ok(());
        };
        match filter.policy.action_for(name, &args) {
            SeccompAction::Allow | SeccompAction::Log => Ok(()),
            SeccompAction::Errno(crate::seccomp::ENOSYS) => Err(Errno::ENOSYS),
            // The model has no signals for a killed caller: it sees the refusal.
            _ => Err(Errno::EPERM),
        }
    }

    /// keyctl(2) / add_key(2) on the caller's session keyring: the model keeps no
    /// keys, so a permitted call sees an empty keyring.
    pub fn keyctl(&self, pid: Pid, call: &str) -> SysResult<()> {
        self.seccomp_check(pid, call, [0; 6])
    }
}

/// The CLONE_NEW* flags of `kinds`, as unshare(2) gets them.
pub fn clone_flags(kinds: &[NamespaceKind]) -> u64 {
    kinds
        .iter()
        .map(|k| match k {
            NamespaceKind::Mnt => 0x0002_0000,
            NamespaceKind::Cgroup => 0x0200_0000,
            NamespaceKind::Uts => 0x0400_0000,
            NamespaceKind::Ipc => 0x0800_0000,
            NamespaceKind::User => 0x1000_0000,
            NamespaceKind::Pid => 0x2000_0000,
            NamespaceKind::Net => 0x4000_0000,
        })
        .fold(0, |a, f| a | f)
}
