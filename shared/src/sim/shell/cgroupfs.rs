//! The files of a container's /sys/fs/cgroup as the model shows them: the limits and
//! usage of the reader's own group (`cat /sys/fs/cgroup/pids.max`).

use crate::sim::kernel::Kernel;

/// A limit or usage file of a cgroup mount (`/sys/fs/cgroup/pids.max`, or
/// `/sys/fs/cgroup/pids/pids.max` on a v1 layout). The model's cgroup mounts show the
/// reader's own group, as a container's /sys/fs/cgroup shows the container's.
pub(super) fn cgroup_file(
    k: &Kernel,
    me: &crate::sim::process::Process,
    path: &str,
) -> Option<String> {
    let table = k.mntns.get(&me.ns.mnt)?;
    let (dir, file) = path.rsplit_once('/')?;
    let mounted = table
        .mounts()
        .iter()
        .rev()
        .find(|m| m.target == dir)
        .is_some_and(|m| m.fstype == "cgroup2" || m.fstype == "cgroup");
    if !mounted {
        return None;
    }
    let g = k.cgroups.get(me.cgroup)?;
    let limit = |v: Option<u64>| v.map_or("max".to_string(), |n| n.to_string());
    Some(match file {
        "pids.max" => format!("{}\n", limit(g.pids_max)),
        "pids.current" => format!("{}\n", g.pids_current),
        "memory.max" => format!("{}\n", limit(g.memory_max)),
        "memory.current" | "memory.usage_in_bytes" => format!("{}\n", g.memory_current),
        // v1 spells "no limit" as the largest page-aligned value.
        "memory.limit_in_bytes" => {
            format!("{}\n", g.memory_max.unwrap_or(9_223_372_036_854_771_712))
        }
        _ => return None,
    })
}
