//! `isolab lessons check --source live`: lessons run on real containers, and leave no
//! container, host shell process or network namespace behind.

use std::process::Command;

fn isolab() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_isolab"));
    let root = std::env::temp_dir().join(format!("isolab-test-lessons-{}", std::process::id()));
    c.arg("--state-root").arg(root);
    c
}

#[test]
fn lessons_pass_on_the_kernel_and_leave_nothing_behind() {
    let out = isolab()
        .args(["lessons", "check", "--source", "live", "uts", "net", "pid1"])
        .output()
        .expect("isolab runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let root = std::env::temp_dir().join(format!("isolab-test-lessons-{}", std::process::id()));
    let left: Vec<String> = std::fs::read_dir(&root)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path().display().to_string()).collect())
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&root);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("7 passed, 0 failed"), "{text}");
    assert!(left.is_empty(), "containers left: {left:?}");
    let netns = Command::new("ip").args(["netns", "list"]).output().expect("ip runs");
    assert!(!String::from_utf8_lossy(&netns.stdout).contains("lesson5"));
    let ps = Command::new("ps").args(["-eo", "args"]).output().expect("ps runs");
    assert!(!String::from_utf8_lossy(&ps.stdout).contains("sleep 301"));
}
