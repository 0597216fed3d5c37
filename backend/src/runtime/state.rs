//! The state dir: one `<state_root>/<id>/state.json` per container, so another
//! process (or a restarted server) can find, inspect and clean it up.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use isolab_shared::{ContainerSpec, ContainerStatus, ExitStatus, IsolationFacts, SetupStep};
use serde::{Deserialize, Serialize};

use super::RuntimeError;
use crate::wall_clock::now_ms;

/// What `state.json` holds about one container.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub spec: ContainerSpec,
    pub status: ContainerStatus,
    #[serde(default)]
    pub exit: Option<ExitStatus>,
    /// Host PID of the container's init.
    pub init_pid: Option<u32>,
    /// Its start time (field 22 of /proc/PID/stat), to tell it from a reused PID.
    pub init_start_time: Option<u64>,
    pub created_at_ms: u64,
    #[serde(default)]
    pub started_at_ms: Option<u64>,
    /// The container's state dir.
    pub state_dir: PathBuf,
    /// Host directories that belong to the container (rootfs mount point, overlay layers).
    #[serde(default)]
    pub owned_dirs: Vec<PathBuf>,
    /// Mounts made in the container's own mount namespace (gone with it).
    #[serde(default)]
    pub mounts: Vec<String>,
    /// The container's cgroup, when it has one.
    #[serde(default)]
    pub cgroup: Option<super::cgroup::ContainerCgroup>,
    #[serde(default)]
    pub setup: Vec<SetupStep>,
    #[serde(default)]
    pub isolation: IsolationFacts,
    /// The fd number under which PID 1 keeps a copy of the PTY master, so that a
    /// server adopting the container can take the terminal back (pidfd_getfd).
    #[serde(default)]
    pub init_tty_fd: Option<i32>,
}

impl ContainerRecord {
    /// Whether the recorded init still runs (same PID and same start time).
    pub fn init_alive(&self) -> bool {
        match (self.init_pid, self.init_start_time) {
            (Some(pid), Some(start)) => process_start_time(pid) == Some(start),
            _ => false,
        }
    }

    /// Writes the whole record to `state.json` (a temp file renamed into place). A
    /// container removed meanwhile (by `isolab rm`) has no dir left; nothing is saved.
    pub fn save(&self) -> Result<(), RuntimeError> {
        if !self.state_dir.is_dir() {
            return Ok(());
        }
        let json = serde_json::to_vec(self).map_err(|e| self.io(std::io::Error::other(e)))?;
        write_atomically(&self.state_dir, STATE_FILE, &json).map_err(|e| self.io(e))
    }

    /// Records the start in its own small file: renaming onto an existing file makes
    /// ext4 flush data first (auto_da_alloc), milliseconds per container.
    pub fn mark_started(&mut self, steps: Vec<SetupStep>) -> Result<(), RuntimeError> {
        let started = StartedFile {
            started_at_ms: now_ms(),
            steps,
        };
        started.apply_to(self);
        if !self.state_dir.is_dir() {
            return Ok(());
        }
        let json = serde_json::to_vec(&started).map_err(|e| self.io(std::io::Error::other(e)))?;
        write_atomically(&self.state_dir, STARTED_FILE, &json).map_err(|e| self.io(e))
    }

    /// Records how the command ended, in its own file (see [`Self::mark_started`]).
    pub fn mark_exited(&mut self, exit: ExitStatus) -> Result<(), RuntimeError> {
        self.status = ContainerStatus::Exited;
        self.exit = Some(exit.clone());
        if !self.state_dir.is_dir() {
            return Ok(());
        }
        let json = serde_json::to_vec(&exit).map_err(|e| self.io(std::io::Error::other(e)))?;
        write_atomically(&self.state_dir, EXIT_FILE, &json).map_err(|e| self.io(e))
    }

    fn io(&self, e: std::io::Error) -> RuntimeError {
        RuntimeError::StateDir(self.state_dir.clone(), e)
    }

    /// Reads one container's record: `state.json` plus the start and exit files.
    pub fn load(state_dir: &Path) -> Result<ContainerRecord, RuntimeError> {
        let io = |e| RuntimeError::StateDir(state_dir.to_path_buf(), e);
        let bytes = std::fs::read(state_dir.join(STATE_FILE)).map_err(io)?;
        let mut record: ContainerRecord =
            serde_json::from_slice(&bytes).map_err(|e| io(std::io::Error::other(e)))?;
        if record.status == ContainerStatus::Created {
            if let Some(started) = read_json::<StartedFile>(&state_dir.join(STARTED_FILE)) {
                started.apply_to(&mut record);
            }
        }
        if let Some(exit) = read_json::<ExitStatus>(&state_dir.join(EXIT_FILE)) {
            record.status = ContainerStatus::Exited;
            record.exit = Some(exit);
        }
        Ok(record)
    }
}

const STATE_FILE: &str = "state.json";
const STARTED_FILE: &str = "started.json";
const EXIT_FILE: &str = "exit.json";

/// What `started.json` holds.
#[derive(Serialize, Deserialize)]
struct StartedFile {
    started_at_ms: u64,
    steps: Vec<SetupStep>,
}

impl StartedFile {
    fn apply_to(&self, record: &mut ContainerRecord) {
        record.status = ContainerStatus::Running;
        record.started_at_ms = Some(self.started_at_ms);
        record.setup.extend(self.steps.iter().cloned());
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Writes `dir/name` so that readers see the old or the new content, never a part.
/// A dir removed meanwhile (the container was removed by `isolab rm`) is not an error.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, dir.join(name)));
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Every container record under `root`, oldest first; unreadable ones are skipped.
pub fn list(root: &Path) -> Vec<ContainerRecord> {
    let mut records: Vec<ContainerRecord> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| ContainerRecord::load(&e.path()).ok())
        .collect();
    records.sort_by_key(|r| r.created_at_ms);
    records
}

/// The state dirs under `root` (with or without a readable record).
pub fn state_dirs(root: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// Field 22 of /proc/PID/stat: when the process started, in clock ticks after boot.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces or ')'; the fields after the last ')' do not.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // A zombie has ended; only its entry waits to be reaped.
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// Removes a container's host directories and its state dir, then gives back its
/// `userns: auto` id range, if it has one: every removal (rm, gc, a failed create, a
/// server's clean-up) comes through here, after the container's processes are gone.
pub fn remove_state_dir(state_dir: &Path) -> Result<(), RuntimeError> {
    remove_dir_and_mounts(state_dir)?;
    match super::userns_ranges::root_and_id(state_dir) {
        Some((root, id)) => super::userns_ranges::release(&root, &id),
        None => Ok(()),
    }
}

/// Removes the state dir. Its mounts live in the container's own mount namespace and
/// are gone with it; should one be left on the host (removal fails with EBUSY), it is
/// detached and the removal tried again.
fn remove_dir_and_mounts(state_dir: &Path) -> Result<(), RuntimeError> {
    // Never widen the mount sweep below to the whole tree by accident.
    if !state_dir.is_absolute() || state_dir.components().count() < 3 {
        return Err(RuntimeError::StateDir(
            state_dir.to_path_buf(),
            std::io::Error::other("refusing to remove a state dir this close to /"),
        ));
    }
    match std::fs::remove_dir_all(state_dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    if let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") {
        let mut under: Vec<&str> = mountinfo
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| Path::new(m).starts_with(state_dir))
            .collect();
        under.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in under {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    match std::fs::remove_dir_all(state_dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RuntimeError::StateDir(state_dir.to_path_buf(), e)),
    }
}

/// A new container id: 12 hex digits.
pub(super) fn new_id() -> String {
    format!("{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

/// The name of a container whose spec gives none, like `c-77c81df8`: short to type,
/// and apart from ids at a glance.
pub(super) fn made_up_name() -> String {
    format!("c-{:08x}", rand::random::<u32>())
}

/// Makes `path` (and its parents) with `mode`, also when it exists already.
pub(super) fn make_dir(path: &Path, mode: u32) -> Result<(), RuntimeError> {
    let io = |e| RuntimeError::StateDir(path.to_path_buf(), e);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_of_self_is_stable_and_of_a_dead_pid_absent() {
        let me = std::process::id();
        let a = process_start_time(me).expect("own start time");
        assert_eq!(process_start_time(me), Some(a));
        assert_eq!(process_start_time(u32::MAX), None);
    }
}
