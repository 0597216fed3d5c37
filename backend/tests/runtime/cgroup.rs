//! Real cgroups on this host (as root): groups are made, limited, filled with real
//! processes, killed and removed, and nothing is left behind.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use isolab::runtime::cgroup::{self, CgroupVersion, ContainerCgroup, Controller, GroupDir};
use isolab::runtime::steps::StepLog;
use isolab_shared::limits::Limits;
use isolab_shared::SetupPhase;

/// A unique id per test and run, so parallel tests never share a group.
fn unique_id(name: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "test-{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Kills whatever is left in the group and removes it, even when the test fails.
struct GroupGuard(ContainerCgroup);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let _ = self.0.kill_all();
        let _ = self.0.remove();
    }
}

/// A child that waits on stdin before running `script`, so it can be put in a group
/// first. Killed and reaped on drop.
struct GatedChild(Child);

impl GatedChild {
    fn spawn(script: &str) -> GatedChild {
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("read go; {script}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn /bin/sh");
        GatedChild(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn release(&mut self) {
        let mut stdin = self.0.stdin.take().expect("stdin is piped");
        stdin.write_all(b"go\n").expect("write to the gate");
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        self.0.wait().expect("wait for the child")
    }
}

impl Drop for GatedChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "cgroup tests need root: run them with sudo"
    );
}

fn dir(cg: &ContainerCgroup, controller: Controller) -> &GroupDir {
    cg.dirs()
        .iter()
        .find(|d| d.controllers.contains(&controller))
        .expect("this host has the controller")
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// The raw limit files of the group, as (pids, memory, cpu quota) text.
fn limit_files(cg: &ContainerCgroup) -> (String, String, String) {
    let pids = read(dir(cg, Controller::Pids).path.join("pids.max"));
    let mem = dir(cg, Controller::Memory);
    let memory = match mem.version {
        CgroupVersion::V2 => read(mem.path.join("memory.max")),
        CgroupVersion::V1 => read(mem.path.join("memory.limit_in_bytes")),
    };
    let cpu = dir(cg, Controller::Cpu);
    let quota = match cpu.version {
        CgroupVersion::V2 => read(cpu.path.join("cpu.max")),
        CgroupVersion::V1 => read(cpu.path.join("cpu.cfs_quota_us")),
    };
    (pids, memory, quota)
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn create_apply_read_and_remove_leave_nothing_behind() {
    require_root();
    let id = unique_id("lifecycle");
    let limits = Limits {
        pids: Some(64),
        memory_bytes: Some(32 << 20),
        cpus: Some(0.5),
    };
    let mut log = StepLog::new();
    let cg = ContainerCgroup::create(&id, &limits, &mut log).expect("create the group");
    let guard = GroupGuard(cg.clone());

    assert_eq!(cg.id(), id);
    assert!(cg.paths().iter().all(|p| p.is_dir() && p.ends_with(&id)));
    let (pids, memory, cpu) = limit_files(&cg);
    assert_eq!(pids, "64");
    assert_eq!(memory, (32u64 << 20).to_string());
    assert!(cpu.starts_with("50000"), "cpu quota was {cpu}");

    // Every mkdir and write is in the log, with the path it touched.
    let steps = log.steps();
    assert!(steps.iter().all(|s| s.error.is_none()));
    for path in cg.paths() {
        let shown = path.display().to_string();
        assert!(steps
            .iter()
            .any(|s| s.phase == SetupPhase::Cgroup && s.call.contains(&shown)));
    }
    assert!(steps.iter().any(|s| s.phase == SetupPhase::Limits
        && s.call.contains("pids.max")
        && s.call.contains("\"64\"")));

    let usage = cg.usage();
    assert_eq!(usage.pids_max, Some(64));
    assert_eq!(usage.pids_current, Some(0));
    assert_eq!(usage.memory_max, Some(32 << 20));
    assert_eq!(usage.oom_kills, Some(0));
    assert!(usage.cpu_usage_us.is_some());

    // A group made by a previous run is found again by id.
    assert!(cgroup::leftover_ids().contains(&id));
    let reopened = cgroup::open_existing(&id).expect("the group exists");
    assert_eq!(reopened.paths(), cg.paths());

    cg.remove().expect("remove the group");
    assert!(cg.paths().iter().all(|p| !p.exists()));
    assert!(!cgroup::leftover_ids().contains(&id));
    assert!(cgroup::open_existing(&id).is_none());
    cg.remove().expect("removing twice is fine");
    drop(guard);
}

#[test]
fn a_second_group_with_the_same_id_is_refused_and_bad_ids_too() {
    require_root();
    let id = unique_id("twice");
    let mut log = StepLog::new();
    let cg = ContainerCgroup::create(&id, &Limits::default(), &mut log).expect("create");
    let _guard = GroupGuard(cg.clone());
    let err = ContainerCgroup::create(&id, &Limits::default(), &mut StepLog::new())
        .expect_err("same id twice");
    assert!(err.to_string().contains(&id), "{err}");
    // The failed attempt did not take the first group down with it.
    assert!(cg.paths().iter().all(|p| p.is_dir()));
    for bad in ["", "..", "a/b", "x y"] {
        assert!(ContainerCgroup::create(bad, &Limits::default(), &mut log).is_err());
    }
}

#[test]
fn a_live_limit_change_shows_in_the_files() {
    require_root();
    let id = unique_id("live");
    let mut log = StepLog::new();
    let cg = ContainerCgroup::create(&id, &Limits::default(), &mut log).expect("create");
    let _guard = GroupGuard(cg.clone());
    assert_eq!(cg.usage().pids_max, Some(512));
    assert_eq!(cg.usage().memory_max, None);

    let tighter = Limits {
        pids: Some(100),
        memory_bytes: Some(48 << 20),
        cpus: Some(1.5),
    };
    cg.set_limits(&tighter, &mut log).expect("tighten");
    let (pids, memory, cpu) = limit_files(&cg);
    assert_eq!(pids, "100");
    assert_eq!(memory, (48u64 << 20).to_string());
    assert!(cpu.starts_with("150000"), "cpu quota was {cpu}");

    // Raising memory past the v1 memsw ceiling needs the writes in the right order.
    let looser = Limits {
        pids: Some(200),
        memory_bytes: Some(96 << 20),
        cpus: Some(0.25),
    };
    cg.set_limits(&looser, &mut log).expect("loosen");
    assert_eq!(cg.usage().memory_max, Some(96 << 20));

    let unlimited = Limits {
        pids: None,
        memory_bytes: None,
        cpus: None,
    };
    cg.set_limits(&unlimited, &mut log)
        .expect("lift the limits");
    let (pids, _, cpu) = limit_files(&cg);
    assert_eq!(pids, "max");
    assert!(cpu == "-1" || cpu.starts_with("max"), "cpu quota was {cpu}");
    let usage = cg.usage();
    assert_eq!(usage.pids_max, None);
    assert_eq!(usage.memory_max, None);
}

#[test]
fn a_real_child_is_counted_and_killed_with_its_children() {
    require_root();
    let id = unique_id("child");
    let cg = ContainerCgroup::create(&id, &Limits::default(), &mut StepLog::new()).expect("create");
    let guard = GroupGuard(cg.clone());
    let mut child = GatedChild::spawn("sleep 60 & exec sleep 61");
    cg.add_process(child.pid()).expect("add the child");
    child.release();
    wait_until("the shell and its sleep", Duration::from_secs(5), || {
        cg.pids().len() >= 2
    });
    assert!(cg.pids().contains(&child.pid()));
    assert!(cg.usage().pids_current >= Some(2));

    cg.kill_all().expect("kill everything");
    assert_eq!(child.wait().signal(), Some(9));
    assert!(cg.pids().is_empty());
    cg.remove().expect("remove after kill");
    drop(guard);
}

#[test]
fn a_fork_bomb_stops_at_pids_max() {
    require_root();
    let id = unique_id("forkbomb");
    let limits = Limits {
        pids: Some(16),
        ..Limits::default()
    };
    let cg = ContainerCgroup::create(&id, &limits, &mut StepLog::new()).expect("create");
    let _guard = GroupGuard(cg.clone());
    // Bounded, so a broken limit fails the test instead of hurting the host.
    let mut child =
        GatedChild::spawn("i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done; wait");
    cg.add_process(child.pid()).expect("add the shell");
    child.release();
    wait_until("a refused fork", Duration::from_secs(10), || {
        cg.usage().pids_rejected.unwrap_or(0) > 0
    });
    let usage = cg.usage();
    assert!(usage.pids_current <= Some(16), "{usage:?}");
    assert!(cg.pids().len() <= 16);
    cg.kill_all().expect("kill the bomb");
    child.wait();
    assert!(cg.pids().is_empty());
}

#[test]
fn a_memory_hog_is_oom_killed() {
    require_root();
    let id = unique_id("memhog");
    let limits = Limits {
        memory_bytes: Some(16 << 20),
        ..Limits::default()
    };
    let cg = ContainerCgroup::create(&id, &limits, &mut StepLog::new()).expect("create");
    let _guard = GroupGuard(cg.clone());
    // tail keeps the last 64 MiB of a pipe in memory: four times the limit, and bounded.
    let mut child = GatedChild::spawn("head -c 67108864 /dev/zero | tail -c 67108864 >/dev/null");
    cg.add_process(child.pid()).expect("add the shell");
    child.release();
    let status = child.wait();
    // sh reports its last command killed by SIGKILL as 128 + 9.
    assert_eq!(status.code(), Some(137), "the hog survived: {status:?}");
    assert!(cg.oom_kills() > 0);
    assert!(cg.usage().oom_kills >= Some(1));
}
