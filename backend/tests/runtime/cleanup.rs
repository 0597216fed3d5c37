//! Nothing is left behind: after rm, after 50 concurrent containers, after a failed
//! start, and after `gc` of a container whose owner died.

use crate::support::runtime as runtime_common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use isolab::runtime::{cgroup, Container, Stdio};
use runtime_common::{sh, TestContainer, TestRoot};

/// Container-like cgroup ids (12 hex digits) under `isolab/` right now.
fn isolab_cgroups() -> BTreeSet<String> {
    cgroup::leftover_ids()
        .into_iter()
        .filter(|id| id.len() == 12 && id.chars().all(|c| c.is_ascii_hexdigit()))
        .collect()
}

/// PIDs whose parent is this test process and whose environment names a state dir
/// under `root` (the runtime sets it on every init). Other tests in this binary run
/// side by side and have children of their own; only ours count.
fn my_children_under(root: &std::path::Path) -> Vec<u32> {
    let me = std::process::id().to_string();
    let mark = format!(
        "{}={}",
        isolab::runtime::orphans::STATE_DIR_ENV,
        root.display()
    );
    std::fs::read_dir("/proc")
        .expect("read /proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit(')')
                    .next()
                    .and_then(|r| r.split_whitespace().nth(1))
                    == Some(me.as_str())
            })
        })
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                env.split(|b| *b == 0)
                    .any(|var| var.starts_with(mark.as_bytes()))
            })
        })
        .collect()
}

fn mounted_under(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| std::path::Path::new(m).starts_with(dir))
        .collect()
}

struct Trace {
    pids: Vec<u32>,
    cgroup_dirs: Vec<PathBuf>,
    state_dir: PathBuf,
    owned: Vec<PathBuf>,
}

fn trace(c: &Container) -> Trace {
    let cg = c.cgroup().expect("cgroup");
    Trace {
        pids: cg.pids(),
        cgroup_dirs: cg.paths(),
        state_dir: c.record().state_dir.clone(),
        owned: c.record().owned_dirs.clone(),
    }
}

fn assert_gone(t: &Trace) {
    for pid in &t.pids {
        assert!(
            !PathBuf::from(format!("/proc/{pid}")).exists(),
            "process {pid} left"
        );
    }
    for d in t.cgroup_dirs.iter().chain(&t.owned).chain([&t.state_dir]) {
        assert!(!d.exists(), "{} left", d.display());
    }
    assert!(mounted_under(&t.state_dir).is_empty());
}

#[test]
fn after_rm_nothing_is_left() {
    // Compares what is left on the whole host: no other test's containers meanwhile.
    let _alone = runtime_common::host_alone();
    let root = TestRoot::new();
    let image = busybox_image();
    let mut spec = sh("sleep 30 & sleep 30");
    spec.image = image.0.display().to_string();
    let mut tc = TestContainer::create(&root, &spec);
    tc.get().start().expect("starts");
    std::thread::sleep(std::time::Duration::from_millis(50));
    let t = trace(tc.get());
    assert!(t.pids.len() >= 3, "init, sh and sleep run: {:?}", t.pids);
    assert!(
        t.owned.iter().any(|d| d.ends_with("upper")),
        "overlay dirs: {:?}",
        t.owned
    );
    tc.delete();
    assert_gone(&t);
    assert!(root.leftover_dirs().is_empty());
}

/// A directory removed (with its contents) on drop, even when the test fails.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A tiny image: busybox and its applet links for sh and sleep.
fn busybox_image() -> TempDir {
    let dir = TempDir(std::env::temp_dir().join(runtime_common::unique("isolab-test-busybox")));
    let bin = dir.0.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir image");
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("busybox (busybox-static) is installed");
    std::fs::copy(busybox, bin.join("busybox")).expect("copy busybox");
    for applet in ["sh", "sleep", "true", "ls", "cat"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("applet link");
    }
    dir
}

#[test]
fn fifty_concurrent_containers_leave_nothing() {
    // Compares what is left on the whole host: no other test's containers meanwhile.
    let _alone = runtime_common::host_alone();
    let root = TestRoot::new();
    let before = isolab_cgroups();
    let spec = sh("sleep 30");
    let mut all: Vec<TestContainer> = Vec::new();
    let mut traces = Vec::new();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..5)
            .map(|_| {
                s.spawn(|| {
                    (0..10)
                        .map(|_| {
                            let c = Container::create(&root.config, &spec, Stdio::Null)
                                .expect("create");
                            TestContainer { container: Some(c) }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for w in workers {
            all.extend(w.join().expect("worker"));
        }
    });
    for tc in &mut all {
        tc.get().start().expect("start");
    }
    assert_eq!(all.len(), 50);
    let running = all
        .iter()
        .filter(|tc| {
            tc.container
                .as_ref()
                .is_some_and(|c| c.record().init_alive())
        })
        .count();
    assert_eq!(running, 50, "all 50 run at once");
    assert_eq!(isolab_cgroups().difference(&before).count(), 50);
    for tc in &mut all {
        traces.push(trace(tc.get()));
    }
    std::thread::scope(|s| {
        let mut chunks: Vec<Vec<TestContainer>> = Vec::new();
        while !all.is_empty() {
            let n = all.len().min(10);
            chunks.push(all.drain(..n).collect());
        }
        for chunk in chunks {
            s.spawn(move || chunk.into_iter().for_each(TestContainer::delete));
        }
    });
    for t in &traces {
        assert_gone(t);
    }
    assert_nothing_left(&root, &before);
}

/// No state dir, no cgroup beyond `before`, and no child process is left.
fn assert_nothing_left(root: &TestRoot, before: &BTreeSet<String>) {
    let left = root.leftover_dirs();
    assert!(left.is_empty(), "state dirs left: {left:?}");
    let groups: Vec<_> = isolab_cgroups().difference(before).cloned().collect();
    assert!(groups.is_empty(), "cgroups left: {groups:?}");
    let children = my_children_under(&root.config.state_root);
    assert!(children.is_empty(), "children left: {children:?}");
}

#[test]
fn a_failed_start_leaves_nothing() {
    // Compares what is left on the whole host: no other test's containers meanwhile.
    let _alone = runtime_common::host_alone();
    let root = TestRoot::new();
    let before = isolab_cgroups();
    let empty_image =
        TempDir(std::env::temp_dir().join(runtime_common::unique("isolab-empty-image")));
    std::fs::create_dir_all(&empty_image.0).expect("mkdir");
    let cases = [
        // Fails in the init, after cgroup, overlay and mounts exist.
        isolab_shared::ContainerSpec {
            image: empty_image.0.display().to_string(),
            ..sh("true")
        },
        isolab_shared::ContainerSpec {
            command: vec!["/no/such/command".into()],
            ..sh("true")
        },
        // Fails before anything is made.
        isolab_shared::ContainerSpec {
            image: "/no/such/image".into(),
            ..sh("true")
        },
    ];
    for spec in &cases {
        let err = Container::create(&root.config, spec, Stdio::Null).expect_err("must fail");
        assert!(!err.to_string().contains('\n'), "one line: {err}");
    }
    drop(empty_image);
    assert_nothing_left(&root, &before);
}

#[test]
fn gc_cleans_up_after_a_dead_owner() {
    // Compares what is left on the whole host: no other test's containers meanwhile.
    let _alone = runtime_common::host_alone();
    let root = TestRoot::new();
    let mut c = Container::create(&root.config, &sh("sleep 30"), Stdio::Null).expect("create");
    c.start().expect("start");
    let t = trace(&c);
    let pid = c.init_pid().expect("init pid");
    // The owner "crashes": its container dies, the record still says running.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill init");
    nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None).expect("reap");
    std::mem::forget(c);
    assert_eq!(root.leftover_dirs().len(), 1);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_isolab"))
        .arg("gc")
        .env("ISOLAB_STATE_ROOT", &root.config.state_root)
        .output()
        .expect("isolab gc runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed"));
    assert_gone(&t);
}

/// Runs `isolab gc` (with `extra` flags) on `root`; its stdout.
fn isolab_gc(root: &TestRoot, extra: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_isolab"))
        .arg("gc")
        .args(extra)
        .env("ISOLAB_STATE_ROOT", &root.config.state_root)
        .output()
        .expect("isolab gc runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn gc_kills_an_orphan_whose_state_dir_is_gone_and_spares_other_roots() {
    // Compares what is left on the whole host: no other test's containers meanwhile.
    let _alone = runtime_common::host_alone();
    let root = TestRoot::new();
    let other_root = TestRoot::new();
    // Declared after the roots, so it is let go before their own gc runs.
    let _only_this_gc = runtime_common::GC
        .write()
        .unwrap_or_else(|e| e.into_inner());
    let mut orphan = TestContainer::create(&root, &sh("sleep 30"));
    orphan.get().start().expect("start the orphan");
    let mut other = TestContainer::create(&other_root, &sh("sleep 30"));
    other
        .get()
        .start()
        .expect("start the other root's container");
    let t = trace(orphan.get());
    let id = orphan.get().id().to_string();
    let init = orphan.get().init_pid().expect("init pid");
    let other_pids = other.get().cgroup().expect("cgroup").pids();
    // Its state dir goes behind the runtime's back: only its cgroup tells it exists.
    std::fs::remove_dir_all(&t.state_dir).expect("remove the state dir");

    let listed = isolab_gc(&root, &["--dry-run"]);
    let still_there = PathBuf::from(format!("/proc/{init}")).exists();
    let collected = isolab_gc(&root, &[]);
    // The init was this test's child: reap it so its PID is gone too.
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(init as i32), None);
    let other_alive = other_pids
        .iter()
        .all(|p| PathBuf::from(format!("/proc/{p}")).exists());
    let other_listed = listed.contains(other.get().id()) || collected.contains(other.get().id());
    // Its container is gone already; the other one is cleaned up as usual.
    if let Some(c) = orphan.container.take() {
        std::mem::forget(c);
    }
    other.delete();

    assert!(
        listed.contains(&format!("would remove orphan {id} pid {init}")),
        "dry run lists the orphan: {listed}"
    );
    assert!(listed.contains("isolab-init"), "with its command: {listed}");
    assert!(still_there, "a dry run kills nothing");
    assert!(
        collected.contains(&format!("removed orphan {id} pid {init}")),
        "gc reports the orphan: {collected}"
    );
    assert_gone(&t);
    assert!(other_alive, "another root's container is left alone");
    assert!(!other_listed, "and not reported: {listed} {collected}");
}

/// Kills a container's group and removes it when dropped, so a failing test leaves no
/// orphan behind (gc spares one whose owner it cannot tell).
struct GroupGuard(String);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(cg) = cgroup::open_existing(&self.0) {
            let _ = cg.kill_all();
            let _ = cg.remove();
        }
    }
}

/// The id and init PID of the one container `isolab run` made under `root`, once its
/// command runs (within 10 s): before that, PID 1 gives up when the CLI goes.
fn running_cli_container(root: &TestRoot, command: &str) -> Option<(String, u32)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let comm = |pid: &u32| {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.trim().to_string())
            .unwrap_or_default()
    };
    while std::time::Instant::now() < deadline {
        let found = root.leftover_dirs().into_iter().find_map(|id| {
            let pids = cgroup::open_existing(&id)?.pids();
            let init = pids
                .iter()
                .copied()
                .find(|pid| comm(pid) == "isolab-init")?;
            pids.iter()
                .any(|pid| comm(pid) == command)
                .then_some((id, init))
        });
        if found.is_some() {
            return found;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    None
}

#[test]
fn gc_kills_an_orphan_left_by_isolab_run() {
    // Compares what is left on the whole host: no other test's containers meanwhile.
    let _alone = runtime_common::host_alone();
    let root = TestRoot::new();
    let _only_this_gc = runtime_common::GC
        .write()
        .unwrap_or_else(|e| e.into_inner());
    // `isolab run` is single-threaded: it forks the container's PID 1 itself, with no
    // helper process in between.
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_isolab"))
        .args(["run", "--", "/bin/sleep", "30"])
        .env("ISOLAB_STATE_ROOT", &root.config.state_root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("isolab run starts");
    let found = running_cli_container(&root, "sleep");
    let _group = found.as_ref().map(|(id, _)| GroupGuard(id.clone()));
    // The CLI dies and its state dir goes: only the cgroup tells the container exists.
    let _ = cli.kill();
    let _ = cli.wait();
    let (id, init) = found.expect("isolab run made a container");
    let named = std::fs::read(format!("/proc/{init}/environ")).unwrap_or_default();
    std::fs::remove_dir_all(root.config.state_root.join(&id)).expect("remove the state dir");
    let collected = isolab_gc(&root, &[]);
    // The init was the CLI's child: whoever inherited it reaps it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while PathBuf::from(format!("/proc/{init}")).exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let init_gone = !PathBuf::from(format!("/proc/{init}")).exists();

    let mark = format!(
        "{}={}",
        isolab::runtime::orphans::STATE_DIR_ENV,
        root.config.state_root.join(&id).display()
    );
    assert!(
        named.split(|b| *b == 0).any(|var| var == mark.as_bytes()),
        "the init names its state dir: {:?}",
        String::from_utf8_lossy(&named)
    );
    // Any server starting on this host (other test binaries run beside this one) also
    // removes orphans of every state root, and may come first: then this gc has nothing
    // left to report. Either way the orphan goes, which it never did while its init
    // named no state dir.
    let reported = collected.contains(&format!("removed orphan {id} pid {init}"));
    let group_gone = !isolab_cgroups().contains(&id);
    let in_group = cgroup::open_existing(&id).map(|cg| cg.pids());
    assert!(
        reported || (init_gone && group_gone),
        "gc removes the orphan: {collected:?}; init gone {init_gone}, group {in_group:?}"
    );
    assert!(init_gone, "its init is gone");
    assert!(group_gone, "and its cgroup");
}
