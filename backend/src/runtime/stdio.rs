//! Where a container's command reads and writes when it has no terminal: the
//! [`Stdio`] choices, and the fds made for each (handed to PID 1) with, for pipes,
//! the runtime's ends.

use std::os::fd::{BorrowedFd, OwnedFd};

use super::RuntimeError;

/// Where the command's stdin, stdout and stderr go when it has no terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdio {
    /// This process's own 0, 1 and 2 (the CLI).
    Inherit,
    /// New pipes; take this side with [`Container::take_pipes`](super::Container::take_pipes).
    Pipes,
    /// /dev/null for all three.
    Null,
}

/// This side of the pipes of a container run with [`Stdio::Pipes`].
#[derive(Debug)]
pub struct ContainerPipes {
    /// Write end of the command's stdin.
    pub stdin: OwnedFd,
    /// Read end of its stdout.
    pub stdout: OwnedFd,
    /// Read end of its stderr.
    pub stderr: OwnedFd,
}

/// The fds the command gets (sent to the helper) and, for pipes, our ends.
pub(super) fn stdio_fds(
    stdio: Stdio,
    tty: bool,
) -> Result<(Vec<OwnedFd>, Option<ContainerPipes>), RuntimeError> {
    if tty {
        return Ok((Vec::new(), None));
    }
    let sys = |e| RuntimeError::Sys("stdio", e);
    match stdio {
        Stdio::Inherit => {
            let fds = (0..3)
                .map(|fd| {
                    // SAFETY: 0, 1 and 2 are open for the life of the process.
                    let b = unsafe { BorrowedFd::borrow_raw(fd) };
                    b.try_clone_to_owned().map_err(|e| {
                        RuntimeError::Sys(
                            "dup stdio",
                            nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EBADF)),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((fds, None))
        }
        Stdio::Null => {
            let null = std::fs::File::options()
                .read(true)
                .write(true)
                .open("/dev/null")
                .map_err(|_| sys(nix::Error::ENOENT))?;
            let fd = OwnedFd::from(null);
            let a = fd.try_clone().map_err(|_| sys(nix::Error::EMFILE))?;
            let b = fd.try_clone().map_err(|_| sys(nix::Error::EMFILE))?;
            Ok((vec![fd, a, b], None))
        }
        Stdio::Pipes => {
            let cloexec = nix::fcntl::OFlag::O_CLOEXEC;
            let (in_r, in_w) = nix::unistd::pipe2(cloexec).map_err(sys)?;
            let (out_r, out_w) = nix::unistd::pipe2(cloexec).map_err(sys)?;
            let (err_r, err_w) = nix::unistd::pipe2(cloexec).map_err(sys)?;
            Ok((
                vec![in_r, out_w, err_w],
                Some(ContainerPipes {
                    stdin: in_w,
                    stdout: out_r,
                    stderr: err_r,
                }),
            ))
        }
    }
}
