//! unshare(2), setns(2), uid/gid maps, and freeing a namespace once nothing holds it.

use crate::namespace::NamespaceKind;
use crate::protocol::IdMapEntry;

use super::{loopback, Kernel};
use crate::sim::errno::{Errno, SysResult};
use crate::sim::ipc::IpcNs;
use crate::sim::mount::{MntNs, Propagation};
use crate::sim::net::{IfaceKind, NetNs};
use crate::sim::ns::{NsId, NsMeta, NsRef};
use crate::sim::pidns::PidNs;
use crate::sim::process::{Pid, CAPS_FULL, CAP_SYS_ADMIN};
use crate::sim::user::{UserNs, MAX_USER_NS_DEPTH};

/// CAP_SETUID's bit number: writing a uid map of more than one's own uid.
const CAP_SETUID: u32 = 7;
/// How deep pid namespaces may nest (pid_namespaces(7)).
const MAX_PID_NS_LEVEL: usize = 32;

impl Kernel {
    /// unshare(2): moves `pid` into new namespaces of `kinds`. A new pid namespace
    /// only takes the caller's future children. The user namespace is made first, so
    /// an unprivileged caller can unshare the others in the same call.
    pub fn unshare(&mut self, pid: Pid, kinds: &[NamespaceKind]) -> SysResult<()> {
        self.seccomp_check(
            pid,
            "unshare",
            [super::filter::clone_flags(kinds), 0, 0, 0, 0, 0],
        )?;
        if kinds.contains(&NamespaceKind::User) {
            self.unshare_user(pid)?;
        }
        let user = self.proc(pid)?.ns.user;
        let others: Vec<NamespaceKind> = kinds
            .iter()
            .copied()
            .filter(|k| *k != NamespaceKind::User)
            .collect();
        if !others.is_empty() && !self.capable(pid, CAP_SYS_ADMIN, user) {
            return Err(Errno::EPERM);
        }
        for kind in others {
            let old = self.proc(pid)?.ns.clone();
            let id = self.ns.create(kind, user);
            self.ns.hold(user, NsRef::Namespace);
            match kind {
                NamespaceKind::Pid => {
                    let level = self.pidns.get(&old.pid).map_or(0, |n| n.level) + 1;
                    if level > MAX_PID_NS_LEVEL {
                        self.put_ns(id, NsRef::Process);
                        return Err(Errno::ENOSPC);
                    }
                    self.ns.hold(old.pid, NsRef::Namespace);
                    self.pidns.insert(id, PidNs::new(id, Some(old.pid), level));
                }
                NamespaceKind::Net => {
                    let mut net = NetNs::default();
                    net.ifaces.insert(1, loopback(false));
                    self.netns.insert(id, net);
                }
                NamespaceKind::Mnt => {
                    let copy = self.copy_mounts(old.mnt, user);
                    self.mntns.insert(id, copy);
                }
                NamespaceKind::Uts => {
                    let uts = self.utsns.get(&old.uts).cloned().ok_or(Errno::EINVAL)?;
                    self.utsns.insert(id, uts);
                }
                NamespaceKind::Ipc => {
                    self.ipcns.insert(id, IpcNs::default());
                }
                NamespaceKind::Cgroup => {
                    let root = self.proc(pid)?.cgroup;
                    self.cgroupns.insert(id, root);
                }
                NamespaceKind::User => {}
            }
            self.ns.hold(id, NsRef::Process);
            let previous = old.get(kind);
            let previous = if kind == NamespaceKind::Pid {
                old.pid_for_children
            } else {
                previous
            };
            self.proc_mut(pid)?.ns.set(kind, id);
            self.put_ns(previous, NsRef::Process);
        }
        Ok(())
    }

    fn unshare_user(&mut self, pid: Pid) -> SysResult<()> {
        let p = self.proc(pid)?;
        let (parent, uid) = (p.ns.user, p.uid);
        let level = self.userns.get(&parent).map_or(0, |u| u.level) + 1;
        if level > MAX_USER_NS_DEPTH {
            return Err(Errno::EUSERS);
        }
        let id = self.ns.create(NamespaceKind::User, parent);
        self.ns.hold(parent, NsRef::Namespace);
        self.userns.insert(
            id,
            UserNs {
                id,
                parent: Some(parent),
                level,
                owner_uid: uid,
                uid_map: Vec::new(),
                gid_map: Vec::new(),
            },
        );
        self.ns.hold(id, NsRef::Process);
        let p = self.proc_mut(pid)?;
        p.ns.user = id;
        // The first process of a new user namespace has every capability in it.
        p.caps = CAPS_FULL;
        self.put_ns(parent, NsRef::Process);
        Ok(())
    }

    /// Writes /proc/PID/uid_map and gid_map of user namespace `target`, once.
    /// Mapping only one's own id needs no privilege; wider maps need CAP_SETUID above.
    pub fn set_id_maps(
        &mut self,
        writer: Pid,
        target: NsId,
        uid_map: Vec<IdMapEntry>,
        gid_map: Vec<IdMapEntry>,
    ) -> SysResult<()> {
        let w = self.proc(writer)?;
        let (wuid, wgid) = (w.uid, w.gid);
        let u = self.userns.get(&target).ok_or(Errno::EINVAL)?;
        if !u.uid_map.is_empty() {
            return Err(Errno::EPERM);
        }
        let parent = u.parent.ok_or(Errno::EPERM)?;
        let own_only = |map: &[IdMapEntry], id: u32| {
            map.len() == 1 && map[0].count == 1 && map[0].outside == id
        };
        let privileged = self.capable(writer, CAP_SETUID, parent);
        let own = own_only(&uid_map, wuid) && own_only(&gid_map, wgid);
        if !(privileged || own) {
            return Err(Errno::EPERM);
        }
        if let Some(u) = self.userns.get_mut(&target) {
            u.uid_map = uid_map;
            u.gid_map = gid_map;
        }
        Ok(())
    }

    /// setns(2) for each of `kinds`: `pid` joins the namespaces of `target`.
    /// Joining a pid namespace only affects the caller's children.
    pub fn setns(&mut self, pid: Pid, target: Pid, kinds: &[NamespaceKind]) -> SysResult<()> {
        self.seccomp_check(pid, "setns", [0; 6])?;
        let t = self.proc(target)?.ns.clone();
        for &kind in kinds {
            let id = t.get(kind);
            let owner = if kind == NamespaceKind::User {
                id
            } else {
                self.owner_of(id)
            };
            let me = self.proc(pid)?.ns.clone();
            if me.get(kind) == id && kind != NamespaceKind::Pid {
                continue;
            }
            if !self.capable(pid, CAP_SYS_ADMIN, owner) {
                return Err(Errno::EPERM);
            }
            if kind == NamespaceKind::Pid {
                // Only a descendant (or the same) pid namespace may be entered.
                if !self.pidns_chain(id).contains(&me.pid) {
                    return Err(Errno::EINVAL);
                }
                self.ns.hold(id, NsRef::Process);
                self.proc_mut(pid)?.ns.pid_for_children = id;
                self.put_ns(me.pid_for_children, NsRef::Process);
                continue;
            }
            self.ns.hold(id, NsRef::Process);
            let p = self.proc_mut(pid)?;
            p.ns.set(kind, id);
            if kind == NamespaceKind::User {
                p.caps = CAPS_FULL;
            }
            self.put_ns(me.get(kind), NsRef::Process);
        }
        Ok(())
    }

    /// Copies a mount table for a new mount namespace. Shared mounts stay peers of
    /// the originals, except when the new namespace is owned by a less privileged
    /// user namespace: then they become slaves (mount_namespaces(7)).
    fn copy_mounts(&mut self, from: NsId, owner: NsId) -> MntNs {
        let less_privileged = self.owner_of(from) != owner;
        let mounts = self
            .mntns
            .get(&from)
            .map(|m| m.mounts().to_vec())
            .unwrap_or_default();
        let mut copy = MntNs::default();
        let mut ids = std::collections::BTreeMap::new();
        for mut m in mounts {
            let id = self.new_mount_id();
            ids.insert(m.id, id);
            m.id = id;
            m.parent = ids.get(&m.parent).copied().unwrap_or(m.parent);
            if less_privileged {
                if let Propagation::Shared(g) = m.propagation {
                    m.propagation = Propagation::Slave(g);
                }
            }
            if let Some(p) = m.proc_pidns {
                self.ns.hold(p, NsRef::Namespace);
            }
            if let Some(h) = m.holds_ns {
                self.ns.hold(h, NsRef::BindMount);
            }
            copy.mounts_mut().push(m);
        }
        copy
    }

    /// Drops one reference on a namespace; frees it, and what it held, when it was the
    /// last one.
    pub(crate) fn put_ns(&mut self, id: NsId, how: NsRef) {
        // Most releases free nothing (every exit drops eight references): no work list
        // for those.
        let Some(meta) = self.ns.release(id, how) else {
            return;
        };
        let mut work = Vec::new();
        self.free_ns(id, meta, &mut work);
        while let Some((id, how)) = work.pop() {
            if let Some(meta) = self.ns.release(id, how) {
                self.free_ns(id, meta, &mut work);
            }
        }
    }

    /// Frees namespace `id`, whose last reference is gone, and lists the references
    /// it held in `work`.
    fn free_ns(&mut self, id: NsId, meta: NsMeta, work: &mut Vec<(NsId, NsRef)>) {
        if meta.owner != id {
            work.push((meta.owner, NsRef::Namespace));
        }
        match meta.kind {
            NamespaceKind::Pid => {
                if let Some(parent) = self.pidns.remove(&id).and_then(|n| n.parent) {
                    work.push((parent, NsRef::Namespace));
                }
            }
            NamespaceKind::User => {
                if let Some(parent) = self.userns.remove(&id).and_then(|u| u.parent) {
                    work.push((parent, NsRef::Namespace));
                }
            }
            NamespaceKind::Net => {
                // Destroying a namespace destroys its veths, and so their peers.
                if let Some(net) = self.netns.remove(&id) {
                    for iface in net.ifaces.values() {
                        if let IfaceKind::Veth { peer_ns, peer } = iface.kind {
                            if let Some(other) = self.netns.get_mut(&peer_ns) {
                                other.ifaces.remove(&peer);
                                other.routes.retain(|r| r.dev != peer);
                            }
                        }
                    }
                }
            }
            NamespaceKind::Mnt => {
                if let Some(mnt) = self.mntns.remove(&id) {
                    for m in mnt.mounts() {
                        if let Some(p) = m.proc_pidns {
                            work.push((p, NsRef::Namespace));
                        }
                        if let Some(h) = m.holds_ns {
                            work.push((h, NsRef::BindMount));
                        }
                    }
                }
            }
            NamespaceKind::Uts => {
                self.utsns.remove(&id);
            }
            NamespaceKind::Ipc => {
                self.ipcns.remove(&id);
            }
            NamespaceKind::Cgroup => {
                self.cgroupns.remove(&id);
            }
        }
    }
}

impl Kernel {
    /// setns(2) on a namespace by id (as from a bind-mounted namespace file).
    pub fn setns_id(&mut self, pid: Pid, kind: NamespaceKind, id: NsId) -> SysResult<()> {
        let meta = self.ns.get(id).ok_or(Errno::EINVAL)?;
        if meta.kind != kind {
            return Err(Errno::EINVAL);
        }
        let owner = if kind == NamespaceKind::User {
            id
        } else {
            meta.owner
        };
        if !self.capable(pid, CAP_SYS_ADMIN, owner) {
            return Err(Errno::EPERM);
        }
        let p = self.proc(pid)?;
        let old = if kind == NamespaceKind::Pid {
            p.ns.pid_for_children
        } else {
            p.ns.get(kind)
        };
        self.ns.hold(id, NsRef::Process);
        self.proc_mut(pid)?.ns.set(kind, id);
        self.put_ns(old, NsRef::Process);
        Ok(())
    }
}
