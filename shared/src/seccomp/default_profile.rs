//! isolab's default seccomp profile: the common container allowlist, kept here as
//! (Over 500 lines on purpose: a data table, one group of calls per block.)
//! groups of x86_64 system calls, each with the condition that enables it. A call in
//! no enabled group fails with EPERM. With isolab's 14 default capabilities the
//! groups that need CAP_SYS_ADMIN, CAP_SYS_BOOT, CAP_SYS_MODULE and the like are
//! off, so `mount`, `unshare`, `setns`, `reboot`, `kexec_load`, `keyctl`, `bpf` and
//! their kin are refused even to the container's root.
//!
//! 32-bit calls (the i386 and x32 ABIs) are not in the table: a filter compiled for
//! x86_64 refuses them, which closes the old trick of reaching a call through the
//! other ABI's number.

use super::{ArgCheck, ArgOp, SeccompAction, SeccompPolicy, SyscallRule, ENOSYS, EPERM};

/// When a group applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enabled {
    /// Always.
    Always,
    /// Only when the container keeps this capability.
    WithCap(&'static str),
    /// Only when the container does not keep this capability.
    WithoutCap(&'static str),
}

/// A group of system calls with one purpose and one condition.
#[derive(Clone, Copy, Debug)]
pub struct SyscallGroup {
    /// What the calls are for, for people reading the profile.
    pub purpose: &'static str,
    pub names: &'static [&'static str],
    pub enabled: Enabled,
    /// Conditions on the arguments, all of which must hold.
    pub args: &'static [ArgCheck],
    pub action: SeccompAction,
}

const fn always(purpose: &'static str, names: &'static [&'static str]) -> SyscallGroup {
    SyscallGroup {
        purpose,
        names,
        enabled: Enabled::Always,
        args: &[],
        action: SeccompAction::Allow,
    }
}

const fn with_cap(cap: &'static str, names: &'static [&'static str]) -> SyscallGroup {
    SyscallGroup {
        purpose: "needs a capability the container may not keep",
        names,
        enabled: Enabled::WithCap(cap),
        args: &[],
        action: SeccompAction::Allow,
    }
}

/// `personality(persona)` for one harmless persona (`int` argument: low 32 bits).
const fn persona(value: u64) -> [ArgCheck; 1] {
    [ArgCheck {
        index: 0,
        op: ArgOp::Eq,
        value,
        low_32_bits: true,
    }]
}

/// PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and 0xffffffff (the query).
const PERSONAS: [[ArgCheck; 1]; 5] = [
    persona(0),
    persona(0x0008),
    persona(0x2_0000),
    persona(0x2_0008),
    persona(0xffff_ffff),
];

const fn personality(args: &'static [ArgCheck]) -> SyscallGroup {
    SyscallGroup {
        purpose: "execution domain: only the plain Linux personas and the query",
        names: &["personality"],
        enabled: Enabled::Always,
        args,
        action: SeccompAction::Allow,
    }
}

/// CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET.
pub const CLONE_NAMESPACE_FLAGS: u64 = 0x7e02_0000;

/// AF_VSOCK: sockets to the hypervisor, outside the container's network namespace.
pub const AF_VSOCK: u64 = 40;

/// The groups, in the order the UI lists them.
pub const GROUPS: &[SyscallGroup] = &[
    always(
        "files and directories",
        &[
            "access",
            "chdir",
            "chmod",
            "chown",
            "close",
            "close_range",
            "copy_file_range",
            "creat",
            "dup",
            "dup2",
            "dup3",
            "faccessat",
            "faccessat2",
            "fadvise64",
            "fallocate",
            "fchdir",
            "fchmod",
            "fchmodat",
            "fchmodat2",
            "fchown",
            "fchownat",
            "fcntl",
            "fdatasync",
            "flock",
            "fstat",
            "fstatfs",
            "fsync",
            "ftruncate",
            "futimesat",
            "getcwd",
            "getdents",
            "getdents64",
            "lchown",
            "link",
            "linkat",
            "lseek",
            "lstat",
            "mkdir",
            "mkdirat",
            "mknod",
            "mknodat",
            "newfstatat",
            "open",
            "openat",
            "openat2",
            "pread64",
            "preadv",
            "preadv2",
            "pwrite64",
            "pwritev",
            "pwritev2",
            "read",
            "readahead",
            "readlink",
            "readlinkat",
            "readv",
            "rename",
            "renameat",
            "renameat2",
            "rmdir",
            "sendfile",
            "splice",
            "stat",
            "statfs",
            "statx",
            "symlink",
            "symlinkat",
            "sync",
            "sync_file_range",
            "syncfs",
            "tee",
            "truncate",
            "umask",
            "unlink",
            "unlinkat",
            "utime",
            "utimensat",
            "utimes",
            "vmsplice",
            "write",
            "writev",
            "name_to_handle_at",
            "cachestat",
        ],
    ),
    always(
        "extended attributes",
        &[
            "fgetxattr",
            "flistxattr",
            "fremovexattr",
            "fsetxattr",
            "getxattr",
            "lgetxattr",
            "listxattr",
            "llistxattr",
            "lremovexattr",
            "lsetxattr",
            "removexattr",
            "setxattr",
            "getxattrat",
            "listxattrat",
            "removexattrat",
            "setxattrat",
        ],
    ),
    always(
        "waiting on files: poll, epoll, inotify, eventfd, pipes, ioctl, async io",
        &[
            "epoll_create",
            "epoll_create1",
            "epoll_ctl",
            "epoll_ctl_old",
            "epoll_pwait",
            "epoll_pwait2",
            "epoll_wait",
            "epoll_wait_old",
            "eventfd",
            "eventfd2",
            "fanotify_mark",
            "inotify_add_watch",
            "inotify_init",
            "inotify_init1",
            "inotify_rm_watch",
            "io_cancel",
            "io_destroy",
            "io_getevents",
            "io_pgetevents",
            "io_setup",
            "io_submit",
            "io_uring_enter",
            "io_uring_register",
            "io_uring_setup",
            "ioctl",
            "pipe",
            "pipe2",
            "poll",
            "ppoll",
            "pselect6",
            "select",
            "signalfd",
            "signalfd4",
            "timerfd_create",
            "timerfd_gettime",
            "timerfd_settime",
        ],
    ),
    always(
        "memory",
        &[
            "brk",
            "getrandom",
            "madvise",
            "map_shadow_stack",
            "membarrier",
            "memfd_create",
            "memfd_secret",
            "mincore",
            "mlock",
            "mlock2",
            "mlockall",
            "mmap",
            "mprotect",
            "mremap",
            "mseal",
            "msync",
            "munlock",
            "munlockall",
            "munmap",
            "pkey_alloc",
            "pkey_free",
            "pkey_mprotect",
            "remap_file_pages",
        ],
    ),
    always(
        "processes and threads",
        &[
            "arch_prctl",
            "capget",
            "capset",
            "execve",
            "execveat",
            "exit",
            "exit_group",
            "fork",
            "futex",
            "futex_requeue",
            "futex_wait",
            "futex_waitv",
            "futex_wake",
            "get_robust_list",
            "get_thread_area",
            "getcpu",
            "getpgid",
            "getpgrp",
            "getpid",
            "getppid",
            "getpriority",
            "getrlimit",
            "getrusage",
            "getsid",
            "gettid",
            "ioprio_get",
            "ioprio_set",
            "landlock_add_rule",
            "landlock_create_ruleset",
            "landlock_restrict_self",
            "modify_ldt",
            "pidfd_open",
            "pidfd_send_signal",
            "prctl",
            "prlimit64",
            "process_mrelease",
            "restart_syscall",
            "rseq",
            "sched_get_priority_max",
            "sched_get_priority_min",
            "sched_getaffinity",
            "sched_getattr",
            "sched_getparam",
            "sched_getscheduler",
            "sched_rr_get_interval",
            "sched_setaffinity",
            "sched_setattr",
            "sched_setparam",
            "sched_setscheduler",
            "sched_yield",
            "seccomp",
            "set_robust_list",
            "set_thread_area",
            "set_tid_address",
            "setpgid",
            "setpriority",
            "setrlimit",
            "setsid",
            "sysinfo",
            "times",
            "uname",
            "vfork",
            "wait4",
            "waitid",
        ],
    ),
    always(
        "user and group ids",
        &[
            "getegid",
            "geteuid",
            "getgid",
            "getgroups",
            "getresgid",
            "getresuid",
            "getuid",
            "setfsgid",
            "setfsuid",
            "setgid",
            "setgroups",
            "setregid",
            "setresgid",
            "setresuid",
            "setreuid",
            "setuid",
        ],
    ),
    always(
        "signals",
        &[
            "kill",
            "pause",
            "rt_sigaction",
            "rt_sigpending",
            "rt_sigprocmask",
            "rt_sigqueueinfo",
            "rt_sigreturn",
            "rt_sigsuspend",
            "rt_sigtimedwait",
            "rt_tgsigqueueinfo",
            "sigaltstack",
            "tgkill",
            "tkill",
        ],
    ),
    always(
        "clocks and timers (setting the clock needs CAP_SYS_TIME besides)",
        &[
            "adjtimex",
            "alarm",
            "clock_adjtime",
            "clock_getres",
            "clock_gettime",
            "clock_nanosleep",
            "getitimer",
            "gettimeofday",
            "nanosleep",
            "setitimer",
            "time",
            "timer_create",
            "timer_delete",
            "timer_getoverrun",
            "timer_gettime",
            "timer_settime",
        ],
    ),
    always(
        "sockets (in the container's own network namespace)",
        &[
            "accept",
            "accept4",
            "bind",
            "connect",
            "getpeername",
            "getsockname",
            "getsockopt",
            "listen",
            "recvfrom",
            "recvmmsg",
            "recvmsg",
            "sendmmsg",
            "sendmsg",
            "sendto",
            "setsockopt",
            "shutdown",
            "socketpair",
        ],
    ),
    always(
        "System V and POSIX IPC (in the container's own IPC namespace)",
        &[
            "mq_getsetattr",
            "mq_notify",
            "mq_open",
            "mq_timedreceive",
            "mq_timedsend",
            "mq_unlink",
            "msgctl",
            "msgget",
            "msgrcv",
            "msgsnd",
            "semctl",
            "semget",
            "semop",
            "semtimedop",
            "shmat",
            "shmctl",
            "shmdt",
            "shmget",
        ],
    ),
    // Before Linux 4.8 a tracer could rewrite a call after the filter had allowed it;
    // since 4.8 the filter checks the call again after the tracer has run.
    always(
        "tracing your own processes (the filter re-checks after a tracer)",
        &["ptrace", "process_vm_readv", "process_vm_writev"],
    ),
    SyscallGroup {
        purpose: "sockets of every family but AF_VSOCK (host-guest channel)",
        names: &["socket"],
        enabled: Enabled::Always,
        args: &[ArgCheck {
            index: 0,
            op: ArgOp::Ne,
            value: AF_VSOCK,
            low_32_bits: true,
        }],
        action: SeccompAction::Allow,
    },
    personality(&PERSONAS[0]),
    personality(&PERSONAS[1]),
    personality(&PERSONAS[2]),
    personality(&PERSONAS[3]),
    personality(&PERSONAS[4]),
    // Without CAP_SYS_ADMIN, clone may not make namespaces: a container's root could
    // otherwise make a user namespace and gain a fresh full capability set in it, the
    // first step of many kernel exploits (e.g. CVE-2022-0185).
    SyscallGroup {
        purpose: "new processes and threads, without new namespaces",
        names: &["clone"],
        enabled: Enabled::WithoutCap("CAP_SYS_ADMIN"),
        args: &[ArgCheck {
            index: 0,
            op: ArgOp::MaskedEq {
                mask: CLONE_NAMESPACE_FLAGS,
            },
            value: 0,
            low_32_bits: false,
        }],
        action: SeccompAction::Allow,
    },
    // clone3 passes its flags in memory, where a filter cannot look: refuse it with
    // ENOSYS so the C library falls back to clone, which the rule above checks.
    SyscallGroup {
        purpose: "clone3 says \"not implemented\": the C library falls back to clone",
        names: &["clone3"],
        enabled: Enabled::WithoutCap("CAP_SYS_ADMIN"),
        args: &[],
        action: SeccompAction::Errno(ENOSYS),
    },
    with_cap(
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount2",
            "unshare",
        ],
    ),
    with_cap("CAP_SYS_BOOT", &["reboot"]),
    with_cap("CAP_SYS_CHROOT", &["chroot"]),
    with_cap(
        "CAP_SYS_MODULE",
        &["delete_module", "init_module", "finit_module"],
    ),
    with_cap("CAP_SYS_PACCT", &["acct"]),
    with_cap(
        "CAP_SYS_PTRACE",
        &["kcmp", "pidfd_getfd", "process_madvise"],
    ),
    with_cap("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    with_cap("CAP_SYS_TIME", &["settimeofday", "clock_settime"]),
    with_cap("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    with_cap(
        "CAP_SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    with_cap("CAP_SYSLOG", &["syslog"]),
    with_cap("CAP_BPF", &["bpf"]),
    with_cap("CAP_PERFMON", &["perf_event_open"]),
    with_cap("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
];

/// Whether a group applies to a container keeping `kept_caps`.
fn enabled(group: &SyscallGroup, kept_caps: &[String]) -> bool {
    let kept = |cap: &str| kept_caps.iter().any(|k| k == cap);
    match group.enabled {
        Enabled::Always => true,
        Enabled::WithCap(cap) => kept(cap),
        Enabled::WithoutCap(cap) => !kept(cap),
    }
}

/// The default profile as a policy for a container keeping `kept_caps`.
pub fn policy(kept_caps: &[String]) -> SeccompPolicy {
    let rules = GROUPS
        .iter()
        .filter(|g| enabled(g, kept_caps))
        .map(|g| SyscallRule {
            names: g.names.iter().map(|n| n.to_string()).collect(),
            action: g.action,
            args: g.args.to_vec(),
        })
        .collect();
    SeccompPolicy {
        default_action: SeccompAction::Errno(EPERM),
        // Every name here is an x86_64 call (a test checks), so no filtering is needed.
        rules,
    }
}
