//! One setup step of a [`super::Plan`], with the name and the syscall text both
//! interpreters record for it: the runtime (`backend/src/runtime/apply.rs`) and the
//! simulator ([`crate::sim::container`]) call [`PlannedStep::name`] and
//! [`PlannedStep::call`], so a student comparing them reads the same words.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::HostCgroups;
use crate::protocol::SetupPhase;
use crate::seccomp::{PlannedFilter, SeccompAction};

/// One setup step to apply in the container's init, before the command runs.
/// Paths before [`PlannedStep::PivotRoot`] are host paths in the new mount namespace;
/// after it, paths inside the container.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum PlannedStep {
    /// The device rules ([`super::DEVICE_RULES`]) as a BPF_PROG_TYPE_CGROUP_DEVICE
    /// program attached to the container's cgroup2 group, the v2 form of the v1
    /// `devices.allow` list. A creation step: the runtime attaches it when it makes the
    /// group, before PID 1 exists (loading BPF needs the host's CAP_SYS_ADMIN, which a
    /// PID 1 born in a user namespace lacks); PID 1 finds it done.
    DeviceProgram { rules: Vec<String> },
    /// Stop mount events from propagating back to the host: `/` becomes rslave.
    MakeRootSlave,
    /// A fresh tmpfs as the new root (the `host` image).
    MountTmpfsRoot { target: PathBuf },
    /// An overlayfs over an image directory; the upper layer belongs to the container.
    MountOverlayRoot {
        target: PathBuf,
        lower: PathBuf,
        upper: PathBuf,
        work: PathBuf,
    },
    /// A directory created in the new root.
    MakeDir { path: PathBuf, mode: u32 },
    /// A host directory bound read-only at the same place in the new root.
    BindReadOnly { source: PathBuf, target: PathBuf },
    /// A symlink (usrmerge: /bin -> usr/bin).
    Symlink { link: PathBuf, points_to: PathBuf },
    /// A generated file such as /etc/passwd.
    WriteFile { path: PathBuf, contents: String },
    /// A fresh procfs (nosuid, noexec, nodev).
    MountProc { target: PathBuf },
    /// The host's /proc bound in: a user namespace may not mount a procfs for a pid
    /// namespace it does not own (when the pid namespace is shared).
    BindHostProc { target: PathBuf },
    /// A read-only sysfs of the container's own net namespace.
    MountSysfs { target: PathBuf },
    /// The host's /sys bound read-only (when the net namespace is shared).
    BindSysReadOnly { target: PathBuf },
    /// The container's own cgroup at `target` (its /sys/fs/cgroup), read-only: its
    /// cgroup2 directory bound on a v2 host; on a v1 or hybrid host a tmpfs with its
    /// group of each hierarchy bound in. The groups are the plan's `cgroup` join.
    MountCgroup {
        target: PathBuf,
        cgroups: HostCgroups,
    },
    /// /dev as a small tmpfs.
    MountDevTmpfs { target: PathBuf },
    /// One host device node bound into /dev (mknod may be refused in a user namespace).
    BindDevice { name: String, dev_dir: PathBuf },
    /// A private devpts instance and /dev/ptmx pointing into it.
    MountDevpts { dev_dir: PathBuf },
    /// /dev/shm as tmpfs.
    MountShm { dev_dir: PathBuf },
    /// pivot_root into the new root and detach the old one.
    PivotRoot { new_root: PathBuf },
    /// Hide a path: /dev/null over a file, an empty read-only tmpfs over a directory.
    MaskPath { path: PathBuf },
    /// Bind a path over itself, read-only.
    ReadOnlyPath { path: PathBuf },
    /// Set the UTS namespace's hostname.
    SetHostname { hostname: String },
    /// Bring `lo` up in the new net namespace.
    LoopbackUp,
    /// Cut every capability set, bounding included, to `keep`.
    DropCapabilities { keep: Vec<String> },
    /// prctl(PR_SET_NO_NEW_PRIVS): no exec can gain privileges.
    NoNewPrivs,
    /// The seccomp filter the command runs under (`None`: unconfined). PID 1 compiles
    /// it; the command's process installs it last, just before execve, so it covers
    /// the command and every process it starts, and not isolab's own PID 1.
    Seccomp { filter: Option<PlannedFilter> },
}

/// The overlayfs mount data for an image's layers. `volatile`: the writable layer
/// dies with the container, so syncing it to disk at unmount buys nothing.
pub fn overlay_options(lower: &Path, upper: &Path, work: &Path) -> String {
    format!(
        "lowerdir={},upperdir={},workdir={},volatile",
        lower.display(),
        upper.display(),
        work.display()
    )
}

/// Where [`PlannedStep::BindDevice`] binds from (the host's node) and to.
pub fn device_paths(name: &str, dev_dir: &Path) -> (PathBuf, PathBuf) {
    (Path::new("/dev").join(name), dev_dir.join(name))
}

/// What a call no rule allows gets, as a call text says it.
fn default_action_text(action: SeccompAction) -> String {
    match action {
        SeccompAction::Errno(1) => "the rest fail with EPERM".into(),
        SeccompAction::Errno(n) => format!("the rest fail with errno {n}"),
        SeccompAction::Allow | SeccompAction::Log => "the rest run".into(),
        SeccompAction::KillThread | SeccompAction::KillProcess => "the rest are killed".into(),
        SeccompAction::Trap => "the rest get SIGSYS".into(),
    }
}

impl PlannedStep {
    /// The phase the step belongs to.
    pub fn phase(&self) -> SetupPhase {
        match self {
            PlannedStep::SetHostname { .. } | PlannedStep::LoopbackUp => SetupPhase::Namespaces,
            PlannedStep::DeviceProgram { .. } => SetupPhase::Limits,
            PlannedStep::MaskPath { .. }
            | PlannedStep::ReadOnlyPath { .. }
            | PlannedStep::DropCapabilities { .. }
            | PlannedStep::NoNewPrivs
            | PlannedStep::Seccomp { .. } => SetupPhase::Security,
            _ => SetupPhase::Mounts,
        }
    }

    /// What the step does, for people: the recorded step's name.
    pub fn name(&self) -> &'static str {
        match self {
            PlannedStep::DeviceProgram { .. } => "allow only isolab's devices (cgroup2)",
            PlannedStep::MakeRootSlave => "make / rslave",
            PlannedStep::MountTmpfsRoot { .. } => "tmpfs root",
            PlannedStep::MountOverlayRoot { .. } => "overlay root",
            PlannedStep::MakeDir { .. } => "mkdir",
            PlannedStep::BindReadOnly { .. } => "bind read-only",
            PlannedStep::Symlink { .. } => "symlink",
            PlannedStep::WriteFile { .. } => "write file",
            PlannedStep::MountProc { .. } => "fresh /proc",
            PlannedStep::BindHostProc { .. } => "host /proc",
            PlannedStep::MountSysfs { .. } => "read-only /sys",
            PlannedStep::BindSysReadOnly { .. } => "host /sys read-only",
            PlannedStep::MountCgroup { .. } => "own cgroup read-only",
            PlannedStep::MountDevTmpfs { .. } => "/dev tmpfs",
            PlannedStep::BindDevice { .. } => "bind device",
            PlannedStep::MountDevpts { .. } => "devpts",
            PlannedStep::MountShm { .. } => "/dev/shm",
            PlannedStep::PivotRoot { .. } => "pivot_root",
            PlannedStep::MaskPath { .. } => "mask path",
            PlannedStep::ReadOnlyPath { .. } => "read-only path",
            PlannedStep::SetHostname { .. } => "hostname",
            PlannedStep::LoopbackUp => "lo up",
            PlannedStep::DropCapabilities { .. } => "drop capabilities",
            PlannedStep::NoNewPrivs => "no_new_privs",
            PlannedStep::Seccomp { .. } => "seccomp",
        }
    }

    /// The syscalls the step makes, with their arguments: the recorded step's call.
    pub fn call(&self) -> String {
        match self {
            PlannedStep::DeviceProgram { rules } => format!(
                "bpf(BPF_PROG_LOAD, CGROUP_DEVICE allowing {}); \
                 bpf(BPF_PROG_ATTACH, <own cgroup2 group>, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)",
                rules.join(", ")
            ),
            PlannedStep::MakeRootSlave => "mount(NULL, \"/\", NULL, MS_REC|MS_SLAVE)".into(),
            PlannedStep::MountTmpfsRoot { target } => format!(
                "mount(\"tmpfs\", {target:?}, \"tmpfs\", MS_NOSUID|MS_NODEV, \"mode=755,size=64m\")"
            ),
            PlannedStep::MountOverlayRoot {
                target,
                lower,
                upper,
                work,
            } => {
                let data = overlay_options(lower, upper, work);
                format!("mount(\"overlay\", {target:?}, \"overlay\", 0, {data:?})")
            }
            PlannedStep::MakeDir { path, mode } => format!("mkdir({path:?}, {mode:#o})"),
            PlannedStep::BindReadOnly { source, target } => {
                format!("mount({source:?}, {target:?}, NULL, MS_BIND|MS_REC) + remount MS_RDONLY")
            }
            PlannedStep::Symlink { link, points_to } => {
                format!("symlink({points_to:?}, {link:?})")
            }
            PlannedStep::WriteFile { path, contents } => {
                format!("write({path:?}, {} bytes)", contents.len())
            }
            PlannedStep::MountProc { target } => {
                format!("mount(\"proc\", {target:?}, \"proc\", MS_NOSUID|MS_NOEXEC|MS_NODEV)")
            }
            PlannedStep::BindHostProc { target } => {
                format!("mount(\"/proc\", {target:?}, NULL, MS_BIND|MS_REC)")
            }
            PlannedStep::MountSysfs { target } => format!(
                "mount(\"sysfs\", {target:?}, \"sysfs\", MS_RDONLY|MS_NOSUID|MS_NOEXEC|MS_NODEV)"
            ),
            PlannedStep::BindSysReadOnly { target } => {
                format!("mount(\"/sys\", {target:?}, NULL, MS_BIND|MS_REC) + remount MS_RDONLY")
            }
            PlannedStep::MountCgroup { target, cgroups } => match cgroups {
                HostCgroups::V2 | HostCgroups::None => format!(
                    "mount(\"/sys/fs/cgroup/<own group>\", {target:?}, NULL, MS_BIND) + remount MS_RDONLY"
                ),
                HostCgroups::V1 { hierarchies } => format!(
                    "mount(\"tmpfs\", {target:?}, \"tmpfs\", MS_NOSUID|MS_NODEV|MS_NOEXEC); bind the own group of {} read-only; remount MS_RDONLY",
                    hierarchies.join(",")
                ),
            },
            PlannedStep::MountDevTmpfs { target } => format!(
                "mount(\"tmpfs\", {target:?}, \"tmpfs\", MS_NOSUID|MS_STRICTATIME, \"mode=755,size=64k\")"
            ),
            PlannedStep::BindDevice { name, dev_dir } => {
                let (source, target) = device_paths(name, dev_dir);
                format!("mount({source:?}, {target:?}, NULL, MS_BIND)")
            }
            PlannedStep::MountDevpts { dev_dir } => {
                let pts = dev_dir.join("pts");
                format!("mount(\"devpts\", {pts:?}, \"devpts\", MS_NOSUID|MS_NOEXEC, \"newinstance,ptmxmode=0666,mode=0620\")")
            }
            PlannedStep::MountShm { dev_dir } => {
                let shm = dev_dir.join("shm");
                format!("mount(\"shm\", {shm:?}, \"tmpfs\", MS_NOSUID|MS_NOEXEC|MS_NODEV, \"mode=1777,size=64m\")")
            }
            PlannedStep::PivotRoot { new_root } => format!(
                "chdir({new_root:?}); pivot_root(\".\", \".\"); umount2(\".\", MNT_DETACH); chdir(\"/\")"
            ),
            PlannedStep::MaskPath { path } => {
                format!("mount(\"/dev/null\" or tmpfs, {path:?}, MS_RDONLY)")
            }
            PlannedStep::ReadOnlyPath { path } => {
                format!("mount({path:?}, {path:?}, NULL, MS_BIND|MS_REC) + remount MS_RDONLY")
            }
            PlannedStep::SetHostname { hostname } => format!("sethostname({hostname:?})"),
            PlannedStep::LoopbackUp => "ioctl(SIOCSIFFLAGS, \"lo\", IFF_UP)".into(),
            PlannedStep::DropCapabilities { keep } => {
                format!("capset + prctl(PR_CAPBSET_DROP) keeping {}", keep.join(","))
            }
            PlannedStep::NoNewPrivs => "prctl(PR_SET_NO_NEW_PRIVS, 1)".into(),
            PlannedStep::Seccomp { filter: None } => "none: seccomp=unconfined".into(),
            PlannedStep::Seccomp {
                filter: Some(filter),
            } => format!(
                "compile BPF; in PID 2 before execve: seccomp(SECCOMP_SET_MODE_FILTER) \
                 allowing {} syscalls, blocking {} ({})",
                filter.allowed,
                filter.blocked.len(),
                default_action_text(filter.policy.default_action)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_quote_paths_as_the_runtime_records_them() {
        let step = PlannedStep::BindDevice {
            name: "null".into(),
            dev_dir: "/run/isolab/c1/dev".into(),
        };
        assert_eq!(step.name(), "bind device");
        assert_eq!(
            step.call(),
            "mount(\"/dev/null\", \"/run/isolab/c1/dev/null\", NULL, MS_BIND)"
        );
        let mkdir = PlannedStep::MakeDir {
            path: "/tmp".into(),
            mode: 0o1777,
        };
        assert_eq!(mkdir.call(), "mkdir(\"/tmp\", 0o1777)");
    }
}
