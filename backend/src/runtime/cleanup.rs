//! Removing containers from any process (`isolab rm`) and collecting leftovers whose
//! init is dead or whose state dir is gone (`isolab gc`, a restarted server), with
//! their `userns: auto` id ranges.

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::cgroup;
use super::orphans::{self, GroupWithoutState, Owner};
use super::state::{self, ContainerRecord};
use super::{RuntimeConfig, RuntimeError};

/// What `gc` removed (or, in a dry run, would remove).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// Ids of containers (state dir and/or cgroup) cleaned up.
    pub removed: Vec<String>,
    /// Groups with processes whose state dir is gone: killed and removed.
    pub orphans: Vec<GroupWithoutState>,
    /// Groups with processes and no state dir here whose owner cannot be told: left.
    pub unclaimed: Vec<GroupWithoutState>,
}

/// Finds a container by id or name.
pub fn find(config: &RuntimeConfig, id_or_name: &str) -> Result<ContainerRecord, RuntimeError> {
    state::list(&config.state_root)
        .into_iter()
        .find(|r| r.id == id_or_name || r.name == id_or_name)
        .ok_or_else(|| RuntimeError::NotFound(id_or_name.to_string()))
}

/// Kills a container (if it runs), waits for its init to go, and removes its cgroup,
/// directories and state dir. Works from any process, not only the one that made it.
pub fn remove(config: &RuntimeConfig, id_or_name: &str) -> Result<(), RuntimeError> {
    let record = find(config, id_or_name)?;
    remove_record(&record)
}

fn remove_record(record: &ContainerRecord) -> Result<(), RuntimeError> {
    let cg = record
        .cgroup
        .clone()
        .or_else(|| cgroup::open_existing(&record.id));
    if record.init_alive() {
        if let Some(pid) = record.init_pid {
            kill_and_await(pid);
        }
    }
    if let Some(cg) = cg {
        let _ = cg.kill_all();
        cg.remove()?;
    }
    state::remove_state_dir(&record.state_dir)
}

/// SIGKILLs `pid` and waits (up to 5 s) for it to be gone, through a pidfd: it need not
/// be our child.
fn kill_and_await(pid: u32) {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    let _ = nix::sys::signal::kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
    if fd >= 0 {
        // SAFETY: the fd was just returned to us.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(5000u16));
    }
}

/// Removes every container whose init is dead (state dir, cgroup, directories), the
/// orphans (see [`orphans`]), and cgroups under `isolab/` that no live container owns.
/// Running containers stay, and so do other state roots' containers.
pub fn gc(config: &RuntimeConfig) -> Result<GcReport, RuntimeError> {
    collect(config, false)
}

/// What [`gc`] would remove, removing nothing.
pub fn gc_dry_run(config: &RuntimeConfig) -> Result<GcReport, RuntimeError> {
    collect(config, true)
}

fn collect(config: &RuntimeConfig, dry_run: bool) -> Result<GcReport, RuntimeError> {
    let mut report = GcReport::default();
    let mut live = Vec::new();
    for dir in state::state_dirs(&config.state_root) {
        match ContainerRecord::load(&dir) {
            Ok(r) if r.init_alive() => live.push(r.id.clone()),
            Ok(r) => {
                if !dry_run {
                    remove_record(&r)?;
                }
                report.removed.push(r.id);
            }
            Err(_) if recently_modified(&dir) => {} // A create in progress.
            Err(_) => {
                // A state dir without a readable record: a crash during create.
                if !dry_run {
                    state::remove_state_dir(&dir)?;
                }
                if let Some(name) = dir.file_name().and_then(|n| n.to_str()) {
                    report.removed.push(name.to_string());
                }
            }
        }
    }
    for group in orphans::groups_without_state(&config.state_root) {
        match group.owner {
            Owner::Gone(_) => {
                if !dry_run {
                    orphans::remove(&group)?;
                }
                report.orphans.push(group);
            }
            Owner::Unknown => report.unclaimed.push(group),
            Owner::Elsewhere(_) => {}
        }
    }
    if dry_run {
        return Ok(report);
    }
    // Ranges of containers that left nothing (a create killed before its record).
    super::userns_ranges::release_unclaimed(&config.state_root)?;
    for id in cgroup::leftover_ids() {
        if live.contains(&id) || !owned_by_gc(&config.state_root, &id) {
            continue;
        }
        if let Some(cg) = cgroup::open_existing(&id) {
            // A cgroup with no state dir may belong to a create in progress (or to
            // another state root): only old, empty ones are orphans.
            let young = cg.paths().iter().any(|p| recently_modified(p));
            if cg.pids().is_empty() && !young {
                cg.remove()?;
                if !report.removed.contains(&id) {
                    report.removed.push(id);
                }
            }
        }
    }
    Ok(report)
}

/// Whether `dir` changed in the last minute (a container being made has no record yet).
fn recently_modified(dir: &Path) -> bool {
    std::fs::metadata(dir)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < std::time::Duration::from_secs(60))
}

/// A cgroup may be collected when no state dir (under this root) claims it alive.
fn owned_by_gc(state_root: &Path, id: &str) -> bool {
    match ContainerRecord::load(&state_root.join(id)) {
        Ok(r) => !r.init_alive(),
        Err(_) => true,
    }
}
