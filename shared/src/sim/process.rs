//! A simulated process: its place in the tree, identity, namespaces and cgroup.

use std::collections::BTreeSet;

use std::sync::Arc;

use crate::namespace::NamespaceKind;
use crate::seccomp::PlannedFilter;

use super::cgroup::CgroupId;
use super::ns::NsId;

/// A PID in the initial (host) pid namespace; the key of every process.
pub type Pid = u32;

/// The highest capability number on a 6.x kernel (CAP_CHECKPOINT_RESTORE).
pub const CAP_LAST_CAP: u32 = 40;
/// Every capability: what root (or the first process of a new user ns) holds.
pub const CAPS_FULL: u64 = (1 << (CAP_LAST_CAP + 1)) - 1;
/// CAP_SYS_ADMIN's bit number: mounts, sethostname, setns, unshare.
pub const CAP_SYS_ADMIN: u32 = 21;
/// CAP_NET_ADMIN's bit number: interfaces, addresses and routes.
pub const CAP_NET_ADMIN: u32 = 12;
/// CAP_KILL's bit number: signalling other users' processes.
pub const CAP_KILL: u32 = 5;
/// The set a container keeps, the same as Docker's default: chown, dac_override,
/// fowner, fsetid, kill, setgid, setuid, setpcap, net_bind_service, net_raw,
/// sys_chroot, mknod, audit_write, setfcap.
pub const CAPS_CONTAINER: u64 = 0x0000_0000_a804_25fb;

/// The capability names by bit number, as capabilities(7) spells them.
pub const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The names of the capabilities set in `caps`.
pub fn cap_names(caps: u64) -> Vec<String> {
    (0..=CAP_LAST_CAP)
        .filter(|b| caps & (1 << b) != 0)
        .map(|b| CAP_NAMES[b as usize].to_string())
        .collect()
}

/// A process's run state, as the one letter in /proc/PID/stat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcState {
    Running,
    Sleeping,
    Zombie,
}

impl ProcState {
    /// The letter ps prints.
    pub fn letter(self) -> &'static str {
        match self {
            ProcState::Running => "R",
            ProcState::Sleeping => "S",
            ProcState::Zombie => "Z",
        }
    }
}

/// How a process ended, as wait(2) reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStatus {
    Exited(i32),
    Signaled(i32),
}

/// The namespaces a process belongs to (its `/proc/PID/ns/*` links).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcNamespaces {
    pub pid: NsId,
    /// Where its children go: differs from `pid` after unshare(CLONE_NEWPID).
    pub pid_for_children: NsId,
    pub net: NsId,
    pub mnt: NsId,
    pub uts: NsId,
    pub ipc: NsId,
    pub user: NsId,
    pub cgroup: NsId,
}

impl ProcNamespaces {
    /// The namespace of `kind` (the pid one for `Pid`).
    pub fn get(&self, kind: NamespaceKind) -> NsId {
        match kind {
            NamespaceKind::Pid => self.pid,
            NamespaceKind::Net => self.net,
            NamespaceKind::Mnt => self.mnt,
            NamespaceKind::Uts => self.uts,
            NamespaceKind::Ipc => self.ipc,
            NamespaceKind::User => self.user,
            NamespaceKind::Cgroup => self.cgroup,
        }
    }

    /// Sets the namespace of `kind` (for pid: the one children go to).
    pub fn set(&mut self, kind: NamespaceKind, id: NsId) {
        match kind {
            NamespaceKind::Pid => self.pid_for_children = id,
            NamespaceKind::Net => self.net = id,
            NamespaceKind::Mnt => self.mnt = id,
            NamespaceKind::Uts => self.uts = id,
            NamespaceKind::Ipc => self.ipc = id,
            NamespaceKind::User => self.user = id,
            NamespaceKind::Cgroup => self.cgroup = id,
        }
    }

    /// Every reference the process holds: its seven namespaces plus pid_for_children.
    pub fn held(&self) -> [NsId; 8] {
        [
            self.pid,
            self.pid_for_children,
            self.net,
            self.mnt,
            self.uts,
            self.ipc,
            self.user,
            self.cgroup,
        ]
    }
}

/// One simulated process.
#[derive(Clone, Debug)]
pub struct Process {
    /// PID in the host pid namespace.
    pub pid: Pid,
    /// PID in each pid namespace from the host's down to its own (the NSpid line).
    pub nspid: Vec<u32>,
    /// The parent's host PID (0 for the host's init).
    pub ppid: Pid,
    pub children: BTreeSet<Pid>,
    /// argv; shared with the forks that have not exec'd yet and with copies of the
    /// machine (it changes only by exec, which replaces it whole).
    pub argv: Arc<[String]>,
    pub state: ProcState,
    /// uid and gid as the initial user namespace sees them.
    pub uid: u32,
    pub gid: u32,
    /// Effective capabilities, relative to `ns.user`.
    pub caps: u64,
    /// The bounding set: what exec can give back to root.
    pub cap_bound: u64,
    pub ns: ProcNamespaces,
    pub cgroup: CgroupId,
    /// The controlling terminal's number N, for `pts/N`.
    pub tty: Option<u16>,
    /// /proc/PID/comm, kept inline so listings need not chase argv.
    pub comm: Comm,
    /// argv joined by spaces, kept whole so listings read one string; shared as argv is.
    pub command_line: Arc<str>,
    /// Whether it reaps its children as soon as they die (inits and shells do).
    pub reaps_children: bool,
    /// Bytes it has allocated (charged to its cgroup).
    pub memory: u64,
    /// The logical time it started, in milliseconds.
    pub started_ms: u64,
    /// When a timed process (`sleep N`) exits by itself, in logical milliseconds.
    pub exits_at_ms: Option<u64>,
    /// Set once it has exited.
    pub exit: Option<WaitStatus>,
    /// Short-lived helper (a shell command): not announced as an event.
    pub transient: bool,
    /// The seccomp filter it runs under; fork copies it, as the kernel does.
    pub seccomp: Option<Arc<PlannedFilter>>,
    /// A container's PID 1 holds its command's compiled filter here, unapplied:
    /// the command's process installs it just before execve.
    pub seccomp_for_command: Option<Arc<PlannedFilter>>,
}

impl Process {
    /// The command name as in /proc/PID/comm: argv[0]'s base name, at most 15 bytes.
    pub fn comm(&self) -> &str {
        self.comm.as_str()
    }

    /// The command line joined by spaces.
    pub fn cmdline(&self) -> &str {
        &self.command_line
    }

    /// The PID as seen in its own (innermost) pid namespace.
    pub fn inner_pid(&self) -> u32 {
        self.nspid.last().copied().unwrap_or(self.pid)
    }

    /// Whether it still runs (not a zombie).
    pub fn is_alive(&self) -> bool {
        self.state != ProcState::Zombie
    }
}

/// A command name stored inline (TASK_COMM_LEN is 16 with the NUL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Comm {
    bytes: [u8; 15],
    len: u8,
}

impl Comm {
    /// The comm of a program: the base name of `argv0`, cut to 15 bytes.
    pub fn new(argv0: &str) -> Comm {
        let base = argv0.rsplit('/').next().unwrap_or(argv0);
        let mut end = base.len().min(15);
        while !base.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0u8; 15];
        bytes[..end].copy_from_slice(&base.as_bytes()[..end]);
        Comm {
            bytes,
            len: end as u8,
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("?")
    }
}
