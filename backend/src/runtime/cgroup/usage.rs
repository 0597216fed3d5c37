//! Reading a container's usage and ceilings back from cgroupfs, for v1 and v2.

use std::path::Path;

use isolab_shared::CgroupUsage;

use super::{CgroupVersion, ContainerCgroup, Controller};

/// v1 reports "unlimited" as a huge page-rounded number; anything this big is no limit.
const V1_UNLIMITED: u64 = 1 << 62;

/// Every figure that can be read; missing files give `None`.
pub(super) fn read(cgroup: &ContainerCgroup) -> CgroupUsage {
    let mut usage = CgroupUsage::default();
    if let Some(dir) = cgroup.dir_of(Controller::Pids) {
        usage.pids_current = read_u64(&dir.path.join("pids.current"));
        usage.pids_max = read_limit(&dir.path.join("pids.max"));
        usage.pids_rejected = read_keyed(&dir.path.join("pids.events"), "max");
    }
    if let Some(dir) = cgroup.dir_of(Controller::Memory) {
        let (current, max) = match dir.version {
            CgroupVersion::V2 => ("memory.current", "memory.max"),
            CgroupVersion::V1 => ("memory.usage_in_bytes", "memory.limit_in_bytes"),
        };
        usage.memory_current = read_u64(&dir.path.join(current));
        usage.memory_max = read_limit(&dir.path.join(max));
    }
    usage.oom_kills = oom_kills(cgroup);
    if let Some(dir) = cgroup.dir_of(Controller::Cpuacct) {
        usage.cpu_usage_us = match dir.version {
            CgroupVersion::V2 => read_keyed(&dir.path.join("cpu.stat"), "usage_usec"),
            CgroupVersion::V1 => read_u64(&dir.path.join("cpuacct.usage")).map(|ns| ns / 1000),
        };
    }
    usage
}

/// OOM kills: v2 memory.events `oom_kill`, v1 memory.oom_control `oom_kill`.
pub(super) fn oom_kills(cgroup: &ContainerCgroup) -> Option<u64> {
    let dir = cgroup.dir_of(Controller::Memory)?;
    let file = match dir.version {
        CgroupVersion::V2 => "memory.events",
        CgroupVersion::V1 => "memory.oom_control",
    };
    read_keyed(&dir.path.join(file), "oom_kill")
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// A ceiling: "max" (v2) or a huge number (v1) is `None`.
fn read_limit(path: &Path) -> Option<u64> {
    read_u64(path).filter(|v| *v < V1_UNLIMITED)
}

/// The number after `key` in a flat-keyed file such as memory.events.
fn read_keyed(path: &Path, key: &str) -> Option<u64> {
    parse_keyed(&std::fs::read_to_string(path).ok()?, key)
}

fn parse_keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_files_parse() {
        let events = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n";
        assert_eq!(parse_keyed(events, "oom_kill"), Some(2));
        assert_eq!(parse_keyed(events, "oom"), Some(1));
        assert_eq!(parse_keyed(events, "max"), Some(3));
        assert_eq!(
            parse_keyed("oom_kill_disable 0\nunder_oom 0\n", "oom_kill"),
            None
        );
    }
}
