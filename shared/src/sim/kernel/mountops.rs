//! Mount syscalls: mount, bind mounts (including of namespace files), umount,
//! propagation changes and pivot_root.

use super::Kernel;
use crate::sim::errno::{Errno, SysResult};
use crate::sim::mount::{is_under, Mount, Propagation};
use crate::sim::ns::{NsId, NsRef};
use crate::sim::process::{Pid, CAP_SYS_ADMIN};

/// What to mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountRequest {
    pub source: String,
    pub target: String,
    pub fstype: String,
    pub options: String,
    /// For a bind mount of `/proc/PID/ns/X`: the namespace it holds.
    pub holds_ns: Option<NsId>,
}

/// A propagation change, as `mount --make-*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropagationChange {
    Private,
    Shared,
    Slave,
}

impl Kernel {
    fn admin_mnt(&self, pid: Pid) -> SysResult<NsId> {
        let mnt = self.proc(pid)?.ns.mnt;
        if !self.capable(pid, CAP_SYS_ADMIN, self.owner_of(mnt)) {
            return Err(Errno::EPERM);
        }
        Ok(mnt)
    }

    /// mount(2): a new mount in the caller's namespace, propagated to the peers and
    /// slaves of the mount it lands on.
    pub fn mount(&mut self, pid: Pid, req: MountRequest) -> SysResult<()> {
        self.seccomp_check(pid, "mount", [0; 6])?;
        let mnt = self.admin_mnt(pid)?;
        let active_pidns = self.proc(pid)?.ns.pid;
        let table = self.mntns.get(&mnt).ok_or(Errno::EINVAL)?;
        let parent = table.containing(&req.target).ok_or(Errno::ENOENT)?.clone();
        let proc_pidns = (req.fstype == "proc").then_some(active_pidns);
        let mut placements = vec![(mnt, parent.id)];
        // Propagation: the same mount appears under every peer/slave of the parent.
        if let Propagation::Shared(group) = parent.propagation {
            for (&other, table) in &self.mntns {
                for m in table.mounts() {
                    let receives = m.propagation.receives_from() == Some(group);
                    if receives && m.target == parent.target && (other, m.id) != (mnt, parent.id) {
                        placements.push((other, m.id));
                    }
                }
            }
        }
        for (ns, parent_id) in placements {
            let id = self.new_mount_id();
            if let Some(p) = proc_pidns {
                self.ns.hold(p, NsRef::Namespace);
            }
            if let Some(h) = req.holds_ns {
                self.ns.hold(h, NsRef::BindMount);
            }
            if let Some(t) = self.mntns.get_mut(&ns) {
                t.mounts_mut().push(Mount {
                    id,
                    parent: parent_id,
                    source: req.source.clone(),
                    target: req.target.clone(),
                    fstype: req.fstype.clone(),
                    options: req.options.clone(),
                    propagation: Propagation::Private,
                    proc_pidns,
                    holds_ns: req.holds_ns,
                });
            }
        }
        Ok(())
    }

    /// umount(2) of the topmost mount at `target`. EBUSY when mounts sit below it.
    pub fn umount(&mut self, pid: Pid, target: &str) -> SysResult<()> {
        self.seccomp_check(pid, "umount2", [0; 6])?;
        let mnt = self.admin_mnt(pid)?;
        let table = self.mntns.get(&mnt).ok_or(Errno::EINVAL)?;
        let pos = table
            .mounts()
            .iter()
            .rposition(|m| m.target == target)
            .ok_or(Errno::EINVAL)?;
        let id = table.mounts()[pos].id;
        if target == "/" || table.mounts().iter().any(|m| m.parent == id) {
            return Err(Errno::EBUSY);
        }
        let removed = self
            .mntns
            .get_mut(&mnt)
            .map(|t| t.mounts_mut().remove(pos))
            .ok_or(Errno::EINVAL)?;
        self.release_mount(&removed);
        Ok(())
    }

    fn release_mount(&mut self, m: &Mount) {
        if let Some(p) = m.proc_pidns {
            self.put_ns(p, NsRef::Namespace);
        }
        if let Some(h) = m.holds_ns {
            self.put_ns(h, NsRef::BindMount);
        }
    }

    /// `mount --make-[r]private|shared|slave TARGET`.
    pub fn change_propagation(
        &mut self,
        pid: Pid,
        target: &str,
        change: PropagationChange,
        recursive: bool,
    ) -> SysResult<()> {
        self.seccomp_check(pid, "mount", [0; 6])?;
        let mnt = self.admin_mnt(pid)?;
        let exists = self.mntns.get(&mnt).is_some_and(|t| t.at(target).is_some());
        if !exists {
            return Err(Errno::EINVAL);
        }
        let new_group = self.new_peer_group();
        let table = self.mntns.get_mut(&mnt).ok_or(Errno::EINVAL)?;
        for m in table.mounts_mut().iter_mut() {
            let hit = if recursive {
                is_under(&m.target, target)
            } else {
                m.target == target
            };
            if !hit {
                continue;
            }
            m.propagation = match (change, m.propagation) {
                (PropagationChange::Private, _) => Propagation::Private,
                (PropagationChange::Shared, Propagation::Shared(g)) => Propagation::Shared(g),
                (PropagationChange::Shared, _) => Propagation::Shared(new_group),
                (PropagationChange::Slave, Propagation::Shared(g)) => Propagation::Slave(g),
                (PropagationChange::Slave, other) => other,
            };
        }
        Ok(())
    }

    /// pivot_root(2): `new_root` becomes `/`, the old root moves to `put_old`
    /// (a path under `new_root`). EINVAL when `new_root` is not a mount point or
    /// when it or its parent is shared, as the kernel requires.
    pub fn pivot_root(&mut self, pid: Pid, new_root: &str, put_old: &str) -> SysResult<()> {
        self.seccomp_check(pid, "pivot_root", [0; 6])?;
        let mnt = self.admin_mnt(pid)?;
        let table = self.mntns.get_mut(&mnt).ok_or(Errno::EINVAL)?;
        let root = table.at(new_root).ok_or(Errno::EINVAL)?;
        let shared = |m: &Mount| matches!(m.propagation, Propagation::Shared(_));
        let parent_shared = table
            .mounts()
            .iter()
            .any(|m| m.id == root.parent && shared(m));
        if new_root == "/" || shared(root) || parent_shared || !is_under(put_old, new_root) {
            return Err(Errno::EINVAL);
        }
        let old_rel = &put_old[new_root.len()..];
        for m in table.mounts_mut().iter_mut() {
            m.target = if is_under(&m.target, new_root) {
                let rest = &m.target[new_root.len()..];
                if rest.is_empty() {
                    "/".to_string()
                } else {
                    rest.to_string()
                }
            } else if m.target == "/" {
                old_rel.to_string()
            } else {
                format!("{old_rel}{}", m.target)
            };
        }
        // The new root's mounts must come first so `/` resolves to it.
        table
            .mounts_mut()
            .sort_by_key(|m| !is_under(&m.target, "/") || m.target.starts_with(old_rel));
        Ok(())
    }

    /// `umount -l DIR`: detaches a whole subtree at once.
    pub fn umount_lazy(&mut self, pid: Pid, target: &str) -> SysResult<()> {
        let mnt = self.admin_mnt(pid)?;
        let table = self.mntns.get_mut(&mnt).ok_or(Errno::EINVAL)?;
        if target == "/" || table.at(target).is_none() {
            return Err(Errno::EINVAL);
        }
        let (gone, kept): (Vec<Mount>, Vec<Mount>) = std::mem::take(table.mounts_mut())
            .into_iter()
            .partition(|m| is_under(&m.target, target));
        *table.mounts_mut() = kept;
        for m in &gone {
            self.release_mount(m);
        }
        Ok(())
    }
}
