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
    let _one_at_a_time = crate::support::server::LESSONS_ON_THE_HOST.blocking_lock();
    let out = isolab()
        .args(["lessons", "check", "--source", "live", "uts", "net", "pid1"])
        .output()
        .expect("isolab runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let root = std::env::temp_dir().join(format!("isolab-test-lessons-{}", std::process::id()));
    let left: Vec<String> = std::fs::read_dir(&root)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path().display().to_string())
                .collect()
        })
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("7 passed, 0 failed"), "{text}");
    assert!(left.is_empty(), "containers left: {left:?}");
    let netns = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip runs");
    assert!(!String::from_utf8_lossy(&netns.stdout).contains("lesson5"));
    let ps = Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .expect("ps runs");
    assert!(!String::from_utf8_lossy(&ps.stdout).contains("sleep 301"));
}

/// Inside a container, /sys/fs/cgroup is its own cgroup, read-only, and a limit
/// changed from outside shows there at once.
#[test]
fn a_container_sees_its_own_cgroup_read_only_and_a_raised_limit() {
    use std::sync::Arc;
    use std::time::Duration;

    use isolab::live::hub::EventHub;
    use isolab::live::{LiveConfig, Supervisor};
    use isolab::runtime::exec_capture::Captured;
    use isolab::runtime::RuntimeConfig;
    use isolab_shared::limits::Limits;
    use isolab_shared::ContainerSpec;

    const PIDS_MAX: &str =
        "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max";
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    runtime.block_on(async {
        let mut config = RuntimeConfig::new(env!("CARGO_BIN_EXE_isolab").into());
        let root = std::env::temp_dir().join(format!("isolab-test-cgview-{}", std::process::id()));
        config.state_root = root.clone();
        let sup = Supervisor::new(
            LiveConfig::new(config),
            Arc::new(EventHub::default()),
            isolab::sysinfo::live_status(),
        );
        let spec = ContainerSpec {
            limits: Limits {
                pids: Some(20),
                ..Limits::default()
            },
            ..ContainerSpec::default()
        };
        let state = sup
            .create(spec, &isolab::live::CreateOptions::default())
            .await
            .expect("created");
        let run = |cmd: &'static str| {
            let sup = sup.clone();
            let id = state.id.clone();
            async move {
                match sup.run_captured(&id, cmd, Duration::from_secs(5)).await {
                    Ok(Captured::Finished { exit, output }) => (exit, output),
                    other => panic!("{cmd}: {other:?}"),
                }
            }
        };
        let before = run(PIDS_MAX).await;
        let write =
            run("echo 5 > /sys/fs/cgroup/pids.max || echo 5 > /sys/fs/cgroup/pids/pids.max").await;
        let raised = sup
            .set_limits(
                &state.id,
                Limits {
                    pids: Some(64),
                    ..Limits::default()
                },
            )
            .await;
        let after = run(PIDS_MAX).await;
        let removed = sup.remove(&state.id).await;
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(before, (0, "20\n".to_string()));
        assert_ne!(write.0, 0, "the write went through: {write:?}");
        assert!(write.1.contains("Read-only file system"), "{write:?}");
        raised.expect("limits changed");
        assert_eq!(after, (0, "64\n".to_string()));
        removed.expect("removed");
    });
}
