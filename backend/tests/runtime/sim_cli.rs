//! `isolab sim` as a real process: piped stdin in, only the output out.

use std::io::Write;
use std::process::{Command, Stdio};

fn run_sim(args: &[&str], input: &str) -> (String, bool) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_isolab"))
        .arg("sim")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("isolab starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .expect("writes the script");
    let out = child.wait_with_output().expect("isolab ends");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.success(),
    )
}

#[test]
fn piped_unshare_then_ps_shows_the_shell_as_pid_1() {
    let (out, ok) = run_sim(&[], "unshare -p -f --mount-proc\nps\n");
    assert!(ok, "exits cleanly: {out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["PID", "TTY", "TIME", "CMD"]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["1", "pts/0", "00:00:00", "sh"]
    );
    assert_eq!(lines[2].split_whitespace().nth(3), Some("ps"));
    assert_eq!(lines.len(), 3, "nothing of the host is visible: {out}");
    assert!(
        !out.contains('$') && !out.contains('#'),
        "no prompt when piped: {out}"
    );
}

#[test]
fn scenario_flag_and_unknown_commands() {
    let (out, ok) = run_sim(&["--scenario", "two-containers"], "ps -ef\nfrobnicate\n");
    assert!(ok);
    assert_eq!(out.matches("isolab-init").count(), 2, "{out}");
    assert!(out.contains("sh: frobnicate: command not found"), "{out}");
    let (_, ok) = run_sim(&["--scenario", "no-such"], "");
    assert!(!ok, "an unknown scenario is an error");
}

#[test]
fn exit_of_the_last_shell_ends_the_session() {
    let (out, ok) = run_sim(
        &[],
        "unshare -u\nhostname inner\nexit\nhostname\nexit\nhostname\n",
    );
    assert!(ok);
    assert_eq!(
        out, "isolab-host\n",
        "after the last exit nothing more runs"
    );
}
