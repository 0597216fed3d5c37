//! The security baseline as seen from inside: capabilities, no_new_privs, masked and
//! read-only /proc paths, mount(2) refused, no leaked fds.

use crate::support::runtime as runtime_common;

use isolab::runtime::plan::DEFAULT_CAPABILITIES;
use runtime_common::{run, sh, TestContainer, TestRoot};

/// The bit mask of Docker's 14 default capabilities.
fn default_caps_mask() -> u64 {
    DEFAULT_CAPABILITIES
        .iter()
        .map(|name| {
            let cap: caps::Capability = name.parse().expect("known capability");
            1u64 << cap.index()
        })
        .sum()
}

fn status_hex(status: &str, key: &str) -> u64 {
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .expect("status line");
    u64::from_str_radix(line.split_whitespace().nth(1).expect("value"), 16).expect("hex")
}

#[test]
fn capabilities_are_cut_and_no_new_privs_is_set() {
    let root = TestRoot::new();
    let (exit, out, err) = run(&root, &sh("cat /proc/self/status"));
    assert_eq!(exit.code, Some(0), "{err}");
    let allowed = default_caps_mask();
    for key in ["CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"] {
        let caps = status_hex(&out, key);
        assert_eq!(caps & !allowed, 0, "{key} {caps:x} exceeds the default 14");
    }
    assert_eq!(status_hex(&out, "CapBnd:"), allowed);
    let nnp = out
        .lines()
        .find(|l| l.starts_with("NoNewPrivs:"))
        .expect("NoNewPrivs line");
    assert!(nnp.ends_with('1'), "{nnp}");
}

#[test]
fn proc_is_masked_and_mount_is_refused() {
    let root = TestRoot::new();
    let script = "echo kcore=$(head -c 4096 /proc/kcore | wc -c); \
                  (echo h > /proc/sysrq-trigger) 2>/dev/null && echo sysrq=written || echo sysrq=refused; \
                  (echo 1 > /proc/sys/kernel/ns_last_pid) 2>/dev/null && echo sys=written || echo sys=refused; \
                  mount -t tmpfs none /tmp; echo mount=$?";
    let (exit, out, err) = run(&root, &sh(script));
    assert_eq!(exit.code, Some(0), "{err}");
    assert!(out.contains("kcore=0"), "{out}");
    assert!(out.contains("sysrq=refused"), "{out}");
    assert!(out.contains("sys=refused"), "{out}");
    assert!(!out.contains("mount=0"), "{out}");
    assert!(
        err.to_lowercase().contains("permission denied"),
        "mount(2) gives EPERM: {err}"
    );
}

#[test]
fn only_stdio_fds_reach_the_command() {
    let root = TestRoot::new();
    // The fds of a plain child of the command (no pipeline, no shell bookkeeping).
    let (exit, out, err) = run(
        &root,
        &sh("sleep 5 & p=$!; sleep 0.2; ls /proc/$p/fd | tr '\\n' ' '; kill $p"),
    );
    assert_eq!(exit.code, Some(0), "{err}");
    assert_eq!(out.trim(), "0 1 2");
}

#[test]
fn with_a_tty_the_fds_are_the_container_pty() {
    let root = TestRoot::new();
    let mut spec = sh("ls -l /proc/$$/fd; tty");
    spec.tty = true;
    let mut tc = TestContainer::create(&root, &spec);
    let master = tc.get().take_tty().expect("a pty master");
    isolab::runtime::resize(std::os::fd::AsFd::as_fd(&master), 100, 30).expect("resize");
    tc.get().start().expect("starts");
    let mut out = String::new();
    let mut f = std::fs::File::from(master);
    let mut buf = [0u8; 4096];
    // Read until EIO (the slave side closed).
    while let Ok(n) = std::io::Read::read(&mut f, &mut buf) {
        if n == 0 {
            break;
        }
        out.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let exit = tc.get().wait().expect("wait");
    assert_eq!(exit.code, Some(0));
    let fds: Vec<&str> = out.lines().filter(|l| l.contains(" -> ")).collect();
    assert_eq!(fds.len(), 3, "{out}");
    assert!(
        fds.iter().all(|l| l.trim_end().ends_with("/dev/pts/0")),
        "{out}"
    );
    assert!(out.contains("/dev/pts/0"));
    let facts = &tc.get().record().isolation;
    assert!(facts.no_new_privs);
    // Some kernels (this CI host's among them) have no /proc/kcore or sysrq-trigger.
    let on_host = |p: &&&str| p.starts_with("/proc/") && std::path::Path::new(p).exists();
    for p in isolab::runtime::plan::MASKED_PATHS.iter().filter(on_host) {
        assert!(
            facts.masked_paths.contains(&p.to_string()),
            "{p} masked: {facts:?}"
        );
    }
    for p in isolab::runtime::plan::READONLY_PATHS.iter().filter(on_host) {
        assert!(
            facts.readonly_paths.contains(&p.to_string()),
            "{p} read-only: {facts:?}"
        );
    }
    assert!(!facts.masked_paths.is_empty() && !facts.readonly_paths.is_empty());
    tc.delete();
}
