//! Turns a [`ContainerSpec`] into a [`Plan`]: the ordered setup steps a container's
//! init applies. One plan, two interpreters: the runtime applies it to the kernel, the
//! simulator ([`crate::sim::container`]) to its model. Building a plan does no IO: the
//! host facts it depends on (image dirs, resolv.conf, the cgroup layout) arrive as
//! [`HostFacts`], which the backend reads from the host and the simulator models.
//!
//! - [`steps`]: [`PlannedStep`], with the name and call text both sides record.
//! - [`limits`]: the writes that set a container's limits in its cgroup, per version.
//! - [`around`]: the steps around the plan (groups, clone, identity, the command),
//!   which both interpreters record with the same names and call texts.

pub mod around;
pub mod limits;
pub mod steps;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::namespace::NamespaceKind;
use crate::protocol::{ContainerSpec, IdMapEntry, HOST_IMAGE};
use crate::seccomp::{self, PlannedFilter};

pub use steps::{device_paths, overlay_options, PlannedStep};

/// Docker's defaults, which isolab applies: see [`crate::hardening`].
pub use crate::hardening::{
    DOCKER_CAPABILITIES as DEFAULT_CAPABILITIES, DOCKER_MASKED_PATHS as MASKED_PATHS,
    DOCKER_READONLY_PATHS as READONLY_PATHS,
};

/// The host directories the `host` image binds read-only, when they exist.
pub const HOST_IMAGE_DIRS: [&str; 7] = [
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// Device nodes bound from the host into the container's /dev.
pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// The devices a container may open, as device-cgroup rules (`type major:minor
/// access`): the nodes of [`DEVICES`], /dev/ptmx and its own ptys. Every other
/// device is refused at open(2), even a node its root makes with CAP_MKNOD (the
/// `m` rules keep mknod itself working, as images expect).
pub const DEVICE_RULES: [&str; 10] = [
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
];

/// The PATH the command gets unless the spec's env sets one.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The resolv.conf a `host` image gets when the host has none.
pub const FALLBACK_RESOLV_CONF: &str = "nameserver 127.0.0.1\n";

/// One of [`HOST_IMAGE_DIRS`] as the host has it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum HostDir {
    /// A real directory, bound read-only.
    Dir(PathBuf),
    /// A symlink (usrmerge: /bin -> usr/bin), recreated as the same symlink.
    Symlink { path: PathBuf, points_to: PathBuf },
}

/// What the plan needs to know about the host: the only inputs that are not in the spec.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct HostFacts {
    /// Those of [`HOST_IMAGE_DIRS`] that exist, in that order.
    pub image_dirs: Vec<HostDir>,
    /// The host's /etc/resolv.conf, copied into a `host` image.
    pub resolv_conf: String,
    /// How the host mounts its cgroups: what a container's /sys/fs/cgroup looks like.
    #[serde(default)]
    pub cgroups: HostCgroups,
}

impl HostFacts {
    /// Whether the device rules go to a cgroup2 device program: on a pure cgroup2
    /// host, where every container's group is a cgroup2 one and no v1 `devices`
    /// controller exists. (On a hybrid host the v1 controller enforces them; the
    /// runtime attaches the program too where a container gets a cgroup2 group, as a
    /// second lock, recorded among its cgroup steps.)
    pub fn v2_devices_apply(&self) -> bool {
        self.cgroups == HostCgroups::V2
    }
}

/// The host's cgroup filesystems under /sys/fs/cgroup.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum HostCgroups {
    /// None there: a container's /sys/fs/cgroup stays as sysfs has it.
    #[default]
    None,
    /// cgroup2 at /sys/fs/cgroup (most hosts).
    V2,
    /// A directory per hierarchy under /sys/fs/cgroup (v1 and hybrid hosts), by name
    /// (`memory`, `pids`, `unified`…).
    V1 { hierarchies: Vec<String> },
}

/// Where the host mounts its cgroup hierarchies.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The user namespace's id mapping: container root maps to `outside`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMapping {
    /// The first host id that container id 0 maps to.
    pub outside: u32,
    /// How many ids are mapped.
    pub count: u32,
}

/// The name of the recorded step in which the runtime writes the id maps.
pub const ID_MAP_STEP: &str = "id maps (by the runtime)";

impl IdMapping {
    /// The recorded call of [`ID_MAP_STEP`], the same from the runtime and the simulator.
    pub fn call(&self) -> String {
        format!(
            "write /proc/PID/setgroups \"deny\"; uid_map and gid_map \"0 {} {}\"",
            self.outside, self.count
        )
    }

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
    /// The setup steps, in order: on a cgroup2 host the device program first, which
    /// the runtime attaches with the group (before PID 1 exists), then PID 1's own
    /// ([`Plan::pid1_steps`]).
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

impl Plan {
    /// The device program, attached with the container's cgroup2 group, if the plan
    /// has one.
    pub fn device_program(&self) -> Option<&PlannedStep> {
        self.steps
            .iter()
            .find(|s| matches!(s, PlannedStep::DeviceProgram { .. }))
    }

    /// The steps PID 1 applies, in order: all but the device program.
    pub fn pid1_steps(&self) -> impl Iterator<Item = &PlannedStep> {
        self.steps
            .iter()
            .filter(|s| !matches!(s, PlannedStep::DeviceProgram { .. }))
    }
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

/// Builds the plan for `spec`. `hostname` is the one to set (with a UTS namespace);
/// `host` says which host directories a `host` image binds and its resolv.conf.
/// `id_mapping` is where the user namespace's ids lie on this host (the fixed range,
/// or the range allocated to a `userns: auto` container): a host fact like `host`.
pub fn build(
    id: &str,
    spec: &ContainerSpec,
    hostname: &str,
    paths: &ContainerPaths,
    id_mapping: Option<IdMapping>,
    host: &HostFacts,
) -> Plan {
    let namespaces = spec.effective_namespaces();
    let ns = |k| namespaces.contains(k);
    let mut steps = Vec::new();
    if host.v2_devices_apply() {
        steps.push(PlannedStep::DeviceProgram {
            rules: DEVICE_RULES.iter().map(|r| r.to_string()).collect(),
        });
    }
    if ns(NamespaceKind::Mnt) {
        let rootfs = RootfsInputs {
            spec,
            hostname,
            paths,
            host,
            own_net: ns(NamespaceKind::Net),
            // A user namespace may mount a procfs only for a pid namespace it owns.
            fresh_proc: ns(NamespaceKind::Pid) || !ns(NamespaceKind::User),
        };
        rootfs_steps(&rootfs, &mut steps);
    }
    if ns(NamespaceKind::Uts) {
        steps.push(PlannedStep::SetHostname {
            hostname: hostname.to_string(),
        });
    }
    if ns(NamespaceKind::Net) {
        steps.push(PlannedStep::LoopbackUp);
    }
    let keep: Vec<String> = DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect();
    // A profile that does not resolve was refused by `ContainerSpec::validate`; if
    // one gets here anyway it runs under the default rather than under none.
    let policy = seccomp::resolve(&spec.security.seccomp, &keep)
        .unwrap_or_else(|_| Some(seccomp::default_profile::policy(&keep)));
    steps.push(PlannedStep::DropCapabilities { keep });
    steps.push(PlannedStep::NoNewPrivs);
    steps.push(PlannedStep::Seccomp {
        filter: policy.map(PlannedFilter::new),
    });
    Plan {
        id: id.to_string(),
        namespaces: namespaces.iter().collect(),
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

/// What the new root's steps depend on.
struct RootfsInputs<'a> {
    spec: &'a ContainerSpec,
    hostname: &'a str,
    paths: &'a ContainerPaths,
    host: &'a HostFacts,
    own_net: bool,
    fresh_proc: bool,
}

fn rootfs_steps(r: &RootfsInputs<'_>, steps: &mut Vec<PlannedStep>) {
    let root = &r.paths.rootfs;
    let inside = |p: &Path| root.join(p.strip_prefix("/").unwrap_or(p));
    steps.push(PlannedStep::MakeRootSlave);
    if r.spec.image == HOST_IMAGE {
        steps.push(PlannedStep::MountTmpfsRoot {
            target: root.clone(),
        });
        for dir in &r.host.image_dirs {
            steps.push(match dir {
                HostDir::Dir(path) => PlannedStep::BindReadOnly {
                    source: path.clone(),
                    target: inside(path),
                },
                HostDir::Symlink { path, points_to } => PlannedStep::Symlink {
                    link: inside(path),
                    points_to: points_to.clone(),
                },
            });
        }
        for (dir, mode) in [("/etc", 0o755), ("/root", 0o700), ("/tmp", 0o1777)] {
            steps.push(PlannedStep::MakeDir {
                path: inside(Path::new(dir)),
                mode,
            });
        }
        for (file, contents) in etc_files(r.hostname, &r.host.resolv_conf) {
            steps.push(PlannedStep::WriteFile {
                path: inside(Path::new(file)),
                contents,
            });
        }
    } else {
        steps.push(PlannedStep::MountOverlayRoot {
            target: root.clone(),
            lower: PathBuf::from(&r.spec.image),
            upper: r.paths.upper.clone(),
            work: r.paths.work.clone(),
        });
    }
    for dir in ["/proc", "/sys", "/dev"] {
        steps.push(PlannedStep::MakeDir {
            path: inside(Path::new(dir)),
            mode: 0o755,
        });
    }
    let proc_ = inside(Path::new("/proc"));
    steps.push(if r.fresh_proc {
        PlannedStep::MountProc { target: proc_ }
    } else {
        PlannedStep::BindHostProc { target: proc_ }
    });
    let sys = inside(Path::new("/sys"));
    steps.push(if r.own_net {
        PlannedStep::MountSysfs { target: sys }
    } else {
        PlannedStep::BindSysReadOnly { target: sys }
    });
    if r.host.cgroups != HostCgroups::None {
        // The container's own groups, read-only, where tools look for them.
        steps.push(PlannedStep::MountCgroup {
            target: inside(Path::new(CGROUP_ROOT)),
            cgroups: r.host.cgroups.clone(),
        });
    }
    let dev = inside(Path::new("/dev"));
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
fn etc_files(hostname: &str, resolv_conf: &str) -> Vec<(&'static str, String)> {
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
        ("/etc/resolv.conf", resolv_conf.to_string()),
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
mod tests;
