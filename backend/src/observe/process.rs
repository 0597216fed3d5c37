//! One process as the host sees it, and a container's whole process tree.
//!
//! The tree is walked down from the container's init through
//! /proc/PID/task/TID/children, so the cost grows with the container's processes,
//! not the host's; kernels without CONFIG_PROC_CHILDREN fall back to one scan of /proc.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::OnceLock;

use isolab_shared::{NamespaceIds, ProcessInfo};

use super::namespaces::namespaces_of;
use super::proc_files::{all_pids, list_pids, read_cmdline, read_stat, read_status};
use super::ObserveError;

/// Host PID, NSpid chain, parent, command line, state, uid and namespaces of `pid`.
pub fn process_info(pid: u32) -> Result<ProcessInfo, ObserveError> {
    read_process(pid).map(|(info, _)| info)
}

/// [`process_info`] and the thread count, from one read of status.
fn read_process(pid: u32) -> Result<(ProcessInfo, u32), ObserveError> {
    let status = read_status(pid)?;
    let cmdline = read_cmdline(pid, &status.name)?;
    // Hidden links (ptrace rules, sandboxes) leave the map empty, not the process out.
    let namespaces = match namespaces_of(pid) {
        Ok(ids) => ids,
        Err(ObserveError::Read { .. }) => NamespaceIds::new(),
        Err(e) => return Err(e),
    };
    let nspid = if status.nspid.is_empty() {
        vec![pid]
    } else {
        status.nspid
    };
    let info = ProcessInfo {
        host_pid: pid,
        nspid,
        ppid: status.ppid,
        cmdline,
        state: status.state.to_string(),
        uid: status.uid,
        namespaces,
    };
    Ok((info, status.threads))
}

/// `init_pid` and all its descendants, init first; processes that vanish meanwhile
/// are skipped. Each process's files are read once, for its info and its children.
pub fn processes_in_container(init_pid: u32) -> Vec<ProcessInfo> {
    if !children_files_exist() {
        return processes_by_pid(&descendants_by_scan(init_pid));
    }
    let mut seen = HashSet::from([init_pid]);
    let mut queue = VecDeque::from([init_pid]);
    let mut found = Vec::new();
    while let Some(pid) = queue.pop_front() {
        let Ok((info, threads)) = read_process(pid) else {
            continue;
        };
        // Single-threaded (the usual case): its one task's file, no directory listing.
        let children = if threads == 1 {
            read_children(&format!("/proc/{pid}/task/{pid}/children"))
        } else {
            children_of(pid)
        };
        for child in children {
            // A set guards against loops made by PID reuse during the walk.
            if seen.insert(child) {
                queue.push_back(child);
            }
        }
        found.push(info);
    }
    found
}

/// The processes of a container known by its cgroup: `init_pid` first, then the other
/// `members` (from `ContainerCgroup::pids`) by PID. Cheaper than walking the tree, and
/// it keeps orphans that were reparented outside the container.
pub fn processes_in_group(init_pid: u32, members: &[u32]) -> Vec<ProcessInfo> {
    let mut pids = Vec::with_capacity(members.len() + 1);
    pids.push(init_pid);
    let mut rest: Vec<u32> = members.iter().copied().filter(|p| *p != init_pid).collect();
    rest.sort_unstable();
    pids.extend(rest);
    processes_by_pid(&pids)
}

/// [`process_info`] of each PID (for example a cgroup's members), skipping the
/// ones that have exited.
pub fn processes_by_pid(pids: &[u32]) -> Vec<ProcessInfo> {
    pids.iter().filter_map(|p| process_info(*p).ok()).collect()
}

/// `root` and every descendant, breadth first; empty when `root` does not exist.
pub fn descendants(root: u32) -> Vec<u32> {
    if !Path::new(&format!("/proc/{root}")).exists() {
        return Vec::new();
    }
    if !children_files_exist() {
        return descendants_by_scan(root);
    }
    let mut seen = HashSet::from([root]);
    let mut order = vec![root];
    let mut queue = VecDeque::from([root]);
    while let Some(pid) = queue.pop_front() {
        for child in children_of(pid) {
            // A set guards against loops made by PID reuse during the walk.
            if seen.insert(child) {
                order.push(child);
                queue.push_back(child);
            }
        }
    }
    order
}

/// The children of every thread of `pid` (a child belongs to the thread that forked it).
fn children_of(pid: u32) -> Vec<u32> {
    let task_dir = format!("/proc/{pid}/task");
    let mut children = Vec::new();
    for tid in list_pids(Path::new(&task_dir)) {
        children.extend(read_children(&format!("{task_dir}/{tid}/children")));
    }
    children
}

/// The PIDs in one /proc/PID/task/TID/children file; none if it is gone.
fn read_children(path: &str) -> Vec<u32> {
    std::fs::read_to_string(path)
        .map(|text| {
            text.split_whitespace()
                .filter_map(|c| c.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn children_files_exist() -> bool {
    static EXIST: OnceLock<bool> = OnceLock::new();
    *EXIST.get_or_init(|| Path::new("/proc/thread-self/children").exists())
}

/// The fallback: one pass over /proc for every parent, then a walk of the tree.
fn descendants_by_scan(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for pid in all_pids() {
        if let Ok(stat) = read_stat(pid) {
            children.entry(stat.ppid).or_default().push(pid);
        }
    }
    let mut seen = HashSet::from([root]);
    let mut order = vec![root];
    let mut queue = VecDeque::from([root]);
    while let Some(pid) = queue.pop_front() {
        let mut kids = children.remove(&pid).unwrap_or_default();
        kids.sort_unstable();
        for child in kids {
            if seen.insert(child) {
                order.push(child);
                queue.push_back(child);
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_and_the_scan_agree() {
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "sleep 30 & sleep 31 & wait"])
            .spawn()
            .expect("spawn sh");
        let pid = child.id();
        let start = std::time::Instant::now();
        let mut walked = descendants(pid);
        while walked.len() < 3 && start.elapsed().as_secs() < 5 {
            std::thread::sleep(std::time::Duration::from_millis(10));
            walked = descendants(pid);
        }
        let mut scanned = descendants_by_scan(pid);
        // End the sleeps this test started, by PID.
        for p in walked.iter().skip(1) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*p as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(walked.len(), 3, "{walked:?}");
        assert_eq!(walked[0], pid);
        walked.sort_unstable();
        scanned.sort_unstable();
        assert_eq!(walked, scanned);
    }
}
