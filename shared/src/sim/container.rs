//! A simulated container, made from the same [`ContainerSpec`] the live API takes and
//! recording the same [`SetupStep`]s as the real runtime: the cgroup and its limits,
//! clone3, the id maps, then the runtime's own [`crate::plan::Plan`] applied to the
//! model ([`crate::sim::apply_plan`]), then the command.

use std::path::Path;
use std::sync::Arc;

use crate::limits::Limits;
use crate::namespace::NamespaceKind;
use crate::protocol::{ContainerSpec, ExitStatus, SetupPhase, SetupStep, UsernsMode};

use crate::plan::limits::{
    cpu_writes, memory_writes, pids_writes, GroupVersion, LimitWrite, MemoryFacts,
};
use crate::plan::{self, around, ContainerPaths, HostFacts, IdMapping, PlannedStep};
use crate::sim::apply_plan::{apply_steps, model_host_facts, state_dir, StepRecorder};
use crate::sim::cgroup::CgroupId;
use crate::sim::errno::{Errno, SysResult};
use crate::sim::kernel::{Kernel, KernelEvent};
use crate::sim::process::Pid;

/// The first host uid a container's user namespace maps its root to.
pub const CONTAINER_UID_BASE: u32 = 100_000;
/// How many uids a container's user namespace maps.
pub const CONTAINER_UID_COUNT: u32 = 65_536;
/// The command name of the init every container gets as PID 1 (it reaps zombies).
pub const CONTAINER_INIT: &str = "isolab-init";

/// A container the simulator made. Its spec and setup steps, dozens of strings that
/// rarely change, are shared by copies of the machine.
#[derive(Clone, Debug)]
pub struct SimContainer {
    pub id: String,
    pub name: String,
    pub spec: Arc<ContainerSpec>,
    pub cgroup: CgroupId,
    /// Host PID of `isolab-init`, PID 1 inside.
    pub init_pid: Pid,
    /// Host PID of the container's command (PID 2 inside).
    pub command_pid: Pid,
    pub created_ms: u64,
    pub setup: Arc<[SetupStep]>,
    /// Which of `setup` applied the plan; the cgroup, clone and id maps come before,
    /// the command after.
    pub plan_steps: std::ops::Range<usize>,
    pub exit: Option<ExitStatus>,
}

/// The hostname a container gets when its spec names none: its name, cut to what a
/// hostname may hold (as the runtime derives it).
pub fn default_hostname(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(63)
        .collect()
}

/// The controllers the runtime enables for isolab's groups on a cgroup2 host whose
/// root delegates them (as the model host's does), in its order.
pub const MODEL_SUBTREE_CONTROLLERS: &str = "+pids +memory +cpu";

/// The writes that set `limits` in a fresh group at `dir` of the model host: cgroup2
/// with swap accounting, so a memory limit forbids swap too. Limits left out are not
/// written (a fresh group starts unlimited).
pub fn model_limit_writes(dir: &Path, limits: &Limits) -> Vec<LimitWrite> {
    let mut writes = Vec::new();
    if limits.pids.is_some() {
        writes.extend(pids_writes(dir, limits.pids));
    }
    if limits.memory_bytes.is_some() {
        let facts = MemoryFacts {
            swap_file: true,
            ..MemoryFacts::default()
        };
        writes.extend(memory_writes(
            GroupVersion::V2,
            dir,
            limits.memory_bytes,
            facts,
        ));
    }
    if limits.cpus.is_some() {
        writes.extend(cpu_writes(GroupVersion::V2, dir, limits.cpus));
    }
    writes
}

/// The range a `userns: auto` container gets: the runtime's choice
/// ([`crate::userns::first_free`]) against the ranges the model's live user namespaces
/// map (a namespace goes with its last process, which frees its range as the runtime's
/// removal does). The model host has no users or subuid lines that high.
pub fn auto_range(k: &Kernel) -> Option<IdMapping> {
    let taken: Vec<crate::userns::IdRange> = k
        .userns
        .values()
        // Children of the initial namespace: their maps are in host ids.
        .filter(|u| u.level == 1)
        .flat_map(|u| u.uid_map.iter().chain(&u.gid_map))
        .map(|e| crate::userns::IdRange {
            start: e.outside,
            count: e.count,
        })
        .collect();
    crate::userns::first_free(&taken, &[]).map(|r| IdMapping {
        outside: r.start,
        count: r.count,
    })
}

/// Creates a container as a child of `runtime` (the `isolab` process), on the
/// simulator's model host ([`model_host_facts`]).
pub fn create(
    k: &mut Kernel,
    runtime: Pid,
    id: &str,
    name: &str,
    spec: &ContainerSpec,
) -> SysResult<SimContainer> {
    create_on(k, runtime, id, name, spec, &model_host_facts())
}

/// Creates a container on a host with `host`'s facts: the cgroup and its limits, PID 1
/// in its namespaces, the id maps, then the same [`crate::plan::Plan`] the runtime
/// builds, applied to the model, then the command.
pub fn create_on(
    k: &mut Kernel,
    runtime: Pid,
    id: &str,
    name: &str,
    spec: &ContainerSpec,
    host: &HostFacts,
) -> SysResult<SimContainer> {
    spec.validate().map_err(|_| Errno::EINVAL)?;
    // Recorded with the namespaces it gets, as the runtime records it.
    let spec = &ContainerSpec {
        namespaces: spec.effective_namespaces(),
        ..spec.clone()
    };
    let hostname = spec
        .hostname
        .clone()
        .unwrap_or_else(|| default_hostname(name));
    let mapping = match spec.userns {
        UsernsMode::Default => IdMapping {
            outside: CONTAINER_UID_BASE,
            count: CONTAINER_UID_COUNT,
        },
        UsernsMode::Auto => auto_range(k).ok_or(Errno::ENOSPC)?,
    };
    let plan = plan::build(
        id,
        spec,
        &hostname,
        &ContainerPaths::under(&state_dir(id)),
        Some(mapping),
        host,
    );
    let mut s = StepRecorder::default();
    let cgroup = make_cgroup(k, id, spec, plan.device_program(), &mut s)?;
    let kinds: Vec<NamespaceKind> = spec.namespaces.iter().collect();
    // Born in the cgroup (CLONE_INTO_CGROUP): the model clones, then moves.
    let made = k
        .clone_with(runtime, &kinds)
        .and_then(|init| k.move_to_cgroup(init, cgroup).map(|()| init));
    // As the server's runtime does it: its helper clones PID 1 as the runtime's child,
    // into the container's cgroup2 group.
    let step = around::clone_pid1(spec.namespaces.iter(), true, true);
    let init = s.record(step.phase, step.name, step.call, made)?;
    if let Some(m) = plan.id_mapping {
        let user = k.proc(init)?.ns.user;
        let map = vec![m.entry()];
        let r = k.set_id_maps(runtime, user, map.clone(), map);
        s.record(SetupPhase::Namespaces, plan::ID_MAP_STEP, m.call(), r)?;
        let p = k.proc_mut(init)?;
        p.uid = m.outside;
        p.gid = m.outside;
        let step = around::become_root();
        s.record(step.phase, step.name, step.call, Ok(()))?;
    }
    if spec.namespaces.contains(NamespaceKind::Cgroup) {
        // The model cloned the cgroup namespace with the others; rooting it at the
        // container's group gives what the runtime's later unshare gives.
        let ns = k.proc(init)?.ns.cgroup;
        k.cgroupns.insert(ns, cgroup);
        let step = around::cgroup_namespace();
        s.record(step.phase, step.name, step.call, Ok(()))?;
    }
    let plan_start = s.steps.len();
    apply_steps(k, init, &plan, &mut s)?;
    let plan_steps = plan_start..s.steps.len();
    if let Ok(p) = k.proc_mut(init) {
        p.tty = None;
    }
    // The runtime's PID 1 shows as `isolab-init` from its birth (the server's helper
    // was exec'd as it; the CLI's child renames itself): the model renames it here,
    // which is no step of the runtime's, so none is recorded.
    k.exec(init, &[CONTAINER_INIT])?;
    if let Ok(p) = k.proc_mut(init) {
        p.reaps_children = true;
    }
    let command = start_command(k, init, spec, &mut s)?;
    k.events.push(KernelEvent::ProcessStarted(init));
    k.events.push(KernelEvent::ProcessStarted(command));
    Ok(SimContainer {
        id: id.to_string(),
        name: name.to_string(),
        spec: Arc::new(spec.clone()),
        cgroup,
        init_pid: init,
        command_pid: command,
        created_ms: k.now_ms,
        setup: s.steps.into(),
        plan_steps,
        exit: None,
    })
}

/// The container's cgroup under isolab's parent group, as the runtime makes it on a
/// cgroup2 host: the parent (with its controllers enabled for child groups) the first
/// time, the container's group, the device program attached to it when the plan has
/// one, then the spec's limits.
fn make_cgroup(
    k: &mut Kernel,
    id: &str,
    spec: &ContainerSpec,
    device_program: Option<&PlannedStep>,
    s: &mut StepRecorder,
) -> SysResult<CgroupId> {
    let parent = Path::new(plan::CGROUP_ROOT).join("isolab");
    if k.cgroups.find("/isolab").is_none() {
        let r = k.cgroups.create("/isolab");
        let step = around::make_parent_group(&parent);
        s.record(step.phase, step.name, step.call, r)?;
        let step = around::enable_controllers(
            &parent.join("cgroup.subtree_control"),
            MODEL_SUBTREE_CONTROLLERS,
        );
        s.record(step.phase, step.name, step.call, Ok(()))?;
    }
    let dir = parent.join(id);
    let step = around::make_group(&dir);
    let cgroup = s.record(
        step.phase,
        step.name,
        step.call,
        k.cgroups.create(&format!("/isolab/{id}")),
    )?;
    if let Some(step @ PlannedStep::DeviceProgram { rules }) = device_program {
        let r = k.cgroups.attach_device_rules(cgroup, rules);
        s.record(step.phase(), step.name(), step.call(), r)?;
    }
    let limits = &spec.limits;
    for write in model_limit_writes(&dir, limits) {
        s.record(write.phase(), write.name, write.call(), Ok(()))?;
    }
    k.cgroups
        .set_limits(cgroup, limits.pids, limits.memory_bytes);
    Ok(cgroup)
}

/// Forks the command as PID 2 and execs it, as the runtime's init does.
fn start_command(
    k: &mut Kernel,
    init: Pid,
    spec: &ContainerSpec,
    s: &mut StepRecorder,
) -> SysResult<Pid> {
    if spec.tty {
        let step = around::open_pty();
        s.record(step.phase, step.name, step.call, Ok(()))?;
    }
    let argv: Vec<&str> = spec.command.iter().map(String::as_str).collect();
    let filter = k.proc(init)?.seccomp_for_command.clone();
    let command = k.fork(init).and_then(|c| {
        k.proc_mut(c)?.seccomp = filter;
        k.exec(c, &argv).map(|()| c)
    });
    let step = around::exec_command(spec.tty, &spec.command);
    let command = s.record(step.phase, step.name, step.call, command)?;
    let base = spec.command[0].rsplit('/').next().unwrap_or("");
    if let Ok(p) = k.proc_mut(command) {
        p.tty = spec.tty.then_some(1);
        p.reaps_children = matches!(base, "sh" | "bash" | "dash");
    }
    if base == "sleep" {
        if let Some(ms) = spec
            .command
            .get(1)
            .and_then(|a| crate::sim::shell::misc::parse_seconds(a))
        {
            k.set_timer(command, ms)?;
        }
    }
    Ok(command)
}
