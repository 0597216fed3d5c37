//! Waiting for a process to end when it need not be ours: a container adopted from a
//! previous server is no child of this one, so `waitpid` cannot see it, but a pidfd can.

use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::observe;

/// Completes when process `pid` has exited (a pidfd turns readable then). Works for
/// processes that are not our children, such as adopted containers.
pub async fn pid_exit(pid: u32) {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        // ESRCH: already gone. Anything else: fall back to polling for it.
        while nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok()
            && std::path::Path::new(&format!("/proc/{pid}")).exists()
            && !is_zombie(pid)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        return;
    }
    // SAFETY: pidfd_open returned a fresh fd that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: the OwnedFd stays open for the AsyncFd's whole life.
    match unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) } {
        Ok(afd) => {
            let _ = afd.readable().await;
        }
        Err(_) => {
            while !is_zombie(pid) && std::path::Path::new(&format!("/proc/{pid}")).exists() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn is_zombie(pid: u32) -> bool {
    observe::proc_files::read_stat(pid).is_ok_and(|s| s.state == 'Z')
}
