//! The simulator's state in the live backend's vocabulary: [`Snapshot`],
//! [`ContainerState`] and [`ProcessInfo`].

use std::collections::BTreeMap;

use crate::namespace::NamespaceKind;
use crate::protocol::{
    CgroupUsage, ContainerState, ContainerStatus, HostState, Interface, IsolationFacts,
    ProcessInfo, Snapshot,
};

use super::container::SimContainer;
use super::kernel::INIT_PID;
use super::process::{cap_names, Process};
use super::simulator::{Simulator, EPOCH_MS};

impl Simulator {
    pub(super) fn process_info(&self, p: &Process) -> ProcessInfo {
        ProcessInfo {
            host_pid: p.pid,
            nspid: p.nspid.clone(),
            ppid: p.ppid,
            cmdline: p.cmdline().to_string(),
            state: p.state.letter().to_string(),
            uid: p.uid,
            namespaces: NamespaceKind::ALL
                .into_iter()
                .map(|k| (k, p.ns.get(k).0))
                .collect(),
        }
    }

    pub(super) fn container_state(&self, c: &SimContainer) -> ContainerState {
        let k = &self.kernel;
        let running = c.exit.is_none();
        let mut processes: Vec<ProcessInfo> = k
            .procs
            .values()
            .filter(|p| k.cgroups.is_within(p.cgroup, c.cgroup))
            .map(|p| self.process_info(p))
            .collect();
        processes.sort_by_key(|p| (p.host_pid != c.init_pid, p.host_pid));
        let init = k.procs.get(&c.init_pid);
        let namespaces = init
            .map(|p| {
                NamespaceKind::ALL
                    .into_iter()
                    .map(|kd| (kd, p.ns.get(kd).0))
                    .collect()
            })
            .unwrap_or_default();
        let cg = k.cgroups.get(c.cgroup);
        let cgroup = cg.map(|n| CgroupUsage {
            memory_current: Some(n.memory_current),
            memory_max: n.memory_max,
            pids_current: Some(n.pids_current),
            pids_max: n.pids_max,
            cpu_usage_us: Some(0),
            oom_kills: Some(n.oom_kills),
            pids_rejected: Some(n.pids_rejected),
        });
        let interfaces = init
            .and_then(|p| k.netns.get(&p.ns.net))
            .map(|n| {
                n.ifaces
                    .values()
                    .map(|i| Interface {
                        name: i.name.clone(),
                        up: i.up,
                        addresses: i.addrs.iter().map(|a| a.to_string()).collect(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let cmd = k.procs.get(&c.command_pid);
        let filter = cmd.and_then(|p| p.seccomp.as_deref());
        let user = init
            .and_then(|p| k.userns.get(&p.ns.user))
            .filter(|u| u.parent.is_some());
        ContainerState {
            id: c.id.clone(),
            name: c.name.clone(),
            spec: (*c.spec).clone(),
            status: if running {
                ContainerStatus::Running
            } else {
                ContainerStatus::Exited
            },
            exit: c.exit.clone(),
            init_pid: Some(c.init_pid),
            created_at_ms: EPOCH_MS.saturating_add(c.created_ms),
            started_at_ms: Some(EPOCH_MS.saturating_add(c.created_ms)),
            processes,
            namespaces,
            cgroup,
            interfaces,
            setup: c.setup.to_vec(),
            isolation: IsolationFacts {
                capabilities: cmd.map(|p| cap_names(p.caps)).unwrap_or_default(),
                bounding: cmd.map(|p| cap_names(p.cap_bound)).unwrap_or_default(),
                no_new_privs: true,
                seccomp: if filter.is_some() {
                    "filter"
                } else {
                    "disabled"
                }
                .to_string(),
                seccomp_allowed: filter.map_or(0, |f| f.allowed),
                seccomp_blocked: filter.map(|f| f.blocked.clone()).unwrap_or_default(),
                // What the plan's device program attached to the container's group.
                devices: cg.map(|n| n.device_rules.to_vec()).unwrap_or_default(),
                masked_paths: Vec::new(),
                readonly_paths: vec!["/usr".into(), "/bin".into(), "/lib".into(), "/etc".into()],
                uid_map: user.map(|u| u.uid_map.clone()).unwrap_or_default(),
                gid_map: user.map(|u| u.gid_map.clone()).unwrap_or_default(),
            },
            owner: None,
            setup_us: c.setup.iter().map(|s| s.duration_us).sum(),
        }
    }

    /// The whole picture now, in the live backend's vocabulary.
    pub fn snapshot(&self) -> Snapshot {
        let k = &self.kernel;
        // The host's init cannot die in the model; an empty picture if it somehow did.
        let Some(init) = k.procs.get(&INIT_PID) else {
            return Snapshot::default();
        };
        let mut states: BTreeMap<String, u32> = BTreeMap::new();
        for p in k.procs.values() {
            *states.entry(p.state.letter().to_string()).or_default() += 1;
        }
        let host_processes = k
            .procs
            .values()
            .filter(|p| self.container_of(p).is_none())
            .take(500)
            .map(|p| self.process_info(p))
            .collect();
        Snapshot {
            seq: self.seq,
            host: HostState {
                hostname: k
                    .utsns
                    .get(&init.ns.uts)
                    .map(|u| u.hostname.clone())
                    .unwrap_or_default(),
                kernel_release: super::shell::misc::KERNEL_RELEASE.to_string(),
                namespaces: NamespaceKind::ALL
                    .into_iter()
                    .map(|kd| (kd, init.ns.get(kd).0))
                    .collect(),
                process_count: k.procs.len() as u32,
                process_states: states,
                processes: host_processes,
            },
            containers: self
                .containers
                .iter()
                .map(|c| self.container_state(c))
                .collect(),
        }
    }
}
