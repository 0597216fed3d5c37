//! The CLI's terminal: raw mode, the window size, and the relay of a container's PTY
//! (`run -t`).

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use nix::sys::termios::{self, SetArg, Termios};

/// Puts a terminal in raw mode and restores it when dropped.
pub struct RawMode {
    fd: i32,
    saved: Termios,
}

impl RawMode {
    /// Raw mode on `fd`, or `None` when it is not a terminal.
    pub fn enter(fd: BorrowedFd<'_>) -> Option<RawMode> {
        let saved = termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode {
            fd: fd.as_raw_fd(),
            saved,
        })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: the fd is this process's stdin, open for its whole life.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let _ = termios::tcsetattr(fd, SetArg::TCSANOW, &self.saved);
    }
}

/// The window size of the terminal on `fd`, as (cols, rows).
pub fn window_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    // SAFETY: winsize is plain data; TIOCGWINSZ fills it.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) } < 0 {
        return None;
    }
    Some((ws.ws_col, ws.ws_row))
}

/// Copies stdin to the PTY master (on a thread) and the master to stdout until the
/// container's side is closed.
pub fn relay(master: OwnedFd) -> std::io::Result<()> {
    let writer = master.try_clone()?;
    std::thread::spawn(move || {
        let mut to_pty = std::fs::File::from(writer);
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || to_pty.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let mut from_pty = std::fs::File::from(master);
    let mut stdout = std::io::stdout().lock();
    let mut buf = [0u8; 4096];
    loop {
        match from_pty.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                stdout.write_all(&buf[..n])?;
                stdout.flush()?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // EIO: every holder of the slave side is gone.
            Err(_) => break,
        }
    }
    Ok(())
}
