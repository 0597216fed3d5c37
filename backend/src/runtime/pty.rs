//! PTYs: a pair from the devpts of the current mount namespace (the container's, for
//! its PID 1 and for exec), and the window size of a PTY.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::RuntimeError;

/// Opens a PTY pair from `/dev/ptmx` of the current mount namespace: (master, slave),
/// both close-on-exec and neither the caller's controlling terminal.
pub fn open_pty_pair() -> nix::Result<(OwnedFd, OwnedFd)> {
    use nix::fcntl::OFlag;
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let master = posix_openpt(flags)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let slave = nix::fcntl::open(
        ptsname_r(&master)?.as_str(),
        flags,
        nix::sys::stat::Mode::empty(),
    )?;
    // SAFETY: PtyMaster gives up the fd it owned; nothing else holds it.
    let master = unsafe { OwnedFd::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(master)) };
    Ok((master, slave))
}

/// Sets a PTY's window size (TIOCSWINSZ); the command gets SIGWINCH.
pub fn resize(master: BorrowedFd<'_>, cols: u16, rows: u16) -> Result<(), RuntimeError> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads the winsize we pass.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(RuntimeError::Sys("TIOCSWINSZ", nix::Error::last()));
    }
    Ok(())
}
