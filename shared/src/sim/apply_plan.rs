//! The simulator's interpreter of a [`Plan`]: each [`PlannedStep`] applied to the
//! model kernel, as the runtime's init applies it to the real one, and recorded with
//! the plan's own name and call text. Steps the model has no notion of (directories,
//! files, symlinks: it keeps no file contents) succeed with no effect.

use std::path::{Path, PathBuf};

use crate::plan::{device_paths, HostCgroups, HostDir, HostFacts, Plan, PlannedStep};
use crate::protocol::{SetupPhase, SetupStep};
use crate::sim::errno::{Errno, SysResult};
use crate::sim::kernel::mountops::{MountRequest, PropagationChange};
use crate::sim::kernel::Kernel;
use crate::sim::process::{Pid, CAP_NAMES};

/// The runtime's default state root: a container's new root is `/run/isolab/<id>`.
pub const STATE_ROOT: &str = "/run/isolab";

/// Where the model keeps pivot_root's old root until it is detached. The runtime's
/// pivot_root(".", ".") stacks it on the new root instead; the model needs a name.
const OLD_ROOT: &str = "/.oldroot";

/// The host the simulator models: Debian with usrmerge (/bin -> usr/bin), as the
/// model kernel's root filesystem (/dev/sda1) is.
pub fn model_host_facts() -> HostFacts {
    let link = |path: &str, points_to: &str| HostDir::Symlink {
        path: path.into(),
        points_to: points_to.into(),
    };
    HostFacts {
        image_dirs: vec![
            HostDir::Dir("/usr".into()),
            link("/bin", "usr/bin"),
            link("/sbin", "usr/sbin"),
            link("/lib", "usr/lib"),
            link("/lib64", "usr/lib64"),
        ],
        // The resolver of the model's eth0 network (10.0.2.0/24).
        resolv_conf: "nameserver 10.0.2.3\n".into(),
        cgroups: HostCgroups::V2,
    }
}

/// Records steps with the fixed durations the simulator shows.
#[derive(Default)]
pub(crate) struct StepRecorder {
    /// The steps so far, in order.
    pub steps: Vec<SetupStep>,
}

impl StepRecorder {
    /// Records one step with result `r`, which is passed through.
    pub fn record<T>(
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

/// Applies PID 1's steps of `plan` ([`Plan::pid1_steps`]) as PID 1 (`init`) does,
/// recording each one; stops at the first that fails.
pub(crate) fn apply_steps(
    k: &mut Kernel,
    init: Pid,
    plan: &Plan,
    log: &mut StepRecorder,
) -> SysResult<()> {
    for step in plan.pid1_steps() {
        let r = apply(k, init, step);
        log.record(step.phase(), step.name(), step.call(), r)?;
    }
    Ok(())
}

/// One step against the model kernel.
fn apply(k: &mut Kernel, init: Pid, step: &PlannedStep) -> SysResult<()> {
    let mount = |k: &mut Kernel, source: &str, target: &Path, fstype: &str, options: &str| {
        k.mount(
            init,
            MountRequest {
                source: source.to_string(),
                target: path(target),
                fstype: fstype.to_string(),
                options: options.to_string(),
                holds_ns: None,
            },
        )
    };
    match step {
        // Attached with the group, before PID 1 existed (container::create_on).
        PlannedStep::DeviceProgram { .. } => Ok(()),
        PlannedStep::MakeRootSlave => {
            k.change_propagation(init, "/", PropagationChange::Slave, true)
        }
        PlannedStep::MountTmpfsRoot { target } => mount(
            k,
            "tmpfs",
            target,
            "tmpfs",
            "rw,nosuid,nodev,relatime,size=65536k,mode=755",
        ),
        PlannedStep::MountOverlayRoot { target, .. } => {
            mount(k, "overlay", target, "overlay", "rw,relatime,volatile")
        }
        // The model keeps no directories, files or symlinks of its own.
        PlannedStep::MakeDir { .. }
        | PlannedStep::Symlink { .. }
        | PlannedStep::WriteFile { .. } => Ok(()),
        PlannedStep::BindReadOnly { target, .. } => {
            mount(k, "/dev/sda1", target, "ext4", "ro,relatime")
        }
        PlannedStep::MountProc { target } | PlannedStep::BindHostProc { target } => {
            // A bind of the host's /proc shows the host's pid namespace, which is the
            // caller's own when the plan binds it (the pid namespace is shared).
            mount(k, "proc", target, "proc", "rw,nosuid,nodev,noexec,relatime")
        }
        PlannedStep::MountSysfs { target } | PlannedStep::BindSysReadOnly { target } => mount(
            k,
            "sysfs",
            target,
            "sysfs",
            "ro,nosuid,nodev,noexec,relatime",
        ),
        // Reads of the mount show the reading process's own group (see shell/fs.rs):
        // inside the container, the container's.
        PlannedStep::MountCgroup { target, cgroups } => match cgroups {
            HostCgroups::V1 { hierarchies } => {
                mount(
                    k,
                    "tmpfs",
                    target,
                    "tmpfs",
                    "ro,nosuid,nodev,noexec,relatime,mode=755",
                )?;
                for h in hierarchies {
                    let (fstype, options) = if h == "unified" {
                        ("cgroup2", "ro,nosuid,nodev,noexec,relatime".to_string())
                    } else {
                        ("cgroup", format!("ro,nosuid,nodev,noexec,relatime,{h}"))
                    };
                    mount(k, "cgroup", &target.join(h), fstype, &options)?;
                }
                Ok(())
            }
            _ => mount(
                k,
                "cgroup2",
                target,
                "cgroup2",
                "ro,nosuid,nodev,noexec,relatime",
            ),
        },
        PlannedStep::MountDevTmpfs { target } => {
            mount(k, "tmpfs", target, "tmpfs", "rw,nosuid,size=64k,mode=755")
        }
        PlannedStep::BindDevice { name, dev_dir } => {
            let (_, target) = device_paths(name, dev_dir);
            mount(
                k,
                "udev",
                &target,
                "devtmpfs",
                "rw,nosuid,relatime,mode=755",
            )
        }
        PlannedStep::MountDevpts { dev_dir } => mount(
            k,
            "devpts",
            &dev_dir.join("pts"),
            "devpts",
            "rw,nosuid,noexec,relatime,mode=620,ptmxmode=666",
        ),
        PlannedStep::MountShm { dev_dir } => mount(
            k,
            "shm",
            &dev_dir.join("shm"),
            "tmpfs",
            "rw,nosuid,nodev,noexec,relatime,size=65536k,mode=1777",
        ),
        PlannedStep::PivotRoot { new_root } => {
            let root = path(new_root);
            k.pivot_root(init, &root, &format!("{root}{OLD_ROOT}"))?;
            k.umount_lazy(init, OLD_ROOT)
        }
        PlannedStep::MaskPath { path: p } => {
            if model_dir(p) {
                mount(
                    k,
                    "tmpfs",
                    p,
                    "tmpfs",
                    "ro,nosuid,nodev,noexec,relatime,size=0k",
                )
            } else {
                mount(k, "udev", p, "devtmpfs", "rw,nosuid,relatime,mode=755")
            }
        }
        PlannedStep::ReadOnlyPath { path: p } => {
            mount(k, "proc", p, "proc", "ro,nosuid,nodev,noexec,relatime")
        }
        PlannedStep::SetHostname { hostname } => {
            let uts = k.proc(init)?.ns.uts;
            let ns = k.utsns.get_mut(&uts).ok_or(Errno::EINVAL)?;
            ns.hostname = hostname.clone();
            Ok(())
        }
        PlannedStep::LoopbackUp => k.set_link_up(init, "lo", true),
        PlannedStep::DropCapabilities { keep } => {
            let kept = capability_mask(keep);
            let p = k.proc_mut(init)?;
            p.cap_bound = kept;
            p.caps &= kept;
            Ok(())
        }
        // The model has no exec privileges to gain.
        PlannedStep::NoNewPrivs => Ok(()),
        // PID 1 keeps the filter for its command, as the runtime's init does.
        PlannedStep::Seccomp { filter } => {
            k.proc_mut(init)?.seccomp_for_command = filter.clone().map(std::sync::Arc::new);
            Ok(())
        }
    }
}

/// The bits of the named capabilities.
fn capability_mask(names: &[String]) -> u64 {
    CAP_NAMES
        .iter()
        .enumerate()
        .filter(|(_, n)| names.iter().any(|k| k == *n))
        .fold(0, |mask, (bit, _)| mask | (1 << bit))
}

/// Whether the model's /proc or /sys has `p` as a directory (masked with a tmpfs)
/// rather than a file (masked with /dev/null).
fn model_dir(p: &Path) -> bool {
    const DIRS: [&str; 4] = [
        "/proc/acpi",
        "/proc/scsi",
        "/sys/firmware",
        "/sys/devices/virtual/powercap",
    ];
    DIRS.iter().any(|d| p == Path::new(d))
}

/// A plan path as the model's mount table spells it.
fn path(p: &Path) -> String {
    p.display().to_string()
}

/// The state dir the runtime would give container `id`.
pub fn state_dir(id: &str) -> PathBuf {
    Path::new(STATE_ROOT).join(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::process::CAPS_CONTAINER;

    #[test]
    fn docker_capabilities_are_the_containers_set() {
        let keep: Vec<String> = crate::plan::DEFAULT_CAPABILITIES
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(capability_mask(&keep), CAPS_CONTAINER);
    }
}
