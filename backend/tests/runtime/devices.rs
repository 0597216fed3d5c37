//! The device cgroup on the real kernel: a node the container's root makes for a
//! disk or /dev/mem (CAP_MKNOD is kept) cannot be opened; isolab's devices can.
//! Needs root and a host with the v1 `devices` controller.

use crate::support::runtime as runtime_common;

use isolab::runtime::cgroup::devices::v1_devices_mount;
use runtime_common::{run, sh, TestRoot};

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
