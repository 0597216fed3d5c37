//! Process lifecycle: fork, exec, exit, kill, wait; zombies, orphans and the death of
//! a pid namespace's init (pid_namespaces(7)); timers and memory charges.

use std::collections::BTreeSet;

use crate::namespace::NamespaceKind;

use super::{Kernel, KernelEvent};
use crate::sim::errno::{Errno, SysResult};
use crate::sim::ns::NsRef;
use crate::sim::process::{Pid, ProcNamespaces, ProcState, Process, WaitStatus, CAP_KILL};

/// SIGKILL's number.
pub const SIGKILL: i32 = 9;
/// SIGTERM's number.
pub const SIGTERM: i32 = 15;

/// What a memory allocation led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocOutcome {
    Allocated,
    /// The cgroup's memory.max was hit and the OOM killer chose this process.
    OomKilled,
}

impl Kernel {
    /// fork(2): a copy of `parent` in its pid_for_children namespace.
    /// EAGAIN at pids.max; ENOMEM when that pid namespace's init has died.
    pub fn fork(&mut self, parent: Pid) -> SysResult<Pid> {
        let p = self.proc(parent)?;
        if !p.is_alive() {
            return Err(Errno::ESRCH);
        }
        let target = p.ns.pid_for_children;
        let cgroup = p.cgroup;
        let chain = self.pidns_chain(target);
        if chain
            .iter()
            .any(|id| self.pidns.get(id).is_none_or(|n| n.dead))
        {
            return Err(Errno::ENOMEM);
        }
        if self.cgroups.charge_task(cgroup).is_err() {
            self.events.push(KernelEvent::ForkRejected { cgroup });
            return Err(Errno::EAGAIN);
        }
        // One number per level, outermost first (the NSpid line).
        let mut nspid = Vec::with_capacity(chain.len());
        for id in chain.iter().rev() {
            let Some(nr) = self.pidns.get_mut(id).and_then(|n| n.allocate()) else {
                self.cgroups.uncharge_task(cgroup, 0);
                return Err(Errno::EAGAIN);
            };
            nspid.push(nr);
        }
        let host_pid = nspid[0];
        for (level, id) in chain.iter().rev().enumerate() {
            if let Some(n) = self.pidns.get_mut(id) {
                n.members.insert(nspid[level], host_pid);
                if level == chain.len() - 1 && nspid[level] == 1 {
                    n.had_init = true;
                }
            }
        }
        // Made field by field rather than cloned and reset: a shell's set of children,
        // which the child does not inherit, can be long.
        let p = self.proc(parent)?;
        let child = Process {
            pid: host_pid,
            nspid,
            ppid: parent,
            children: BTreeSet::new(),
            argv: p.argv.clone(),
            state: ProcState::Running,
            uid: p.uid,
            gid: p.gid,
            caps: p.caps,
            cap_bound: p.cap_bound,
            ns: ProcNamespaces {
                pid: target,
                pid_for_children: target,
                ..p.ns.clone()
            },
            cgroup: p.cgroup,
            tty: p.tty,
            comm: p.comm,
            command_line: p.command_line.clone(),
            reaps_children: false,
            memory: 0,
            started_ms: self.now_ms,
            exits_at_ms: None,
            exit: None,
            transient: p.transient,
            seccomp: p.seccomp.clone(),
            seccomp_for_command: None,
        };
        for id in child.ns.held() {
            self.ns.hold(id, NsRef::Process);
        }
        self.procs.insert(host_pid, child);
        self.proc_mut(parent)?.children.insert(host_pid);
        Ok(host_pid)
    }

    /// execve(2): a new command line. A process that is root in its user namespace
    /// gets its bounding set as capabilities; any other uid loses them all.
    pub fn exec(&mut self, pid: Pid, argv: &[&str]) -> SysResult<()> {
        let p = self.proc(pid)?;
        let root_here = self.uid_in(p.uid, p.ns.user) == 0;
        let p = self.proc_mut(pid)?;
        p.argv = argv.iter().map(|s| s.to_string()).collect();
        p.command_line = argv.join(" ").into();
        p.comm = crate::sim::process::Comm::new(argv.first().copied().unwrap_or(""));
        p.state = ProcState::Sleeping;
        p.caps = if root_here { p.cap_bound } else { 0 };
        Ok(())
    }

    /// clone(2) with new namespaces: the child is made in them (PID 1 of a new pid
    /// namespace when `kinds` has pid). Modelled as fork, unshare, fork.
    pub fn clone_with(&mut self, parent: Pid, kinds: &[NamespaceKind]) -> SysResult<Pid> {
        let helper = self.fork(parent)?;
        if let Ok(h) = self.proc_mut(helper) {
            h.transient = true;
        }
        let made = self.unshare(helper, kinds).and_then(|()| self.fork(helper));
        let child = match made {
            Ok(c) => c,
            Err(e) => {
                self.exit(helper, WaitStatus::Exited(1));
                self.reap(helper);
                return Err(e);
            }
        };
        self.reparent(child, parent);
        self.exit(helper, WaitStatus::Exited(0));
        self.reap(helper);
        Ok(child)
    }

    /// fork + exec in one step, announcing the new process.
    pub fn spawn(&mut self, parent: Pid, argv: &[&str], transient: bool) -> SysResult<Pid> {
        let pid = self.fork(parent)?;
        self.exec(pid, argv)?;
        self.proc_mut(pid)?.transient = transient;
        if !transient {
            self.events.push(KernelEvent::ProcessStarted(pid));
        }
        Ok(pid)
    }

    /// Makes `pid` exit after `ms` logical milliseconds (a `sleep`).
    pub fn set_timer(&mut self, pid: Pid, ms: u64) -> SysResult<()> {
        let at = self.now_ms.saturating_add(ms);
        self.proc_mut(pid)?.exits_at_ms = Some(at);
        self.timers.insert((at, pid));
        Ok(())
    }

    /// Advances the logical clock, ending the processes whose timer ran out.
    pub fn advance(&mut self, ms: u64) {
        self.now_ms = self.now_ms.saturating_add(ms);
        while let Some(&(at, pid)) = self.timers.first() {
            if at > self.now_ms {
                break;
            }
            self.timers.remove(&(at, pid));
            let due = self
                .procs
                .get(&pid)
                .is_some_and(|p| p.is_alive() && p.exits_at_ms == Some(at));
            if due {
                self.exit(pid, WaitStatus::Exited(0));
            }
        }
    }

    /// exit(2) (or death by a signal): the process becomes a zombie, its children are
    /// re-parented, and if it was a pid namespace's init, the namespace dies with it.
    pub fn exit(&mut self, pid: Pid, status: WaitStatus) {
        let Some(p) = self.procs.get_mut(&pid) else {
            return;
        };
        if !p.is_alive() {
            return;
        }
        p.state = ProcState::Zombie;
        p.exit = Some(status);
        let (own_ns, ppid, cgroup, memory, transient) =
            (p.ns.pid, p.ppid, p.cgroup, p.memory, p.transient);
        let ns_held = [
            p.ns.net,
            p.ns.mnt,
            p.ns.uts,
            p.ns.ipc,
            p.ns.user,
            p.ns.cgroup,
        ];
        p.memory = 0;
        let children: Vec<Pid> = p.children.iter().copied().collect();
        // Namespaces other than pid are dropped at exit (exit_task_namespaces).
        for id in ns_held {
            self.put_ns(id, NsRef::Process);
        }
        // Memory is uncharged at exit; the pids charge stays until the zombie is reaped.
        self.cgroups.uncharge_memory(cgroup, memory);
        let is_ns_init = self.ns_init(own_ns) == Some(pid)
            && self.pidns.get(&own_ns).is_some_and(|n| n.parent.is_some());
        if is_ns_init {
            if let Some(n) = self.pidns.get_mut(&own_ns) {
                n.dead = true;
            }
            // zap_pid_ns_processes: SIGKILL to everything left in the namespace.
            let members: Vec<Pid> = self
                .pidns
                .get(&own_ns)
                .map(|n| n.members.values().copied().filter(|&m| m != pid).collect())
                .unwrap_or_default();
            for m in members {
                self.exit(m, WaitStatus::Signaled(SIGKILL));
            }
        }
        // Orphans go to the init of the dying process's pid namespace, or to the
        // parent namespace's init when the dying process is that init.
        let reaper = if is_ns_init {
            self.pidns
                .get(&own_ns)
                .and_then(|n| n.parent)
                .and_then(|parent| self.ns_init(parent))
        } else {
            self.ns_init(own_ns)
        }
        .filter(|&r| r != pid)
        .unwrap_or(super::INIT_PID);
        let children: Vec<Pid> = children
            .into_iter()
            .filter(|c| self.procs.contains_key(c))
            .collect();
        for c in children {
            self.reparent(c, reaper);
        }
        self.events.push(KernelEvent::ProcessExited {
            pid,
            status,
            transient,
        });
        let parent_reaps = self
            .procs
            .get(&ppid)
            .is_some_and(|pp| pp.is_alive() && pp.reaps_children);
        if parent_reaps {
            self.reap(pid);
        }
    }

    fn reparent(&mut self, child: Pid, reaper: Pid) {
        let old = match self.procs.get_mut(&child) {
            Some(c) => std::mem::replace(&mut c.ppid, reaper),
            None => return,
        };
        if let Some(o) = self.procs.get_mut(&old) {
            o.children.remove(&child);
        }
        let reaps = match self.procs.get_mut(&reaper) {
            Some(r) => {
                r.children.insert(child);
                r.reaps_children && r.is_alive()
            }
            None => false,
        };
        if reaps && self.procs.get(&child).is_some_and(|c| !c.is_alive()) {
            self.reap(child);
        }
    }

    /// Releases a zombie: its PIDs, its pids charge, its pid namespace references.
    pub(crate) fn reap(&mut self, pid: Pid) -> Option<WaitStatus> {
        let p = self.procs.remove(&pid)?;
        // Its number at each level, innermost first, walking up the parents in place
        // (this runs for every command a shell runs).
        let mut cur = Some(p.ns.pid);
        let mut level = p.nspid.len();
        while let Some(id) = cur {
            let Some(n) = self.pidns.get_mut(&id) else {
                break;
            };
            level -= 1;
            n.members.remove(&p.nspid[level]);
            cur = n.parent;
        }
        self.cgroups.uncharge_task(p.cgroup, 0);
        if let Some(parent) = self.procs.get_mut(&p.ppid) {
            parent.children.remove(&pid);
        }
        if let Some(at) = p.exits_at_ms {
            self.timers.remove(&(at, pid));
        }
        self.put_ns(p.ns.pid, NsRef::Process);
        self.put_ns(p.ns.pid_for_children, NsRef::Process);
        p.exit
    }

    /// waitpid(-1): reaps one zombie child of `parent`. ECHILD when it has none.
    pub fn wait(&mut self, parent: Pid) -> SysResult<Option<(Pid, WaitStatus)>> {
        let p = self.proc(parent)?;
        if p.children.is_empty() {
            return Err(Errno::ECHILD);
        }
        let zombie = p
            .children
            .iter()
            .copied()
            .find(|c| self.procs.get(c).is_some_and(|c| !c.is_alive()));
        Ok(zombie.and_then(|z| self.reap(z).map(|s| (z, s))))
    }

    /// kill(2) from `sender` to the process numbered `nr` in the sender's pid ns.
    pub fn kill(&mut self, sender: Pid, nr: u32, signal: i32) -> SysResult<()> {
        let s = self.proc(sender)?;
        let target = self.find_pid(s.ns.pid, nr).ok_or(Errno::ESRCH)?;
        let t = self.proc(target)?;
        let allowed = s.uid == t.uid || self.capable(sender, CAP_KILL, t.ns.user);
        if !allowed {
            return Err(Errno::EPERM);
        }
        if signal == 0 || !t.is_alive() {
            return Ok(());
        }
        // A namespace's init only gets signals it handles from inside its namespace;
        // SIGKILL from an ancestor namespace does kill it.
        let is_init_here = t.inner_pid() == 1 && t.ns.pid == s.ns.pid;
        let ignores = is_init_here || (signal == SIGTERM && t.reaps_children && t.tty.is_some());
        if !ignores && matches!(signal, SIGKILL | SIGTERM | 1 | 2) {
            self.exit(target, WaitStatus::Signaled(signal));
        }
        Ok(())
    }

    /// Moves a process into cgroup `to` (a write to cgroup.procs).
    pub fn move_to_cgroup(&mut self, pid: Pid, to: usize) -> SysResult<()> {
        self.cgroups.get(to).ok_or(Errno::ENOENT)?;
        let p = self.proc_mut(pid)?;
        let (from, memory) = (p.cgroup, p.memory);
        p.cgroup = to;
        self.cgroups.move_task(from, to, memory);
        Ok(())
    }

    /// Allocates memory in `pid`, charged to its cgroup; past memory.max the OOM
    /// killer ends the biggest process of the limiting cgroup (usually this one).
    pub fn allocate(&mut self, pid: Pid, bytes: u64) -> SysResult<AllocOutcome> {
        let cgroup = self.proc(pid)?.cgroup;
        match self.cgroups.charge_memory(cgroup, bytes) {
            Ok(()) => {
                self.proc_mut(pid)?.memory += bytes;
                Ok(AllocOutcome::Allocated)
            }
            Err(limited) => {
                let victim = self
                    .procs
                    .values()
                    .filter(|p| p.is_alive() && self.cgroups.is_within(p.cgroup, limited))
                    .max_by_key(|p| {
                        if p.pid == pid {
                            p.memory + bytes
                        } else {
                            p.memory
                        }
                    })
                    .map(|p| p.pid)
                    .unwrap_or(pid);
                self.events.push(KernelEvent::OomKill {
                    cgroup: limited,
                    pid: victim,
                });
                self.exit(victim, WaitStatus::Signaled(SIGKILL));
                if victim == pid {
                    Ok(AllocOutcome::OomKilled)
                } else {
                    self.allocate(pid, bytes)
                }
            }
        }
    }

    /// The namespace ids of `pid`, per kind.
    pub fn namespaces_of(&self, pid: Pid) -> SysResult<crate::protocol::NamespaceIds> {
        let p = self.proc(pid)?;
        Ok(NamespaceKind::ALL
            .into_iter()
            .map(|k| (k, p.ns.get(k).0))
            .collect())
    }
}
