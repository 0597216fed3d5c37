//! The seccomp filter on the real kernel: what the default profile refuses (EPERM),
//! what still works, `seccomp=unconfined`, and a user profile. Needs root.

use crate::support::runtime as runtime_common;

use isolab_shared::seccomp::{SeccompProfile, SeccompSetting};
use isolab_shared::ExitStatus;
use runtime_common::{run, sh, TestRoot};

/// Runs `script` in a default container; gives (exit code, stdout + stderr).
fn run_with(seccomp: SeccompSetting, script: &str) -> (Option<i32>, String) {
    let root = TestRoot::new();
    let mut spec = sh(script);
    spec.security.seccomp = seccomp;
    let (exit, out, err) = run(&root, &spec);
    let ExitStatus { code, .. } = exit;
    (code, format!("{out}{err}"))
}

/// A perl one-liner that makes raw system call `nr` with zero arguments and prints
/// the errno text (perl-base is on every Debian host).
fn raw_syscall(name: &str, nr: u32) -> String {
    format!("perl -e '$r = syscall({nr}, 0, 0, 0, 0, 0); print \"{name}: \", ($r < 0 ? $! : \"ok\"), \"\\n\"'; ")
}

#[test]
fn the_default_filter_refuses_escape_calls_with_eperm() {
    let mut script = String::from("grep Seccomp: /proc/self/status; ");
    for (name, nr) in [
        ("keyctl", 250),
        ("add_key", 248),
        ("reboot", 169),
        ("kexec_load", 246),
        ("mount", 165),
    ] {
        script.push_str(&raw_syscall(name, nr));
    }
    script.push_str("unshare -U true 2>&1; echo unshare=$?; ");
    script.push_str("mount -t tmpfs none /tmp 2>&1; echo mount=$?");
    let (code, out) = run_with(SeccompSetting::Default, &script);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Seccomp:\t2\n"), "{out}");
    for name in ["keyctl", "add_key", "reboot", "kexec_load", "mount"] {
        assert!(
            out.contains(&format!("{name}: Operation not permitted\n")),
            "{name}: {out}"
        );
    }
    assert!(
        out.contains("unshare: unshare failed: Operation not permitted"),
        "{out}"
    );
    assert!(
        out.contains("unshare=1") && !out.contains("mount=0"),
        "{out}"
    );
}

#[test]
fn ordinary_programs_still_work_under_the_filter() {
    let (code, out) = run_with(
        SeccompSetting::Default,
        "ls / >/dev/null && cat /etc/hostname >/dev/null && ps -e >/dev/null \
         && echo hi | sh -c 'read x; echo got $x' && (sleep 0 &) && wait && echo done",
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("got hi\n") && out.ends_with("done\n"), "{out}");
}

#[test]
fn seccomp_unconfined_lifts_the_filter() {
    let script = format!(
        "grep Seccomp: /proc/self/status; {}",
        raw_syscall("keyctl", 250)
    );
    let (code, out) = run_with(SeccompSetting::Unconfined, &script);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Seccomp:\t0\n"), "{out}");
    // keyctl(0, ...) is KEYCTL_GET_KEYRING_ID: the kernel answers, not a filter.
    assert!(!out.contains("keyctl: Operation not permitted"), "{out}");
}

#[test]
fn a_user_profile_that_blocks_mkdir_makes_mkdir_fail_with_eperm() {
    let profile = SeccompProfile::from_json(
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#,
    );
    let Ok(profile) = profile else {
        panic!("{profile:?}");
    };
    let (code, out) = run_with(
        SeccompSetting::Profile(Box::new(profile)),
        "mkdir /tmp/d 2>&1; echo mkdir=$?; touch /tmp/f && echo touched",
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Operation not permitted") && out.contains("mkdir=1"),
        "{out}"
    );
    assert!(out.contains("touched"), "{out}");
}
