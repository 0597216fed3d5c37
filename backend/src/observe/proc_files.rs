//! Small, allocation-light parsers for the /proc files isolab reads every tick.
//!
//! Hand-written rather than procfs's full structs: the server reads these for every
//! process of up to 100 containers each tick, and needs only a few lines of each.

use std::path::{Path, PathBuf};

use isolab_shared::IdMapEntry;

use super::{read_proc, ObserveError};

/// The lines of /proc/PID/status isolab uses.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProcStatus {
    /// `comm`, the executable's short name.
    pub name: String,
    /// The state letter (R, S, D, Z, T...).
    pub state: char,
    pub ppid: u32,
    /// The real uid.
    pub uid: u32,
    /// The PID in each pid namespace, from the reader's outward.
    pub nspid: Vec<u32>,
    pub cap_eff: u64,
    pub cap_bnd: u64,
    pub no_new_privs: bool,
    /// 0 disabled, 1 strict, 2 filter.
    pub seccomp: u8,
    /// How many threads the process has.
    pub threads: u32,
}

/// The path of a file of process `pid`.
pub fn proc_path(pid: u32, file: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/{file}"))
}

/// Reads and parses /proc/PID/status.
pub fn read_status(pid: u32) -> Result<ProcStatus, ObserveError> {
    let path = proc_path(pid, "status");
    let text = read_proc(pid, &path)?;
    parse_status(&text).ok_or_else(|| ObserveError::Parse {
        path,
        what: "no State line".to_string(),
    })
}

/// Parses the text of /proc/PID/status; `None` if it has no State line.
pub fn parse_status(text: &str) -> Option<ProcStatus> {
    let mut status = ProcStatus::default();
    let mut has_state = false;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "Name" => status.name = value.to_string(),
            "State" => {
                status.state = value.chars().next()?;
                has_state = true;
            }
            "PPid" => status.ppid = value.parse().ok()?,
            "Uid" => status.uid = value.split_whitespace().next()?.parse().ok()?,
            "NSpid" => {
                status.nspid = value
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect();
            }
            "CapEff" => status.cap_eff = u64::from_str_radix(value, 16).ok()?,
            "CapBnd" => status.cap_bnd = u64::from_str_radix(value, 16).ok()?,
            "NoNewPrivs" => status.no_new_privs = value == "1",
            "Seccomp" => status.seccomp = value.parse().ok()?,
            "Threads" => status.threads = value.parse().ok()?,
            _ => {}
        }
    }
    has_state.then_some(status)
}

/// The fields of /proc/PID/stat isolab uses: cheaper to read than status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub state: char,
    pub ppid: u32,
    /// The kernel's PF_* flags of the task.
    pub flags: u64,
}

/// `PF_KTHREAD`: set on kernel threads.
pub const PF_KTHREAD: u64 = 0x0020_0000;

impl ProcStat {
    /// Whether this is a kernel thread (kthreadd and its children).
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

/// Reads and parses /proc/PID/stat.
pub fn read_stat(pid: u32) -> Result<ProcStat, ObserveError> {
    let path = proc_path(pid, "stat");
    let text = read_proc(pid, &path)?;
    parse_stat(&text).ok_or_else(|| ObserveError::Parse {
        path,
        what: "too few fields".to_string(),
    })
}

/// Parses /proc/PID/stat: `pid (comm) state ppid pgrp session tty tpgid flags ...`.
/// comm may hold spaces and parentheses, so fields are counted after the last ')'.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let flags = fields.nth(4)?.parse().ok()?;
    Some(ProcStat { state, ppid, flags })
}

/// The command line with arguments joined by spaces, or `[comm]` when it is empty
/// (kernel threads, zombies).
pub fn read_cmdline(pid: u32, comm: &str) -> Result<String, ObserveError> {
    let path = proc_path(pid, "cmdline");
    let raw = std::fs::read(&path).map_err(|e| super::proc_error(pid, &path, e))?;
    Ok(format_cmdline(&raw, comm))
}

/// Joins NUL-separated arguments with spaces; `[comm]` when there are none.
pub fn format_cmdline(raw: &[u8], comm: &str) -> String {
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if args.is_empty() {
        format!("[{comm}]")
    } else {
        args.join(" ")
    }
}

/// Parses a uid_map or gid_map: lines of `inside outside count`.
pub fn parse_id_map(text: &str) -> Vec<IdMapEntry> {
    text.lines()
        .filter_map(|line| {
            let mut n = line.split_whitespace().map(|f| f.parse::<u32>().ok());
            Some(IdMapEntry {
                inside: n.next()??,
                outside: n.next()??,
                count: n.next()??,
            })
        })
        .collect()
}

/// The isolab container a process belongs to, from its cgroup path (`…/isolab/<id>`).
pub fn container_of(pid: u32) -> Option<String> {
    let text = std::fs::read_to_string(proc_path(pid, "cgroup")).ok()?;
    text.lines().find_map(|line| {
        let path = line.splitn(3, ':').nth(2)?;
        let rest = path.split("/isolab/").nth(1)?;
        let id = rest.split('/').next()?;
        (!id.is_empty()).then(|| id.to_string())
    })
}

/// Every PID in /proc, unsorted; threads are not listed there.
pub fn all_pids() -> Vec<u32> {
    list_pids(Path::new("/proc"))
}

/// The numeric entries of a directory such as /proc or /proc/PID/task.
pub fn list_pids(dir: &Path) -> Vec<u32> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse() {
        let text = "Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t7\nPPid:\t3\n\
                    Uid:\t1000\t1000\t1000\t1000\nNSpid:\t4242\t7\t1\nThreads:\t1\nCapEff:\t00000000a80425fb\n\
                    CapBnd:\t000001ffffffffff\nNoNewPrivs:\t1\nSeccomp:\t2\n";
        let s = parse_status(text).expect("parses");
        assert_eq!(s.name, "sleep");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 3);
        assert_eq!(s.uid, 1000);
        assert_eq!(s.nspid, vec![4242, 7, 1]);
        assert_eq!(s.cap_eff, 0xa80425fb);
        assert!(s.no_new_privs);
        assert_eq!(s.seccomp, 2);
        assert_eq!(s.threads, 1);
        assert_eq!(parse_status("Name:\tx\n"), None);
    }

    #[test]
    fn stat_survives_odd_comm_names() {
        let text = "42 (a) b (c)) R 7 42 42 0 -1 2097216 0 0 0 0";
        let s = parse_stat(text).expect("parses");
        assert_eq!(s.state, 'R');
        assert_eq!(s.ppid, 7);
        assert!(s.is_kernel_thread());
        assert_eq!(parse_stat("1 (init) S"), None);
    }

    #[test]
    fn cmdline_and_id_maps() {
        assert_eq!(format_cmdline(b"sleep\x0030\x00", "sleep"), "sleep 30");
        assert_eq!(format_cmdline(b"", "kworker/0:1"), "[kworker/0:1]");
        let map = parse_id_map("         0     100000      65536\n");
        assert_eq!(
            map,
            vec![IdMapEntry {
                inside: 0,
                outside: 100000,
                count: 65536
            }]
        );
        assert!(parse_id_map("garbage\n").is_empty());
    }
}
