//! Identity, names, signals, IPC and the rest: `id`, `whoami`, `hostname`, `kill`,
//! `ipcs`, `ipcmk`, `sleep`, `memhog`, `tail /dev/zero`, `uname`, `help`.

use std::fmt::Write;

use super::{was_oom, Ctx, COMMANDS, SHELL_NAME};
use crate::limits::parse_memory;
use crate::sim::errno::Errno;
use crate::sim::ipc::{SysvKind, SysvObject};
use crate::sim::kernel::lifecycle::SIGKILL;
use crate::sim::kernel::Kernel;
use crate::sim::process::{Pid, CAP_SYS_ADMIN};
use crate::sim::user::{group_name, user_name};
use crate::sim::uts::HOST_NAME_MAX;

/// `id`, `id -u`, `id -g`, `id -un`.
pub fn id(ctx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(p) = ctx.k.proc(ctx.pid) else { return 1 };
    let uid = ctx.k.uid_in(p.uid, p.ns.user);
    let gid = ctx.k.gid_in(p.gid, p.ns.user);
    let a: String = args.concat();
    let text = match a.as_str() {
        "-u" => uid.to_string(),
        "-g" => gid.to_string(),
        "-un" | "-nu" => user_name(uid),
        "-gn" | "-ng" => group_name(gid),
        _ => format!(
            "uid={uid}({}) gid={gid}({}) groups={gid}({})",
            user_name(uid),
            group_name(gid),
            group_name(gid)
        ),
    };
    ctx.line(text);
    0
}

/// `whoami`.
pub fn whoami(ctx: &mut Ctx, _: &[String]) -> i32 {
    let Ok(p) = ctx.k.proc(ctx.pid) else { return 1 };
    let name = user_name(ctx.k.uid_in(p.uid, p.ns.user));
    ctx.line(name);
    0
}

/// `hostname [NAME]`.
pub fn hostname(ctx: &mut Ctx, args: &[String]) -> i32 {
    set_or_show_name(ctx, args, "hostname", false)
}

/// `domainname [NAME]`.
pub fn domainname(ctx: &mut Ctx, args: &[String]) -> i32 {
    set_or_show_name(ctx, args, "domainname", true)
}

fn set_or_show_name(ctx: &mut Ctx, args: &[String], tool: &str, domain: bool) -> i32 {
    let Ok(p) = ctx.k.proc(ctx.pid) else { return 1 };
    let uts = p.ns.uts;
    let Some(name) = args.iter().find(|a| !a.starts_with('-')) else {
        let u = ctx.k.utsns.get(&uts);
        let text = u.map_or(String::new(), |u| {
            if domain {
                u.domainname.clone()
            } else {
                u.hostname.clone()
            }
        });
        ctx.line(text);
        return 0;
    };
    let call = if domain {
        "setdomainname"
    } else {
        "sethostname"
    };
    if !ctx.k.capable(ctx.pid, CAP_SYS_ADMIN, ctx.k.owner_of(uts))
        || ctx.k.seccomp_check(ctx.pid, call, [0; 6]).is_err()
    {
        ctx.line(format!(
            "{tool}: you must be root to change the {} name",
            if domain { "domain" } else { "host" }
        ));
        return 1;
    }
    if name.len() > HOST_NAME_MAX {
        ctx.line(format!("{tool}: name too long"));
        return 1;
    }
    if let Some(u) = ctx.k.utsns.get_mut(&uts) {
        if domain {
            u.domainname = name.clone();
        } else {
            u.hostname = name.clone();
        }
    }
    0
}

/// `keyctl show` / `keyctl add TYPE DESC DATA @s`, as keyutils does them: the
/// session keyring is the kernel's, shared with the host (no namespace isolates it),
/// which is why a container's seccomp filter refuses the calls.
pub fn keyctl(ctx: &mut Ctx, args: &[String]) -> i32 {
    let (call, show) = match args.first().map(String::as_str) {
        Some("add") => ("add_key", false),
        Some("show") | None => ("keyctl", true),
        Some(other) => {
            ctx.line(format!("keyctl: Unknown command: {other}"));
            return 2;
        }
    };
    match ctx.k.keyctl(ctx.pid, call) {
        Ok(()) if show => {
            ctx.line("Session Keyring");
            ctx.line(" 872415234 --alswrv      0     0  keyring: _ses");
            0
        }
        Ok(()) => {
            ctx.line("911203742");
            0
        }
        Err(e) if show => {
            ctx.line(format!("keyctl_read_alloc: {e}"));
            1
        }
        Err(e) => {
            ctx.line(format!("{call}: {e}"));
            1
        }
    }
}

/// `uname [-a|-n|-r|-s]`.
pub fn uname(ctx: &mut Ctx, args: &[String]) -> i32 {
    let host = ctx
        .k
        .proc(ctx.pid)
        .ok()
        .and_then(|p| ctx.k.utsns.get(&p.ns.uts))
        .map_or(String::new(), |u| u.hostname.clone());
    let text = match args.first().map(String::as_str) {
        Some("-n") => host,
        Some("-r") => KERNEL_RELEASE.to_string(),
        Some("-a") => format!(
            "Linux {host} {KERNEL_RELEASE} #1 SMP PREEMPT_DYNAMIC Debian 6.1.0 x86_64 GNU/Linux"
        ),
        _ => "Linux".to_string(),
    };
    ctx.line(text);
    0
}

/// The kernel release the simulator claims.
pub const KERNEL_RELEASE: &str = "6.1.0-isolab-sim";

/// `kill [-9|-KILL|-s SIG] PID…`, a shell builtin as in bash.
pub fn kill(k: &mut Kernel, shell: Pid, args: &[String], out: &mut String) -> i32 {
    let mut signal = 15;
    let mut status = 0;
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        if a == "-s" {
            signal = it.next().map_or(15, |s| parse_signal(s));
            continue;
        }
        if a == "-l" {
            out.push_str(" 1) SIGHUP\t 2) SIGINT\t 9) SIGKILL\t15) SIGTERM\n");
            return 0;
        }
        if let Some(s) = a.strip_prefix('-') {
            signal = parse_signal(s);
            continue;
        }
        let Ok(nr) = a.parse::<u32>() else {
            let _ = writeln!(
                out,
                "{SHELL_NAME}: kill: {a}: arguments must be process or job IDs"
            );
            status = 1;
            continue;
        };
        if let Err(e) = k.kill(shell, nr, signal) {
            let _ = writeln!(out, "{SHELL_NAME}: kill: ({nr}) - {e}");
            status = 1;
        }
    }
    status
}

fn parse_signal(s: &str) -> i32 {
    match s.trim_start_matches("SIG") {
        "KILL" => SIGKILL,
        "TERM" => 15,
        "INT" => 2,
        "HUP" => 1,
        n => n.parse().unwrap_or(15),
    }
}

/// Seconds of a `sleep` argument (`5`, `2s`, `1m`), in milliseconds.
pub fn parse_seconds(s: &str) -> Option<u64> {
    let (n, unit) = match s.strip_suffix('m') {
        Some(n) => (n, 60_000),
        None => (s.strip_suffix('s').unwrap_or(s), 1000),
    };
    n.parse::<f64>()
        .ok()
        .filter(|v| *v >= 0.0)
        .map(|v| (v * unit as f64) as u64)
}

/// `sleep N` in the foreground: the clock jumps ahead by N seconds.
pub fn sleep(ctx: &mut Ctx, args: &[String]) -> i32 {
    let Some(ms) = args.first().and_then(|a| parse_seconds(a)) else {
        ctx.line("sleep: missing operand");
        return 1;
    };
    let _ = ctx.k.set_timer(ctx.pid, ms);
    if !ctx.background {
        ctx.k.advance(ms);
    }
    0
}

/// `memhog SIZE`: allocates SIZE bytes, charged to the cgroup (OOM-killed past
/// memory.max), then frees them by exiting.
pub fn memhog(ctx: &mut Ctx, args: &[String]) -> i32 {
    let Some(Ok(bytes)) = args.first().map(|a| {
        parse_memory(a).or_else(|_| {
            a.parse::<u64>()
                .map_err(|_| ())
                .map_err(|_| crate::limits::LimitError::BadMemorySyntax(a.clone()))
        })
    }) else {
        ctx.line("usage: memhog SIZE (like 64M)");
        return 1;
    };
    let r = ctx.k.allocate(ctx.pid, bytes);
    if was_oom(&r) {
        return 137;
    }
    ctx.line(format!("allocated {}", crate::limits::format_bytes(bytes)));
    0
}

/// `tail /dev/zero`: a line that never ends, kept whole in memory, so it grows until
/// the OOM killer ends it (the memory hog every host has). Other files are not modelled.
pub fn tail(ctx: &mut Ctx, args: &[String]) -> i32 {
    if args != ["/dev/zero"] {
        ctx.line("tail: only `tail /dev/zero` is modelled here");
        return 1;
    }
    const CHUNK: u64 = 16 << 20;
    // Without a memory limit the model stops where a real machine would swap and crawl.
    for _ in 0..(64u64 << 30) / CHUNK {
        let r = ctx.k.allocate(ctx.pid, CHUNK);
        if was_oom(&r) {
            return 137;
        }
    }
    ctx.line("tail: memory exhausted");
    1
}

/// `ipcs [-m|-q|-s]`.
pub fn ipcs(ctx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(p) = ctx.k.proc(ctx.pid) else { return 1 };
    let (view, ipc) = (p.ns.user, p.ns.ipc);
    let Some(ns) = ctx.k.ipcns.get(&ipc) else {
        return 1;
    };
    let want = |f: &str| args.is_empty() || args.iter().any(|a| a == f);
    let owner = |o: &SysvObject| user_name(ctx.k.uid_in(o.owner, view));
    let mut out = String::new();
    if want("-q") {
        out.push_str("\n------ Message Queues --------\nkey        msqid      owner      perms      used-bytes   messages    \n");
        for o in &ns.msg {
            let _ = writeln!(
                out,
                "0x{:08x} {:<10} {:<10} {:<10o} {:<12} {:<12}",
                o.key,
                o.id,
                owner(o),
                o.perms,
                0,
                0
            );
        }
    }
    if want("-m") {
        out.push_str("\n------ Shared Memory Segments --------\nkey        shmid      owner      perms      bytes      nattch     status      \n");
        for o in &ns.shm {
            let _ = writeln!(
                out,
                "0x{:08x} {:<10} {:<10} {:<10o} {:<10} {:<10} {:<12}",
                o.key,
                o.id,
                owner(o),
                o.perms,
                o.size,
                0,
                ""
            );
        }
    }
    if want("-s") {
        out.push_str("\n------ Semaphore Arrays --------\nkey        semid      owner      perms      nsems     \n");
        for o in &ns.sem {
            let _ = writeln!(
                out,
                "0x{:08x} {:<10} {:<10} {:<10o} {:<10}",
                o.key,
                o.id,
                owner(o),
                o.perms,
                o.size
            );
        }
    }
    out.push('\n');
    ctx.out.push_str(&out);
    0
}

/// `ipcmk -M SIZE | -Q | -S N`.
pub fn ipcmk(ctx: &mut Ctx, args: &[String]) -> i32 {
    let Ok(p) = ctx.k.proc(ctx.pid) else { return 1 };
    let (uid, ipc) = (p.uid, p.ns.ipc);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (kind, size, label) = match a.as_slice() {
        ["-M", size] => match parse_size(size) {
            Some(s) => (SysvKind::Shm, s, "Shared memory id"),
            None => {
                ctx.line(format!("ipcmk: failed to parse size: '{size}'"));
                return 1;
            }
        },
        ["-Q"] => (SysvKind::Msg, 0, "Message queue id"),
        ["-S", n] => (SysvKind::Sem, n.parse().unwrap_or(1), "Semaphore id"),
        _ => {
            ctx.line("Usage: ipcmk [options]\n -M, --shmem <size>  create shared memory segment of size <size>\n -S, --semaphore <number>  create semaphore array with <number> elements\n -Q, --queue  create message queue");
            return 1;
        }
    };
    let Some(ns) = ctx.k.ipcns.get_mut(&ipc) else {
        ctx.line(format!("ipcmk: {}", Errno::EINVAL));
        return 1;
    };
    let id = ns.create(kind, uid, size);
    ctx.line(format!("{label}: {id}"));
    0
}

/// The text of `help`.
pub fn help_text() -> String {
    let mut out = String::from(
        "isolab simulated shell: a model of Linux namespaces and cgroups.\n\
         Try: unshare -p -f --mount-proc, then ps; ip link; hostname NAME; id.\n\
         Commands:\n",
    );
    for chunk in COMMANDS.chunks(8) {
        let _ = writeln!(out, "  {}", chunk.join(" "));
    }
    out
}

/// A size as ipcmk(1) takes it: bytes, or a number with a K, M or G suffix.
fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim().trim_end_matches(['b', 'B']);
    let (digits, factor) = match t.chars().last()?.to_ascii_uppercase() {
        'K' => (&t[..t.len() - 1], 1u64 << 10),
        'M' => (&t[..t.len() - 1], 1 << 20),
        'G' => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(factor)
}
