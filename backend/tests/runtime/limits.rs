//! cgroup limits hold against a real fork bomb and a memory hog, and change live.

use crate::support::runtime as runtime_common;

use std::time::{Duration, Instant};

use isolab_shared::limits::Limits;
use runtime_common::{run, sh, TestContainer, TestRoot};

/// Polls `f` every 20 ms for up to `within`.
fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

#[test]
fn fork_bomb_stops_at_pids_max_and_the_host_is_fine() {
    let root = TestRoot::new();
    let mut spec = sh("bomb() { bomb | bomb & }; bomb 2>/dev/null; sleep 30");
    spec.limits.pids = Some(24);
    let mut tc = TestContainer::create(&root, &spec);
    tc.get().start().expect("starts");
    let cg = tc.get().cgroup().expect("has a cgroup").clone();
    assert!(
        eventually(Duration::from_secs(5), || cg
            .usage()
            .pids_rejected
            .unwrap_or(0)
            > 0),
        "the pids controller refused forks: {:?}",
        cg.usage()
    );
    let usage = cg.usage();
    assert_eq!(usage.pids_max, Some(24));
    assert!(usage.pids_current.unwrap_or(0) <= 24, "{usage:?}");
    let host = std::process::Command::new("/bin/true")
        .status()
        .expect("the host can still fork");
    assert!(host.success());
    let exit = tc.get().stop(Duration::from_millis(100)).expect("stops");
    assert!(exit.signal.is_some() || exit.code.is_some());
    tc.delete();
}

#[test]
fn memory_hog_is_oom_killed_and_wait_says_so() {
    let root = TestRoot::new();
    let mut spec = sh("x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo survived");
    spec.limits.memory_bytes = Some(16 << 20);
    let (exit, out, _) = run(&root, &spec);
    assert!(!out.contains("survived"));
    assert!(exit.oom_killed, "{exit:?}");
    assert_eq!(exit.signal, Some(9), "{exit:?}");
}

#[test]
fn a_live_limit_change_takes_effect() {
    let root = TestRoot::new();
    let mut spec = sh(
        "read go; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 30 & done 2>/dev/null; sleep 30",
    );
    spec.limits.pids = Some(64);
    let mut tc = TestContainer::create(&root, &spec);
    let pipes = tc.get().take_pipes().expect("pipes");
    tc.get().start().expect("starts");
    let cg = tc.get().cgroup().expect("cgroup").clone();
    assert_eq!(cg.usage().pids_max, Some(64));
    let limits = Limits {
        pids: Some(6),
        ..Limits::default()
    };
    tc.get().set_limits(&limits).expect("limits change live");
    assert_eq!(cg.usage().pids_max, Some(6));
    nix::unistd::write(&pipes.stdin, b"go\n").expect("tell the container to fork");
    assert!(
        eventually(Duration::from_secs(5), || cg
            .usage()
            .pids_rejected
            .unwrap_or(0)
            > 0),
        "forks beyond the new limit are refused: {:?}",
        cg.usage()
    );
    assert!(cg.usage().pids_current.unwrap_or(0) <= 6);
    assert_eq!(tc.get().record().spec.limits.pids, Some(6));
    tc.delete();
}

/// One plan, two interpreters, for limits too: the runtime's recorded writes are the
/// shared ones (`isolab_shared::plan::limits`) for this host's groups, and they set
/// what the kernel then shows.
#[test]
fn the_limits_written_are_the_shared_writes_for_this_hosts_groups() {
    use isolab::runtime::cgroup::Controller;
    use isolab_shared::plan::limits::{
        cpu_writes, memory_writes, pids_writes, GroupVersion, MemoryFacts,
    };
    use isolab_shared::SetupPhase;

    let root = TestRoot::new();
    let mut spec = sh("sleep 30");
    spec.limits = Limits {
        pids: Some(33),
        memory_bytes: Some(48 << 20),
        cpus: Some(0.25),
    };
    let mut tc = TestContainer::create(&root, &spec);
    let cg = tc.get().cgroup().expect("a cgroup").clone();
    let dir = |c: Controller| {
        let d = cg
            .dirs()
            .iter()
            .find(|d| d.controllers.contains(&c))
            .unwrap_or_else(|| panic!("a group for {c}"));
        (GroupVersion::from(d.version), d.path.clone())
    };
    let (_, pids) = dir(Controller::Pids);
    let (mem_version, memory) = dir(Controller::Memory);
    let (cpu_version, cpu) = dir(Controller::Cpu);
    // A fresh group: unlimited memory now, swap files as this kernel has them.
    let facts = MemoryFacts {
        swap_file: memory.join("memory.swap.max").exists(),
        memsw_file: memory.join("memory.memsw.limit_in_bytes").exists(),
        current_bytes: None,
    };
    let expected: Vec<(String, String)> = pids_writes(&pids, Some(33))
        .into_iter()
        .chain(memory_writes(mem_version, &memory, Some(48 << 20), facts))
        .chain(cpu_writes(cpu_version, &cpu, Some(0.25)))
        .map(|w| (w.name.to_string(), w.call()))
        .collect();
    let seen: Vec<(String, String)> = tc
        .get()
        .record()
        .setup
        .iter()
        .filter(|s| s.phase == SetupPhase::Limits && expected.iter().any(|e| e.0 == s.name))
        .map(|s| (s.name.clone(), s.call.clone()))
        .collect();
    assert_eq!(seen, expected);
    let usage = cg.usage();
    assert_eq!(usage.pids_max, Some(33), "{usage:?}");
    assert_eq!(usage.memory_max, Some(48 << 20), "{usage:?}");
    tc.delete();
}
