//! A container's cgroup: the directories isolab makes under `isolab/<id>` in each
//! (Just over 500 lines: one type for every cgroup layout, v1, v2 and hybrid, kept whole.)
//! hierarchy, the limits written into them, and the usage read back.
//!
//! # Layout
//! - [`devices`]: the device cgroup: only isolab's devices may be opened (v1 rules,
//!   and the cgroup2 program where the container has a cgroup2 group).
//! - [`device_bpf`]: that cgroup2 program: built, loaded and attached with bpf(2).
//! - [`layout`]: which hierarchy (v1 mount or cgroup2) holds each controller here.
//! - [`limits`]: the files a limit is written to, per cgroup version.
//! - [`usage`]: reading usage and ceilings back, per cgroup version.
//!
//! isolab never remounts or reconfigures the host's hierarchies: it only makes and
//! removes its own groups below `isolab/`, and on cgroup2 enables controllers in the
//! `isolab` group's subtree_control, never in the root's.

pub mod device_bpf;
pub mod devices;
pub mod layout;
pub mod limits;
pub mod usage;

use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use isolab_shared::limits::Limits;
use isolab_shared::plan::around;
use isolab_shared::CgroupUsage;
use serde::{Deserialize, Serialize};

pub use layout::{detect, CgroupLayout, CgroupVersion, Controller, Hierarchy};

use super::steps::StepLog;

/// The directory below each hierarchy's root that holds isolab's groups.
pub const PARENT: &str = "isolab";

/// How many times [`ContainerCgroup::kill_all`] and [`ContainerCgroup::remove`] look
/// again, and how long they wait between looks: tasks leave a group shortly after
/// SIGKILL, not at once.
const RETRIES: u32 = 100;
const RETRY_PAUSE: Duration = Duration::from_millis(10);

/// What can go wrong with cgroups.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no cgroup filesystem is mounted on this host")]
    NoCgroupFs,
    #[error("the {0} cgroup controller is not mounted on this host")]
    ControllerMissing(Controller),
    #[error("cgroup2 at {mount} offers {controller} but its root does not enable it for child groups, and no v1 mount has it")]
    NotDelegated {
        controller: Controller,
        mount: PathBuf,
    },
    #[error("bad container id '{0}' for a cgroup: use letters, digits, '-', '_' or '.'")]
    BadId(String),
    #[error("cgroup {0} already exists (a leftover? run `isolab gc`)")]
    AlreadyExists(PathBuf),
    #[error("cannot create cgroup {path}: {source}")]
    Mkdir { path: PathBuf, source: io::Error },
    #[error("cannot write '{value}' to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot remove cgroup {path}: {source}")]
    Rmdir { path: PathBuf, source: io::Error },
    #[error("{0}")]
    DeviceProgram(#[from] device_bpf::DeviceProgramError),
    #[error("cgroup {path} still holds {left} processes after SIGKILL")]
    KillIncomplete { path: PathBuf, left: usize },
}

/// One directory isolab made for a container, in one hierarchy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupDir {
    pub version: CgroupVersion,
    /// e.g. /sys/fs/cgroup/memory/isolab/<id>.
    pub path: PathBuf,
    /// The controllers isolab uses through this directory (none: membership only).
    pub controllers: Vec<Controller>,
}

impl GroupDir {
    /// The hierarchy's root group: `<mount>` for `<mount>/isolab/<id>`.
    pub fn hierarchy_root(&self) -> Option<&Path> {
        self.path.parent().and_then(Path::parent)
    }
}

/// A container's cgroup, made of one directory per hierarchy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContainerCgroup {
    id: String,
    dirs: Vec<GroupDir>,
    /// Whether isolab's device program is attached to its cgroup2 group.
    #[serde(default)]
    device_program: bool,
}

impl ContainerCgroup {
    /// Creates `isolab/<id>` in each hierarchy needed and applies `limits`, recording each mkdir/write in `log` (SetupPhase::Cgroup / SetupPhase::Limits) with the path and value written.
    pub fn create(
        id: &str,
        limits: &Limits,
        log: &mut StepLog,
    ) -> Result<ContainerCgroup, CgroupError> {
        Self::create_with(id, limits, &Controller::ALL, log)
    }

    /// Like [`ContainerCgroup::create`], but makes groups only in the hierarchies of
    /// `wanted` controllers. A v1 memory group alone costs milliseconds to make, so a
    /// short-lived container that sets no memory limit and shows no usage is better off
    /// without one. A cgroup2 hierarchy that carries none of `wanted` (hybrid hosts)
    /// still gets a group when `wanted` is every controller (the server's full view,
    /// with `cgroup.kill`) or when no v1 group is made (members must be listed somewhere).
    pub fn create_with(
        id: &str,
        limits: &Limits,
        wanted: &[Controller],
        log: &mut StepLog,
    ) -> Result<ContainerCgroup, CgroupError> {
        check_id(id)?;
        let layout = detect()?;
        // Fail before making anything when a wanted limit has no controller.
        for (wanted, controller) in [
            (limits.pids.is_some(), Controller::Pids),
            (limits.memory_bytes.is_some(), Controller::Memory),
            (limits.cpus.is_some(), Controller::Cpu),
        ] {
            if wanted {
                layout.hierarchy(controller)?;
            }
        }
        let mut cgroup = ContainerCgroup {
            id: id.to_string(),
            dirs: Vec::new(),
            device_program: false,
        };
        let mut made = cgroup.make_dirs(&layout, wanted, log);
        if made.is_ok() {
            made = cgroup.restrict_devices(log);
        }
        if made.is_ok() {
            made = cgroup.attach_device_program(log);
        }
        if made.is_ok() {
            made = limits::apply(&cgroup, limits, false, log);
        }
        match made {
            Ok(()) => Ok(cgroup),
            Err(e) => {
                // Leave nothing behind; the first error is the one worth reporting.
                let _ = cgroup.remove();
                Err(e)
            }
        }
    }

    fn make_dirs(
        &mut self,
        layout: &CgroupLayout,
        wanted: &[Controller],
        log: &mut StepLog,
    ) -> Result<(), CgroupError> {
        let hierarchies = layout.hierarchies();
        let carries_wanted =
            |controllers: &[Controller]| controllers.iter().any(|c| wanted.contains(c));
        let full_view = Controller::ALL.iter().all(|c| wanted.contains(c));
        let any_v1 = hierarchies
            .iter()
            .any(|(h, c)| h.version == CgroupVersion::V1 && carries_wanted(c));
        for (hierarchy, controllers) in hierarchies {
            let unified = hierarchy.version == CgroupVersion::V2;
            let keep_unified = unified && (full_view || !any_v1);
            if !keep_unified && !carries_wanted(&controllers) {
                continue;
            }
            let parent = hierarchy.mount.join(PARENT);
            make_parent(&parent, log)?;
            if hierarchy.version == CgroupVersion::V2 {
                enable_subtree(&parent, &controllers, log)?;
            }
            let path = parent.join(&self.id);
            make_group(&path, log)?;
            self.dirs.push(GroupDir {
                version: hierarchy.version,
                path,
                controllers,
            });
        }
        Ok(())
    }

    /// Moves process `pid` into this cgroup: cgroup.procs in every hierarchy.
    pub fn add_process(&self, pid: u32) -> Result<(), CgroupError> {
        for dir in &self.dirs {
            write_file(&dir.path.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Changes the limits of a live group; `None` means unlimited ("max" / -1).
    pub fn set_limits(&self, limits: &Limits, log: &mut StepLog) -> Result<(), CgroupError> {
        limits::apply(self, limits, true, log)
    }

    /// Memory, pids and cpu figures with their ceilings; unreadable ones are `None`.
    pub fn usage(&self) -> CgroupUsage {
        usage::read(self)
    }

    /// Host PIDs of every process in the group, sorted.
    pub fn pids(&self) -> Vec<u32> {
        // Members join every hierarchy together and children inherit them all, so one
        // directory tells: cgroup2's if there is one, else the pids controller's.
        let dir = self
            .dirs
            .iter()
            .find(|d| d.version == CgroupVersion::V2)
            .or_else(|| self.dir_of(Controller::Pids))
            .or_else(|| self.dirs.first());
        let mut pids = dir.map(|d| read_pids(&d.path)).unwrap_or_default();
        pids.sort_unstable();
        pids
    }

    /// How many times the OOM killer acted in this group.
    pub fn oom_kills(&self) -> u64 {
        usage::oom_kills(self).unwrap_or(0)
    }

    /// SIGKILLs every process in the group: cgroup.kill where cgroup2 has it, else
    /// signals each PID in cgroup.procs until the group is empty (bounded).
    pub fn kill_all(&self) -> Result<(), CgroupError> {
        for dir in self.dirs.iter().filter(|d| d.version == CgroupVersion::V2) {
            let kill = dir.path.join("cgroup.kill");
            if kill.exists() && write_file(&kill, "1").is_ok() {
                break;
            }
        }
        for _ in 0..RETRIES {
            let pids = self.pids();
            if pids.is_empty() {
                return Ok(());
            }
            for pid in pids {
                // Processes forked meanwhile are caught by the next round.
                if let Ok(pid) = i32::try_from(pid) {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
            thread::sleep(RETRY_PAUSE);
        }
        let left = self.pids().len();
        match left {
            0 => Ok(()),
            _ => Err(CgroupError::KillIncomplete {
                path: self
                    .dirs
                    .first()
                    .map(|d| d.path.clone())
                    .unwrap_or_default(),
                left,
            }),
        }
    }

    /// Removes every directory it made; already gone is fine. Retries briefly while
    /// killed tasks drain out.
    pub fn remove(&self) -> Result<(), CgroupError> {
        for dir in &self.dirs {
            let mut attempt = 0;
            loop {
                match std::fs::remove_dir(&dir.path) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e)
                        if e.raw_os_error() == Some(nix::errno::Errno::EBUSY as i32)
                            && attempt < RETRIES =>
                    {
                        attempt += 1;
                        thread::sleep(RETRY_PAUSE);
                    }
                    Err(source) => {
                        return Err(CgroupError::Rmdir {
                            path: dir.path.clone(),
                            source,
                        })
                    }
                }
            }
        }
        Ok(())
    }

    /// The directories of this group, one per hierarchy.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.path.clone()).collect()
    }

    /// The directories with their version and controllers.
    pub fn dirs(&self) -> &[GroupDir] {
        &self.dirs
    }

    /// Whether a device cgroup limits what the container may open.
    pub fn restricts_devices(&self) -> bool {
        // The v1 devices group is the only v1 group made for no controller of ours.
        self.device_program
            || self
                .dirs
                .iter()
                .any(|d| d.version == CgroupVersion::V1 && d.controllers.is_empty())
    }

    /// The container id it was made for.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The directory through which `controller` is used, if any.
    pub(crate) fn dir_of(&self, controller: Controller) -> Option<&GroupDir> {
        self.dirs
            .iter()
            .find(|d| d.controllers.contains(&controller))
    }
}

/// Ids of groups under `isolab/` in any hierarchy (for `isolab gc` and server restart).
pub fn leftover_ids() -> Vec<String> {
    let Ok(layout) = detect() else {
        return Vec::new();
    };
    let parents = layout
        .hierarchies()
        .into_iter()
        .map(|(h, _)| h.mount)
        .chain(devices::v1_devices_mount())
        .map(|mount| mount.join(PARENT));
    let mut ids: Vec<String> = parents
        .filter_map(|parent| std::fs::read_dir(parent).ok())
        .flat_map(|entries| entries.flatten())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Re-opens a leftover group by id: the directories of `isolab/<id>` that exist.
pub fn open_existing(id: &str) -> Option<ContainerCgroup> {
    check_id(id).ok()?;
    let layout = detect().ok()?;
    let dirs: Vec<GroupDir> = layout
        .hierarchies()
        .into_iter()
        .map(|(h, controllers)| GroupDir {
            version: h.version,
            path: h.mount.join(PARENT).join(id),
            controllers,
        })
        .chain(devices::v1_devices_mount().map(|mount| GroupDir {
            version: CgroupVersion::V1,
            path: mount.join(PARENT).join(id),
            controllers: Vec::new(),
        }))
        .filter(|d| d.path.is_dir())
        .collect();
    if dirs.is_empty() {
        return None;
    }
    Some(ContainerCgroup {
        id: id.to_string(),
        dirs,
        // Attached or not, it goes with the group.
        device_program: false,
    })
}

/// An id becomes a directory name: keep it one plain path component.
fn check_id(id: &str) -> Result<(), CgroupError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(CgroupError::BadId(id.to_string()))
    }
}

/// On cgroup2, a child group only gets the controllers its parent enables in
/// cgroup.subtree_control; enable ours in `isolab`, never in the host's root.
fn enable_subtree(
    parent: &Path,
    controllers: &[Controller],
    log: &mut StepLog,
) -> Result<(), CgroupError> {
    let file = parent.join("cgroup.subtree_control");
    let enabled = std::fs::read_to_string(&file).unwrap_or_default();
    let missing: Vec<String> = controllers
        .iter()
        .filter(|c| **c != Controller::Cpuacct)
        .filter(|c| !enabled.split_whitespace().any(|e| e == c.name()))
        .map(|c| format!("+{}", c.name()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let value = missing.join(" ");
    let step = around::enable_controllers(&file, &value);
    log.record(step.phase, step.name, step.call, || {
        write_file(&file, &value)
    })
}

/// isolab's parent group at `parent`, unless it is there already.
fn make_parent(parent: &Path, log: &mut StepLog) -> Result<(), CgroupError> {
    if parent.is_dir() {
        return Ok(());
    }
    let step = around::make_parent_group(parent);
    log.record(step.phase, step.name, step.call, || mkdir(parent, true))
}

/// The container's own group at `path`; an error if it exists (a leftover).
fn make_group(path: &Path, log: &mut StepLog) -> Result<(), CgroupError> {
    let step = around::make_group(path);
    log.record(step.phase, step.name, step.call, || mkdir(path, false))
}

fn mkdir(path: &Path, exist_ok: bool) -> Result<(), CgroupError> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match exist_ok {
            true => Ok(()),
            false => Err(CgroupError::AlreadyExists(path.to_path_buf())),
        },
        Err(source) => Err(CgroupError::Mkdir {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `value` to an existing cgroup file (no O_CREAT, no truncation games).
pub(crate) fn write_file(path: &Path, value: &str) -> Result<(), CgroupError> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|source| CgroupError::Write {
            path: path.to_path_buf(),
            value: value.to_string(),
            source,
        })
}

fn read_pids(dir: &Path) -> Vec<u32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kill_all without cgroup.kill: the v1 path, signalling each member until none
    /// is left (cgroup2's cgroup.kill is what the integration tests exercise here).
    #[test]
    fn kill_all_without_cgroup_kill_empties_the_group() {
        let id = format!("unit-v1kill-{}", std::process::id());
        let cg = ContainerCgroup::create(&id, &Limits::default(), &mut StepLog::new())
            .expect("create a group");
        let mut v1_only = cg.clone();
        v1_only.dirs.retain(|d| d.version == CgroupVersion::V1);
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "read go; sleep 60 & exec sleep 61"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let joined = cg.add_process(child.id());
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            let _ = stdin.write_all(b"go\n");
        }
        let start = std::time::Instant::now();
        while v1_only.pids().len() < 2 && start.elapsed() < Duration::from_secs(5) {
            thread::sleep(RETRY_PAUSE);
        }
        let members = v1_only.pids().len();
        let killed = v1_only.kill_all();
        let emptied = v1_only.pids().is_empty();
        // Whatever happened above, nothing outlives the test.
        let _ = cg.kill_all();
        let status = child.wait();
        let removed = cg.remove();

        joined.expect("join the group");
        if v1_only.dirs.is_empty() {
            return; // a pure cgroup2 host: no v1 path to test
        }
        assert_eq!(members, 2);
        killed.expect("kill through v1");
        assert!(emptied);
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.expect("wait").signal(), Some(9));
        removed.expect("remove");
    }
}
