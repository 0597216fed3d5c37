//! Reads the kernel's view of processes, namespaces, cgroups and interfaces into
//! `isolab_shared` types.
//!
//! # Layout
//! - [`proc_files`]: small parsers for /proc/PID/{status,stat,cmdline,uid_map}.
//! - [`namespaces`]: namespace inodes from /proc/PID/ns/*.
//! - [`process`]: one process, and a container's process tree.
//! - [`net`]: the interfaces of another process's net namespace.
//! - [`isolation`]: capabilities, no_new_privs, seccomp and id maps of a process.
//! - [`host`]: the host as a whole: init's namespaces and a process summary.
//! - [`proc_events`]: fork/exec/exit events pushed by the kernel's proc connector.
//!
//! Everything here only reads; a process that exits while it is being read is
//! reported as [`ObserveError::NoSuchProcess`] or skipped in lists.

pub mod host;
pub mod isolation;
pub mod namespaces;
pub mod net;
pub mod proc_events;
pub mod proc_files;
pub mod process;

use std::io;
use std::path::{Path, PathBuf};

pub use host::host_state;
pub use isolation::isolation_facts_of;
pub use namespaces::namespaces_of;
pub use net::interfaces_of;
pub use process::{process_info, processes_by_pid, processes_in_container, processes_in_group};

/// What can go wrong while observing.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error("process {0} does not exist (it may have exited)")]
    NoSuchProcess(u32),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("unexpected contents in {path}: {what}")]
    Parse { path: PathBuf, what: String },
    #[error("cannot enter the net namespace of process {pid}: {source}")]
    EnterNetNamespace { pid: u32, source: nix::Error },
    #[error("cannot list the interfaces of process {pid}'s net namespace: {source}")]
    ListInterfaces { pid: u32, source: nix::Error },
    #[error("the thread reading process {0}'s net namespace failed")]
    ReaderThread(u32),
}

/// Reads a /proc file of `pid`; a missing process becomes [`ObserveError::NoSuchProcess`].
pub(crate) fn read_proc(pid: u32, path: &Path) -> Result<String, ObserveError> {
    std::fs::read_to_string(path).map_err(|source| proc_error(pid, path, source))
}

/// ENOENT and ESRCH under /proc/PID mean the process is gone.
pub(crate) fn proc_error(pid: u32, path: &Path, source: io::Error) -> ObserveError {
    let gone = source.kind() == io::ErrorKind::NotFound
        || source.raw_os_error() == Some(nix::errno::Errno::ESRCH as i32);
    if gone {
        ObserveError::NoSuchProcess(pid)
    } else {
        ObserveError::Read {
            path: path.to_path_buf(),
            source,
        }
    }
}
