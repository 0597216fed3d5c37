//! `isolab run/ps/rm/gc` as a user sees them: exit codes pass through, errors are one
//! line with a non-zero exit, and nothing is left behind.

use crate::support::runtime as runtime_common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};

use runtime_common::TestRoot;

fn isolab(root: &TestRoot, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_isolab"))
        .args(args)
        .env("ISOLAB_STATE_ROOT", &root.config.state_root)
        .stdin(Stdio::null())
        .output()
        .expect("isolab runs")
}

fn one_error_line(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "must fail: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("isolab: "), "{err}");
    err
}

fn assert_nothing_left(root: &TestRoot) {
    let left = root.leftover_dirs();
    assert!(left.is_empty(), "left in the state root: {left:?}");
}

#[test]
fn run_passes_exit_codes_and_output_through() {
    let root = TestRoot::new();
    let out = isolab(
        &root,
        &[
            "run",
            "--rm",
            "--",
            "/bin/sh",
            "-c",
            "echo out; echo err >&2; exit 7",
        ],
    );
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let out = isolab(&root, &["run", "--rm", "--", "/bin/sh", "-c", "kill -9 $$"]);
    assert_eq!(out.status.code(), Some(137));
    let out = isolab(&root, &["run", "--rm", "--", "no-such-command"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(root.leftover_dirs().is_empty());
}

#[test]
fn user_errors_are_one_line_and_leave_nothing() {
    let root = TestRoot::new();
    let e = one_error_line(&isolab(
        &root,
        &["run", "--image", "/no/such/dir", "--", "true"],
    ));
    assert!(e.contains("/no/such/dir"), "{e}");
    let e = one_error_line(&isolab(&root, &["run", "--memory", "64Q", "--", "true"]));
    assert!(e.contains("64Q"), "{e}");
    let e = one_error_line(&isolab(&root, &["run", "--pids", "0", "--", "true"]));
    assert!(e.contains("pids"), "{e}");
    let e = one_error_line(&isolab(&root, &["run", "--ns", "pid,time", "--", "true"]));
    assert!(e.contains("time"), "{e}");
    // Like a shell: 127 when the command is missing, 126 when execve(2) refuses it
    // (here a script whose interpreter the image lacks).
    let out = isolab(&root, &["run", "--rm", "--", "/no/such/command"]);
    assert!(one_error_line(&out).contains("not found"));
    assert_eq!(out.status.code(), Some(127));
    let image = root.config.state_root.with_extension("image");
    std::fs::create_dir_all(&image).expect("image dir");
    let script = image.join("run.sh");
    std::fs::write(&script, "#!/no/such/interpreter\n").expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let image_arg = image.display().to_string();
    let out = isolab(
        &root,
        &["run", "--rm", "--image", &image_arg, "--", "/run.sh"],
    );
    let _ = std::fs::remove_dir_all(&image);
    assert!(one_error_line(&out).contains("cannot run"));
    assert_eq!(out.status.code(), Some(126));
    // Not root: drop to nobody for this one command.
    let out = Command::new(env!("CARGO_BIN_EXE_isolab"))
        .args(["run", "--", "true"])
        .env("ISOLAB_STATE_ROOT", &root.config.state_root)
        .uid(65534)
        .gid(65534)
        .output()
        .expect("runs as nobody");
    let e = one_error_line(&out);
    assert!(e.contains("root"), "{e}");
    assert_nothing_left(&root);
}

#[test]
fn ps_lists_and_rm_removes_a_running_container() {
    let root = TestRoot::new();
    let name = runtime_common::unique("cli");
    let mut run = Command::new(env!("CARGO_BIN_EXE_isolab"))
        .args(["run", "--name", &name, "--", "sleep", "30"])
        .env("ISOLAB_STATE_ROOT", &root.config.state_root)
        .stdin(Stdio::null())
        .spawn()
        .expect("isolab run starts");
    let mut listed = String::new();
    for _ in 0..100 {
        listed = String::from_utf8_lossy(&isolab(&root, &["ps"]).stdout).into_owned();
        if listed
            .lines()
            .any(|l| l.contains(&name) && l.contains("running"))
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        listed
            .lines()
            .any(|l| l.contains(&name) && l.contains("running")),
        "{listed}"
    );
    let out = isolab(&root, &["rm", &name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = run.wait().expect("isolab run ends");
    assert_eq!(status.code(), Some(137), "killed by SIGKILL: {status:?}");
    assert_nothing_left(&root);
    assert!(!String::from_utf8_lossy(&isolab(&root, &["ps"]).stdout).contains(&name));
    let e = one_error_line(&isolab(&root, &["rm", &name]));
    assert!(e.contains("no container"), "{e}");
}

#[test]
fn run_with_every_namespace_maps_root_to_an_unprivileged_range() {
    let root = TestRoot::new();
    let out = isolab(
        &root,
        &[
            "run",
            "--rm",
            "--ns",
            "pid,net,ipc,uts,mnt,user,cgroup",
            "--",
            "/bin/sh",
            "-c",
            "id -u; cat /proc/self/uid_map; grep -c . /proc/self/cgroup; ps -o comm= -p 1",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "0", "root inside: {stdout}");
    let map: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(map, ["0", "100000", "65536"], "{stdout}");
    assert_eq!(lines.last().copied(), Some("isolab-init"), "{stdout}");
    assert!(root.leftover_dirs().is_empty());
}

#[test]
fn run_makes_only_the_cgroups_its_limits_need() {
    let root = TestRoot::new();
    let line_of = |text: &str, controller: &str| -> String {
        text.lines()
            .find(|l| {
                l.split(':')
                    .nth(1)
                    .is_some_and(|c| c.split(',').any(|c| c == controller))
            })
            .unwrap_or_default()
            .to_string()
    };
    let out = isolab(&root, &["run", "--rm", "--", "cat", "/proc/self/cgroup"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(line_of(&text, "pids").contains("/isolab/"), "{text}");
    if text.lines().any(|l| l.contains(":memory:")) {
        // v1 memory: no group of ours without a memory limit.
        assert!(!line_of(&text, "memory").contains("/isolab/"), "{text}");
        let out = isolab(
            &root,
            &[
                "run",
                "--rm",
                "--memory",
                "64M",
                "--",
                "cat",
                "/proc/self/cgroup",
            ],
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(line_of(&text, "memory").contains("/isolab/"), "{text}");
    }
    if !line_of(&text, "pids").starts_with("0:") {
        // v1 pids (hybrid host): the controller-free cgroup2 view gets no group.
        let unified = text
            .lines()
            .find(|l| l.starts_with("0::"))
            .unwrap_or_default();
        assert!(!unified.contains("/isolab/"), "{text}");
    }
    assert!(root.leftover_dirs().is_empty());
}

#[test]
fn run_passes_signals_on_to_the_container() {
    use std::io::{BufRead, BufReader};
    let root = TestRoot::new();
    let mut run = Command::new(env!("CARGO_BIN_EXE_isolab"))
        .args([
            "run",
            "--rm",
            "--",
            "/bin/sh",
            "-c",
            "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done",
        ])
        .env("ISOLAB_STATE_ROOT", &root.config.state_root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("isolab run starts");
    let mut lines = BufReader::new(run.stdout.take().expect("piped stdout")).lines();
    let first = lines.next().and_then(Result::ok);
    assert_eq!(first.as_deref(), Some("ready"));
    let cli = nix::unistd::Pid::from_raw(run.id() as i32);
    nix::sys::signal::kill(cli, nix::sys::signal::Signal::SIGTERM).expect("signal the CLI");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = run.wait().expect("isolab run ends");
    assert_eq!(rest, ["got-term"], "the command's trap ran");
    assert_eq!(
        status.code(),
        Some(7),
        "its exit code came back: {status:?}"
    );
    assert_nothing_left(&root);
}

#[test]
fn run_rm_ends_leftover_processes_and_removes_every_group() {
    let root = TestRoot::new();
    let started = std::time::Instant::now();
    // The command ends at once but leaves a child behind; --rm must not wait for it
    // to finish, and must not leave its group behind either.
    let out = isolab(
        &root,
        &[
            "run",
            "--rm",
            "--",
            "/bin/sh",
            "-c",
            "sleep 30 & cat /proc/self/cgroup",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let groups: Vec<&str> = text
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .filter(|path| path.contains("/isolab/"))
        .collect();
    assert!(!groups.is_empty(), "the command ran in a group: {text}");
    for group in groups {
        let on_host: Vec<std::path::PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
            .expect("cgroupfs")
            .flatten()
            .map(|h| h.path())
            .chain([std::path::PathBuf::from("/sys/fs/cgroup")])
            .map(|mount| mount.join(group.trim_start_matches('/')))
            .filter(|dir| dir.exists())
            .collect();
        assert!(on_host.is_empty(), "left behind: {on_host:?}");
    }
    assert_nothing_left(&root);
}
