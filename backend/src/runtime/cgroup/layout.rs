//! Where each cgroup controller lives on this host, read from /proc/self/mountinfo.
//!
//! A controller is bound to one hierarchy at a time: the unified (cgroup2) one or a v1
//! mount. Pure v2 hosts have everything on cgroup2; hybrid hosts (systemd's "hybrid"
//! mode, like this project's CI) keep the controllers on v1 and a near-empty cgroup2 at
//! /sys/fs/cgroup/unified; old hosts are pure v1.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::CgroupError;

/// A cgroup controller isolab uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Controller {
    Pids,
    Memory,
    Cpu,
    /// CPU time accounting; a controller of its own on v1, part of every v2 group.
    Cpuacct,
}

impl Controller {
    /// Every controller isolab uses.
    pub const ALL: [Controller; 4] = [
        Controller::Pids,
        Controller::Memory,
        Controller::Cpu,
        Controller::Cpuacct,
    ];

    /// The kernel's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Pids => "pids",
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
        }
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which cgroup interface a hierarchy speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupVersion {
    V1,
    V2,
}

/// The shared plan's name for it, which picks the files a limit is written to.
impl From<CgroupVersion> for isolab_shared::plan::limits::GroupVersion {
    fn from(version: CgroupVersion) -> Self {
        match version {
            CgroupVersion::V1 => Self::V1,
            CgroupVersion::V2 => Self::V2,
        }
    }
}

/// One mounted cgroup hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Hierarchy {
    pub version: CgroupVersion,
    /// Where it is mounted, e.g. /sys/fs/cgroup/memory.
    pub mount: PathBuf,
}

/// The host's cgroup layout, per controller.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct CgroupLayout {
    /// The hierarchy each usable controller lives in.
    pub controllers: BTreeMap<Controller, Hierarchy>,
    /// Controllers cgroup2 offers but whose root does not enable them for children
    /// (and no v1 mount has them), with the cgroup2 mount point.
    pub undelegated: BTreeMap<Controller, PathBuf>,
    /// The cgroup2 mount, if any: it gives cgroup.kill and membership even when it
    /// carries no controller (hybrid hosts).
    pub unified: Option<PathBuf>,
}

impl CgroupLayout {
    /// The hierarchy of `controller`, or an error saying why it cannot be used.
    pub fn hierarchy(&self, controller: Controller) -> Result<&Hierarchy, CgroupError> {
        if let Some(h) = self.controllers.get(&controller) {
            return Ok(h);
        }
        match self.undelegated.get(&controller) {
            Some(mount) => Err(CgroupError::NotDelegated {
                controller,
                mount: mount.clone(),
            }),
            None => Err(CgroupError::ControllerMissing(controller)),
        }
    }

    /// Every hierarchy isolab makes groups in: one per mount holding a controller,
    /// plus cgroup2 for membership; each with the controllers it carries.
    pub fn hierarchies(&self) -> Vec<(Hierarchy, Vec<Controller>)> {
        let mut by_mount: BTreeMap<Hierarchy, Vec<Controller>> = BTreeMap::new();
        for (c, h) in &self.controllers {
            by_mount.entry(h.clone()).or_default().push(*c);
        }
        if let Some(mount) = &self.unified {
            by_mount
                .entry(Hierarchy {
                    version: CgroupVersion::V2,
                    mount: mount.clone(),
                })
                .or_default();
        }
        by_mount.into_iter().collect()
    }
}

/// Reads this host's layout from /proc/self/mountinfo and the cgroup2 root.
pub fn detect() -> Result<CgroupLayout, CgroupError> {
    let path = Path::new("/proc/self/mountinfo");
    let mountinfo = std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    detect_from(&mountinfo, |p| std::fs::read_to_string(p).ok())
}

/// One cgroup mount from mountinfo.
struct CgroupMount {
    mount_point: PathBuf,
    /// The mount shows the hierarchy's root (not a subtree bound elsewhere).
    shows_root: bool,
    /// v1 controllers from the super options; empty for cgroup2.
    v1_controllers: Vec<String>,
    version: CgroupVersion,
}

/// Works out the layout from mountinfo text; `read` reads a file of the cgroup2 root
/// (cgroup.controllers, cgroup.subtree_control). Split out so tests feed it fakes.
pub fn detect_from(
    mountinfo: &str,
    read: impl Fn(&Path) -> Option<String>,
) -> Result<CgroupLayout, CgroupError> {
    let mut mounts: Vec<CgroupMount> = mountinfo.lines().filter_map(parse_line).collect();
    if mounts.is_empty() {
        return Err(CgroupError::NoCgroupFs);
    }
    // Prefer mounts of a hierarchy's root over bind mounts of a subtree.
    mounts.sort_by_key(|m| !m.shows_root);

    let unified = mounts
        .iter()
        .find(|m| m.version == CgroupVersion::V2)
        .map(|m| m.mount_point.clone());
    let (offered, delegated) = match &unified {
        Some(mount) => (
            words(read(&mount.join("cgroup.controllers"))),
            words(read(&mount.join("cgroup.subtree_control"))),
        ),
        None => (Vec::new(), Vec::new()),
    };
    let v1_mount = |name: &str| {
        mounts
            .iter()
            .find(|m| m.version == CgroupVersion::V1 && m.v1_controllers.iter().any(|c| c == name))
            .map(|m| Hierarchy {
                version: CgroupVersion::V1,
                mount: m.mount_point.clone(),
            })
    };

    let mut layout = CgroupLayout {
        unified: unified.clone(),
        ..CgroupLayout::default()
    };
    for controller in [Controller::Pids, Controller::Memory, Controller::Cpu] {
        let name = controller.name();
        let on_v2 = offered.iter().any(|c| c == name);
        match (&unified, on_v2, v1_mount(name)) {
            (Some(mount), true, _) if delegated.iter().any(|c| c == name) => {
                layout.controllers.insert(
                    controller,
                    Hierarchy {
                        version: CgroupVersion::V2,
                        mount: mount.clone(),
                    },
                );
            }
            (_, _, Some(v1)) => {
                layout.controllers.insert(controller, v1);
            }
            (Some(mount), true, None) => {
                layout.undelegated.insert(controller, mount.clone());
            }
            _ => {}
        }
    }
    // cpu time: cpuacct on v1; on v2 every group has cpu.stat, so follow cpu there.
    let cpu_on_v2 = layout
        .controllers
        .get(&Controller::Cpu)
        .is_some_and(|h| h.version == CgroupVersion::V2);
    let cpuacct = match (cpu_on_v2, v1_mount("cpuacct"), &unified) {
        (true, _, Some(mount)) | (false, None, Some(mount)) => Some(Hierarchy {
            version: CgroupVersion::V2,
            mount: mount.clone(),
        }),
        (_, Some(v1), _) => Some(v1),
        _ => None,
    };
    if let Some(h) = cpuacct {
        layout.controllers.insert(Controller::Cpuacct, h);
    }
    Ok(layout)
}

fn words(text: Option<String>) -> Vec<String> {
    text.unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Parses one mountinfo line if it is a cgroup mount:
/// `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS`.
fn parse_line(line: &str) -> Option<CgroupMount> {
    let (left, right) = line.split_once(" - ")?;
    let left: Vec<&str> = left.split(' ').collect();
    let mut right = right.split(' ');
    let fs_type = right.next()?;
    let _source = right.next()?;
    let super_opts = right.next().unwrap_or("");
    let version = match fs_type {
        "cgroup" => CgroupVersion::V1,
        "cgroup2" => CgroupVersion::V2,
        _ => return None,
    };
    let root = left.get(3)?;
    let mount_point = unescape(left.get(4)?);
    let v1_controllers = match version {
        CgroupVersion::V1 => super_opts
            .split(',')
            .filter(|o| !matches!(*o, "rw" | "ro") && !o.contains('='))
            .map(str::to_string)
            .collect(),
        CgroupVersion::V2 => Vec::new(),
    };
    Some(CgroupMount {
        mount_point: PathBuf::from(mount_point),
        shows_root: *root == "/",
        v1_controllers,
        version,
    })
}

/// Undoes mountinfo's octal escapes (`\040` for a space, etc.).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = field
            .get(i + 1..i + 4)
            .filter(|d| d.bytes().all(|b| (b'0'..=b'7').contains(&b)))
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        if let (b'\\', Some(v)) = (bytes[i], octal) {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw
";

    const V2: &str = "\
22 1 8:1 / / rw - ext4 /dev/sda1 rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    const V1_COMOUNTED: &str = "\
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
";

    fn files(controllers: &'static str, subtree: &'static str) -> impl Fn(&Path) -> Option<String> {
        move |p: &Path| match p.file_name()?.to_str()? {
            "cgroup.controllers" => Some(controllers.to_string()),
            "cgroup.subtree_control" => Some(subtree.to_string()),
            _ => None,
        }
    }

    fn at(version: CgroupVersion, mount: &str) -> Hierarchy {
        Hierarchy {
            version,
            mount: PathBuf::from(mount),
        }
    }

    #[test]
    fn hybrid_uses_v1_controllers_and_keeps_unified_for_membership() {
        let layout = detect_from(HYBRID, files("hugetlb\n", "")).expect("hybrid parses");
        use CgroupVersion::V1;
        assert_eq!(
            layout.hierarchy(Controller::Memory).expect("memory"),
            &at(V1, "/sys/fs/cgroup/memory")
        );
        assert_eq!(
            layout.hierarchy(Controller::Cpuacct).expect("cpuacct"),
            &at(V1, "/sys/fs/cgroup/cpuacct")
        );
        assert_eq!(
            layout.unified,
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        // cpu, cpuacct, memory, pids, and unified: five groups, systemd's left alone.
        let h = layout.hierarchies();
        assert_eq!(h.len(), 5);
        assert!(h.iter().all(|(h, _)| !h.mount.ends_with("systemd")));
    }

    #[test]
    fn pure_v2_puts_everything_on_the_unified_hierarchy() {
        let layout = detect_from(
            V2,
            files("cpuset cpu io memory pids\n", "cpu memory pids\n"),
        )
        .expect("v2 parses");
        for c in Controller::ALL {
            assert_eq!(
                layout.hierarchy(c).expect("present"),
                &at(CgroupVersion::V2, "/sys/fs/cgroup")
            );
        }
        let h = layout.hierarchies();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].1.len(), 4);
    }

    #[test]
    fn v2_controller_not_delegated_by_root_is_reported() {
        let layout = detect_from(V2, files("cpu memory pids\n", "memory\n")).expect("v2 parses");
        assert!(layout.hierarchy(Controller::Memory).is_ok());
        let err = layout
            .hierarchy(Controller::Pids)
            .expect_err("pids not delegated");
        assert!(matches!(err, CgroupError::NotDelegated { .. }));
        assert!(err.to_string().contains("/sys/fs/cgroup"));
    }

    #[test]
    fn pure_v1_with_comounted_cpu_and_cpuacct() {
        let layout = detect_from(V1_COMOUNTED, files("", "")).expect("v1 parses");
        let cpu = layout.hierarchy(Controller::Cpu).expect("cpu");
        assert_eq!(cpu, &at(CgroupVersion::V1, "/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(layout.hierarchy(Controller::Cpuacct).expect("cpuacct"), cpu);
        assert_eq!(layout.unified, None);
        assert_eq!(layout.hierarchies().len(), 3);
    }

    #[test]
    fn no_cgroup_mount_is_an_error_and_escapes_are_undone() {
        assert!(matches!(
            detect_from("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n", files("", "")),
            Err(CgroupError::NoCgroupFs)
        ));
        assert_eq!(unescape(r"/mnt/my\040cg"), "/mnt/my cg");
        assert_eq!(unescape(r"/plain\"), r"/plain\");
    }

    #[test]
    fn detects_this_host() {
        let layout = detect().expect("this host has cgroups");
        assert!(!layout.hierarchies().is_empty());
    }
}
