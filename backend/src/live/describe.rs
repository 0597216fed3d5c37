//! A container's full state: its record plus what the kernel shows now.

use isolab_shared::{ContainerState, ContainerStatus};

use crate::observe;
use crate::runtime::describe::state_of;
use crate::runtime::ContainerRecord;

/// The record, with processes, namespaces, interfaces and isolation facts read now.
/// Blocks on /proc reads: call from a blocking thread.
pub fn observe_container(record: &ContainerRecord) -> ContainerState {
    let mut state = state_of(record);
    let Some(init) = state
        .init_pid
        .filter(|_| state.status != ContainerStatus::Exited)
    else {
        return state;
    };
    let members = record
        .cgroup
        .as_ref()
        .map(|cg| cg.pids())
        .unwrap_or_default();
    state.processes = if members.is_empty() {
        observe::processes_in_container(init)
    } else {
        observe::processes_in_group(init, &members)
    };
    state.namespaces = observe::namespaces_of(init).unwrap_or_default();
    state.interfaces = observe::interfaces_of(init).unwrap_or_default();
    // The command (init's first child) shows the hardening that applies inside; the
    // record adds what only the runtime knows (masked and read-only paths).
    let command_pid = state
        .processes
        .iter()
        .find(|p| p.ppid == init)
        .map(|p| p.host_pid)
        .unwrap_or(init);
    if let Ok(facts) = observe::isolation_facts_of(command_pid) {
        let recorded = &record.isolation;
        state.isolation = isolab_shared::IsolationFacts {
            masked_paths: recorded.masked_paths.clone(),
            readonly_paths: recorded.readonly_paths.clone(),
            ..facts
        };
    }
    state
}
