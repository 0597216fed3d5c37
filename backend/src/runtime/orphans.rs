//! Orphans found from the cgroup side: processes in one of isolab's groups
//! (`isolab/<id>` in any hierarchy) that no state dir accounts for.
//!
//! A group's directory name is its container id. A group is an orphan only when both
//! say nobody owns it: this state root has no dir for the id, and every `isolab-init`
//! in the group names (in its `ISOLAB_STATE_DIR`, set by the runtime) a state dir that
//! no longer exists. A group whose init names a live dir belongs to another state root
//! (another server, a test) and is never touched; one whose owner cannot be told (no
//! init left, no such variable) is reported and left alone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::cgroup::{self, ContainerCgroup};
use super::{RuntimeError, INIT_ARGV0};

/// The environment variable naming an init's state dir.
pub const STATE_DIR_ENV: &str = "ISOLAB_STATE_DIR";

/// One process found in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupProcess {
    /// Its host PID.
    pub pid: u32,
    /// Its command line (or its name when the command line is empty).
    pub command: String,
}

/// A group with processes and no state dir under this root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupWithoutState {
    /// The group's directory name: the container id.
    pub id: String,
    /// Its directories, one per hierarchy.
    pub cgroup: Vec<PathBuf>,
    /// Who is in it.
    pub processes: Vec<GroupProcess>,
    /// What its inits say of their owner.
    pub owner: Owner,
}

/// Whose a group without a state dir under this root is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Its init names a state dir that exists: another state root's container.
    Elsewhere(PathBuf),
    /// Its inits name only state dirs that are gone: an orphan, to be removed.
    Gone(Vec<PathBuf>),
    /// No init in it names a state dir: left alone.
    Unknown,
}

/// Groups with processes in them that have no state dir under `state_root`.
pub fn groups_without_state(state_root: &Path) -> Vec<GroupWithoutState> {
    cgroup::leftover_ids()
        .into_iter()
        .filter(|id| !state_root.join(id).exists())
        .filter_map(|id| {
            let cg = cgroup::open_existing(&id)?;
            let processes: Vec<GroupProcess> = members(&cg)
                .into_iter()
                .map(|pid| GroupProcess {
                    pid,
                    command: command_of(pid),
                })
                .collect();
            if processes.is_empty() {
                return None;
            }
            let owner = owner_of(&processes);
            Some(GroupWithoutState {
                id,
                cgroup: cg.paths(),
                processes,
                owner,
            })
        })
        .collect()
}

/// Kills everything in an orphan's group, removes the group in every hierarchy, and
/// gives back the `userns: auto` range its state root recorded for it (its processes,
/// which ran with those ids, are gone now).
pub fn remove(orphan: &GroupWithoutState) -> Result<(), RuntimeError> {
    if let Some(cg) = cgroup::open_existing(&orphan.id) {
        cg.kill_all()?;
        cg.remove()?;
    }
    if let Owner::Gone(dirs) = &orphan.owner {
        for dir in dirs {
            if let Some((root, id)) = super::userns_ranges::root_and_id(dir) {
                super::userns_ranges::release(&root, &id)?;
            }
        }
    }
    Ok(())
}

/// Every PID in any of the group's directories: a process is in all hierarchies at
/// once normally, but one moved out of some (by hand) must still be found.
fn members(cg: &ContainerCgroup) -> Vec<u32> {
    let mut pids = BTreeSet::new();
    for dir in cg.paths() {
        let text = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        pids.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    }
    pids.into_iter().collect()
}

fn owner_of(processes: &[GroupProcess]) -> Owner {
    let named: Vec<PathBuf> = processes
        .iter()
        .filter(|p| is_init(p.pid))
        .filter_map(|p| state_dir_of(p.pid))
        .collect();
    if named.is_empty() {
        return Owner::Unknown;
    }
    // Any init naming a live dir protects the whole group.
    match named.iter().find(|d| d.exists()) {
        Some(live) => Owner::Elsewhere(live.clone()),
        None => Owner::Gone(named),
    }
}

/// Whether `pid` is an isolab init (the helper sets its name).
fn is_init(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == INIT_ARGV0)
}

/// The state dir named in `pid`'s environment, if any.
fn state_dir_of(pid: u32) -> Option<PathBuf> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ.split(|b| *b == 0).find_map(|var| {
        let value = var
            .strip_prefix(STATE_DIR_ENV.as_bytes())?
            .strip_prefix(b"=")?;
        use std::os::unix::ffi::OsStrExt;
        (!value.is_empty()).then(|| PathBuf::from(std::ffi::OsStr::from_bytes(value)))
    })
}

fn command_of(pid: u32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let words: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    if words.is_empty() {
        return std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.trim().to_string())
            .unwrap_or_default();
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(pid: u32) -> GroupProcess {
        GroupProcess {
            pid,
            command: String::new(),
        }
    }

    #[test]
    fn a_group_without_an_init_has_an_unknown_owner() {
        // This test process is no isolab-init, so nothing in the list names an owner.
        assert_eq!(owner_of(&[process(std::process::id())]), Owner::Unknown);
    }

    #[test]
    fn this_process_names_no_state_dir_unless_its_environment_does() {
        let me = std::process::id();
        assert_eq!(
            state_dir_of(me),
            std::env::var_os(STATE_DIR_ENV).map(PathBuf::from)
        );
        assert!(!command_of(me).is_empty());
    }
}
