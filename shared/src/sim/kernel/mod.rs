//! The model kernel: all state, and the syscalls over it.
//!
//! # Layout
//! - [`lifecycle`]: fork, exec, exit, kill, wait, timers and memory (OOM).
//! - [`namespaces`]: unshare, setns, id maps, and freeing namespaces nobody holds.
//! - [`filter`]: the seccomp filter a call passes first; keyctl.
//! - [`ipcops`]: POSIX message queues.
//! - [`netops`]: interfaces, addresses, routes and ping.
//! - [`mountops`]: mount, umount, propagation changes and pivot_root.
//!
//! Every syscall takes the calling process's host PID first and checks permissions
//! relative to that process's namespaces, as the real kernel does.

pub mod filter;
pub mod ipcops;
pub mod lifecycle;
pub mod mountops;
pub mod namespaces;
pub mod netops;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::namespace::NamespaceKind;

use super::cgroup::{CgroupId, CgroupTree};
use super::errno::{Errno, SysResult};
use super::ipc::IpcNs;
use super::mount::{MntNs, Mount, Propagation};
use super::net::{Cidr, Iface, IfaceKind, NetNs, Route};
use super::ns::{initial_ns_id, NsId, NsRef, NsRegistry};
use super::pidns::PidNs;
use super::process::{Comm, Pid, ProcNamespaces, ProcState, Process, WaitStatus, CAPS_FULL};
use super::user::{map_down, UserNs, OVERFLOW_ID};
use super::uts::UtsNs;

/// Something that happened inside the kernel, for the simulator to turn into events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelEvent {
    ProcessStarted(Pid),
    ProcessExited {
        pid: Pid,
        status: WaitStatus,
        transient: bool,
    },
    OomKill {
        cgroup: CgroupId,
        pid: Pid,
    },
    ForkRejected {
        cgroup: CgroupId,
    },
}

/// The whole simulated machine.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// Logical time since boot, in milliseconds.
    pub now_ms: u64,
    pub procs: BTreeMap<Pid, Process>,
    pub ns: NsRegistry,
    pub pidns: BTreeMap<NsId, PidNs>,
    pub netns: BTreeMap<NsId, NetNs>,
    pub mntns: BTreeMap<NsId, MntNs>,
    pub utsns: BTreeMap<NsId, UtsNs>,
    pub ipcns: BTreeMap<NsId, IpcNs>,
    pub userns: BTreeMap<NsId, UserNs>,
    /// cgroup namespaces: the cgroup that is their root.
    pub cgroupns: BTreeMap<NsId, CgroupId>,
    pub cgroups: CgroupTree,
    /// Timed processes (`sleep N`): (exit time, pid).
    pub timers: BTreeSet<(u64, Pid)>,
    pub events: Vec<KernelEvent>,
    next_mount_id: u32,
    next_peer_group: u32,
    next_ifindex: u32,
}

/// The host PID of the host's init.
pub const INIT_PID: Pid = 1;

impl Kernel {
    /// A booted kernel: the initial namespaces, a root filesystem, lo and eth0, and
    /// `/sbin/init` as PID 1.
    pub fn boot(hostname: &str) -> Kernel {
        let user = initial_ns_id(NamespaceKind::User);
        let mut ns = NsRegistry::new();
        for kind in NamespaceKind::ALL {
            ns.register(initial_ns_id(kind), kind, user);
        }
        let pid_id = initial_ns_id(NamespaceKind::Pid);
        let mut k = Kernel {
            now_ms: 0,
            procs: BTreeMap::new(),
            ns,
            pidns: BTreeMap::from([(pid_id, PidNs::new(pid_id, None, 0))]),
            netns: BTreeMap::new(),
            mntns: BTreeMap::new(),
            utsns: BTreeMap::from([(
                initial_ns_id(NamespaceKind::Uts),
                UtsNs {
                    hostname: hostname.to_string(),
                    domainname: "(none)".to_string(),
                },
            )]),
            ipcns: BTreeMap::from([(initial_ns_id(NamespaceKind::Ipc), IpcNs::default())]),
            userns: BTreeMap::from([(
                user,
                UserNs {
                    id: user,
                    parent: None,
                    level: 0,
                    owner_uid: 0,
                    uid_map: vec![full_map()],
                    gid_map: vec![full_map()],
                },
            )]),
            cgroupns: BTreeMap::from([(initial_ns_id(NamespaceKind::Cgroup), 0)]),
            cgroups: CgroupTree::default(),
            timers: BTreeSet::new(),
            events: Vec::new(),
            next_mount_id: 21,
            next_peer_group: 1,
            next_ifindex: 2,
        };
        let net = k.host_network();
        k.netns.insert(initial_ns_id(NamespaceKind::Net), net);
        let mnt = k.host_mounts(pid_id);
        k.mntns.insert(initial_ns_id(NamespaceKind::Mnt), mnt);
        let namespaces = ProcNamespaces {
            pid: pid_id,
            pid_for_children: pid_id,
            net: initial_ns_id(NamespaceKind::Net),
            mnt: initial_ns_id(NamespaceKind::Mnt),
            uts: initial_ns_id(NamespaceKind::Uts),
            ipc: initial_ns_id(NamespaceKind::Ipc),
            user,
            cgroup: initial_ns_id(NamespaceKind::Cgroup),
        };
        for id in namespaces.held() {
            k.ns.hold(id, NsRef::Process);
        }
        let init = Process {
            pid: INIT_PID,
            nspid: vec![1],
            ppid: 0,
            children: BTreeSet::new(),
            argv: Arc::new(["/sbin/init".to_string()]),
            state: ProcState::Sleeping,
            uid: 0,
            gid: 0,
            caps: CAPS_FULL,
            cap_bound: CAPS_FULL,
            ns: namespaces,
            cgroup: 0,
            tty: None,
            comm: Comm::new("/sbin/init"),
            command_line: "/sbin/init".into(),
            reaps_children: true,
            memory: 0,
            started_ms: 0,
            exits_at_ms: None,
            exit: None,
            transient: false,
            seccomp: None,
            seccomp_for_command: None,
        };
        if let Some(root) = k.pidns.get_mut(&pid_id) {
            root.had_init = true;
            root.members.insert(1, INIT_PID);
            let _ = root.allocate();
        }
        let _ = k.cgroups.charge_task(0);
        k.procs.insert(INIT_PID, init);
        k
    }

    fn host_network(&mut self) -> NetNs {
        let mut net = NetNs::default();
        net.ifaces.insert(1, loopback(true));
        let eth0 = self.new_ifindex();
        net.ifaces.insert(
            eth0,
            Iface {
                ifindex: eth0,
                name: "eth0".to_string(),
                kind: IfaceKind::Uplink,
                up: true,
                addrs: vec![Cidr {
                    addr: [10, 0, 2, 15].into(),
                    prefix: 24,
                }],
                master: None,
                mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
            },
        );
        net.routes.push(Route {
            dst: Cidr {
                addr: [0, 0, 0, 0].into(),
                prefix: 0,
            },
            via: Some([10, 0, 2, 2].into()),
            dev: eth0,
        });
        net
    }

    fn host_mounts(&mut self, pidns: NsId) -> MntNs {
        let mut m = MntNs::default();
        let group = self.new_peer_group();
        let table = [
            ("/dev/sda1", "/", "ext4", "rw,relatime", None),
            (
                "proc",
                "/proc",
                "proc",
                "rw,nosuid,nodev,noexec,relatime",
                Some(pidns),
            ),
            (
                "sysfs",
                "/sys",
                "sysfs",
                "rw,nosuid,nodev,noexec,relatime",
                None,
            ),
            (
                "udev",
                "/dev",
                "devtmpfs",
                "rw,nosuid,relatime,mode=755",
                None,
            ),
            (
                "devpts",
                "/dev/pts",
                "devpts",
                "rw,nosuid,noexec,relatime,gid=5,mode=620",
                None,
            ),
            (
                "tmpfs",
                "/run",
                "tmpfs",
                "rw,nosuid,nodev,noexec,relatime,mode=755",
                None,
            ),
            (
                "cgroup2",
                "/sys/fs/cgroup",
                "cgroup2",
                "rw,nosuid,nodev,noexec,relatime",
                None,
            ),
            (
                "mqueue",
                "/dev/mqueue",
                "mqueue",
                "rw,nosuid,nodev,noexec,relatime",
                None,
            ),
        ];
        let mut root_id = 0;
        for (source, target, fstype, options, proc_pidns) in table {
            let id = self.new_mount_id();
            if target == "/" {
                root_id = id;
            }
            m.mounts_mut().push(Mount {
                id,
                parent: if target == "/" { 1 } else { root_id },
                source: source.to_string(),
                target: target.to_string(),
                fstype: fstype.to_string(),
                options: options.to_string(),
                // systemd makes every mount shared at boot.
                propagation: Propagation::Shared(group),
                proc_pidns,
                holds_ns: None,
            });
            if proc_pidns.is_some() {
                self.ns.hold(pidns, NsRef::Namespace);
            }
        }
        m
    }

    pub(crate) fn new_mount_id(&mut self) -> u32 {
        self.next_mount_id += 1;
        self.next_mount_id
    }

    pub(crate) fn new_peer_group(&mut self) -> u32 {
        let g = self.next_peer_group;
        self.next_peer_group += 1;
        g
    }

    pub(crate) fn new_ifindex(&mut self) -> u32 {
        let i = self.next_ifindex;
        self.next_ifindex += 1;
        i
    }

    /// The process `pid`, or ESRCH.
    pub fn proc(&self, pid: Pid) -> SysResult<&Process> {
        self.procs.get(&pid).ok_or(Errno::ESRCH)
    }

    pub(crate) fn proc_mut(&mut self, pid: Pid) -> SysResult<&mut Process> {
        self.procs.get_mut(&pid).ok_or(Errno::ESRCH)
    }

    /// The pid namespace `id` and its ancestors, innermost first.
    pub fn pidns_chain(&self, id: NsId) -> Vec<NsId> {
        let mut out = Vec::new();
        let mut cur = Some(id);
        while let Some(c) = cur {
            out.push(c);
            cur = self.pidns.get(&c).and_then(|n| n.parent);
        }
        out
    }

    /// The PID of `target` as seen from pid namespace `view`, if visible there.
    pub fn pid_in(&self, target: &Process, view: NsId) -> Option<u32> {
        let level = self.pidns.get(&view)?.level;
        // Walk up from the target's namespace to the view's level, without allocating.
        let mut ns = self.pidns.get(&target.ns.pid)?;
        while ns.level > level {
            ns = self.pidns.get(&ns.parent?)?;
        }
        (ns.id == view).then(|| target.nspid.get(level).copied())?
    }

    /// Finds the host PID of the process numbered `nr` in pid namespace `view`.
    pub fn find_pid(&self, view: NsId, nr: u32) -> Option<Pid> {
        self.pidns.get(&view)?.members.get(&nr).copied()
    }

    /// The uid `kernel_uid` as user namespace `view` sees it (overflow when unmapped).
    pub fn uid_in(&self, kernel_uid: u32, view: NsId) -> u32 {
        self.id_in(kernel_uid, view, false)
    }

    /// The gid `kernel_gid` as user namespace `view` sees it.
    pub fn gid_in(&self, kernel_gid: u32, view: NsId) -> u32 {
        self.id_in(kernel_gid, view, true)
    }

    fn id_in(&self, id: u32, view: NsId, gid: bool) -> u32 {
        if self.userns.get(&view).is_some_and(|u| u.parent.is_none()) {
            return id;
        }
        let mut path = Vec::new();
        let mut cur = Some(view);
        while let Some(c) = cur {
            let Some(u) = self.userns.get(&c) else {
                return OVERFLOW_ID;
            };
            if u.parent.is_some() {
                path.push(c);
            }
            cur = u.parent;
        }
        let mut value = id;
        for ns in path.iter().rev() {
            let u = &self.userns[ns];
            let map = if gid { &u.gid_map } else { &u.uid_map };
            match map_down(map, value) {
                Some(v) => value = v,
                None => return OVERFLOW_ID,
            }
        }
        value
    }

    /// Whether `pid` holds capability `cap` over things owned by user namespace
    /// `target` (user_namespaces(7): in it, or in an ancestor, or as its owner).
    pub fn capable(&self, pid: Pid, cap: u32, target: NsId) -> bool {
        let Some(p) = self.procs.get(&pid) else {
            return false;
        };
        let mut ns = target;
        loop {
            if ns == p.ns.user {
                return p.caps & (1 << cap) != 0;
            }
            let Some(u) = self.userns.get(&ns) else {
                return false;
            };
            let Some(parent) = u.parent else {
                return false;
            };
            if parent == p.ns.user && u.owner_uid == p.uid {
                return true;
            }
            ns = parent;
        }
    }

    /// The user namespace that owns namespace `id`.
    pub fn owner_of(&self, id: NsId) -> NsId {
        self.ns
            .get(id)
            .map(|m| m.owner)
            .unwrap_or(initial_ns_id(NamespaceKind::User))
    }

    /// The init of the pid namespace `id`, if it runs.
    pub fn ns_init(&self, id: NsId) -> Option<Pid> {
        self.pidns.get(&id).and_then(PidNs::init)
    }

    /// The host PIDs visible through the `/proc` of `pid`'s mount namespace, in the
    /// order /proc lists them, with the PID each shows there.
    pub fn proc_listing(&self, pid: Pid) -> SysResult<Vec<(u32, Pid)>> {
        let p = self.proc(pid)?;
        let view = self
            .mntns
            .get(&p.ns.mnt)
            .and_then(MntNs::proc_pidns)
            .ok_or(Errno::ENOENT)?;
        let ns = self.pidns.get(&view).ok_or(Errno::ENOENT)?;
        Ok(ns.members.iter().map(|(nr, host)| (*nr, *host)).collect())
    }

    /// The pid namespace that `pid`'s /proc shows.
    pub fn proc_view(&self, pid: Pid) -> SysResult<NsId> {
        let p = self.proc(pid)?;
        self.mntns
            .get(&p.ns.mnt)
            .and_then(MntNs::proc_pidns)
            .ok_or(Errno::ENOENT)
    }

    /// Removes and returns the kernel events so far.
    pub fn take_events(&mut self) -> Vec<KernelEvent> {
        std::mem::take(&mut self.events)
    }
}

/// A new namespace's lo: down, and without 127.0.0.1 until brought up.
pub(crate) fn loopback(up: bool) -> Iface {
    Iface {
        ifindex: 1,
        name: "lo".to_string(),
        kind: IfaceKind::Loopback,
        up,
        addrs: if up {
            vec![Cidr {
                addr: [127, 0, 0, 1].into(),
                prefix: 8,
            }]
        } else {
            Vec::new()
        },
        master: None,
        mac: [0; 6],
    }
}

fn full_map() -> crate::protocol::IdMapEntry {
    crate::protocol::IdMapEntry {
        inside: 0,
        outside: 0,
        count: u32::MAX,
    }
}
