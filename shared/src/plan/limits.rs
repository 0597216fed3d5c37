//! The writes that set a container's limits: which file of its group, which value, in
//! which order, for cgroup v1 and v2. The runtime writes them into the kernel's groups
//! (at creation and on every change); the simulator records the same writes for its
//! model host. What the writes depend on besides the limits (the version of the
//! controller's hierarchy, whether a swap file exists, the current v1 memory limit)
//! arrives as [`MemoryFacts`] and [`GroupVersion`], read by the runtime, modelled by
//! the simulator.

use std::path::{Path, PathBuf};

use crate::protocol::SetupPhase;

/// The CFS period isolab uses; the quota is `cpus` times this.
pub const CPU_PERIOD_US: u64 = 100_000;
/// The kernel refuses quotas below 1 ms.
const MIN_CPU_QUOTA_US: u64 = 1_000;

/// The CFS quota for `cpus` cores per [`CPU_PERIOD_US`], with the kernel's 1 ms floor.
pub fn cpu_quota_us(cpus: f64) -> u64 {
    // Limits are range-checked (0.01..=1024 cores), so this cannot overflow.
    let quota = (cpus * CPU_PERIOD_US as f64).round() as u64;
    quota.max(MIN_CPU_QUOTA_US)
}

/// The cgroup version of the hierarchy that holds a controller's group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupVersion {
    V1,
    V2,
}

/// What a memory limit's writes depend on in its group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryFacts {
    /// v2: the group has `memory.swap.max` (swap accounting is on).
    pub swap_file: bool,
    /// v1: the group has `memory.memsw.limit_in_bytes` (swap accounting is on).
    pub memsw_file: bool,
    /// v1: the group's memory limit now (`None`: unlimited or unreadable).
    pub current_bytes: Option<u64>,
}

/// One write of a limit into a file of a container's group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitWrite {
    /// The step's name, as both sides record it (`limit pids`, `forbid swap`, …).
    pub name: &'static str,
    pub file: PathBuf,
    pub value: String,
}

impl LimitWrite {
    fn new(name: &'static str, dir: &Path, file: &str, value: impl Into<String>) -> Self {
        LimitWrite {
            name,
            file: dir.join(file),
            value: value.into(),
        }
    }

    /// The phase of a limit's step.
    pub fn phase(&self) -> SetupPhase {
        SetupPhase::Limits
    }

    /// The call as the setup steps show it.
    pub fn call(&self) -> String {
        format!("write(\"{}\", \"{}\")", self.file.display(), self.value)
    }
}

/// The pids limit's write into the pids group at `dir` (`None`: unlimited).
pub fn pids_writes(dir: &Path, pids: Option<u64>) -> Vec<LimitWrite> {
    let value = pids.map_or("max".to_string(), |p| p.to_string());
    vec![LimitWrite::new("limit pids", dir, "pids.max", value)]
}

/// The memory limit's writes into the memory group at `dir` (`None`: unlimited).
pub fn memory_writes(
    version: GroupVersion,
    dir: &Path,
    bytes: Option<u64>,
    facts: MemoryFacts,
) -> Vec<LimitWrite> {
    match version {
        GroupVersion::V2 => {
            let value = bytes.map_or("max".to_string(), |b| b.to_string());
            let mut writes = vec![LimitWrite::new("limit memory", dir, "memory.max", value)];
            // Without swap the OOM killer acts at the limit instead of the group swapping.
            if facts.swap_file {
                let swap = if bytes.is_some() { "0" } else { "max" };
                writes.push(LimitWrite::new("forbid swap", dir, "memory.swap.max", swap));
            }
            writes
        }
        GroupVersion::V1 => {
            let value = bytes.map_or("-1".to_string(), |b| b.to_string());
            let mem = LimitWrite::new("limit memory", dir, "memory.limit_in_bytes", &value);
            if !facts.memsw_file {
                return vec![mem];
            }
            let memsw = LimitWrite::new(
                "limit memory+swap",
                dir,
                "memory.memsw.limit_in_bytes",
                value,
            );
            // v1 keeps memsw.limit (memory + swap) >= limit at all times, so the order
            // of the two writes depends on whether the limit goes up or down.
            if bytes.unwrap_or(u64::MAX) >= facts.current_bytes.unwrap_or(u64::MAX) {
                vec![memsw, mem]
            } else {
                vec![mem, memsw]
            }
        }
    }
}

/// The cpu limit's writes into the cpu group at `dir` (`None`: unlimited).
pub fn cpu_writes(version: GroupVersion, dir: &Path, cpus: Option<f64>) -> Vec<LimitWrite> {
    let quota = cpus.map(cpu_quota_us);
    match version {
        GroupVersion::V2 => {
            let value = match quota {
                Some(q) => format!("{q} {CPU_PERIOD_US}"),
                None => format!("max {CPU_PERIOD_US}"),
            };
            vec![LimitWrite::new("limit cpu", dir, "cpu.max", value)]
        }
        GroupVersion::V1 => {
            let mut writes = Vec::new();
            if quota.is_some() {
                let period = CPU_PERIOD_US.to_string();
                writes.push(LimitWrite::new(
                    "cpu period",
                    dir,
                    "cpu.cfs_period_us",
                    period,
                ));
            }
            let value = quota.map_or("-1".to_string(), |q| q.to_string());
            writes.push(LimitWrite::new("limit cpu", dir, "cpu.cfs_quota_us", value));
            writes
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_memory_raises_memsw_first_and_lowers_it_last() {
        let dir = Path::new("/g");
        let facts = |current| MemoryFacts {
            memsw_file: true,
            current_bytes: current,
            ..MemoryFacts::default()
        };
        let names = |w: Vec<LimitWrite>| w.iter().map(|w| w.name).collect::<Vec<_>>();
        let up = memory_writes(GroupVersion::V1, dir, Some(200), facts(Some(100)));
        assert_eq!(names(up), ["limit memory+swap", "limit memory"]);
        let down = memory_writes(GroupVersion::V1, dir, Some(50), facts(Some(100)));
        assert_eq!(names(down), ["limit memory", "limit memory+swap"]);
        let off = memory_writes(GroupVersion::V1, dir, None, MemoryFacts::default());
        assert_eq!(off[0].call(), "write(\"/g/memory.limit_in_bytes\", \"-1\")");
    }

    #[test]
    fn cpu_quotas_have_the_kernels_floor() {
        assert_eq!(cpu_quota_us(0.5), 50_000);
        assert_eq!(cpu_quota_us(0.001), 1_000);
        let v2 = cpu_writes(GroupVersion::V2, Path::new("/g"), Some(1.5));
        assert_eq!(v2[0].call(), "write(\"/g/cpu.max\", \"150000 100000\")");
        let v1 = cpu_writes(GroupVersion::V1, Path::new("/g"), None);
        assert_eq!(v1.len(), 1, "no period when unlimited");
        assert_eq!(v1[0].value, "-1");
    }
}
