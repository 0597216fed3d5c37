//! IPC syscalls: POSIX message queues, named per ipc namespace (mq_overview(7)).

use super::Kernel;
use crate::sim::errno::{Errno, SysResult};
use crate::sim::process::Pid;

impl Kernel {
    /// mq_open(NAME, O_CREAT): creates a queue in the caller's ipc namespace.
    pub fn mq_open(&mut self, pid: Pid, name: &str) -> SysResult<()> {
        let name = name.strip_prefix('/').ok_or(Errno::EINVAL)?;
        if name.is_empty() || name.contains('/') {
            return Err(Errno::EINVAL);
        }
        let ipc = self.proc(pid)?.ns.ipc;
        let ns = self.ipcns.get_mut(&ipc).ok_or(Errno::EINVAL)?;
        if !ns.mqueues.iter().any(|q| q == name) {
            ns.mqueues.push(name.to_string());
        }
        Ok(())
    }

    /// mq_unlink(NAME).
    pub fn mq_unlink(&mut self, pid: Pid, name: &str) -> SysResult<()> {
        let name = name.strip_prefix('/').ok_or(Errno::EINVAL)?;
        let ipc = self.proc(pid)?.ns.ipc;
        let ns = self.ipcns.get_mut(&ipc).ok_or(Errno::EINVAL)?;
        let before = ns.mqueues.len();
        ns.mqueues.retain(|q| q != name);
        if ns.mqueues.len() == before {
            return Err(Errno::ENOENT);
        }
        Ok(())
    }

    /// The queue names the caller's ipc namespace holds (what /dev/mqueue lists).
    pub fn mq_list(&self, pid: Pid) -> SysResult<Vec<String>> {
        let ipc = self.proc(pid)?.ns.ipc;
        Ok(self
            .ipcns
            .get(&ipc)
            .map(|n| n.mqueues.clone())
            .unwrap_or_default())
    }
}
