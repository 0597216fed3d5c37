//! Inside a container differs from outside: hostname, PIDs, network, IPC, mounts,
//! and the namespace inodes of every kind, toggled one at a time.

use crate::support::runtime as runtime_common;

use isolab_shared::{NamespaceKind, NamespaceSet};
use runtime_common::{ns_inode, run, sh, unique, TestRoot};

/// A SysV message queue on the host, removed on drop.
struct HostQueue(i32);

impl HostQueue {
    fn new() -> Self {
        // SAFETY: msgget with IPC_PRIVATE makes a new queue and returns its id.
        let id = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) };
        assert!(id >= 0, "msgget failed");
        HostQueue(id)
    }
}

impl Drop for HostQueue {
    fn drop(&mut self) {
        // SAFETY: removes the queue we made.
        unsafe { libc::msgctl(self.0, libc::IPC_RMID, std::ptr::null_mut()) };
    }
}

#[test]
fn inside_differs_from_outside() {
    let root = TestRoot::new();
    let queue = HostQueue::new();
    let host_msg = std::fs::read_to_string("/proc/sysvipc/msg").expect("host sysvipc");
    assert!(host_msg
        .lines()
        .skip(1)
        .any(|l| l.split_whitespace().nth(1) == Some(&queue.0.to_string())));
    let hostname = unique("box").replace('-', "x");
    let mut spec = sh(
        "hostname; echo $$; ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' '; echo; \
         ls /sys/class/net | tr '\\n' ' '; echo; tail -n +2 /proc/sysvipc/msg | wc -l; \
         cut -d' ' -f5 /proc/self/mountinfo | tr '\\n' ' '",
    );
    spec.hostname = Some(hostname.clone());
    let (exit, out, err) = run(&root, &spec);
    assert_eq!(exit.code, Some(0), "stderr: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "output: {out}");
    assert_eq!(lines[0], hostname);
    assert_ne!(lines[0], isolab::sysinfo::hostname());
    assert_eq!(lines[1], "2", "the command is PID 2 under isolab-init");
    let pids: Vec<u32> = lines[2]
        .split_whitespace()
        .map(|p| p.parse().expect("pid"))
        .collect();
    assert!(pids.contains(&1) && pids.contains(&2));
    assert!(
        pids.iter().all(|p| *p < 20),
        "only low PIDs inside: {pids:?}"
    );
    assert!(!pids.contains(&std::process::id()) || std::process::id() < 20);
    assert_eq!(lines[3].trim(), "lo", "only lo in the net namespace");
    assert_eq!(
        lines[4].trim(),
        "0",
        "the host's message queue is invisible"
    );
    let inside_mounts: Vec<&str> = lines[5].split_whitespace().collect();
    assert!(inside_mounts.contains(&"/proc") && inside_mounts.contains(&"/"));
    // /sys/fs/cgroup inside is the container's own groups, read-only (tests/lessons_live.rs).
    assert!(
        !inside_mounts.iter().any(|m| m.starts_with("/run")),
        "host mounts leak in: {inside_mounts:?}"
    );
    let host_mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("host mountinfo");
    assert!(host_mounts.lines().any(|l| l.contains(" /sys/fs/cgroup")));
}

/// Runs `readlink /proc/self/ns/<kind>` for every kind inside a container with `set`.
fn inside_inodes(root: &TestRoot, set: &NamespaceSet) -> Vec<(NamespaceKind, String)> {
    let script = NamespaceKind::ALL
        .iter()
        .map(|k| format!("readlink /proc/self/ns/{}", k.name()))
        .collect::<Vec<_>>()
        .join("; ");
    let mut spec = sh(&script);
    spec.namespaces = set.clone();
    let (exit, out, err) = run(root, &spec);
    assert_eq!(exit.code, Some(0), "namespaces {set:?}: {err}");
    NamespaceKind::ALL
        .iter()
        .copied()
        .zip(out.lines().map(str::to_string))
        .collect()
}

#[test]
fn namespace_inodes_differ_exactly_for_enabled_kinds() {
    let root = TestRoot::new();
    let all: NamespaceSet = NamespaceKind::ALL.into_iter().collect();
    let mut sets = vec![NamespaceSet::default(), all.clone()];
    for off in NamespaceKind::ALL {
        sets.push(all.iter().filter(|k| *k != off).collect());
    }
    for set in sets {
        let inodes = inside_inodes(&root, &set);
        assert_eq!(inodes.len(), 7);
        for (kind, inside) in inodes {
            let host = ns_inode("self", kind.name());
            if set.contains(kind) {
                assert_ne!(inside, host, "{kind} is on in {set:?} but shared");
            } else {
                assert_eq!(inside, host, "{kind} is off in {set:?} but differs");
            }
        }
    }
}

#[test]
fn describe_combines_the_record_with_live_observation() {
    let root = TestRoot::new();
    let mut tc = runtime_common::TestContainer::create(&root, &sh("sleep 30"));
    tc.get().start().expect("starts");
    let id = tc.get().id().to_string();
    let state = isolab::runtime::describe(&root.config, &id).expect("describe");
    assert_eq!(state.status, isolab_shared::ContainerStatus::Running);
    assert!(state.processes.len() >= 2, "{:?}", state.processes);
    assert_eq!(
        state.processes[0].host_pid,
        tc.get().init_pid().expect("pid")
    );
    assert_eq!(state.processes[0].nspid.last(), Some(&1));
    assert_ne!(state.namespaces.get(&NamespaceKind::Net), None);
    assert_eq!(state.interfaces.len(), 1, "{:?}", state.interfaces);
    assert!(state.isolation.no_new_privs);
    assert!(state.isolation.capabilities.len() <= 14);
    assert!(state.setup.iter().any(|s| s.name == "pivot_root"));
    assert!(state.cgroup.is_some_and(|u| u.pids_max == Some(512)));
    tc.delete();
}
