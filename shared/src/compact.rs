//! The event stream's compact form of a container: what the list and the map need,
//! about 1 KB a container, where the full state is over 10 KB.
//!
//! The recorded setup steps and the isolation facts (most of the bytes) are fetched
//! on demand instead, and a process's namespaces are sent only where they differ from
//! its container's: nearly every process shares all seven with its container's init.

use crate::protocol::{ContainerState, ContainerSteps, IsolationFacts, NamespaceIds, ProcessInfo};

impl IsolationFacts {
    /// True for the default (nothing observed): how the event stream leaves them out.
    pub fn is_unknown(&self) -> bool {
        *self == IsolationFacts::default()
    }
}

impl ContainerState {
    /// Drops what the event stream does not carry: the setup steps (keeping their total
    /// time in `setup_us`), the isolation facts, and the namespaces each process
    /// shares with the container.
    pub fn compact(&mut self) {
        if !self.setup.is_empty() {
            self.setup_us = self.setup.iter().map(|s| s.duration_us).sum();
            self.setup = Vec::new();
        }
        self.isolation = IsolationFacts::default();
        for p in &mut self.processes {
            compact_namespaces(&mut p.namespaces, &self.namespaces);
        }
    }

    /// All of a process's namespaces: its own where they differ, else the container's.
    pub fn process_namespaces(&self, process: &ProcessInfo) -> NamespaceIds {
        let mut all = self.namespaces.clone();
        all.extend(process.namespaces.iter().map(|(k, v)| (*k, *v)));
        all
    }

    /// The details the event stream leaves out.
    pub fn steps(&self) -> ContainerSteps {
        ContainerSteps {
            id: self.id.clone(),
            setup: self.setup.clone(),
            isolation: self.isolation.clone(),
        }
    }
}

/// Keeps only the entries of `namespaces` that differ from `own`.
pub fn compact_namespaces(namespaces: &mut NamespaceIds, own: &NamespaceIds) {
    namespaces.retain(|kind, inode| own.get(kind) != Some(inode));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ContainerSpec, ContainerStatus, SetupPhase, SetupStep};
    use crate::NamespaceKind;

    fn container() -> ContainerState {
        let own: NamespaceIds = NamespaceKind::ALL.iter().map(|k| (*k, 100)).collect();
        let mut other = own.clone();
        other.insert(NamespaceKind::Net, 7);
        let process = |pid: u32, namespaces: NamespaceIds| ProcessInfo {
            host_pid: pid,
            nspid: vec![pid, 1],
            ppid: 1,
            cmdline: "/bin/sh".into(),
            state: "S".into(),
            uid: 0,
            namespaces,
        };
        ContainerState {
            id: "a".into(),
            name: "a".into(),
            spec: ContainerSpec::default(),
            status: ContainerStatus::Running,
            exit: None,
            init_pid: Some(10),
            created_at_ms: 1,
            started_at_ms: Some(2),
            processes: vec![process(10, own.clone()), process(11, other)],
            namespaces: own,
            cgroup: None,
            interfaces: vec![],
            setup: vec![
                SetupStep {
                    phase: SetupPhase::Mounts,
                    name: "mount".into(),
                    call: "mount(…)".into(),
                    error: None,
                    duration_us: 30,
                };
                3
            ],
            isolation: IsolationFacts {
                no_new_privs: true,
                ..Default::default()
            },
            setup_us: 0,
            owner: None,
        }
    }

    #[test]
    fn compact_keeps_what_differs_and_the_setup_time() {
        let full = container();
        let mut c = full.clone();
        c.compact();
        assert!(c.setup.is_empty());
        assert_eq!(c.setup_us, 90);
        assert!(c.isolation.is_unknown());
        assert!(c.processes[0].namespaces.is_empty());
        assert_eq!(c.processes[1].namespaces.len(), 1);
        for (compact, whole) in c.processes.iter().zip(&full.processes) {
            assert_eq!(c.process_namespaces(compact), whole.namespaces);
        }
        let json = serde_json::to_string(&c).expect("serializes");
        assert!(!json.contains("\"setup\"") && !json.contains("\"isolation\""));
        let back: ContainerState = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, c);
        assert_eq!(full.steps().setup.len(), 3);
    }
}
