//! Builds the full [`ContainerState`] of a container: its record from the state dir
//! plus what the kernel shows now (processes, namespaces, cgroup usage, interfaces).

use isolab_shared::{ContainerState, ContainerStatus};

use crate::observe;

use super::state::ContainerRecord;
use super::{cleanup, RuntimeConfig, RuntimeError};

/// The state of container `id_or_name`, observed now.
pub fn describe(config: &RuntimeConfig, id_or_name: &str) -> Result<ContainerState, RuntimeError> {
    let record = cleanup::find(config, id_or_name)?;
    Ok(state_of(&record))
}

/// Combines a record with live observation of its init (when it still runs): its
/// processes, namespaces, interfaces and current security facts.
pub fn state_of(record: &ContainerRecord) -> ContainerState {
    let alive = record.init_alive();
    let status = match record.status {
        ContainerStatus::Running | ContainerStatus::Created if !alive => ContainerStatus::Exited,
        s => s,
    };
    let cgroup = record.cgroup.as_ref().map(|cg| cg.usage());
    let live = record.init_pid.filter(|_| alive);
    // The cgroup's members include processes started by `exec`, which are not
    // descendants of init; without a cgroup, walk init's tree.
    let processes = match (live, &record.cgroup) {
        (Some(init), Some(cg)) => observe::processes_in_group(init, &cg.pids()),
        (Some(init), None) => observe::processes_in_container(init),
        (None, _) => Vec::new(),
    };
    // The command (init's first child) shows the hardening that applies inside; the
    // record adds what only the runtime knows (masked and read-only paths, the
    // seccomp filter's counts, the device rules).
    let command_pid = live.map(|init| {
        processes
            .iter()
            .find(|p| p.ppid == init)
            .map_or(init, |p| p.host_pid)
    });
    let mut isolation = record.isolation.clone();
    if let Some(live_facts) = command_pid.and_then(|pid| observe::isolation_facts_of(pid).ok()) {
        isolation = isolab_shared::IsolationFacts {
            masked_paths: isolation.masked_paths,
            readonly_paths: isolation.readonly_paths,
            seccomp_allowed: isolation.seccomp_allowed,
            seccomp_blocked: isolation.seccomp_blocked,
            devices: isolation.devices,
            ..live_facts
        };
    }
    ContainerState {
        id: record.id.clone(),
        name: record.name.clone(),
        spec: record.spec.clone(),
        status,
        exit: record.exit.clone(),
        init_pid: live,
        created_at_ms: record.created_at_ms,
        started_at_ms: record.started_at_ms,
        processes,
        namespaces: live
            .and_then(|pid| observe::namespaces_of(pid).ok())
            .unwrap_or_default(),
        cgroup,
        interfaces: live
            .and_then(|pid| observe::interfaces_of(pid).ok())
            .unwrap_or_default(),
        setup: record.setup.clone(),
        isolation,
        // Ownership is the classroom's; the server fills it in.
        owner: None,
        setup_us: record.setup.iter().map(|s| s.duration_us).sum(),
    }
}
