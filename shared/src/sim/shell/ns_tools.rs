//! `unshare`, `nsenter` and `lsns`, as util-linux does them: namespace changes, then
//! (with a fork for pid namespaces) the command or an interactive shell.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{external, finish_child, Ctx, NewShell};
use crate::namespace::NamespaceKind;
use crate::protocol::IdMapEntry;
use crate::sim::kernel::mountops::{MountRequest, PropagationChange};
use crate::sim::process::{Pid, ProcNamespaces};
use crate::sim::user::user_name;

fn kind_of_flag(c: char) -> Option<NamespaceKind> {
    Some(match c {
        'p' => NamespaceKind::Pid,
        'n' => NamespaceKind::Net,
        'm' => NamespaceKind::Mnt,
        'u' => NamespaceKind::Uts,
        'i' => NamespaceKind::Ipc,
        'U' => NamespaceKind::User,
        'C' => NamespaceKind::Cgroup,
        _ => return None,
    })
}

fn kind_of_long(s: &str) -> Option<NamespaceKind> {
    Some(match s.split('=').next().unwrap_or(s) {
        "--pid" => NamespaceKind::Pid,
        "--net" => NamespaceKind::Net,
        "--mount" => NamespaceKind::Mnt,
        "--uts" => NamespaceKind::Uts,
        "--ipc" => NamespaceKind::Ipc,
        "--user" => NamespaceKind::User,
        "--cgroup" => NamespaceKind::Cgroup,
        _ => return None,
    })
}

fn is_shell(cmd: &[String]) -> bool {
    cmd.is_empty() || matches!(cmd[0].rsplit('/').next(), Some("sh" | "bash" | "dash"))
}

/// Runs `cmd` in process `runner` (which becomes it). An empty command or a shell
/// becomes the new interactive session; otherwise the command runs and `runner` ends.
pub fn run_command_as(ctx: &mut Ctx, runner: Pid, cmd: &[String]) -> i32 {
    if is_shell(cmd) {
        let _ = ctx.k.exec(runner, &["sh"]);
        if let Ok(p) = ctx.k.proc_mut(runner) {
            p.reaps_children = true;
            p.transient = false;
        }
        ctx.k
            .events
            .push(crate::sim::kernel::KernelEvent::ProcessStarted(runner));
        let wrappers = if runner == ctx.pid {
            Vec::new()
        } else {
            vec![ctx.pid]
        };
        for &w in &wrappers {
            if let Ok(p) = ctx.k.proc_mut(w) {
                p.transient = false;
                p.reaps_children = true;
            }
            ctx.k
                .events
                .push(crate::sim::kernel::KernelEvent::ProcessStarted(w));
        }
        ctx.new_shell = Some(NewShell {
            pid: runner,
            wrappers,
        });
        return 0;
    }
    let name = cmd[0].rsplit('/').next().unwrap_or("");
    let argv: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let _ = ctx.k.exec(runner, &argv);
    let Some(f) = external(name) else {
        ctx.line(format!(
            "{}: failed to execute {}: No such file or directory",
            "exec", cmd[0]
        ));
        return 127;
    };
    let saved = ctx.pid;
    ctx.pid = runner;
    let status = f(ctx, &cmd[1..]);
    ctx.pid = saved;
    // In the background, a forked child still sleeping stays, and so does the
    // wrapper waiting for it (until the same moment), as `unshare -f sleep 300 &` does.
    let sleeping_until = ctx
        .k
        .procs
        .get(&runner)
        .filter(|p| ctx.background && p.is_alive())
        .and_then(|p| p.exits_at_ms);
    if let (Some(at), true) = (sleeping_until, runner != saved) {
        let left = at.saturating_sub(ctx.k.now_ms);
        let _ = ctx.k.set_timer(saved, left);
        return status;
    }
    if runner != saved {
        let mut out = String::new();
        let status = finish_child(ctx.k, runner, status, &mut out);
        ctx.out.push_str(&out);
        let _ = ctx.k.wait(saved);
        return status;
    }
    status
}

/// `unshare [-p -n -m -u -i -U -C] [-f] [-r] [--mount-proc] [--propagation X] [CMD…]`.
pub fn unshare(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut kinds = Vec::new();
    let (mut fork, mut map_root, mut mount_proc) = (false, false, false);
    let mut propagation = Some(PropagationChange::Private);
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if let Some(k) = kind_of_long(a) {
            kinds.push(k);
        } else if a == "--fork" {
            fork = true;
        } else if a == "--map-root-user" {
            map_root = true;
        } else if a == "--mount-proc" || a.starts_with("--mount-proc=") {
            mount_proc = true;
        } else if a == "--propagation" {
            i += 1;
            propagation = match args.get(i).map(String::as_str) {
                Some("shared") => Some(PropagationChange::Shared),
                Some("slave") => Some(PropagationChange::Slave),
                Some("unchanged") => None,
                _ => Some(PropagationChange::Private),
            };
        } else if let Some(flags) = a
            .strip_prefix('-')
            .filter(|f| !f.starts_with('-') && !f.is_empty())
        {
            for c in flags.chars() {
                match c {
                    'f' => fork = true,
                    'r' => map_root = true,
                    c => match kind_of_flag(c) {
                        Some(k) => kinds.push(k),
                        None => {
                            ctx.line(format!("unshare: invalid option -- '{c}'"));
                            return 1;
                        }
                    },
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    let cmd = &args[i..];
    if map_root && !kinds.contains(&NamespaceKind::User) {
        kinds.push(NamespaceKind::User);
    }
    if mount_proc && !kinds.contains(&NamespaceKind::Mnt) {
        kinds.push(NamespaceKind::Mnt);
    }
    let pid = ctx.pid;
    let (uid, gid) = match ctx.k.proc(pid) {
        Ok(p) => (p.uid, p.gid),
        Err(_) => return 1,
    };
    if let Err(e) = ctx.k.unshare(pid, &kinds) {
        ctx.line(format!("unshare: unshare failed: {e}"));
        return 1;
    }
    if map_root {
        let user = ctx.k.procs.get(&pid).map(|p| p.ns.user);
        let map = |outside| {
            vec![IdMapEntry {
                inside: 0,
                outside,
                count: 1,
            }]
        };
        if let Some(user) = user {
            if let Err(e) = ctx.k.set_id_maps(pid, user, map(uid), map(gid)) {
                ctx.line(format!("unshare: write failed /proc/self/uid_map: {e}"));
                return 1;
            }
        }
    }
    if kinds.contains(&NamespaceKind::Mnt) {
        if let Some(change) = propagation {
            let _ = ctx.k.change_propagation(pid, "/", change, true);
        }
    }
    let runner = if fork {
        match ctx.k.fork(pid) {
            Ok(c) => c,
            Err(e) => {
                ctx.line(format!("unshare: fork failed: {e}"));
                return 1;
            }
        }
    } else {
        pid
    };
    if mount_proc {
        let req = MountRequest {
            source: "proc".to_string(),
            target: "/proc".to_string(),
            fstype: "proc".to_string(),
            options: "rw,nosuid,nodev,noexec,relatime".to_string(),
            holds_ns: None,
        };
        if let Err(e) = ctx.k.mount(runner, req) {
            ctx.line(format!("unshare: mount /proc failed: {e}"));
            return 1;
        }
    }
    run_command_as(ctx, runner, cmd)
}

/// `nsenter -t PID [-a] [-p -n -m -u -i -U -C] [-F] [CMD…]`.
pub fn nsenter(ctx: &mut Ctx, args: &[String]) -> i32 {
    let mut kinds = Vec::new();
    let (mut all, mut no_fork) = (false, false);
    let mut target = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "-t" || a == "--target" {
            i += 1;
            target = args.get(i).and_then(|t| t.parse::<u32>().ok());
        } else if let Some(t) = a.strip_prefix("--target=") {
            target = t.parse().ok();
        } else if a == "--all" {
            all = true;
        } else if a == "--no-fork" {
            no_fork = true;
        } else if let Some(k) = kind_of_long(a) {
            kinds.push(k);
        } else if let Some(flags) = a
            .strip_prefix('-')
            .filter(|f| !f.starts_with('-') && !f.is_empty())
        {
            let mut chars = flags.chars();
            while let Some(c) = chars.next() {
                match c {
                    'a' => all = true,
                    'F' => no_fork = true,
                    't' => {
                        let rest: String = chars.by_ref().collect();
                        target = if rest.is_empty() {
                            i += 1;
                            args.get(i).and_then(|t| t.parse().ok())
                        } else {
                            rest.parse().ok()
                        };
                    }
                    c => match kind_of_flag(c) {
                        Some(k) => kinds.push(k),
                        None => {
                            ctx.line(format!("nsenter: invalid option -- '{c}'"));
                            return 1;
                        }
                    },
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    let Some(nr) = target else {
        ctx.line("nsenter: no target PID specified for --target");
        return 1;
    };
    let pid = ctx.pid;
    let my_pidns = ctx.k.procs.get(&pid).map(|p| p.ns.pid);
    let Some(host) = my_pidns.and_then(|ns| ctx.k.find_pid(ns, nr)) else {
        ctx.line(format!(
            "nsenter: cannot open /proc/{nr}/ns/ipc: No such file or directory"
        ));
        return 1;
    };
    if all {
        kinds = NamespaceKind::ALL.to_vec();
        // nsenter -a leaves out the user namespace when it is already the same.
        let same_user =
            ctx.k.procs.get(&host).map(|t| t.ns.user) == ctx.k.procs.get(&pid).map(|p| p.ns.user);
        if same_user {
            kinds.retain(|k| *k != NamespaceKind::User);
        }
    }
    kinds.sort_by_key(|k| *k != NamespaceKind::User);
    if let Err(e) = ctx.k.setns(pid, host, &kinds) {
        let which = kinds.first().map_or("pid", |k| k.name());
        ctx.line(format!(
            "nsenter: reassociate to namespace 'ns/{which}' failed: {e}"
        ));
        return 1;
    }
    let runner = if kinds.contains(&NamespaceKind::Pid) && !no_fork {
        match ctx.k.fork(pid) {
            Ok(c) => c,
            Err(e) => {
                ctx.line(format!("nsenter: fork failed: {e}"));
                return 1;
            }
        }
    } else {
        pid
    };
    run_command_as(ctx, runner, &args[i..])
}

/// `lsns`: the namespaces visible through /proc, with their process counts.
pub fn lsns(ctx: &mut Ctx, _: &[String]) -> i32 {
    let Ok(list) = ctx.k.proc_listing(ctx.pid) else {
        ctx.line("lsns: cannot open /proc: No such file or directory");
        return 1;
    };
    let reader_user = ctx.k.procs.get(&ctx.pid).map(|p| p.ns.user);
    // (id, kind) -> (count, lowest pid, its host pid)
    let mut seen: BTreeMap<(u64, NamespaceKind), (u32, u32, Pid)> = BTreeMap::new();
    // Runs of processes share one set of namespaces: count a run, then add it once.
    let mut run: Option<(ProcNamespaces, u32, u32, Pid)> = None;
    let mut flush = |run: &mut Option<(ProcNamespaces, u32, u32, Pid)>| {
        if let Some((ns, count, nr, host)) = run.take() {
            for kind in NamespaceKind::ALL {
                let e = seen.entry((ns.get(kind).0, kind)).or_insert((0, nr, host));
                e.0 += count;
            }
        }
    };
    for (nr, host) in &list {
        let Some(p) = ctx.k.procs.get(host) else {
            continue;
        };
        match &mut run {
            Some((ns, count, _, _)) if *ns == p.ns => *count += 1,
            _ => {
                flush(&mut run);
                run = Some((p.ns.clone(), 1, *nr, *host));
            }
        }
    }
    flush(&mut run);
    let mut out = String::from("        NS TYPE   NPROCS   PID USER COMMAND\n");
    for ((id, kind), (count, nr, host)) in seen {
        let Some(p) = ctx.k.procs.get(&host) else {
            continue;
        };
        let user = user_name(reader_user.map_or(p.uid, |u| ctx.k.uid_in(p.uid, u)));
        let _ = writeln!(
            out,
            "{id:>10} {:<6} {count:>6} {nr:>5} {user:<4} {}",
            kind.name(),
            p.cmdline()
        );
    }
    ctx.out.push_str(&out);
    0
}
