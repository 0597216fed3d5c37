//! Writing limits into a container's group: the writes of
//! [`isolab_shared::plan::limits`] (which file, which value, in which order, per cgroup
//! version), given the group's directories and what the kernel shows in them.

use std::path::Path;

use isolab_shared::limits::Limits;
use isolab_shared::plan::limits::{
    cpu_writes, memory_writes, pids_writes, GroupVersion, LimitWrite, MemoryFacts,
};

use super::{write_file, CgroupError, ContainerCgroup, Controller};
use crate::runtime::steps::StepLog;

/// Writes `limits` into `cgroup`. With `write_unlimited` false (a fresh group, which
/// starts unlimited), limits that are `None` are not written.
pub(super) fn apply(
    cgroup: &ContainerCgroup,
    limits: &Limits,
    write_unlimited: bool,
    log: &mut StepLog,
) -> Result<(), CgroupError> {
    let mut writes = Vec::new();
    if limits.pids.is_some() || write_unlimited {
        if let Some((_, dir)) = needed(cgroup, Controller::Pids, limits.pids.is_some())? {
            writes.extend(pids_writes(&dir, limits.pids));
        }
    }
    if limits.memory_bytes.is_some() || write_unlimited {
        let wanted = limits.memory_bytes.is_some();
        if let Some((version, dir)) = needed(cgroup, Controller::Memory, wanted)? {
            let facts = memory_facts(version, &dir);
            writes.extend(memory_writes(version, &dir, limits.memory_bytes, facts));
        }
    }
    if limits.cpus.is_some() || write_unlimited {
        if let Some((version, dir)) = needed(cgroup, Controller::Cpu, limits.cpus.is_some())? {
            writes.extend(cpu_writes(version, &dir, limits.cpus));
        }
    }
    writes.iter().try_for_each(|w| write_step(log, w))
}

/// What the memory group at `dir` shows that its writes depend on.
fn memory_facts(version: GroupVersion, dir: &Path) -> MemoryFacts {
    match version {
        GroupVersion::V2 => MemoryFacts {
            swap_file: dir.join("memory.swap.max").exists(),
            ..MemoryFacts::default()
        },
        GroupVersion::V1 => {
            let memsw_file = dir.join("memory.memsw.limit_in_bytes").exists();
            // The current limit matters only to the order of the two writes.
            let current_bytes = memsw_file
                .then(|| std::fs::read_to_string(dir.join("memory.limit_in_bytes")).ok())
                .flatten()
                .and_then(|s| s.trim().parse::<u64>().ok());
            MemoryFacts {
                memsw_file,
                current_bytes,
                ..MemoryFacts::default()
            }
        }
    }
}

/// The version and directory of `controller`'s group; an error if a limit is wanted
/// and there is none.
fn needed(
    cgroup: &ContainerCgroup,
    controller: Controller,
    wanted: bool,
) -> Result<Option<(GroupVersion, std::path::PathBuf)>, CgroupError> {
    match cgroup.dir_of(controller) {
        Some(dir) => Ok(Some((dir.version.into(), dir.path.clone()))),
        None if wanted => Err(CgroupError::ControllerMissing(controller)),
        None => Ok(None),
    }
}

fn write_step(log: &mut StepLog, write: &LimitWrite) -> Result<(), CgroupError> {
    log.record(write.phase(), write.name, write.call(), || {
        write_file(&write.file, &write.value)
    })
}
