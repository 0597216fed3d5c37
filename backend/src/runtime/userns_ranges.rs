//! The id ranges of `userns: auto` containers on this host, allocated from the state
//! root. The choice is `isolab_shared::userns::first_free` (65536 ids from 10 000 000
//! up, below 2^31), made against:
//! - the ranges already recorded here, in `<state_root>/subuid` and `subgid`, one
//!   `CONTAINER_ID:START:COUNT` line per container, as /etc/subuid has them, so other
//!   tools can see which ids isolab uses;
//! - the host's /etc/subuid and /etc/subgid lines and the ids of its users and groups
//!   (/etc/passwd, /etc/group).
//!
//! Every read-modify-write of the two files holds an exclusive flock(2) on
//! `<state_root>/userns.lock`: two `isolab run`s at once, and a server's parallel
//! creates (each call opens the lock file anew, so threads exclude each other too),
//! never get overlapping ranges. The files are replaced by rename, so a reader never
//! sees half of one.
//!
//! A range is taken once the container's state dir exists and given back when the
//! state dir is removed ([`super::state::remove_state_dir`], the one path of `rm`,
//! `gc`, failed creates and a server's clean-up of the dead), when an orphan is killed
//! ([`super::orphans::remove`]), and by [`release_unclaimed`] for lines whose container
//! left nothing behind (a `kill -9` mid-create).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use isolab_shared::userns::{self, IdRange, SubidEntry};
use nix::fcntl::{Flock, FlockArg};

use super::RuntimeError;

/// The lock every change of the range files holds.
pub const LOCK_FILE: &str = "userns.lock";
/// The containers' uid ranges, /etc/subuid style.
pub const SUBUID_FILE: &str = "subuid";
/// The containers' gid ranges (the same as their uid ranges), /etc/subgid style.
pub const SUBGID_FILE: &str = "subgid";

/// The host files whose ranges isolab keeps clear of.
const HOST_SUBID_FILES: [&str; 2] = ["/etc/subuid", "/etc/subgid"];

/// Holds the state root's range lock until dropped.
struct RangeLock(#[allow(dead_code)] Flock<File>);

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> RuntimeError + '_ {
    move |e| RuntimeError::StateDir(path.to_path_buf(), e)
}

/// Takes the lock. The last release removes the lock file (under the lock), so a
/// lock taken on a file that has since been unlinked is dropped and taken again on
/// the file now at the path.
fn lock(state_root: &Path) -> Result<RangeLock, RuntimeError> {
    use std::os::unix::fs::MetadataExt;
    let path = state_root.join(LOCK_FILE);
    loop {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_error(&path))?;
        let held = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| RuntimeError::Sys("flock userns.lock", e))?;
        let locked = held.metadata().map_err(io_error(&path))?;
        match std::fs::metadata(&path) {
            Ok(now) if now.dev() == locked.dev() && now.ino() == locked.ino() => {
                return Ok(RangeLock(held))
            }
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(&path)(e)),
        }
    }
}

/// The ranges recorded under `state_root` (its `subuid` file), by container id.
pub fn recorded(state_root: &Path) -> Vec<SubidEntry> {
    std::fs::read_to_string(state_root.join(SUBUID_FILE))
        .map(|text| userns::parse_subid(&text))
        .unwrap_or_default()
}

/// The range recorded for container `id`, if any.
pub fn range_of(state_root: &Path, id: &str) -> Option<IdRange> {
    recorded(state_root)
        .into_iter()
        .find(|e| e.name == id)
        .map(|e| e.range)
}

/// Writes both files (uids and gids map alike), each replaced whole. With no ranges
/// left the files go, and the lock file with them (its holder is the caller), so a
/// state root whose containers are all gone is empty again.
fn write_all(state_root: &Path, entries: &[SubidEntry]) -> Result<(), RuntimeError> {
    if entries.is_empty() {
        for name in [SUBUID_FILE, SUBGID_FILE, LOCK_FILE] {
            let path = state_root.join(name);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io_error(&path)(e))
                }
                _ => {}
            }
        }
        return Ok(());
    }
    let text = userns::format_subid(entries);
    for name in [SUBUID_FILE, SUBGID_FILE] {
        let path = state_root.join(name);
        let tmp = state_root.join(format!("{name}.new"));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o644)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(io_error(&path))?;
    }
    Ok(())
}

/// What the host itself uses: its subordinate id ranges, and its users' and groups' ids.
fn host_taken() -> (Vec<IdRange>, Vec<u32>) {
    let ranges = HOST_SUBID_FILES
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| userns::parse_subid(&text))
        .map(|e| e.range)
        .collect();
    let ids = ["/etc/passwd", "/etc/group"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| {
            text.lines()
                .filter_map(|l| l.split(':').nth(2)?.parse::<u32>().ok())
                .collect::<Vec<_>>()
        })
        .collect();
    (ranges, ids)
}

/// Allocates a range for container `id` (whose state dir must exist already, so that
/// [`release_unclaimed`] cannot take the range back meanwhile) and records it. The
/// same id asking again gets the range it has.
pub fn allocate(state_root: &Path, id: &str) -> Result<IdRange, RuntimeError> {
    let _held = lock(state_root)?;
    let mut entries = recorded(state_root);
    if let Some(e) = entries.iter().find(|e| e.name == id) {
        return Ok(e.range);
    }
    let (mut taken, host_ids) = host_taken();
    taken.extend(entries.iter().map(|e| e.range));
    let range = userns::first_free(&taken, &host_ids).ok_or(RuntimeError::NoIdRange)?;
    entries.push(SubidEntry {
        name: id.to_string(),
        range,
    });
    write_all(state_root, &entries)?;
    Ok(range)
}

/// Gives back the range of container `id`, if it has one.
pub fn release(state_root: &Path, id: &str) -> Result<(), RuntimeError> {
    // No file, no ranges: the common case costs one failed stat and no lock.
    if !state_root.join(SUBUID_FILE).exists() {
        return Ok(());
    }
    let _held = lock(state_root)?;
    let mut entries = recorded(state_root);
    let before = entries.len();
    entries.retain(|e| e.name != id);
    if entries.len() != before {
        write_all(state_root, &entries)?;
    }
    Ok(())
}

/// Gives back the ranges whose container left nothing: no state dir under
/// `state_root` and no cgroup with a process in it. Returns their ids.
pub fn release_unclaimed(state_root: &Path) -> Result<Vec<String>, RuntimeError> {
    if !state_root.join(SUBUID_FILE).exists() {
        return Ok(Vec::new());
    }
    let _held = lock(state_root)?;
    let entries = recorded(state_root);
    let (kept, freed): (Vec<SubidEntry>, Vec<SubidEntry>) = entries
        .into_iter()
        .partition(|e| claimed(state_root, &e.name));
    if !freed.is_empty() {
        write_all(state_root, &kept)?;
    }
    Ok(freed.into_iter().map(|e| e.name).collect())
}

/// Whether container `id` still has a state dir here or processes in its cgroup.
fn claimed(state_root: &Path, id: &str) -> bool {
    // A name that is no plain id is kept, not joined to a path.
    if id.is_empty() || id.contains('/') || id.starts_with('.') {
        return true;
    }
    state_root.join(id).exists()
        || super::cgroup::open_existing(id).is_some_and(|cg| !cg.pids().is_empty())
}

/// The state root and container id a state dir stands for.
pub fn root_and_id(state_dir: &Path) -> Option<(PathBuf, String)> {
    let id = state_dir.file_name()?.to_str()?.to_string();
    Some((state_dir.parent()?.to_path_buf(), id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_recorded_released_and_reused() {
        let root = std::env::temp_dir().join(format!("isolab-ranges-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("aaa")).expect("dir");
        std::fs::create_dir_all(root.join("bbb")).expect("dir");
        let a = allocate(&root, "aaa").expect("a");
        let b = allocate(&root, "bbb").expect("b");
        assert!(!a.overlaps(&b));
        assert_eq!(allocate(&root, "aaa").expect("again"), a);
        let subuid = std::fs::read_to_string(root.join(SUBUID_FILE)).expect("subuid");
        let subgid = std::fs::read_to_string(root.join(SUBGID_FILE)).expect("subgid");
        assert_eq!(subuid, subgid);
        assert!(
            subuid.contains(&format!("aaa:{}:65536\n", a.start)),
            "{subuid}"
        );
        release(&root, "aaa").expect("released");
        assert_eq!(range_of(&root, "aaa"), None);
        assert_eq!(range_of(&root, "bbb"), Some(b));
        // bbb's state dir goes without a release (a crash): the sweep frees it.
        std::fs::remove_dir_all(root.join("bbb")).expect("rm");
        assert_eq!(release_unclaimed(&root).expect("swept"), vec!["bbb"]);
        assert!(recorded(&root).is_empty());
        // Nothing of the allocator is left once no range is.
        std::fs::remove_dir_all(root.join("aaa")).expect("rm");
        let left: Vec<_> = std::fs::read_dir(&root).expect("root").flatten().collect();
        assert!(left.is_empty(), "{left:?}");
        let _ = std::fs::remove_dir_all(&root);
    }
}
