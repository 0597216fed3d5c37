//! Writing limits into a container's group: which file, which value, in which order,
//! for cgroup v1 and v2.

use std::path::Path;

use isolab_shared::limits::Limits;
use isolab_shared::SetupPhase;

use super::{write_file, CgroupError, CgroupVersion, ContainerCgroup, Controller};
use crate::runtime::steps::StepLog;

/// The CFS period isolab uses; the quota is `cpus` times this.
pub const CPU_PERIOD_US: u64 = 100_000;
/// The kernel refuses quotas below 1 ms.
const MIN_CPU_QUOTA_US: u64 = 1_000;

/// Writes `limits` into `cgroup`. With `write_unlimited` false (a fresh group, which
/// starts unlimited), limits that are `None` are not written.
pub(super) fn apply(
    cgroup: &ContainerCgroup,
    limits: &Limits,
    write_unlimited: bool,
    log: &mut StepLog,
) -> Result<(), CgroupError> {
    if limits.pids.is_some() || write_unlimited {
        if let Some(dir) = needed(cgroup, Controller::Pids, limits.pids.is_some())? {
            let value = limits.pids.map_or("max".to_string(), |p| p.to_string());
            write_step(log, "limit pids", &dir.join("pids.max"), &value)?;
        }
    }
    if limits.memory_bytes.is_some() || write_unlimited {
        let wanted = limits.memory_bytes.is_some();
        if let Some((version, dir)) = needed_versioned(cgroup, Controller::Memory, wanted)? {
            match version {
                CgroupVersion::V2 => memory_v2(&dir, limits.memory_bytes, log)?,
                CgroupVersion::V1 => memory_v1(&dir, limits.memory_bytes, log)?,
            }
        }
    }
    if limits.cpus.is_some() || write_unlimited {
        let wanted = limits.cpus.is_some();
        if let Some((version, dir)) = needed_versioned(cgroup, Controller::Cpu, wanted)? {
            let quota = limits.cpus.map(cpu_quota_us);
            match version {
                CgroupVersion::V2 => {
                    let value = match quota {
                        Some(q) => format!("{q} {CPU_PERIOD_US}"),
                        None => format!("max {CPU_PERIOD_US}"),
                    };
                    write_step(log, "limit cpu", &dir.join("cpu.max"), &value)?;
                }
                CgroupVersion::V1 => {
                    if quota.is_some() {
                        let period = CPU_PERIOD_US.to_string();
                        write_step(log, "cpu period", &dir.join("cpu.cfs_period_us"), &period)?;
                    }
                    let value = quota.map_or("-1".to_string(), |q| q.to_string());
                    write_step(log, "limit cpu", &dir.join("cpu.cfs_quota_us"), &value)?;
                }
            }
        }
    }
    Ok(())
}

/// The CFS quota for `cpus` cores per [`CPU_PERIOD_US`].
pub fn cpu_quota_us(cpus: f64) -> u64 {
    // Limits are range-checked (0.01..=1024 cores), so this cannot overflow.
    let quota = (cpus * CPU_PERIOD_US as f64).round() as u64;
    quota.max(MIN_CPU_QUOTA_US)
}

fn needed(
    cgroup: &ContainerCgroup,
    controller: Controller,
    wanted: bool,
) -> Result<Option<std::path::PathBuf>, CgroupError> {
    Ok(needed_versioned(cgroup, controller, wanted)?.map(|(_, d)| d))
}

/// The directory for `controller`; an error if a limit is wanted and there is none.
fn needed_versioned(
    cgroup: &ContainerCgroup,
    controller: Controller,
    wanted: bool,
) -> Result<Option<(CgroupVersion, std::path::PathBuf)>, CgroupError> {
    match cgroup.dir_of(controller) {
        Some(dir) => Ok(Some((dir.version, dir.path.clone()))),
        None if wanted => Err(CgroupError::ControllerMissing(controller)),
        None => Ok(None),
    }
}

fn memory_v2(dir: &Path, bytes: Option<u64>, log: &mut StepLog) -> Result<(), CgroupError> {
    let value = bytes.map_or("max".to_string(), |b| b.to_string());
    write_step(log, "limit memory", &dir.join("memory.max"), &value)?;
    // Without swap the OOM killer acts at the limit instead of the group swapping.
    let swap = dir.join("memory.swap.max");
    if swap.exists() {
        let value = if bytes.is_some() { "0" } else { "max" };
        write_step(log, "forbid swap", &swap, value)?;
    }
    Ok(())
}

/// v1 keeps memsw.limit (memory + swap) >= limit at all times, so the order of the two
/// writes depends on whether the limit goes up or down.
fn memory_v1(dir: &Path, bytes: Option<u64>, log: &mut StepLog) -> Result<(), CgroupError> {
    let mem = dir.join("memory.limit_in_bytes");
    let memsw = dir.join("memory.memsw.limit_in_bytes");
    let value = bytes.map_or("-1".to_string(), |b| b.to_string());
    if !memsw.exists() {
        return write_step(log, "limit memory", &mem, &value);
    }
    let current = std::fs::read_to_string(&mem)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    if bytes.unwrap_or(u64::MAX) >= current {
        write_step(log, "limit memory+swap", &memsw, &value)?;
        write_step(log, "limit memory", &mem, &value)
    } else {
        write_step(log, "limit memory", &mem, &value)?;
        write_step(log, "limit memory+swap", &memsw, &value)
    }
}

fn write_step(log: &mut StepLog, name: &str, file: &Path, value: &str) -> Result<(), CgroupError> {
    log.record(
        SetupPhase::Limits,
        name,
        format!("write(\"{}\", \"{value}\")", file.display()),
        || write_file(file, value),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_quota_scales_with_cores_and_has_a_floor() {
        assert_eq!(cpu_quota_us(0.5), 50_000);
        assert_eq!(cpu_quota_us(2.0), 200_000);
        assert_eq!(cpu_quota_us(0.001), MIN_CPU_QUOTA_US);
    }
}
