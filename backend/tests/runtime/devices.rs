//! The device cgroup on the real kernel: a node the container's root makes for a
//! disk or /dev/mem (CAP_MKNOD is kept) cannot be opened; isolab's devices can.
//! Each enforcer is tested alone: the v1 `devices` controller through a container,
//! the cgroup2 device program in a group of the test's own (its process stays in the
//! v1 root group, which allows every device). Needs root.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::runtime as runtime_common;

use isolab::runtime::cgroup::device_bpf;
use isolab::runtime::cgroup::devices::v1_devices_mount;
use isolab::runtime::cgroup::CgroupVersion;
use runtime_common::{run, sh, unique, TestContainer, TestRoot};

#[test]
fn made_device_nodes_cannot_be_opened_but_isolabs_devices_can() {
    if v1_devices_mount().is_none() {
        eprintln!("skipped: no v1 devices controller on this host");
        return;
    }
    let root = TestRoot::new();
    // /dev is the container's tmpfs, mounted without nodev, so only the device
    // cgroup stands between a made node and the device.
    let script = "mknod /dev/disk0 b 8 0 && echo made-disk; \
                  head -c1 /dev/disk0 >/dev/null 2>/tmp/e1; cat /tmp/e1; \
                  mknod /dev/mem0 c 1 1 && echo made-mem; \
                  head -c1 /dev/mem0 >/dev/null 2>/tmp/e2; cat /tmp/e2; \
                  echo x >/dev/null && head -c4 /dev/zero | wc -c && head -c4 /dev/urandom | wc -c";
    let (exit, out, err) = run(&root, &sh(script));
    assert_eq!(exit.code, Some(0), "{out}{err}");
    assert!(
        out.contains("made-disk") && out.contains("made-mem"),
        "{out}{err}"
    );
    assert_eq!(
        out.matches("Operation not permitted").count(),
        2,
        "{out}{err}"
    );
    assert!(out.ends_with("4\n4\n"), "{out}{err}");
}

/// Where cgroup2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts).
fn cgroup2_mount() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        match right.split_whitespace().next() {
            Some("cgroup2") => left.split_whitespace().nth(4).map(PathBuf::from),
            _ => None,
        }
    })
}

/// A cgroup2 group and a scratch dir of the test's own, removed on drop.
struct OwnGroup {
    group: PathBuf,
    scratch: PathBuf,
    child: Option<std::process::Child>,
}

impl Drop for OwnGroup {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir(&self.group);
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// Runs `script` in a shell that is moved into `group` first (when given); gives
/// its stdout and stderr together.
fn shell_in(group: Option<&Path>, script: &str, own: &mut OwnGroup) -> String {
    let mut child = Command::new("/bin/sh")
        .args(["-c", &format!("read go; {script}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("stdin");
    own.child = Some(child);
    if let Some(group) = group {
        std::fs::write(group.join("cgroup.procs"), pid.to_string()).expect("join the group");
    }
    stdin.write_all(b"go\n").expect("go");
    drop(stdin);
    let out = own
        .child
        .take()
        .expect("child")
        .wait_with_output()
        .expect("wait");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_cgroup2_device_program_alone_refuses_made_nodes() {
    let Some(mount) = cgroup2_mount() else {
        eprintln!("skipped: no cgroup2 on this host");
        return;
    };
    let parent = mount.join("isolab");
    let _ = std::fs::create_dir(&parent);
    let name = unique("devprog");
    let mut own = OwnGroup {
        group: parent.join(&name),
        // Under /tmp: a filesystem mounted without nodev, where a made node would open.
        scratch: std::env::temp_dir().join(&name),
        child: None,
    };
    std::fs::create_dir(&own.group).expect("make a cgroup2 group");
    std::fs::create_dir(&own.scratch).expect("scratch dir");
    let program = device_bpf::load(&device_bpf::program(
        &device_bpf::isolab_rules().expect("rules"),
    ))
    .expect("load the device program");
    let id = device_bpf::program_id(&program).expect("program id");
    device_bpf::attach(&program, &own.group).expect("attach");
    drop(program);
    assert_eq!(device_bpf::attached_programs(&own.group).ok(), Some(1));

    // Made in the group (mknod is allowed for every device, as images expect), then
    // opened: each line says which open failed and why.
    let dir = own.scratch.display().to_string();
    let script = format!(
        "mknod {dir}/disk b 8 0 && mknod {dir}/mem c 1 1 && mknod {dir}/null c 1 3 && echo made; \
         for n in disk mem null; do (exec 3<>{dir}/$n) && echo $n:opened; done"
    );
    let group = own.group.clone();
    let inside = shell_in(Some(&group), &script, &mut own);
    assert!(inside.contains("made\n"), "{inside}");
    assert!(inside.contains("null:opened"), "{inside}");
    for node in ["disk", "mem"] {
        assert!(!inside.contains(&format!("{node}:opened")), "{inside}");
        assert!(
            inside.contains(&format!("{dir}/{node}: Operation not permitted")),
            "{inside}"
        );
    }
    assert_eq!(
        inside.matches("Operation not permitted").count(),
        2,
        "{inside}"
    );

    // The same nodes from outside the group: whatever the kernel answers there (a
    // missing disk, a locked /dev/mem), it is not the program's EPERM for the disk.
    let outside = shell_in(
        None,
        &format!("for n in disk null; do (exec 3<>{dir}/$n) && echo $n:opened; done"),
        &mut own,
    );
    assert!(outside.contains("null:opened"), "{outside}");
    assert!(
        !outside.contains(&format!("{dir}/disk: Operation not permitted")),
        "{outside}"
    );

    // The program goes with the group.
    std::fs::remove_dir(&own.group).expect("remove the group");
    let start = Instant::now();
    while device_bpf::program_exists(id) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !device_bpf::program_exists(id),
        "program {id} outlived its group"
    );
}

#[test]
fn a_container_with_a_cgroup2_group_gets_the_device_program() {
    let root = TestRoot::new();
    let mut c = TestContainer::create(&root, &sh("exec sleep 30"));
    let container = c.get();
    let Some(group) = container.cgroup().and_then(|cg| {
        cg.dirs()
            .iter()
            .find(|d| d.version == CgroupVersion::V2)
            .map(|d| d.path.clone())
    }) else {
        eprintln!("skipped: this container has no cgroup2 group");
        return;
    };
    let attached = device_bpf::attached_programs(&group);
    let step = container
        .record()
        .setup
        .iter()
        .find(|s| s.name == "allow only isolab's devices (cgroup2)")
        .cloned();
    let devices = container.record().isolation.devices.clone();
    c.delete();
    assert_eq!(attached.ok(), Some(1));
    let step = step.expect("the step is recorded");
    assert_eq!(step.error, None);
    assert!(step.call.contains("c 1:3 rwm"), "{}", step.call);
    assert_eq!(devices.len(), isolab_shared::plan::DEVICE_RULES.len());
}
