//! `userns: auto` on the real kernel: each container's root is a host id range of its
//! own, recorded in the state root's subuid/subgid files and freed on removal; root
//! in one container can neither signal nor read another's processes; concurrent
//! creators never share a range.

use crate::support::runtime as runtime_common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio as ProcStdio};
use std::time::Duration;

use isolab::runtime::exec::ExecRequest;
use isolab::runtime::exec_capture::{run_in_container, Captured};
use isolab::runtime::userns_ranges::{self, SUBGID_FILE, SUBUID_FILE};
use isolab_shared::userns::{IdRange, RANGE_SIZE};
use isolab_shared::{ContainerSpec, NamespaceKind, NamespaceSet, UsernsMode};
use runtime_common::{sh, TestContainer, TestRoot};

fn auto(script: &str) -> ContainerSpec {
    ContainerSpec {
        userns: UsernsMode::Auto,
        ..sh(script)
    }
}

/// The first line of `/proc/PID/<file>` (uid_map or gid_map) as (inside, outside, count).
fn id_map(pid: u32, file: &str) -> (u32, u32, u32) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).expect("map reads");
    let f: Vec<u32> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(f.len(), 3, "one line: {text:?}");
    (f[0], f[1], f[2])
}

/// The real uid of `pid` as the host sees it (the `Uid:` line of its status).
fn host_uid(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("a Uid line")
}

/// The host PID of the command of a container whose init is `init` (its one child).
fn command_pid(init: u32) -> u32 {
    for _ in 0..200 {
        let children = std::fs::read_to_string(format!("/proc/{init}/task/{init}/children"))
            .unwrap_or_default();
        if let Some(pid) = children.split_whitespace().find_map(|p| p.parse().ok()) {
            return pid;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("init {init} has no child");
}

fn started(root: &TestRoot, spec: &ContainerSpec) -> TestContainer {
    let mut c = TestContainer::create(root, spec);
    c.get().start().expect("starts");
    c
}

#[test]
fn auto_containers_get_disjoint_ranges_recorded_and_freed() {
    let root = TestRoot::new();
    let state_root = root.config.state_root.clone();
    let mut a = started(&root, &auto("sleep 30"));
    let mut b = started(&root, &auto("sleep 30"));
    let (ia, ib) = (
        a.get().init_pid().expect("pid"),
        b.get().init_pid().expect("pid"),
    );
    let (a_id, b_id) = (a.get().id().to_string(), b.get().id().to_string());
    assert!(a
        .get()
        .record()
        .spec
        .namespaces
        .contains(NamespaceKind::User));

    let ra = userns_ranges::range_of(&state_root, &a_id).expect("a's range recorded");
    let rb = userns_ranges::range_of(&state_root, &b_id).expect("b's range recorded");
    assert_eq!((ra.count, rb.count), (RANGE_SIZE, RANGE_SIZE));
    assert!(!ra.overlaps(&rb), "{ra:?} {rb:?}");
    // The kernel's maps are the recorded ranges; root inside is the range's first id.
    for (pid, r) in [(ia, ra), (ib, rb)] {
        assert_eq!(id_map(pid, "uid_map"), (0, r.start, r.count));
        assert_eq!(id_map(pid, "gid_map"), (0, r.start, r.count));
        assert_eq!(host_uid(pid), r.start);
        assert_eq!(host_uid(command_pid(pid)), r.start);
    }
    // The files are /etc/subuid style, the same for gids.
    let subuid = std::fs::read_to_string(state_root.join(SUBUID_FILE)).expect("subuid");
    assert!(subuid.contains(&format!("{a_id}:{}:{RANGE_SIZE}\n", ra.start)));
    assert!(subuid.contains(&format!("{b_id}:{}:{RANGE_SIZE}\n", rb.start)));
    assert_eq!(
        std::fs::read_to_string(state_root.join(SUBGID_FILE)).expect("subgid"),
        subuid
    );
    // Clear of the host's own subordinate ranges.
    for file in ["/etc/subuid", "/etc/subgid"] {
        let host = std::fs::read_to_string(file).unwrap_or_default();
        for e in isolab_shared::userns::parse_subid(&host) {
            assert!(!e.range.overlaps(&ra) && !e.range.overlaps(&rb), "{e:?}");
        }
    }

    a.delete();
    assert_eq!(userns_ranges::range_of(&state_root, &a_id), None);
    assert_eq!(userns_ranges::range_of(&state_root, &b_id), Some(rb));
    // A freed range is handed out again.
    let mut c = started(&root, &auto("sleep 30"));
    let c_id = c.get().id().to_string();
    assert_eq!(userns_ranges::range_of(&state_root, &c_id), Some(ra));
    c.delete();
    b.delete();
    let left = root.leftover_dirs();
    assert!(
        left.is_empty(),
        "nothing is left once all are gone: {left:?}"
    );
}

/// Runs `script` with the host's /bin/sh as root of `c`'s user namespace only: the
/// host's mounts and PIDs stay in view, so the other container's processes can be
/// named, and only the user namespace stands between them.
fn as_root_of(root: &TestRoot, c: &mut TestContainer, script: &str) -> String {
    let user: NamespaceSet = [NamespaceKind::User].into_iter().collect();
    let request = ExecRequest::for_container(
        c.get().record(),
        vec!["/bin/sh".into(), "-c".into(), script.into()],
        Some(&user),
        false,
    )
    .expect("an exec request");
    match run_in_container(&root.config, &request, Duration::from_secs(10)).expect("exec runs") {
        Captured::Finished { output, .. } => output,
        Captured::TimedOut => panic!("timed out: {script}"),
    }
}

/// What root of `from` may do to the processes of `to` (its init and its command):
/// a signal, and reads of environ and mem; one word per try, `yes` or `no`.
fn reach(root: &TestRoot, from: &mut TestContainer, to: &mut TestContainer) -> String {
    let init = to.get().init_pid().expect("pid");
    let cmd = command_pid(init);
    let script = format!(
        "id -u; \
         for p in {init} {cmd}; do kill -0 $p 2>/dev/null && echo yes || echo no; done; \
         cat /proc/{cmd}/environ >/dev/null 2>&1 && echo yes || echo no; \
         head -c1 /proc/{cmd}/mem >/dev/null 2>&1 && echo yes || echo no"
    );
    as_root_of(root, from, &script)
}

#[test]
fn root_in_one_auto_container_cannot_signal_or_read_another() {
    let root = TestRoot::new();
    let mut a = started(&root, &auto("sleep 30"));
    let mut b = started(&root, &auto("sleep 30"));
    // The control: root of A reaches A's own processes (signal and environ), so a
    // "no" below is the user namespace's doing, not a broken probe.
    let own = {
        let init = a.get().init_pid().expect("pid");
        let cmd = command_pid(init);
        as_root_of(
            &root,
            &mut a,
            &format!(
                "id -u; kill -0 {cmd} && echo yes || echo no; \
                 cat /proc/{cmd}/environ >/dev/null && echo yes || echo no"
            ),
        )
    };
    assert_eq!(own, "0\nyes\nyes\n");
    assert_eq!(reach(&root, &mut a, &mut b), "0\nno\nno\nno\nno\n");
    assert_eq!(reach(&root, &mut b, &mut a), "0\nno\nno\nno\nno\n");
}

#[test]
fn without_auto_two_user_namespaces_share_one_range_and_reach_each_other() {
    // Why `auto` exists: the fixed range makes root of one container the same host
    // uid as root of the other, and the kernel lets a uid signal its own processes.
    let root = TestRoot::new();
    let fixed = || ContainerSpec {
        namespaces: [NamespaceKind::User, NamespaceKind::Pid, NamespaceKind::Mnt]
            .into_iter()
            .collect(),
        ..sh("sleep 30")
    };
    let mut a = started(&root, &fixed());
    let mut b = started(&root, &fixed());
    let out = reach(&root, &mut a, &mut b);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["0", "yes"], "{out}");
    assert!(
        !root.config.state_root.join(SUBUID_FILE).exists(),
        "no range is allocated without auto"
    );
}

#[test]
fn ten_parallel_creations_get_ten_disjoint_ranges() {
    let root = TestRoot::new();
    let made: Vec<TestContainer> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|_| s.spawn(|| started(&root, &auto("sleep 30"))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a creator thread"))
            .collect()
    });
    let mut ranges: Vec<IdRange> = Vec::new();
    let mut made = made;
    for c in &mut made {
        let pid = c.get().init_pid().expect("pid");
        let (_, start, count) = id_map(pid, "uid_map");
        let recorded =
            userns_ranges::range_of(&root.config.state_root, c.get().id()).expect("recorded");
        assert_eq!(recorded, IdRange { start, count });
        ranges.push(recorded);
    }
    for (i, r) in ranges.iter().enumerate() {
        for other in &ranges[i + 1..] {
            assert!(!r.overlaps(other), "{r:?} {other:?}");
        }
    }
    assert_eq!(userns_ranges::recorded(&root.config.state_root).len(), 10);
    for c in made {
        c.delete();
    }
    assert!(userns_ranges::recorded(&root.config.state_root).is_empty());
}

fn isolab(root: &TestRoot) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_isolab"));
    cmd.env("ISOLAB_STATE_ROOT", &root.config.state_root);
    cmd
}

/// An `isolab run` whose command waits on its stdin; dropping this ends the wait (the
/// command exits, `--rm` cleans up) and reaps it, even when the test failed.
struct WaitingRun {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
}

impl WaitingRun {
    fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        self.child.wait().expect("isolab ends")
    }
}

impl Drop for WaitingRun {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"\n");
        }
        let _ = self.child.wait();
    }
}

#[test]
fn cli_run_userns_auto_is_root_inside_and_the_range_outside() {
    let root = TestRoot::new();
    let mut child = isolab(&root)
        .args(["run", "--rm", "--userns", "auto", "--", "/bin/sh", "-c"])
        .arg("id -u; id -g; read wait_for_the_test; exit 0")
        .stdin(ProcStdio::piped())
        .stdout(ProcStdio::piped())
        .stderr(ProcStdio::inherit())
        .spawn()
        .expect("isolab runs");
    let stdout = child.stdout.take().expect("stdout");
    let stdin = child.stdin.take();
    let run = WaitingRun { child, stdin };
    let mut out = BufReader::new(stdout);
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut line = String::new();
        out.read_line(&mut line).expect("reads");
        lines.push(line);
    }
    assert_eq!(lines, ["0\n", "0\n"], "uid and gid 0 inside");
    // While it waits on its stdin: the host's view of the same process.
    let records = isolab::runtime::list(&root.config.state_root);
    assert_eq!(records.len(), 1);
    let r = &records[0];
    let range = userns_ranges::range_of(&root.config.state_root, &r.id).expect("recorded");
    let cmd = command_pid(r.init_pid.expect("pid"));
    assert_eq!(host_uid(cmd), range.start);
    assert_eq!(id_map(cmd, "uid_map"), (0, range.start, RANGE_SIZE));
    assert!(run.finish().success());
    // --rm took the range back with the state dir.
    assert!(
        root.leftover_dirs().is_empty(),
        "{:?}",
        root.leftover_dirs()
    );
}

#[test]
fn ranges_of_parallel_cli_runs_are_disjoint_and_gc_frees_them() {
    let root = TestRoot::new();
    // All ten at once: separate processes, each taking the state root's lock.
    let spawned: Vec<_> = (0..10)
        .map(|_| {
            isolab(&root)
                .args(["run", "--userns", "auto", "--", "/bin/true"])
                .stdin(ProcStdio::null())
                .stdout(ProcStdio::null())
                .spawn()
                .expect("isolab runs")
        })
        .collect();
    for mut c in spawned {
        assert!(c.wait().expect("ends").success());
    }
    // Exited, not removed: each keeps its range until it is.
    let entries = userns_ranges::recorded(&root.config.state_root);
    assert_eq!(entries.len(), 10, "{entries:?}");
    for (i, e) in entries.iter().enumerate() {
        for other in &entries[i + 1..] {
            assert!(!e.range.overlaps(&other.range), "{e:?} {other:?}");
        }
    }
    let gc = isolab(&root).args(["gc"]).output().expect("gc runs");
    assert!(gc.status.success(), "{gc:?}");
    assert!(userns_ranges::recorded(&root.config.state_root).is_empty());
    assert!(
        root.leftover_dirs().is_empty(),
        "{:?}",
        root.leftover_dirs()
    );
}

#[test]
fn an_orphans_range_is_kept_while_it_runs_and_freed_when_gc_kills_it() {
    let root = TestRoot::new();
    // Declared after the root, so it is let go before the root's own gc runs.
    let _only_this_gc = runtime_common::GC
        .write()
        .unwrap_or_else(|e| e.into_inner());
    let mut orphan = started(&root, &auto("sleep 30"));
    let id = orphan.get().id().to_string();
    let init = orphan.get().init_pid().expect("pid");
    let state_dir = orphan.get().record().state_dir.clone();
    let range = userns_ranges::range_of(&root.config.state_root, &id).expect("recorded");
    // Its state dir goes behind the runtime's back; its processes still hold the ids.
    std::fs::remove_dir_all(&state_dir).expect("remove the state dir");
    let swept = userns_ranges::release_unclaimed(&root.config.state_root);
    let kept = userns_ranges::range_of(&root.config.state_root, &id);
    let report = isolab::runtime::gc(&root.config);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(init as i32), None);
    if let Some(c) = orphan.container.take() {
        std::mem::forget(c);
    }
    assert_eq!(swept.expect("sweeps"), Vec::<String>::new());
    assert_eq!(kept, Some(range), "a running orphan keeps its range");
    let report = report.expect("gc runs");
    assert!(report.orphans.iter().any(|o| o.id == id), "{report:?}");
    assert_eq!(userns_ranges::range_of(&root.config.state_root, &id), None);
}
