//! The plan lives in `isolab_shared::plan` (the simulator applies the same one); this
//! file reads the host facts it needs (image dirs, resolv.conf, how cgroups are mounted)
//! and re-exports it under `runtime::plan`.

use std::path::Path;
use std::sync::OnceLock;

pub use isolab_shared::plan::*;

/// The host's facts, read once per process: `isolab run` spawns must not pay seven
/// lstat(2)s and a read of /etc/resolv.conf each. A long-running server keeps the
/// resolv.conf it started with.
pub fn host_facts() -> &'static HostFacts {
    static FACTS: OnceLock<HostFacts> = OnceLock::new();
    FACTS.get_or_init(read_host_facts)
}

/// Reads which of [`HOST_IMAGE_DIRS`] exist (directories or symlinks) and the
/// host's /etc/resolv.conf.
pub fn read_host_facts() -> HostFacts {
    let image_dirs = HOST_IMAGE_DIRS
        .iter()
        .filter_map(|dir| {
            let path = Path::new(dir);
            match std::fs::symlink_metadata(path) {
                Ok(m) if m.file_type().is_symlink() => {
                    std::fs::read_link(path)
                        .ok()
                        .map(|points_to| HostDir::Symlink {
                            path: path.to_path_buf(),
                            points_to,
                        })
                }
                Ok(m) if m.is_dir() => Some(HostDir::Dir(path.to_path_buf())),
                _ => None,
            }
        })
        .collect();
    let resolv_conf = std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_else(|_| FALLBACK_RESOLV_CONF.to_string());
    let cgroups = std::fs::read_to_string("/proc/self/mountinfo")
        .map(|text| host_cgroups(&text))
        .unwrap_or_default();
    HostFacts {
        image_dirs,
        resolv_conf,
        cgroups,
    }
}

/// How mountinfo says the cgroups are mounted: cgroup2 at /sys/fs/cgroup, or a
/// hierarchy per directory under it (v1 and hybrid).
pub fn host_cgroups(mountinfo: &str) -> HostCgroups {
    let mut hierarchies = Vec::new();
    for line in mountinfo.lines() {
        // `ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPER`
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fstype = right.split_whitespace().next().unwrap_or("");
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        let Some(point) = left.split_whitespace().nth(4) else {
            continue;
        };
        if point == CGROUP_ROOT && fstype == "cgroup2" {
            return HostCgroups::V2;
        }
        if let Some(name) = point
            .strip_prefix(CGROUP_ROOT)
            .and_then(|r| r.strip_prefix('/'))
        {
            if !name.is_empty() && !name.contains('/') {
                hierarchies.push(name.to_string());
            }
        }
    }
    if hierarchies.is_empty() {
        return HostCgroups::None;
    }
    hierarchies.sort();
    hierarchies.dedup();
    HostCgroups::V1 { hierarchies }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isolab_shared::sim::container::{create_on, default_hostname};
    use isolab_shared::sim::kernel::{Kernel, INIT_PID};
    use isolab_shared::{ContainerSpec, NamespaceKind};

    /// The runtime's plan on this host (its real facts, its state root and id maps)
    /// and the simulator's recorded steps for the same spec must match step for step.
    #[test]
    fn the_simulator_applies_this_hosts_real_plan() {
        let facts = read_host_facts();
        let config = crate::runtime::RuntimeConfig::new("/proc/self/exe".into());
        let all = ContainerSpec {
            namespaces: NamespaceKind::ALL.into_iter().collect(),
            tty: true,
            ..Default::default()
        };
        let auto = ContainerSpec {
            userns: isolab_shared::UsernsMode::Auto,
            ..Default::default()
        };
        for spec in [ContainerSpec::default(), all, auto] {
            let id = "0123456789ab";
            let state_dir = config.state_root.join(id);
            let mapping = IdMapping {
                outside: config.id_map_base,
                count: config.id_map_count,
            };
            let plan = build(
                id,
                &spec,
                &default_hostname("box"),
                &ContainerPaths::under(&state_dir),
                Some(mapping),
                &facts,
            );
            let runtime: Vec<(String, String)> = plan
                .pid1_steps()
                .map(|s| (s.name().to_string(), s.call()))
                .collect();
            let mut k = Kernel::boot("host");
            let parent = k.spawn(INIT_PID, &["isolab"], false).expect("runtime");
            let c = create_on(&mut k, parent, id, "box", &spec, &facts).expect("created");
            let sim: Vec<(String, String)> = c.setup[c.plan_steps.clone()]
                .iter()
                .map(|s| (s.name.clone(), s.call.clone()))
                .collect();
            assert_eq!(sim, runtime);
        }
    }
}
