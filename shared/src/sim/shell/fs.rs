//! Files the model knows: the mount table (`mount`, `umount`, `pivot_root`) and
//! /proc (`cat`, `ls`, `readlink`), read through the caller's namespaces.

use std::fmt::Write;

use super::Ctx;
use crate::namespace::NamespaceKind;
use crate::sim::kernel::mountops::{MountRequest, PropagationChange};
use crate::sim::kernel::Kernel;
use crate::sim::mount::clean_path;
use crate::sim::process::{Pid, Process, CAPS_FULL};

/// `mount`, `mount -t TYPE SRC DIR`, `mount --bind SRC DIR`, `mount --make-*`.
pub fn mount(ctx: &mut Ctx, args: &[String]) -> i32 {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let pid = ctx.pid;
    if a.is_empty() {
        let Ok(p) = ctx.k.proc(pid) else { return 1 };
        let mut out = String::new();
        if let Some(t) = ctx.k.mntns.get(&p.ns.mnt) {
            for m in t.mounts() {
                let _ = writeln!(
                    out,
                    "{} on {} type {} ({})",
                    m.source, m.target, m.fstype, m.options
                );
            }
        }
        ctx.out.push_str(&out);
        return 0;
    }
    if let [flag, dir] = a.as_slice() {
        let change = match flag.trim_start_matches("--make-") {
            "private" | "rprivate" => Some(PropagationChange::Private),
            "shared" | "rshared" => Some(PropagationChange::Shared),
            "slave" | "rslave" => Some(PropagationChange::Slave),
            _ => None,
        };
        if let (Some(change), true) = (change, flag.starts_with("--make-")) {
            let recursive = flag.starts_with("--make-r");
            return match ctx
                .k
                .change_propagation(pid, &clean_path("/", dir), change, recursive)
            {
                Ok(()) => 0,
                Err(e) => {
                    ctx.line(format!("mount: {dir}: {}", mount_error(e)));
                    32
                }
            };
        }
    }
    let mut fstype = None;
    let mut bind = false;
    let mut options = "rw,relatime".to_string();
    let mut rest = Vec::new();
    let mut it = a.iter();
    while let Some(w) = it.next() {
        match *w {
            "-t" => fstype = it.next().map(|s| s.to_string()),
            "--bind" | "-B" | "--rbind" => bind = true,
            "-o" => {
                if let Some(o) = it.next() {
                    options = o.to_string();
                }
            }
            other => rest.push(other),
        }
    }
    let [source, target] = rest.as_slice() else {
        ctx.line("mount: bad usage\nTry 'mount --help' for more information.");
        return 1;
    };
    let target = clean_path("/", target);
    let mut req = MountRequest {
        source: source.to_string(),
        target: target.clone(),
        fstype: fstype.unwrap_or_else(|| "none".to_string()),
        options,
        holds_ns: None,
    };
    if bind {
        match ns_file(ctx.k, pid, source) {
            Some(ns) => {
                req.source = "nsfs".to_string();
                req.fstype = "nsfs".to_string();
                req.holds_ns = Some(ns);
            }
            None => {
                let src_mount = ctx
                    .k
                    .proc(pid)
                    .ok()
                    .and_then(|p| ctx.k.mntns.get(&p.ns.mnt))
                    .and_then(|t| t.containing(&clean_path("/", source)).cloned());
                if let Some(m) = src_mount {
                    req.source = m.source;
                    req.fstype = m.fstype;
                    req.options = m.options;
                }
            }
        }
    }
    match ctx.k.mount(pid, req) {
        Ok(()) => 0,
        Err(e) => {
            ctx.line(format!("mount: {target}: {}", mount_error(e)));
            32
        }
    }
}

fn mount_error(e: crate::sim::errno::Errno) -> String {
    use crate::sim::errno::Errno;
    match e {
        Errno::EPERM => "permission denied.".to_string(),
        Errno::EINVAL => "not mount point or bad option.".to_string(),
        Errno::EBUSY => "target is busy.".to_string(),
        other => format!("{other}."),
    }
}

/// The namespace a `/proc/PID/ns/KIND` path names, read through the caller's /proc.
fn ns_file(k: &Kernel, reader: Pid, path: &str) -> Option<crate::sim::ns::NsId> {
    let rest = path.strip_prefix("/proc/")?;
    let (who, rest) = rest.split_once('/')?;
    let name = rest.strip_prefix("ns/")?;
    let p = k.procs.get(&resolve_proc_pid(k, reader, who)?)?;
    if name == "pid_for_children" {
        return Some(p.ns.pid_for_children);
    }
    let kind: NamespaceKind = name.parse().ok()?;
    Some(p.ns.get(kind))
}

/// The host PID a /proc entry (`self` or a number) names for `reader`.
pub fn resolve_proc_pid(k: &Kernel, reader: Pid, who: &str) -> Option<Pid> {
    let view = k.proc_view(reader).ok()?;
    if who == "self" || who == "thread-self" {
        let me = k.procs.get(&reader)?;
        return k.pid_in(me, view).map(|_| reader);
    }
    k.find_pid(view, who.parse().ok()?)
}

/// `umount [-l] DIR`.
pub fn umount(ctx: &mut Ctx, args: &[String]) -> i32 {
    let lazy = args.iter().any(|a| a == "-l");
    let Some(dir) = args.iter().find(|a| !a.starts_with('-')) else {
        ctx.line("umount: bad usage");
        return 1;
    };
    let target = clean_path("/", dir);
    let r = if lazy {
        ctx.k.umount_lazy(ctx.pid, &target)
    } else {
        ctx.k.umount(ctx.pid, &target)
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            ctx.line(format!("umount: {target}: {}", mount_error(e)));
            32
        }
    }
}

/// `pivot_root NEW_ROOT PUT_OLD`.
pub fn pivot_root(ctx: &mut Ctx, args: &[String]) -> i32 {
    let [new_root, put_old] = args else {
        ctx.line("pivot_root: bad usage");
        return 1;
    };
    match ctx.k.pivot_root(
        ctx.pid,
        &clean_path("/", new_root),
        &clean_path("/", put_old),
    ) {
        Ok(()) => 0,
        Err(e) => {
            ctx.line(format!(
                "pivot_root: failed to change root from `{new_root}' to `{put_old}': {e}"
            ));
            1
        }
    }
}

/// `mkdir`: directories are not modelled, so it only succeeds.
pub fn mkdir(_: &mut Ctx, _: &[String]) -> i32 {
    0
}

/// `cat FILE…` for the /proc and /sys files the model knows.
pub fn cat(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut status = 0;
    for file in args {
        match read_file(ctx.k, ctx.pid, &clean_path("/", file)) {
            Some(text) => ctx.out.push_str(&text),
            None => {
                ctx.line(format!("cat: {file}: No such file or directory"));
                status = 1;
            }
        }
    }
    status
}

fn read_file(k: &Kernel, reader: Pid, path: &str) -> Option<String> {
    let me = k.procs.get(&reader)?;
    match path {
        "/proc/sys/kernel/hostname" | "/etc/hostname" => {
            return k.utsns.get(&me.ns.uts).map(|u| format!("{}\n", u.hostname));
        }
        "/proc/mounts" | "/proc/self/mounts" => {
            let t = k.mntns.get(&me.ns.mnt)?;
            return Some(
                t.mounts()
                    .iter()
                    .map(|m| format!("{} {} {} {} 0 0\n", m.source, m.target, m.fstype, m.options))
                    .collect(),
            );
        }
        _ => {}
    }
    if let Some(text) = super::cgroupfs::cgroup_file(k, me, path) {
        return Some(text);
    }
    let rest = path.strip_prefix("/proc/")?;
    let (who, file) = rest.split_once('/')?;
    let pid = resolve_proc_pid(k, reader, who)?;
    let p = k.procs.get(&pid)?;
    let view = k.proc_view(reader).ok()?;
    Some(match file {
        "status" => status(k, p, me, view),
        "comm" => format!("{}\n", p.comm()),
        "cmdline" => p.argv.iter().map(|a| format!("{a}\0")).collect(),
        "uid_map" | "gid_map" => {
            let u = k.userns.get(&p.ns.user)?;
            let map = if file == "uid_map" {
                &u.uid_map
            } else {
                &u.gid_map
            };
            map.iter()
                .map(|e| format!("{:>10} {:>10} {:>10}\n", e.inside, e.outside, e.count))
                .collect()
        }
        "cgroup" => {
            let root = k.cgroupns.get(&me.ns.cgroup).copied().unwrap_or(0);
            format!("0::{}\n", k.cgroups.path_from(p.cgroup, root))
        }
        "mountinfo" => {
            let t = k.mntns.get(&p.ns.mnt)?;
            t.mounts()
                .iter()
                .map(|m| {
                    let tag = m.propagation.mountinfo_tag();
                    let tag = if tag.is_empty() {
                        String::new()
                    } else {
                        format!(" {tag}")
                    };
                    format!(
                        "{} {} 0:{} / {} {}{tag} - {} {} rw\n",
                        m.id, m.parent, m.id, m.target, m.options, m.fstype, m.source
                    )
                })
                .collect()
        }
        _ => return None,
    })
}

fn status(k: &Kernel, p: &Process, reader: &Process, view: crate::sim::ns::NsId) -> String {
    let level = k.pidns.get(&view).map_or(0, |n| n.level);
    let nspid: Vec<String> = p.nspid.iter().skip(level).map(u32::to_string).collect();
    let shown = |pid: Pid| {
        k.procs
            .get(&pid)
            .and_then(|q| k.pid_in(q, view))
            .unwrap_or(0)
    };
    let uid = k.uid_in(p.uid, reader.ns.user);
    let gid = k.gid_in(p.gid, reader.ns.user);
    // The reader itself is running while it reads.
    let state = match p.state {
        _ if p.pid == reader.pid => "R (running)",
        crate::sim::process::ProcState::Running => "R (running)",
        crate::sim::process::ProcState::Sleeping => "S (sleeping)",
        crate::sim::process::ProcState::Zombie => "Z (zombie)",
    };
    let nspid = nspid.join("\t");
    format!(
        "Name:\t{}\nUmask:\t0022\nState:\t{state}\nTgid:\t{me}\nNgid:\t0\nPid:\t{me}\nPPid:\t{pp}\nTracerPid:\t0\n\
         Uid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{gid}\t{gid}\t{gid}\t{gid}\nFDSize:\t64\nGroups:\t{gid}\n\
         NStgid:\t{nspid}\nNSpid:\t{nspid}\nNSpgid:\t{nspid}\nNSsid:\t{nspid}\nThreads:\t1\n\
         CapInh:\t0000000000000000\nCapPrm:\t{caps:016x}\nCapEff:\t{caps:016x}\nCapBnd:\t{bnd:016x}\nCapAmb:\t0000000000000000\n\
         NoNewPrivs:\t{nnp}\nSeccomp:\t{seccomp}\n",
        p.comm(),
        me = shown(p.pid),
        pp = shown(p.ppid),
        caps = p.caps,
        bnd = p.cap_bound,
        nnp = u8::from(p.cap_bound != CAPS_FULL),
        // 2 is SECCOMP_MODE_FILTER.
        seccomp = if p.seccomp.is_some() { 2 } else { 0 },
    )
}

/// `ls [-l] DIR` for /proc, /proc/PID/ns and /run/netns.
pub fn ls(ctx: &mut Ctx, args: &[String]) -> i32 {
    let long = args.iter().any(|a| a.starts_with("-l"));
    let dir = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .map_or("/root".to_string(), |d| clean_path("/", d));
    if dir == "/proc" && !long {
        // Written straight into the output: /proc may list 10,000 PIDs.
        let Ok(view) = ctx.k.proc_view(ctx.pid) else {
            return 0;
        };
        let Some(ns) = ctx.k.pidns.get(&view) else {
            return 0;
        };
        let out = &mut ctx.out;
        for nr in ns.members.keys() {
            super::ps::push_num(out, (*nr).into(), 0);
            out.push_str("  ");
        }
        out.push_str(
            "cgroups  cmdline  cpuinfo  meminfo  mounts  self  stat  sys  uptime  version\n",
        );
        return 0;
    }
    let entries: Vec<String> = if let Some(who) = dir
        .strip_prefix("/proc/")
        .and_then(|r| r.strip_suffix("/ns"))
    {
        let Some(p) = resolve_proc_pid(ctx.k, ctx.pid, who).and_then(|pid| ctx.k.procs.get(&pid))
        else {
            ctx.line(format!(
                "ls: cannot access '{dir}': No such file or directory"
            ));
            return 2;
        };
        let mut kinds: Vec<(&str, u64)> = NamespaceKind::ALL
            .iter()
            .map(|k| (k.name(), p.ns.get(*k).0))
            .collect();
        kinds.push(("pid_for_children", p.ns.pid_for_children.0));
        kinds.sort();
        if long {
            kinds
                .iter()
                .map(|(n, id)| {
                    let base = n.trim_end_matches("_for_children");
                    format!("lrwxrwxrwx 1 root root 0 Jan  1 08:00 {n} -> '{base}:[{id}]'")
                })
                .collect()
        } else {
            kinds.iter().map(|(n, _)| n.to_string()).collect()
        }
    } else if dir == "/dev/mqueue" {
        ctx.k.mq_list(ctx.pid).unwrap_or_default()
    } else if dir == "/run/netns" {
        let mnt = ctx.k.procs.get(&ctx.pid).map(|p| p.ns.mnt);
        mnt.and_then(|m| ctx.k.mntns.get(&m))
            .map(|t| {
                t.mounts()
                    .iter()
                    .filter_map(|m| m.target.strip_prefix("/run/netns/").map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    if long {
        for e in entries {
            ctx.line(e);
        }
    } else if !entries.is_empty() {
        ctx.line(entries.join("  "));
    }
    0
}

/// `readlink /proc/PID/ns/KIND`: `net:[4026531840]`.
pub fn readlink(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut status = 0;
    for a in args.iter().filter(|a| !a.starts_with('-')) {
        let path = clean_path("/", a);
        let kind = path.rsplit('/').next().unwrap_or("");
        match ns_file(ctx.k, ctx.pid, &path) {
            Some(id) => ctx.line(format!("{}:[{id}]", kind.trim_end_matches("_for_children"))),
            None => status = 1,
        }
    }
    status
}
