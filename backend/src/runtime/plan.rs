//! Turns a [`ContainerSpec`] into a [`Plan`]: the ordered setup steps the container's
//! init applies. Building a plan touches nothing; it only reads host facts (which of
//! /bin, /lib... exist and whether they are usrmerge symlinks).

use std::path::{Path, PathBuf};

use isolab_shared::{ContainerSpec, IdMapEntry, NamespaceKind, SetupPhase, HOST_IMAGE};
use serde::{Deserialize, Serialize};

/// Docker's defaults, which this runtime applies: see [`isolab_shared::hardening`].
pub use isolab_shared::hardening::{
    DOCKER_CAPABILITIES as DEFAULT_CAPABILITIES, DOCKER_MASKED_PATHS as MASKED_PATHS,
    DOCKER_READONLY_PATHS as READONLY_PATHS,
};

/// The host directories the `host` image binds read-only, when they exist.
const HOST_IMAGE_DIRS: [&str; 7] = [
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// Device nodes bound from the host into the container's /dev.
pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// The PATH the command gets unless the spec's env sets one.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One setup step to apply in the container's init, before the command runs.
/// Paths before [`PlannedStep::PivotRoot`] are host paths in the new mount namespace;
/// after it, paths inside the container.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum PlannedStep {
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
    /// Reserved for the seccomp filter a later issue adds; applying it does nothing yet.
    Seccomp,
}

impl PlannedStep {
    /// The phase the step belongs to.
    pub fn phase(&self) -> SetupPhase {
        match self {
            PlannedStep::SetHostname { .. } | PlannedStep::LoopbackUp => SetupPhase::Namespaces,
            PlannedStep::MaskPath { .. }
            | PlannedStep::ReadOnlyPath { .. }
            | PlannedStep::DropCapabilities { .. }
            | PlannedStep::NoNewPrivs
            | PlannedStep::Seccomp => SetupPhase::Security,
            _ => SetupPhase::Mounts,
        }
    }
}

/// The user namespace's id mapping: container root maps to `outside`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMapping {
    pub outside: u32,
    pub count: u32,
}

impl IdMapping {
    /// The same mapping as a uid_map/gid_map entry.
    pub fn entry(&self) -> IdMapEntry {
        IdMapEntry {
            inside: 0,
            outside: self.outside,
            count: self.count,
        }
    }
}

/// The cgroup directories the helper puts the container in, before PID 1 exists.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct CgroupJoin {
    /// cgroup v1 directories: the helper writes "0" (itself) to their `tasks`.
    pub v1_dirs: Vec<PathBuf>,
    /// The cgroup2 directory: PID 1 is born in it (clone3 with CLONE_INTO_CGROUP).
    pub v2_dir: Option<PathBuf>,
    /// The root group of each v1 hierarchy in `v1_dirs`, where PID 1 can move itself.
    #[serde(default)]
    pub v1_roots: Vec<PathBuf>,
}

/// Everything the init helper needs to set a container up, sent to it as one message.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Plan {
    /// The container's id (for messages only).
    pub id: String,
    /// The namespaces to unshare.
    pub namespaces: Vec<NamespaceKind>,
    /// Set when a user namespace is made.
    pub id_mapping: Option<IdMapping>,
    /// Where the container's processes go; filled in once the cgroup exists.
    #[serde(default)]
    pub cgroup: CgroupJoin,
    /// Steps applied by the container's PID 1, in order.
    pub steps: Vec<PlannedStep>,
    /// The command's argv.
    pub command: Vec<String>,
    /// The command's full environment.
    pub env: Vec<String>,
    /// Whether the command gets a terminal from the container's devpts.
    pub tty: bool,
    /// Run the command right after setup instead of waiting for `Start`.
    #[serde(default)]
    pub start_now: bool,
    /// After its command ends, PID 1 moves itself to the root group of each v1
    /// hierarchy (`CgroupJoin::v1_roots`) before it reports the end, so the caller can
    /// remove the container's groups while PID 1's namespaces are still torn down.
    #[serde(default)]
    pub leave_cgroup_at_exit: bool,
}

/// Where a container's files live on the host.
#[derive(Clone, Debug)]
pub struct ContainerPaths {
    /// The mount point of the new root: the state dir itself, covered only inside the
    /// container's mount namespace (saves a directory on the host).
    pub rootfs: PathBuf,
    /// The overlay's writable layer.
    pub upper: PathBuf,
    /// The overlay's work directory.
    pub work: PathBuf,
}

impl ContainerPaths {
    /// The layout under one container's state dir.
    pub fn under(state_dir: &Path) -> Self {
        ContainerPaths {
            rootfs: state_dir.to_path_buf(),
            upper: state_dir.join("upper"),
            work: state_dir.join("work"),
        }
    }
}

/// Builds the plan for `spec`. `hostname` is the one to set (with a UTS namespace).
pub fn build(
    id: &str,
    spec: &ContainerSpec,
    hostname: &str,
    paths: &ContainerPaths,
    id_mapping: Option<IdMapping>,
) -> Plan {
    let ns = |k| spec.namespaces.contains(k);
    let mut steps = Vec::new();
    if ns(NamespaceKind::Mnt) {
        let fresh_proc = ns(NamespaceKind::Pid) || !ns(NamespaceKind::User);
        rootfs_steps(
            spec,
            hostname,
            paths,
            ns(NamespaceKind::Net),
            fresh_proc,
            &mut steps,
        );
    }
    if ns(NamespaceKind::Uts) {
        steps.push(PlannedStep::SetHostname {
            hostname: hostname.to_string(),
        });
    }
    if ns(NamespaceKind::Net) {
        steps.push(PlannedStep::LoopbackUp);
    }
    steps.push(PlannedStep::DropCapabilities {
        keep: DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect(),
    });
    steps.push(PlannedStep::NoNewPrivs);
    steps.push(PlannedStep::Seccomp);
    Plan {
        id: id.to_string(),
        namespaces: spec.namespaces.iter().collect(),
        id_mapping: id_mapping.filter(|_| ns(NamespaceKind::User)),
        cgroup: CgroupJoin::default(),
        steps,
        command: spec.command.clone(),
        env: environment(spec, hostname),
        tty: spec.tty,
        start_now: false,
        leave_cgroup_at_exit: false,
    }
}

fn rootfs_steps(
    spec: &ContainerSpec,
    hostname: &str,
    paths: &ContainerPaths,
    own_net: bool,
    fresh_proc: bool,
    steps: &mut Vec<PlannedStep>,
) {
    let root = &paths.rootfs;
    let inside = |p: &str| root.join(p.trim_start_matches('/'));
    steps.push(PlannedStep::MakeRootSlave);
    let host_image = spec.image == HOST_IMAGE;
    if host_image {
        steps.push(PlannedStep::MountTmpfsRoot {
            target: root.clone(),
        });
        for dir in HOST_IMAGE_DIRS {
            let host = Path::new(dir);
            match std::fs::symlink_metadata(host) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(points_to) = std::fs::read_link(host) {
                        steps.push(PlannedStep::Symlink {
                            link: inside(dir),
                            points_to,
                        });
                    }
                }
                Ok(m) if m.is_dir() => steps.push(PlannedStep::BindReadOnly {
                    source: host.to_path_buf(),
                    target: inside(dir),
                }),
                _ => {}
            }
        }
        for (dir, mode) in [("/etc", 0o755), ("/root", 0o700), ("/tmp", 0o1777)] {
            steps.push(PlannedStep::MakeDir {
                path: inside(dir),
                mode,
            });
        }
        for (file, contents) in etc_files(hostname) {
            steps.push(PlannedStep::WriteFile {
                path: inside(file),
                contents,
            });
        }
    } else {
        steps.push(PlannedStep::MountOverlayRoot {
            target: root.clone(),
            lower: PathBuf::from(&spec.image),
            upper: paths.upper.clone(),
            work: paths.work.clone(),
        });
    }
    for dir in ["/proc", "/sys", "/dev"] {
        steps.push(PlannedStep::MakeDir {
            path: inside(dir),
            mode: 0o755,
        });
    }
    steps.push(if fresh_proc {
        PlannedStep::MountProc {
            target: inside("/proc"),
        }
    } else {
        PlannedStep::BindHostProc {
            target: inside("/proc"),
        }
    });
    steps.push(if own_net {
        PlannedStep::MountSysfs {
            target: inside("/sys"),
        }
    } else {
        PlannedStep::BindSysReadOnly {
            target: inside("/sys"),
        }
    });
    let dev = inside("/dev");
    steps.push(PlannedStep::MountDevTmpfs {
        target: dev.clone(),
    });
    for name in DEVICES {
        steps.push(PlannedStep::BindDevice {
            name: name.to_string(),
            dev_dir: dev.clone(),
        });
    }
    steps.push(PlannedStep::MountDevpts {
        dev_dir: dev.clone(),
    });
    steps.push(PlannedStep::MountShm { dev_dir: dev });
    steps.push(PlannedStep::PivotRoot {
        new_root: root.clone(),
    });
    for path in MASKED_PATHS {
        steps.push(PlannedStep::MaskPath { path: path.into() });
    }
    for path in READONLY_PATHS {
        steps.push(PlannedStep::ReadOnlyPath { path: path.into() });
    }
}

/// The minimal /etc of the `host` image.
fn etc_files(hostname: &str) -> Vec<(&'static str, String)> {
    let resolv = std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_else(|_| "nameserver 127.0.0.1\n".to_string());
    vec![
        (
            "/etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
                .to_string(),
        ),
        ("/etc/group", "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n".to_string()),
        (
            "/etc/hosts",
            format!("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n127.0.1.1\t{hostname}\n"),
        ),
        ("/etc/hostname", format!("{hostname}\n")),
        ("/etc/resolv.conf", resolv),
    ]
}

/// The command's environment: defaults, then the spec's own `KEY=value` entries.
fn environment(spec: &ContainerSpec, hostname: &str) -> Vec<String> {
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        "HOME=/root".to_string(),
        format!("HOSTNAME={hostname}"),
    ];
    if spec.tty {
        env.push("TERM=xterm-256color".to_string());
    }
    for extra in &spec.env {
        if let Some((key, _)) = extra.split_once('=') {
            env.retain(|e| e.split_once('=').map(|(k, _)| k) != Some(key));
            env.push(extra.clone());
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use isolab_shared::NamespaceSet;

    fn paths() -> ContainerPaths {
        ContainerPaths::under(Path::new("/run/isolab-test/c1"))
    }

    #[test]
    fn default_spec_pivots_and_hardens_in_order() {
        let plan = build("c1", &ContainerSpec::default(), "c1", &paths(), None);
        let pos = |f: &dyn Fn(&PlannedStep) -> bool| plan.steps.iter().position(f);
        let slave = pos(&|s| matches!(s, PlannedStep::MakeRootSlave)).expect("rslave step");
        let proc_ = pos(&|s| matches!(s, PlannedStep::MountProc { .. })).expect("proc step");
        let pivot = pos(&|s| matches!(s, PlannedStep::PivotRoot { .. })).expect("pivot step");
        let mask = pos(&|s| matches!(s, PlannedStep::MaskPath { .. })).expect("mask step");
        let caps = pos(&|s| matches!(s, PlannedStep::DropCapabilities { .. })).expect("caps");
        assert!(slave < proc_ && proc_ < pivot && pivot < mask && mask < caps);
        assert!(plan.steps.contains(&PlannedStep::LoopbackUp));
        assert!(plan.steps.contains(&PlannedStep::Seccomp));
        assert!(plan.env.iter().any(|e| e.starts_with("PATH=")));
        assert_eq!(plan.id_mapping, None);
    }

    #[test]
    fn shared_namespaces_get_no_steps_that_would_touch_the_host() {
        let spec = ContainerSpec {
            namespaces: NamespaceSet::parse_list("pid").expect("list"),
            ..Default::default()
        };
        let plan = build("c1", &spec, "h", &paths(), None);
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
        let plan = build("c1", &spec, "h", &paths(), None);
        assert!(plan
            .steps
            .iter()
            .any(|s| matches!(s, PlannedStep::MountOverlayRoot { lower, .. } if lower == Path::new("/srv/busybox"))));
        assert!(!plan
            .steps
            .iter()
            .any(|s| matches!(s, PlannedStep::MountTmpfsRoot { .. })));
        assert_eq!(
            plan.env.iter().filter(|e| e.starts_with("PATH=")).count(),
            1
        );
        assert!(plan.env.contains(&"PATH=/bin".to_string()));
        assert!(plan.env.contains(&"A=1".to_string()));
    }
}
