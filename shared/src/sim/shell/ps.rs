//! `ps`: reads the /proc of the caller's mount namespace, so after
//! `unshare -p -f --mount-proc` it sees only the new pid namespace.

use std::fmt::Write;

use super::super::kernel::Kernel;
use super::super::process::Process;
use super::super::user::user_name;
use super::Ctx;

/// The wall-clock time the logical clock starts at, in minutes after midnight (08:00).
const BOOT_MINUTE: u64 = 8 * 60;

/// `HH:MM` of a logical time, as ps's STIME column.
pub fn clock_time(ms: u64) -> String {
    let minutes = (BOOT_MINUTE + ms / 60_000) % (24 * 60);
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// What a ps invocation prints.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `ps`: processes of this terminal.
    Terminal,
    /// `ps -e`.
    Every,
    /// `ps -ef`.
    Full,
    /// `ps aux`.
    Bsd,
}

/// `ps [-e|-ef|aux]`.
pub fn ps(ctx: &mut Ctx, args: &[String]) -> i32 {
    let joined: String = args.concat();
    let format = if joined.contains('u') && !joined.starts_with('-') {
        Format::Bsd
    } else if joined.contains('f') {
        Format::Full
    } else if joined.contains('e') || joined.contains('A') || joined == "ax" {
        Format::Every
    } else {
        Format::Terminal
    };
    let k: &Kernel = ctx.k;
    let Ok(view) = k.proc_view(ctx.pid) else {
        ctx.line("Error, do this: mount -t proc proc /proc");
        return 1;
    };
    let Some(me) = k.procs.get(&ctx.pid) else {
        return 1;
    };
    let my_tty = me.tty.clone();
    let my_user = me.ns.user;
    let Some(members) = k.pidns.get(&view).map(|n| &n.members) else {
        return 1;
    };
    let mut out = String::with_capacity(members.len() * 72 + 80);
    out.push_str(match format {
        Format::Terminal | Format::Every => "    PID TTY          TIME CMD\n",
        Format::Full => "UID          PID    PPID  C STIME TTY          TIME CMD\n",
        Format::Bsd => {
            "USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n"
        }
    });
    for (&nr, host) in members {
        let Some(p) = k.procs.get(host) else {
            continue;
        };
        if format == Format::Terminal && (p.tty != my_tty || my_tty.is_none()) {
            continue;
        }
        let tty = p.tty.as_deref().unwrap_or("?");
        let _ = match format {
            Format::Terminal | Format::Every => {
                writeln!(out, "{nr:>7} {tty:<8} 00:00:00 {}", shown_comm(p))
            }
            Format::Full => {
                let ppid = parent_nr(k, p, view);
                let user = user_name(k.uid_in(p.uid, my_user));
                writeln!(
                    out,
                    "{user:<8} {nr:>7} {ppid:>7}  0 {} {tty:<8} 00:00:00 {}",
                    clock_time(p.started_ms),
                    shown_cmdline(p)
                )
            }
            Format::Bsd => {
                let user = user_name(k.uid_in(p.uid, my_user));
                let rss = 1024 + p.memory / 1024;
                writeln!(
                    out,
                    "{user:<10} {nr:>6}  0.0  0.0 {:>6} {rss:>5} {tty:<8} {:<4} {} 0:00 {}",
                    rss + 4096,
                    p.state.letter(),
                    clock_time(p.started_ms),
                    shown_cmdline(p)
                )
            }
        };
    }
    ctx.out.push_str(&out);
    0
}

fn shown_comm(p: &Process) -> &str {
    if p.is_alive() {
        p.comm()
    } else {
        "[defunct]"
    }
}

fn shown_cmdline(p: &Process) -> String {
    if !p.is_alive() {
        return format!("[{}] <defunct>", p.comm());
    }
    p.cmdline()
}

/// The parent's PID as seen from `view`, or 0 when the parent is outside it.
fn parent_nr(k: &Kernel, p: &Process, view: super::super::ns::NsId) -> u32 {
    k.procs
        .get(&p.ppid)
        .and_then(|parent| k.pid_in(parent, view))
        .unwrap_or(0)
}
