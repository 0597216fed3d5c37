//! `ps`: reads the /proc of the caller's mount namespace, so after
//! `unshare -p -f --mount-proc` it sees only the new pid namespace.
//!
//! Lines are written by hand (no `format!` per line): with 10,000 processes the
//! listing must still take well under a millisecond.

use super::Ctx;
use crate::sim::kernel::Kernel;
use crate::sim::ns::NsId;
use crate::sim::process::Process;
use crate::sim::user::user_name;

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

/// Appends `n` right-aligned in `width` columns.
pub(crate) fn push_num(out: &mut String, n: u64, width: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let digits = buf.len() - i;
    for _ in digits..width {
        out.push(' ');
    }
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or("?"));
}

/// Appends `s` left-aligned in `width` columns.
pub(crate) fn push_left(out: &mut String, s: &str, width: usize) {
    out.push_str(s);
    for _ in s.len()..width {
        out.push(' ');
    }
}

/// Small per-call caches: almost every process has the same owner and start minute.
struct Names {
    users: Vec<(u32, String)>,
    minute: Option<(u64, String)>,
}

impl Names {
    fn user(&mut self, k: &Kernel, uid: u32, view: NsId) -> &str {
        // Keyed by the kernel's uid: the mapping into `view` is done once per uid.
        let pos = match self.users.iter().position(|(u, _)| *u == uid) {
            Some(p) => p,
            None => {
                self.users.push((uid, user_name(k.uid_in(uid, view))));
                self.users.len() - 1
            }
        };
        &self.users[pos].1
    }

    fn stime(&mut self, ms: u64) -> &str {
        let minute = ms / 60_000;
        if self.minute.as_ref().is_none_or(|(m, _)| *m != minute) {
            self.minute = Some((minute, clock_time(ms)));
        }
        self.minute.as_ref().map_or("", |(_, s)| s.as_str())
    }
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
    let my_tty = me.tty;
    let my_user = me.ns.user;
    let Some(ns) = k.pidns.get(&view) else {
        return 1;
    };
    let out = &mut ctx.out;
    out.reserve(ns.members.len() * 64 + 80);
    out.push_str(match format {
        Format::Terminal | Format::Every => "    PID TTY          TIME CMD\n",
        Format::Full => "UID          PID    PPID  C STIME TTY          TIME CMD\n",
        Format::Bsd => {
            "USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\n"
        }
    });
    let mut names = Names {
        users: Vec::new(),
        minute: None,
    };
    let mut line = |nr: u32, p: &Process, out: &mut String| {
        if format == Format::Terminal && (my_tty.is_none() || p.tty != my_tty) {
            return;
        }
        match format {
            Format::Terminal | Format::Every => {
                push_num(out, nr.into(), 7);
                out.push(' ');
                push_tty(out, p.tty);
                out.push_str(" 00:00:00 ");
                out.push_str(if p.is_alive() { p.comm() } else { "[defunct]" });
            }
            Format::Full => {
                push_left(out, names.user(k, p.uid, my_user), 8);
                out.push(' ');
                push_num(out, nr.into(), 7);
                out.push(' ');
                push_num(out, parent_nr(k, p, view, ns.level).into(), 7);
                out.push_str("  0 ");
                out.push_str(names.stime(p.started_ms));
                out.push(' ');
                push_tty(out, p.tty);
                out.push_str(" 00:00:00 ");
                push_cmdline(out, p);
            }
            Format::Bsd => {
                let rss = 1024 + p.memory / 1024;
                push_left(out, names.user(k, p.uid, my_user), 10);
                out.push(' ');
                push_num(out, nr.into(), 6);
                out.push_str("  0.0  0.0 ");
                push_num(out, rss + 4096, 6);
                out.push(' ');
                push_num(out, rss, 5);
                out.push(' ');
                push_tty(out, p.tty);
                out.push(' ');
                push_left(out, p.state.letter(), 4);
                out.push(' ');
                out.push_str(names.stime(p.started_ms));
                out.push_str("   0:00 ");
                push_cmdline(out, p);
            }
        }
        out.push('\n');
    };
    if ns.parent.is_none() {
        // The host's namespace lists every process, in host PID order: no lookups.
        for p in k.procs.values() {
            line(p.pid, p, out);
        }
    } else {
        for (&nr, host) in &ns.members {
            if let Some(p) = k.procs.get(host) {
                line(nr, p, out);
            }
        }
    }
    0
}

/// The TTY column: `pts/N` or `?`, padded to 8.
fn push_tty(out: &mut String, tty: Option<u16>) {
    match tty {
        Some(n) => {
            out.push_str("pts/");
            push_num(out, n.into(), 0);
            let digits = if n >= 10 { 2 } else { 1 };
            for _ in (4 + digits)..8 {
                out.push(' ');
            }
        }
        None => out.push_str("?       "),
    }
}

fn push_cmdline(out: &mut String, p: &Process) {
    if !p.is_alive() {
        out.push('[');
        out.push_str(p.comm());
        out.push_str("] <defunct>");
        return;
    }
    out.push_str(&p.command_line);
}

/// The parent's PID as seen from `view` (at `level`), or 0 when it is outside.
fn parent_nr(k: &Kernel, p: &Process, view: NsId, level: usize) -> u32 {
    if level == 0 {
        // In the host's namespace the parent's number is its host PID.
        return p.ppid;
    }
    k.procs
        .get(&p.ppid)
        .and_then(|parent| k.pid_in(parent, view))
        .unwrap_or(0)
}
