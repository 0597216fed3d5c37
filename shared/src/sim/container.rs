//! A simulated container, made from the same [`ContainerSpec`] the live API takes and
//! recording the same kind of [`SetupStep`]s as the real runtime: clone flags, uid
//! maps, cgroup writes, mounts, pivot_root, hostname, capability drops, exec.

use crate::namespace::NamespaceKind;
use crate::protocol::{ContainerSpec, ExitStatus, IdMapEntry, SetupPhase, SetupStep};

use super::cgroup::CgroupId;
use super::errno::{Errno, SysResult};
use super::kernel::mountops::{MountRequest, PropagationChange};
use super::kernel::Kernel;
use super::process::{Pid, CAPS_CONTAINER};

/// The first host uid a container's user namespace maps its root to.
pub const CONTAINER_UID_BASE: u32 = 100_000;
/// How many uids a container's user namespace maps.
pub const CONTAINER_UID_COUNT: u32 = 65_536;
/// The command name of the init every container gets as PID 1 (it reaps zombies).
pub const CONTAINER_INIT: &str = "isolab-init";

/// A container the simulator made.
#[derive(Clone, Debug)]
pub struct SimContainer {
    pub id: String,
    pub name: String,
    pub spec: ContainerSpec,
    pub cgroup: CgroupId,
    /// Host PID of `isolab-init`, PID 1 inside.
    pub init_pid: Pid,
    /// Host PID of the container's command (PID 2 inside).
    pub command_pid: Pid,
    pub created_ms: u64,
    pub setup: Vec<SetupStep>,
    pub exit: Option<ExitStatus>,
}

struct Steps {
    steps: Vec<SetupStep>,
}

impl Steps {
    fn record<T>(
        &mut self,
        phase: SetupPhase,
        name: &str,
        call: String,
        r: SysResult<T>,
    ) -> SysResult<T> {
        // Simulated durations: a fixed cost per phase, so replays look plausible.
        let duration_us = match phase {
            SetupPhase::Namespaces => 180,
            SetupPhase::Mounts => 35,
            SetupPhase::Cgroup => 25,
            SetupPhase::Limits => 12,
            SetupPhase::Security => 8,
            SetupPhase::Process => 420,
        };
        self.steps.push(SetupStep {
            phase,
            name: name.to_string(),
            call,
            error: r.as_ref().err().map(|e| e.to_string()),
            duration_us,
        });
        r
    }
}

fn clone_flags(spec: &ContainerSpec) -> String {
    let flags: Vec<&str> = spec
        .namespaces
        .iter()
        .map(|k| k.clone_flag_name())
        .collect();
    if flags.is_empty() {
        "SIGCHLD".to_string()
    } else {
        format!("{}|SIGCHLD", flags.join("|"))
    }
}

/// A read-only bind of a host directory (of the root disk) into the rootfs.
fn bind(target: &str) -> MountRequest {
    MountRequest {
        source: "/dev/sda1".to_string(),
        target: target.to_string(),
        fstype: "ext4".to_string(),
        options: "ro,relatime".to_string(),
        holds_ns: None,
    }
}

/// Creates a container as a child of `runtime` (the `isolab` process).
pub fn create(
    k: &mut Kernel,
    runtime: Pid,
    id: &str,
    name: &str,
    spec: &ContainerSpec,
) -> SysResult<SimContainer> {
    spec.validate().map_err(|_| Errno::EINVAL)?;
    let mut s = Steps { steps: Vec::new() };
    let parent_cg = match k.cgroups.find("/isolab") {
        Some(c) => c,
        None => k.cgroups.create("/isolab")?,
    };
    let _ = parent_cg;
    let cg_path = format!("/isolab/{id}");
    let cgroup = s.record(
        SetupPhase::Cgroup,
        "create the cgroup",
        format!("mkdir(\"/sys/fs/cgroup{cg_path}\")"),
        k.cgroups.create(&cg_path),
    )?;
    let limits = &spec.limits;
    if let Some(p) = limits.pids {
        s.record(
            SetupPhase::Limits,
            "limit tasks",
            format!("write(\"/sys/fs/cgroup{cg_path}/pids.max\", \"{p}\")"),
            Ok(()),
        )?;
    }
    if let Some(m) = limits.memory_bytes {
        s.record(
            SetupPhase::Limits,
            "limit memory",
            format!("write(\"/sys/fs/cgroup{cg_path}/memory.max\", \"{m}\")"),
            Ok(()),
        )?;
    }
    if let Some(c) = limits.cpus {
        let quota = (c * 100_000.0) as u64;
        s.record(
            SetupPhase::Limits,
            "limit cpu",
            format!("write(\"/sys/fs/cgroup{cg_path}/cpu.max\", \"{quota} 100000\")"),
            Ok(()),
        )?;
    }
    k.cgroups
        .set_limits(cgroup, limits.pids, limits.memory_bytes);
    let kinds: Vec<NamespaceKind> = spec.namespaces.iter().collect();
    let init = s.record(
        SetupPhase::Namespaces,
        "clone into new namespaces",
        format!("clone({})", clone_flags(spec)),
        k.clone_with(runtime, &kinds),
    )?;
    s.record(
        SetupPhase::Cgroup,
        "join the cgroup",
        format!("write(\"/sys/fs/cgroup{cg_path}/cgroup.procs\", \"{init}\")"),
        k.move_to_cgroup(init, cgroup),
    )?;
    if spec.namespaces.contains(NamespaceKind::Cgroup) {
        // The real runtime joins the cgroup before unsharing the cgroup namespace, so
        // the namespace's root is the container's cgroup.
        let ns = k.proc(init)?.ns.cgroup;
        k.cgroupns.insert(ns, cgroup);
    }
    if spec.namespaces.contains(NamespaceKind::User) {
        let user = k.proc(init)?.ns.user;
        let map = vec![IdMapEntry {
            inside: 0,
            outside: CONTAINER_UID_BASE,
            count: CONTAINER_UID_COUNT,
        }];
        let r = k.set_id_maps(runtime, user, map.clone(), map);
        s.record(
            SetupPhase::Namespaces,
            "map root to an unprivileged uid",
            format!(
                "write(\"/proc/{init}/uid_map\", \"0 {CONTAINER_UID_BASE} {CONTAINER_UID_COUNT}\")"
            ),
            r,
        )?;
        s.record(
            SetupPhase::Namespaces,
            "map groups",
            format!(
                "write(\"/proc/{init}/gid_map\", \"0 {CONTAINER_UID_BASE} {CONTAINER_UID_COUNT}\")"
            ),
            Ok(()),
        )?;
        let p = k.proc_mut(init)?;
        p.uid = CONTAINER_UID_BASE;
        p.gid = CONTAINER_UID_BASE;
    }
    if spec.namespaces.contains(NamespaceKind::Mnt) {
        let r = k.change_propagation(init, "/", PropagationChange::Private, true);
        s.record(
            SetupPhase::Mounts,
            "make / private",
            "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL)".to_string(),
            r,
        )?;
        let root = format!("/var/lib/isolab/{id}/rootfs");
        let r = k.mount(
            init,
            MountRequest {
                source: "tmpfs".to_string(),
                target: root.clone(),
                fstype: "tmpfs".to_string(),
                options: "rw,nosuid,nodev,relatime,mode=755".to_string(),
                holds_ns: None,
            },
        );
        s.record(
            SetupPhase::Mounts,
            "root filesystem",
            format!("mount(\"tmpfs\", \"{root}\", \"tmpfs\", MS_NOSUID|MS_NODEV, \"mode=755\")"),
            r,
        )?;
        for dir in ["/usr", "/bin", "/lib", "/etc"] {
            let r = k.mount(init, bind(&format!("{root}{dir}")));
            s.record(
                SetupPhase::Mounts,
                &format!("bind {dir} read-only"),
                format!("mount(\"{dir}\", \"{root}{dir}\", NULL, MS_BIND|MS_REC|MS_RDONLY, NULL)"),
                r,
            )?;
        }
        let r = k.mount(
            init,
            MountRequest {
                source: "proc".to_string(),
                target: format!("{root}/proc"),
                fstype: "proc".to_string(),
                options: "rw,nosuid,nodev,noexec,relatime".to_string(),
                holds_ns: None,
            },
        );
        s.record(
            SetupPhase::Mounts,
            "mount /proc",
            format!(
                "mount(\"proc\", \"{root}/proc\", \"proc\", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL)"
            ),
            r,
        )?;
        let r = k.mount(
            init,
            MountRequest {
                source: "tmpfs".to_string(),
                target: format!("{root}/dev"),
                fstype: "tmpfs".to_string(),
                options: "rw,nosuid,mode=755".to_string(),
                holds_ns: None,
            },
        );
        s.record(
            SetupPhase::Mounts,
            "mount /dev",
            format!("mount(\"tmpfs\", \"{root}/dev\", \"tmpfs\", MS_NOSUID, \"mode=755\")"),
            r,
        )?;
        let r = k.pivot_root(init, &root, &format!("{root}/.oldroot"));
        s.record(
            SetupPhase::Mounts,
            "pivot_root",
            format!("pivot_root(\"{root}\", \"{root}/.oldroot\")"),
            r,
        )?;
        let r = k.umount_lazy(init, "/.oldroot");
        s.record(
            SetupPhase::Mounts,
            "detach the old root",
            "umount2(\"/.oldroot\", MNT_DETACH)".to_string(),
            r,
        )?;
    }
    if spec.namespaces.contains(NamespaceKind::Uts) {
        let host = spec.hostname.clone().unwrap_or_else(|| name.to_string());
        let uts = k.proc(init)?.ns.uts;
        if let Some(u) = k.utsns.get_mut(&uts) {
            u.hostname = host.clone();
        }
        s.record(
            SetupPhase::Namespaces,
            "set the hostname",
            format!("sethostname(\"{host}\")"),
            Ok(()),
        )?;
    }
    if spec.namespaces.contains(NamespaceKind::Net) {
        let r = k.set_link_up(init, "lo", true);
        s.record(
            SetupPhase::Namespaces,
            "bring lo up",
            "ioctl(SIOCSIFFLAGS, \"lo\", IFF_UP)".to_string(),
            r,
        )?;
    }
    let dropped = !CAPS_CONTAINER & super::process::CAPS_FULL;
    s.record(
        SetupPhase::Security,
        "drop capabilities",
        format!(
            "prctl(PR_CAPBSET_DROP, …) for {} capabilities",
            dropped.count_ones()
        ),
        Ok(()),
    )?;
    s.record(
        SetupPhase::Security,
        "no new privileges",
        "prctl(PR_SET_NO_NEW_PRIVS, 1)".to_string(),
        Ok(()),
    )?;
    {
        let p = k.proc_mut(init)?;
        p.cap_bound = CAPS_CONTAINER;
        p.caps &= CAPS_CONTAINER;
        p.tty = None;
    }
    let r = k.exec(init, &[CONTAINER_INIT]);
    s.record(
        SetupPhase::Process,
        "start the init",
        format!("execve(\"/proc/self/exe\", [\"{CONTAINER_INIT}\"])"),
        r,
    )?;
    if let Ok(p) = k.proc_mut(init) {
        p.reaps_children = true;
    }
    let argv: Vec<&str> = spec.command.iter().map(String::as_str).collect();
    let command = k.fork(init).and_then(|c| k.exec(c, &argv).map(|()| c));
    let command = s.record(
        SetupPhase::Process,
        "start the command",
        format!("execve(\"{}\", {:?})", spec.command[0], spec.command),
        command,
    )?;
    let base = spec.command[0].rsplit('/').next().unwrap_or("");
    if let Ok(p) = k.proc_mut(command) {
        p.tty = spec.tty.then_some(1);
        p.reaps_children = matches!(base, "sh" | "bash" | "dash");
    }
    if base == "sleep" {
        if let Some(ms) = spec
            .command
            .get(1)
            .and_then(|a| super::shell::misc::parse_seconds(a))
        {
            k.set_timer(command, ms)?;
        }
    }
    k.events
        .push(super::kernel::KernelEvent::ProcessStarted(init));
    k.events
        .push(super::kernel::KernelEvent::ProcessStarted(command));
    Ok(SimContainer {
        id: id.to_string(),
        name: name.to_string(),
        spec: spec.clone(),
        cgroup,
        init_pid: init,
        command_pid: command,
        created_ms: k.now_ms,
        setup: s.steps,
        exit: None,
    })
}
