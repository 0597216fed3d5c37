use super::*;
use crate::NamespaceSet;

fn paths() -> ContainerPaths {
    ContainerPaths::under(Path::new("/run/isolab-test/c1"))
}

fn host() -> HostFacts {
    HostFacts {
        image_dirs: vec![
            HostDir::Dir("/usr".into()),
            HostDir::Symlink {
                path: "/bin".into(),
                points_to: "usr/bin".into(),
            },
        ],
        resolv_conf: "nameserver 10.0.2.3\n".into(),
        cgroups: HostCgroups::V2,
    }
}

#[test]
fn default_spec_pivots_and_hardens_in_order() {
    let plan = build(
        "c1",
        &ContainerSpec::default(),
        "c1",
        &paths(),
        None,
        &host(),
    );
    let pos = |f: &dyn Fn(&PlannedStep) -> bool| plan.steps.iter().position(f);
    let slave = pos(&|s| matches!(s, PlannedStep::MakeRootSlave)).expect("rslave step");
    let proc_ = pos(&|s| matches!(s, PlannedStep::MountProc { .. })).expect("proc step");
    let pivot = pos(&|s| matches!(s, PlannedStep::PivotRoot { .. })).expect("pivot step");
    let mask = pos(&|s| matches!(s, PlannedStep::MaskPath { .. })).expect("mask step");
    let caps = pos(&|s| matches!(s, PlannedStep::DropCapabilities { .. })).expect("caps");
    assert!(slave < proc_ && proc_ < pivot && pivot < mask && mask < caps);
    assert!(plan.steps.contains(&PlannedStep::LoopbackUp));
    // The filter comes last, after no_new_privs, and blocks what the default blocks.
    let nnp = pos(&|s| matches!(s, PlannedStep::NoNewPrivs)).expect("no_new_privs");
    assert_eq!(nnp + 1, plan.steps.len() - 1);
    let Some(PlannedStep::Seccomp { filter: Some(f) }) = plan.steps.last() else {
        panic!("no seccomp filter last: {:?}", plan.steps.last());
    };
    assert!(f.blocked.iter().any(|n| n == "keyctl"));
    assert!(plan.env.iter().any(|e| e.starts_with("PATH=")));
    assert_eq!(plan.id_mapping, None);
}

#[test]
fn host_facts_become_binds_symlinks_and_resolv_conf() {
    let plan = build(
        "c1",
        &ContainerSpec::default(),
        "c1",
        &paths(),
        None,
        &host(),
    );
    assert!(plan.steps.contains(&PlannedStep::BindReadOnly {
        source: "/usr".into(),
        target: "/run/isolab-test/c1/usr".into(),
    }));
    assert!(plan.steps.contains(&PlannedStep::Symlink {
        link: "/run/isolab-test/c1/bin".into(),
        points_to: "usr/bin".into(),
    }));
    assert!(plan.steps.contains(&PlannedStep::WriteFile {
        path: "/run/isolab-test/c1/etc/resolv.conf".into(),
        contents: "nameserver 10.0.2.3\n".into(),
    }));
}

#[test]
fn shared_namespaces_get_no_steps_that_would_touch_the_host() {
    let spec = ContainerSpec {
        namespaces: NamespaceSet::parse_list("pid").expect("list"),
        ..Default::default()
    };
    let plan = build("c1", &spec, "h", &paths(), None, &host());
    assert!(!plan.steps.iter().any(|s| matches!(
        s,
        PlannedStep::SetHostname { .. }
            | PlannedStep::LoopbackUp
            | PlannedStep::MountProc { .. }
            | PlannedStep::PivotRoot { .. }
    )));
    assert!(plan.steps.contains(&PlannedStep::NoNewPrivs));
}

#[test]
fn image_dir_uses_overlay_and_env_overrides_defaults() {
    let spec = ContainerSpec {
        image: "/srv/busybox".into(),
        env: vec!["PATH=/bin".into(), "A=1".into()],
        ..Default::default()
    };
    let plan = build("c1", &spec, "h", &paths(), None, &host());
    assert!(plan.steps.iter().any(
        |s| matches!(s, PlannedStep::MountOverlayRoot { lower, .. } if lower == Path::new("/srv/busybox"))
    ));
    assert!(!plan.steps.iter().any(|s| matches!(
        s,
        PlannedStep::MountTmpfsRoot { .. } | PlannedStep::Symlink { .. }
    )));
    assert_eq!(
        plan.env.iter().filter(|e| e.starts_with("PATH=")).count(),
        1
    );
    assert!(plan.env.contains(&"PATH=/bin".to_string()));
    assert!(plan.env.contains(&"A=1".to_string()));
}

#[test]
fn seccomp_unconfined_plans_no_filter() {
    let mut spec = ContainerSpec::default();
    spec.security.seccomp = crate::seccomp::SeccompSetting::Unconfined;
    let paths = ContainerPaths::under(Path::new("/run/isolab/c1"));
    let plan = build("c1", &spec, "c1", &paths, None, &host());
    assert_eq!(
        plan.steps.last(),
        Some(&PlannedStep::Seccomp { filter: None })
    );
}

#[test]
fn the_device_program_is_a_step_only_on_a_cgroup2_host() {
    let spec = ContainerSpec::default();
    let on = |cgroups: HostCgroups| {
        let host = HostFacts { cgroups, ..host() };
        build("c1", &spec, "c1", &paths(), None, &host).steps
    };
    let v2 = on(HostCgroups::V2);
    let rules: Vec<String> = DEVICE_RULES.iter().map(|r| r.to_string()).collect();
    assert_eq!(v2.first(), Some(&PlannedStep::DeviceProgram { rules }));
    assert_eq!(v2[0].phase(), crate::SetupPhase::Limits);
    assert!(v2[0].call().contains("c 136:* rwm"), "{}", v2[0].call());
    let hybrid = on(HostCgroups::V1 {
        hierarchies: vec!["devices".into(), "pids".into(), "unified".into()],
    });
    let none = on(HostCgroups::None);
    for steps in [hybrid, none] {
        assert!(!steps
            .iter()
            .any(|s| matches!(s, PlannedStep::DeviceProgram { .. })));
    }
}
