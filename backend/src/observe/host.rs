//! The host as a whole: its name and kernel, init's namespaces, and a process summary.

use std::collections::BTreeMap;

use isolab_shared::{HostState, NamespaceKind};

use super::namespaces::{namespace_of, namespaces_of};
use super::proc_files::{all_pids, container_of, read_stat};
use super::process::process_info;
use crate::sysinfo;

/// Hostname, kernel, PID 1's namespaces, process counts per state, and the host's own
/// processes: every process but kernel threads and those in isolab's containers (in
/// a pid namespace of their own and an isolab cgroup), so namespaces made by hand or
/// by another runtime show too.
///
/// Where the kernel hides PID 1's namespace links (some sandboxes do, even from root),
/// isolab's own namespaces stand in for the initial ones.
pub fn host_state() -> HostState {
    let namespaces = match namespaces_of(1) {
        Ok(ids) if !ids.is_empty() => ids,
        _ => namespaces_of(std::process::id()).unwrap_or_default(),
    };
    let init_pid_ns = namespaces.get(&NamespaceKind::Pid).copied();
    let mut pids = all_pids();
    pids.sort_unstable();
    let mut process_count = 0;
    let mut process_states: BTreeMap<String, u32> = BTreeMap::new();
    let mut processes = Vec::new();
    for pid in pids {
        // A process that exits during the scan is simply not counted.
        let Ok(stat) = read_stat(pid) else {
            continue;
        };
        process_count += 1;
        *process_states.entry(stat.state.to_string()).or_default() += 1;
        if stat.is_kernel_thread() {
            continue;
        }
        // A hidden link (PID 1 in some sandboxes) cannot belong to a container isolab made.
        let same_pid_ns = match namespace_of(pid, NamespaceKind::Pid) {
            Ok(Some(ns)) => Some(ns) == init_pid_ns,
            _ => true,
        };
        // In a pid namespace of its own but in no isolab container: namespaces made by
        // hand (`unshare -p -f`) or by another runtime, which the map draws too.
        if same_pid_ns || container_of(pid).is_none() {
            if let Ok(info) = process_info(pid) {
                processes.push(info);
            }
        }
    }
    HostState {
        hostname: sysinfo::hostname(),
        kernel_release: sysinfo::kernel_release(),
        namespaces,
        process_count,
        process_states,
        processes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_shows_init_and_this_process_but_no_kernel_threads() {
        let host = host_state();
        assert!(!host.hostname.is_empty());
        assert_eq!(host.namespaces.len(), NamespaceKind::ALL.len());
        assert!(host.process_count as usize >= host.processes.len());
        assert_eq!(
            host.process_states.values().sum::<u32>(),
            host.process_count
        );
        let me = std::process::id();
        assert!(host.processes.iter().any(|p| p.host_pid == 1));
        assert!(host.processes.iter().any(|p| p.host_pid == me));
        // kthreadd (PID 2) and its children are kernel threads.
        assert!(host.processes.iter().all(|p| p.host_pid != 2));
        assert!(host.processes.iter().all(|p| p.ppid != 2));
    }
}
