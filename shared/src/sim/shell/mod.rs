//! The simulated shell: parses a line, runs builtins in the shell process and other
//! commands in a forked child (so `ps` sees itself and fork can fail at pids.max).
//!
//! # Layout
//! - [`parse`]: words, quotes, `;`, `&&`, a trailing `&`, `$?` and `$$`.
//! - [`ps`]: `ps`, `ps -e`, `ps -ef`, `ps aux`.
//! - [`ip`]: `ip addr|link|route|netns`, `ping`.
//! - [`fs`]: `mount`, `umount`, `pivot_root`, `cat`, `ls`, `readlink` over /proc.
//! - [`cgroupfs`]: what `cat` reads in a cgroup mount (the reader's own limits).
//! - [`ns_tools`]: `unshare`, `nsenter`, `lsns`.
//! - [`misc`]: `id`, `whoami`, `hostname`, `kill`, `ipcs`, `ipcmk`, `memhog`, `tail`, `help`…

pub mod cgroupfs;
pub mod fs;
pub mod ip;
pub mod misc;
pub mod ns_tools;
pub mod parse;
pub mod ps;

use std::fmt::Write;

use super::errno::Errno;
use super::kernel::lifecycle::AllocOutcome;
use super::kernel::Kernel;
use super::process::{Pid, WaitStatus};

/// The shell's name in messages, as in `sh: foo: command not found`.
pub const SHELL_NAME: &str = "sh";
/// Logical time each command line takes, so background `sleep`s progress.
pub const MS_PER_LINE: u64 = 1000;

/// A background job (`sleep 30 &`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub number: u32,
    pub pid: Pid,
    pub command: String,
}

/// One interactive shell process; `unshare` and `nsenter` push a new one.
#[derive(Clone, Debug)]
pub struct Session {
    /// The shell process.
    pub pid: Pid,
    /// Processes that wait for this shell (unshare, nsenter) and end with it.
    pub wrappers: Vec<Pid>,
    pub jobs: Vec<Job>,
}

/// A shell started by a command, to become the current session.
#[derive(Clone, Debug)]
pub struct NewShell {
    pub pid: Pid,
    pub wrappers: Vec<Pid>,
}

/// What a command runs with: the kernel, the process it runs as, and its output.
pub struct Ctx<'a> {
    pub k: &'a mut Kernel,
    /// The host PID of the process running the command.
    pub pid: Pid,
    pub out: String,
    /// Set by `unshare`/`nsenter` when they start an interactive shell.
    pub new_shell: Option<NewShell>,
    /// The line ended in `&`: a `sleep` reached through `unshare`/`nsenter` starts its
    /// timer and stays, instead of passing the time at once.
    pub background: bool,
}

impl Ctx<'_> {
    /// Appends one line of output.
    pub fn line(&mut self, text: impl AsRef<str>) {
        self.out.push_str(text.as_ref());
        self.out.push('\n');
    }
}

/// The stack of shell sessions over one terminal.
#[derive(Clone, Debug)]
pub struct Shell {
    pub sessions: Vec<Session>,
    pub last_status: i32,
    next_job: u32,
}

/// A command that runs in a child process.
type External = fn(&mut Ctx, &[String]) -> i32;

/// Every external command the shell knows, by name.
fn external(name: &str) -> Option<External> {
    Some(match name {
        "ps" => ps::ps,
        "ip" => ip::ip,
        "ping" => ip::ping,
        "mount" => fs::mount,
        "umount" => fs::umount,
        "pivot_root" => fs::pivot_root,
        "cat" => fs::cat,
        "ls" => fs::ls,
        "readlink" => fs::readlink,
        "mkdir" => fs::mkdir,
        "unshare" => ns_tools::unshare,
        "nsenter" => ns_tools::nsenter,
        "lsns" => ns_tools::lsns,
        "id" => misc::id,
        "whoami" => misc::whoami,
        "hostname" => misc::hostname,
        "domainname" => misc::domainname,
        "uname" => misc::uname,
        "ipcs" => misc::ipcs,
        "ipcmk" => misc::ipcmk,
        "keyctl" => misc::keyctl,
        "memhog" => misc::memhog,
        "tail" => misc::tail,
        "sleep" => misc::sleep,
        "true" => |_, _| 0,
        "false" => |_, _| 1,
        _ => return None,
    })
}

/// The names `help` lists and a UI can complete.
pub const COMMANDS: &[&str] = &[
    "cat",
    "domainname",
    "echo",
    "exit",
    "help",
    "hostname",
    "id",
    "ip",
    "ipcmk",
    "ipcs",
    "jobs",
    "keyctl",
    "kill",
    "ls",
    "lsns",
    "memhog",
    "mkdir",
    "mount",
    "nsenter",
    "ping",
    "pivot_root",
    "ps",
    "readlink",
    "sleep",
    "tail",
    "umount",
    "uname",
    "unshare",
    "wait",
    "whoami",
];

impl Shell {
    /// A shell whose process is `pid`.
    pub fn new(pid: Pid) -> Shell {
        Shell {
            sessions: vec![Session {
                pid,
                wrappers: Vec::new(),
                jobs: Vec::new(),
            }],
            last_status: 0,
            next_job: 1,
        }
    }

    /// The current shell process, or `None` once the last one has exited.
    pub fn pid(&self) -> Option<Pid> {
        self.sessions.last().map(|s| s.pid)
    }

    /// Pushes a shell started elsewhere (for example to enter a container).
    pub fn push(&mut self, new: NewShell) {
        self.sessions.push(Session {
            pid: new.pid,
            wrappers: new.wrappers,
            jobs: Vec::new(),
        });
    }

    /// The prompt, `user@host:~# ` as the current shell would print it.
    pub fn prompt(&self, k: &Kernel) -> String {
        let Some(p) = self.pid().and_then(|pid| k.procs.get(&pid)) else {
            return String::new();
        };
        let uid = k.uid_in(p.uid, p.ns.user);
        let host = k.utsns.get(&p.ns.uts).map_or("?", |u| u.hostname.as_str());
        let user = super::user::user_name(uid);
        let sign = if uid == 0 { "# " } else { "$ " };
        // Pieces pushed rather than formatted: the page asks for it after every line.
        let mut prompt = String::with_capacity(user.len() + host.len() + 5);
        for piece in [user.as_str(), "@", host, ":~", sign] {
            prompt.push_str(piece);
        }
        prompt
    }

    /// Runs one line and returns what the terminal shows.
    pub fn run_line(&mut self, k: &mut Kernel, line: &str) -> String {
        k.advance(MS_PER_LINE);
        let mut out = String::new();
        self.drop_dead_sessions(k, &mut out);
        for (pipeline, and_then) in parse::split_commands(line) {
            if and_then && self.last_status != 0 {
                continue;
            }
            let words = parse::words(pipeline.text, self.last_status, self.dollar_dollar(k));
            let words = match words {
                Ok(w) => w,
                Err(e) => {
                    let _ = writeln!(out, "{SHELL_NAME}: {e}");
                    self.last_status = 2;
                    continue;
                }
            };
            if words.is_empty() {
                continue;
            }
            self.last_status = self.run(k, &words, pipeline.background, &mut out);
            if self.sessions.is_empty() {
                break;
            }
        }
        self.report_jobs(k, &mut out);
        out
    }

    fn dollar_dollar(&self, k: &Kernel) -> u32 {
        self.pid()
            .and_then(|p| k.procs.get(&p))
            .map_or(0, |p| p.inner_pid())
    }

    /// Pops sessions whose shell died (killed, or its pid namespace's init died).
    fn drop_dead_sessions(&mut self, k: &mut Kernel, out: &mut String) {
        while let Some(s) = self.sessions.last() {
            if k.procs.get(&s.pid).is_some_and(|p| p.is_alive()) {
                break;
            }
            let s = self.sessions.pop();
            for w in s.map(|s| s.wrappers).unwrap_or_default().into_iter().rev() {
                k.exit(w, WaitStatus::Exited(137));
            }
            out.push_str("Killed\n");
        }
    }

    fn report_jobs(&mut self, k: &Kernel, out: &mut String) {
        let Some(s) = self.sessions.last_mut() else {
            return;
        };
        s.jobs.retain(|j| {
            let alive = k.procs.get(&j.pid).is_some_and(|p| p.is_alive());
            if !alive {
                let _ = writeln!(
                    out,
                    "[{}]+  Done                    {}",
                    j.number, j.command
                );
            }
            alive
        });
        if s.jobs.is_empty() {
            self.next_job = 1;
        }
    }

    fn run(&mut self, k: &mut Kernel, words: &[String], background: bool, out: &mut String) -> i32 {
        let Some(shell) = self.pid() else {
            return 0;
        };
        let name = words[0].as_str();
        let args = &words[1..];
        match name {
            "exit" | "logout" => return self.exit(k, args),
            "echo" => {
                let _ = writeln!(out, "{}", args.join(" "));
                return 0;
            }
            "help" => {
                out.push_str(&misc::help_text());
                return 0;
            }
            "kill" => return misc::kill(k, shell, args, out),
            "jobs" => {
                if let Some(s) = self.sessions.last() {
                    for j in &s.jobs {
                        let _ = writeln!(
                            out,
                            "[{}]+  Running                 {} &",
                            j.number, j.command
                        );
                    }
                }
                return 0;
            }
            "wait" => {
                while k.wait(shell).is_ok_and(|r| r.is_some()) {}
                return 0;
            }
            "cd" | "export" | "clear" | ":" => return 0,
            _ => {}
        }
        let argv0 = name.rsplit('/').next().unwrap_or(name);
        let Some(command) = external(argv0) else {
            let _ = writeln!(out, "{SHELL_NAME}: {name}: command not found");
            return 127;
        };
        let argv: Vec<&str> = words.iter().map(String::as_str).collect();
        let child = match k.spawn(shell, &argv, true) {
            Ok(c) => c,
            Err(e) => {
                let _ = writeln!(out, "{SHELL_NAME}: fork: {}", fork_error(e));
                return 254;
            }
        };
        if background {
            return self.background(k, child, words, out);
        }
        // The command writes straight into the line's output (no copy of big listings).
        let mut ctx = Ctx {
            k,
            pid: child,
            out: std::mem::take(out),
            new_shell: None,
            background: false,
        };
        let status = command(&mut ctx, args);
        let new_shell = ctx.new_shell.take();
        *out = std::mem::take(&mut ctx.out);
        if let Some(new) = new_shell {
            self.push(new);
            return 0;
        }
        finish_child(k, child, status, out)
    }

    fn background(
        &mut self,
        k: &mut Kernel,
        child: Pid,
        words: &[String],
        out: &mut String,
    ) -> i32 {
        if let Ok(p) = k.proc_mut(child) {
            p.transient = false;
        }
        k.events
            .push(super::kernel::KernelEvent::ProcessStarted(child));
        if words[0] == "sleep" {
            let secs = words
                .get(1)
                .and_then(|s| misc::parse_seconds(s))
                .unwrap_or(0);
            let _ = k.set_timer(child, secs);
        } else {
            // Other commands run to completion at once, their output shown now, but
            // for a `sleep` they end in (`unshare -U sleep 300 &`), which stays.
            let mut ctx = Ctx {
                k,
                pid: child,
                out: String::new(),
                new_shell: None,
                background: true,
            };
            if let Some(f) = external(words[0].rsplit('/').next().unwrap_or("")) {
                let status = f(&mut ctx, &words[1..]);
                out.push_str(&ctx.out);
                let stays = k
                    .procs
                    .get(&child)
                    .is_some_and(|p| p.is_alive() && p.exits_at_ms.is_some());
                if !stays {
                    k.exit(child, WaitStatus::Exited(status));
                }
            }
        }
        let number = self.next_job;
        self.next_job += 1;
        let shown = k.procs.get(&child).map_or(child, |p| p.inner_pid());
        let _ = writeln!(out, "[{number}] {shown}");
        if let Some(s) = self.sessions.last_mut() {
            s.jobs.push(Job {
                number,
                pid: child,
                command: words.join(" "),
            });
        }
        0
    }

    fn exit(&mut self, k: &mut Kernel, args: &[String]) -> i32 {
        let code = args
            .first()
            .and_then(|a| a.parse().ok())
            .unwrap_or(self.last_status);
        if let Some(s) = self.sessions.pop() {
            k.exit(s.pid, WaitStatus::Exited(code));
            for w in s.wrappers.into_iter().rev() {
                k.exit(w, WaitStatus::Exited(code));
            }
        }
        code
    }
}

/// Ends a foreground child with `status` unless it already died (OOM, signal), and
/// returns what `$?` becomes.
pub(crate) fn finish_child(k: &mut Kernel, child: Pid, status: i32, out: &mut String) -> i32 {
    let state = k.procs.get(&child).map(|p| (p.is_alive(), p.exit));
    match state {
        Some((true, _)) => {
            k.exit(child, WaitStatus::Exited(status));
            status
        }
        Some((false, Some(WaitStatus::Signaled(sig)))) => {
            out.push_str("Killed\n");
            128 + sig
        }
        // Already reaped: a status past 128 means a signal (the OOM killer) ended it.
        _ => {
            if status > 128 {
                out.push_str("Killed\n");
            }
            status
        }
    }
}

/// How bash words a failed fork.
pub(crate) fn fork_error(e: Errno) -> String {
    match e {
        Errno::EAGAIN => "retry: Resource temporarily unavailable".to_string(),
        other => other.to_string(),
    }
}

/// Whether a memory allocation result means the process was OOM-killed.
pub(crate) fn was_oom(r: &Result<AllocOutcome, Errno>) -> bool {
    matches!(r, Ok(AllocOutcome::OomKilled))
}
