//! One plan, two interpreters: for a matrix of specs and host facts, the steps the
//! simulator records while applying a container's plan are the plan's own steps
//! (phase, name, call text, order), built here independently with `plan::build`.
//! The id maps come first: the plan carries them (the range is a host fact, the
//! allocator's for `userns: auto`), the runtime writes them from outside.
//! The runtime records `PlannedStep::name()`/`call()` too (backend/src/runtime/apply.rs);
//! the backend's unit test runs the same comparison with this host's real facts.

use std::path::Path;

use isolab_shared::limits::Limits;
use isolab_shared::plan::{self, ContainerPaths, HostCgroups, HostDir, HostFacts, IdMapping};
use isolab_shared::sim::container::{self, default_hostname};
use isolab_shared::sim::kernel::{Kernel, INIT_PID};
use isolab_shared::{userns, ContainerSpec, NamespaceKind, NamespaceSet, SetupPhase, UsernsMode};

/// (phase, name, call) of one step, with the state dir written as `<state>`.
type Step = (SetupPhase, String, String);

fn usrmerge() -> HostFacts {
    isolab_shared::sim::apply_plan::model_host_facts()
}

fn classic() -> HostFacts {
    HostFacts {
        image_dirs: ["/usr", "/bin", "/sbin", "/lib", "/lib64"]
            .into_iter()
            .map(|d| HostDir::Dir(d.into()))
            .collect(),
        resolv_conf: "nameserver 192.0.2.53\nsearch example.test\n".into(),
        // A hybrid host: v1 controllers and an empty cgroup2 beside them.
        cgroups: HostCgroups::V1 {
            hierarchies: vec!["memory".into(), "pids".into(), "unified".into()],
        },
    }
}

fn specs() -> Vec<(String, ContainerSpec)> {
    let with = |ns: NamespaceSet| ContainerSpec {
        namespaces: ns,
        ..Default::default()
    };
    let mut out = vec![
        ("default".into(), ContainerSpec::default()),
        ("all".into(), with(NamespaceKind::ALL.into_iter().collect())),
        ("none".into(), with(NamespaceSet::default())),
    ];
    for kind in NamespaceKind::ALL {
        out.push((
            format!("only {}", kind.name()),
            with([kind].into_iter().collect()),
        ));
        let others = NamespaceKind::ALL.into_iter().filter(|k| *k != kind);
        out.push((format!("all but {}", kind.name()), with(others.collect())));
    }
    let image = ContainerSpec {
        image: "/srv/images/busybox".into(),
        ..Default::default()
    };
    out.push(("image dir".into(), image.clone()));
    out.push((
        "image dir, all".into(),
        ContainerSpec {
            namespaces: NamespaceKind::ALL.into_iter().collect(),
            ..image.clone()
        },
    ));
    let limits = |l: Limits| ContainerSpec {
        limits: l,
        ..Default::default()
    };
    out.push((
        "pids".into(),
        limits(Limits {
            pids: Some(7),
            ..Default::default()
        }),
    ));
    out.push((
        "memory".into(),
        limits(Limits {
            memory_bytes: Some(64 << 20),
            ..Default::default()
        }),
    ));
    out.push((
        "cpus".into(),
        limits(Limits {
            cpus: Some(0.5),
            ..Default::default()
        }),
    ));
    for tty in [true, false] {
        out.push((
            format!("tty {tty}"),
            ContainerSpec {
                tty,
                ..Default::default()
            },
        ));
    }
    out.push((
        "user, pid, mnt".into(),
        with(
            [NamespaceKind::User, NamespaceKind::Pid, NamespaceKind::Mnt]
                .into_iter()
                .collect(),
        ),
    ));
    let auto = |ns: NamespaceSet| ContainerSpec {
        userns: UsernsMode::Auto,
        ..with(ns)
    };
    out.push(("userns auto".into(), auto(NamespaceSet::default())));
    out.push(("userns auto, none named".into(), auto(NamespaceSet::none())));
    out.push((
        "userns auto, all".into(),
        auto(NamespaceKind::ALL.into_iter().collect()),
    ));
    out.push((
        "userns auto, mnt only".into(),
        auto([NamespaceKind::Mnt].into_iter().collect()),
    ));
    out.push((
        "userns auto, image dir".into(),
        ContainerSpec {
            userns: UsernsMode::Auto,
            ..image
        },
    ));
    out
}

/// The range a container's user namespace maps in a fresh model kernel: the fixed
/// one, or the first of the allocator's.
fn mapping_for(spec: &ContainerSpec) -> IdMapping {
    match spec.userns {
        UsernsMode::Default => IdMapping {
            outside: container::CONTAINER_UID_BASE,
            count: container::CONTAINER_UID_COUNT,
        },
        UsernsMode::Auto => IdMapping {
            outside: userns::FIRST_ID,
            count: userns::RANGE_SIZE,
        },
    }
}

/// What the plan says, for a container `id` whose state dir is `state_dir`.
fn planned(
    spec: &ContainerSpec,
    id: &str,
    name: &str,
    state_dir: &Path,
    host: &HostFacts,
) -> Vec<Step> {
    let hostname = spec
        .hostname
        .clone()
        .unwrap_or_else(|| default_hostname(name));
    let plan = plan::build(
        id,
        spec,
        &hostname,
        &ContainerPaths::under(state_dir),
        Some(mapping_for(spec)),
        host,
    );
    let state = state_dir.display().to_string();
    // The id maps are the runtime's to write, before the plan's own steps.
    let maps = plan.id_mapping.map(|m| {
        (
            SetupPhase::Namespaces,
            plan::ID_MAP_STEP.to_string(),
            m.call(),
        )
    });
    maps.into_iter()
        .chain(plan.pid1_steps().map(|s| {
            (
                s.phase(),
                s.name().to_string(),
                s.call().replace(&state, "<state>"),
            )
        }))
        .collect()
}

/// What the simulator recorded while applying the plan of a new container.
fn simulated(spec: &ContainerSpec, id: &str, name: &str, host: &HostFacts) -> Vec<Step> {
    let mut k = Kernel::boot("host");
    let runtime = k.spawn(INIT_PID, &["isolab"], false).expect("runtime");
    let c = container::create_on(&mut k, runtime, id, name, spec, host).expect("created");
    assert!(c.setup.iter().all(|s| s.error.is_none()), "{:?}", c.setup);
    let state = isolab_shared::sim::apply_plan::state_dir(id)
        .display()
        .to_string();
    let maps = c.setup[..c.plan_steps.start]
        .iter()
        .filter(|s| s.name == plan::ID_MAP_STEP);
    maps.chain(&c.setup[c.plan_steps.clone()])
        .map(|s| (s.phase, s.name.clone(), s.call.replace(&state, "<state>")))
        .collect()
}

#[test]
fn the_simulator_records_exactly_the_plans_steps() {
    let mut compared = 0;
    for (label, host) in [("usrmerge", usrmerge()), ("classic", classic())] {
        for (what, spec) in specs() {
            // Different ids and state roots on purpose: only the normalised text counts.
            let expected = planned(
                &spec,
                "p1",
                "box",
                Path::new("/var/lib/isolab-test/p1"),
                &host,
            );
            let seen = simulated(&spec, "c0001sim", "box", &host);
            assert_eq!(seen, expected, "{label} host, spec {what}");
            compared += 1;
        }
    }
    assert!(compared >= 40, "compared {compared} specs");
}

#[test]
fn the_plan_part_sits_between_the_clone_and_the_command() {
    let mut k = Kernel::boot("host");
    let runtime = k.spawn(INIT_PID, &["isolab"], false).expect("runtime");
    let c = container::create(&mut k, runtime, "c1", "box", &ContainerSpec::default())
        .expect("created");
    let before = &c.setup[..c.plan_steps.start];
    let after = &c.setup[c.plan_steps.end..];
    assert!(before
        .iter()
        .any(|s| s.name == "create PID 1 in new namespaces"));
    // The model is a cgroup2 host: the device program goes on with the group, before
    // PID 1 exists, and PID 1's part opens with the mounts.
    assert!(before
        .iter()
        .any(|s| s.name == "allow only isolab's devices (cgroup2)"));
    assert_eq!(c.setup[c.plan_steps.start].name, "make / rslave");
    assert!(after.iter().all(|s| s.phase == SetupPhase::Process));
    assert_eq!(
        after.last().map(|s| s.name.as_str()),
        Some("exec the command as PID 2")
    );
}

#[test]
fn the_simulator_writes_the_limits_the_runtime_writes_on_a_cgroup2_host() {
    use isolab_shared::plan::limits::{
        cpu_writes, memory_writes, pids_writes, GroupVersion, MemoryFacts,
    };
    let all = Limits {
        pids: Some(7),
        memory_bytes: Some(64 << 20),
        cpus: Some(0.5),
    };
    let mut compared = 0;
    for (what, spec) in specs().into_iter().chain([(
        "all three".to_string(),
        ContainerSpec {
            limits: all,
            ..Default::default()
        },
    )]) {
        let mut k = Kernel::boot("host");
        let runtime = k.spawn(INIT_PID, &["isolab"], false).expect("runtime");
        let c = container::create(&mut k, runtime, "c0001sim", "box", &spec).expect("created");
        // The parent's part, without the device program (a Limits step too).
        let seen: Vec<(String, String)> = c.setup[..c.plan_steps.start]
            .iter()
            .filter(|s| s.phase == SetupPhase::Limits && !s.name.starts_with("allow only"))
            .map(|s| (s.name.clone(), s.call.clone()))
            .collect();
        // The runtime's writes into a fresh cgroup2 group with swap accounting: limits
        // left out are not written.
        let dir = Path::new("/sys/fs/cgroup/isolab/c0001sim");
        let l = &spec.limits;
        let swap = MemoryFacts {
            swap_file: true,
            ..MemoryFacts::default()
        };
        let expected: Vec<(String, String)> = l
            .pids
            .map(|p| pids_writes(dir, Some(p)))
            .into_iter()
            .chain(
                l.memory_bytes
                    .map(|m| memory_writes(GroupVersion::V2, dir, Some(m), swap)),
            )
            .chain(l.cpus.map(|c| cpu_writes(GroupVersion::V2, dir, Some(c))))
            .flatten()
            .map(|w| (w.name.to_string(), w.call()))
            .collect();
        assert_eq!(seen, expected, "spec {what}");
        compared += usize::from(!expected.is_empty());
    }
    // Every spec has the default pids limit; some add memory and cpu writes.
    assert_eq!(compared, specs().len() + 1, "every spec wrote its limits");
}

/// Every step, in the runtime's order on a cgroup2 host (the model's), for the first
/// container: the groups and the device program and the limits by the runtime, PID 1's
/// clone, id maps and identity, PID 1's part of the plan, its terminal and the command.
#[test]
fn the_simulator_records_the_runtimes_whole_setup_in_its_order() {
    use isolab_shared::plan::around;
    use isolab_shared::sim::container::{model_limit_writes, MODEL_SUBTREE_CONTROLLERS};

    let host = usrmerge();
    for (what, spec) in specs() {
        let id = "c0001sim";
        let effective = ContainerSpec {
            namespaces: spec.effective_namespaces(),
            ..spec.clone()
        };
        let hostname = default_hostname("box");
        let state_dir = isolab_shared::sim::apply_plan::state_dir(id);
        let plan = plan::build(
            id,
            &effective,
            &hostname,
            &ContainerPaths::under(&state_dir),
            Some(mapping_for(&spec)),
            &host,
        );
        let parent = Path::new(plan::CGROUP_ROOT).join("isolab");
        let group = parent.join(id);
        let text = |t: around::StepText| (t.phase, t.name.to_string(), t.call);
        let mut expected: Vec<Step> = vec![
            text(around::make_parent_group(&parent)),
            text(around::enable_controllers(
                &parent.join("cgroup.subtree_control"),
                MODEL_SUBTREE_CONTROLLERS,
            )),
            text(around::make_group(&group)),
        ];
        let planned = |s: &plan::PlannedStep| (s.phase(), s.name().to_string(), s.call());
        expected.extend(plan.device_program().map(planned));
        expected.extend(
            model_limit_writes(&group, &spec.limits)
                .into_iter()
                .map(|w| (w.phase(), w.name.to_string(), w.call())),
        );
        expected.push(text(around::clone_pid1(
            effective.namespaces.iter(),
            true,
            true,
        )));
        if let Some(m) = plan.id_mapping {
            expected.push((
                SetupPhase::Namespaces,
                plan::ID_MAP_STEP.to_string(),
                m.call(),
            ));
            expected.push(text(around::become_root()));
        }
        if effective.namespaces.contains(NamespaceKind::Cgroup) {
            expected.push(text(around::cgroup_namespace()));
        }
        expected.extend(plan.pid1_steps().map(planned));
        if spec.tty {
            expected.push(text(around::open_pty()));
        }
        expected.push(text(around::exec_command(spec.tty, &spec.command)));

        let mut k = Kernel::boot("host");
        let runtime = k.spawn(INIT_PID, &["isolab"], false).expect("runtime");
        let c = container::create_on(&mut k, runtime, id, "box", &spec, &host).expect("created");
        let seen: Vec<Step> = c
            .setup
            .iter()
            .map(|s| (s.phase, s.name.clone(), s.call.clone()))
            .collect();
        assert_eq!(seen, expected, "spec {what}");
    }
}
