//! The control channel between the runtime and a container's init helper: a
//! SOCK_SEQPACKET socketpair carrying one JSON [`ControlMessage`] per packet, with file
//! descriptors (stdio, the PTY master) attached as SCM_RIGHTS.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use isolab_shared::{IsolationFacts, SetupStep};
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use serde::{Deserialize, Serialize};

use super::plan::Plan;

/// The largest message accepted (a plan or a step list is a few KB).
const MAX_MESSAGE: usize = 1 << 20;

/// One message on the control channel.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlMessage {
    /// Runtime -> helper: what to set up. Carries stdin, stdout, stderr when not a tty.
    Plan(Box<Plan>),
    /// Helper -> runtime: the namespaces exist; write uid_map/gid_map of `pid`.
    UidMapNeeded { pid: u32 },
    /// Runtime -> helper: the maps are written.
    UidMapped,
    /// Helper -> runtime: the container's PID 1 exists, with this host PID.
    Spawned {
        init_pid: u32,
        steps: Vec<SetupStep>,
    },
    /// Init -> runtime: set up, waiting for [`ControlMessage::Start`]. Carries the PTY
    /// master with a tty.
    Created {
        steps: Vec<SetupStep>,
        isolation: IsolationFacts,
        /// PID 1's own copy of the PTY master, by fd number (see
        /// `ContainerRecord::init_tty_fd`).
        #[serde(default)]
        tty_fd_in_init: Option<i32>,
    },
    /// Runtime -> init: run the command.
    Start,
    /// Init -> runtime: the command was exec'd.
    Started { steps: Vec<SetupStep> },
    /// Init -> runtime: the command ended (sent just before init exits).
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// Exec helper -> runtime: the PTY master of the process it runs, opened from the
    /// devpts of the mount namespace it entered (the container's own).
    ExecTerminal,
    /// Exec helper -> runtime, in pipe mode: the process runs, with this host PID.
    ExecStarted { pid: u32 },
    /// Helper or init -> runtime: a step failed; the helper exits.
    Failed {
        kind: FailureKind,
        step: String,
        error: String,
        steps: Vec<SetupStep>,
    },
}

/// What failed in a [`ControlMessage::Failed`], so the runtime reports a typed error.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// A setup step (namespaces, mounts, cgroup, id maps, ...).
    Setup,
    /// The command is not in the container's files (exit code 127).
    CommandNotFound,
    /// The command exists but execve(2) refused it (permissions, format).
    CommandNotExecutable,
}

/// A failure of the channel itself.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("control channel: {0}")]
    Io(#[from] nix::Error),
    #[error("control channel: bad message: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("control channel closed by the other side")]
    Closed,
}

/// One end of the control channel.
#[derive(Debug)]
pub struct ControlChannel {
    fd: OwnedFd,
}

impl ControlChannel {
    /// A connected pair, both ends close-on-exec.
    pub fn pair() -> Result<(ControlChannel, ControlChannel), ChannelError> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        Ok((ControlChannel { fd: a }, ControlChannel { fd: b }))
    }

    /// Wraps an fd known to be one end of a pair.
    pub fn from_fd(fd: OwnedFd) -> Self {
        ControlChannel { fd }
    }

    /// The fd, to hand to the helper as its stdin.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// Sends `msg` with `fds` attached.
    pub fn send(&self, msg: &ControlMessage, fds: &[BorrowedFd<'_>]) -> Result<(), ChannelError> {
        let bytes = serde_json::to_vec(msg)?;
        let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
        let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&raw)];
        let cmsgs: &[nix::sys::socket::ControlMessage<'_>] =
            if raw.is_empty() { &[] } else { &cmsg };
        loop {
            match sendmsg::<()>(
                self.fd.as_raw_fd(),
                &[IoSlice::new(&bytes)],
                cmsgs,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Err(nix::Error::EINTR) => continue,
                Err(nix::Error::EPIPE) | Err(nix::Error::ECONNRESET) => {
                    return Err(ChannelError::Closed)
                }
                other => return other.map(|_| ()).map_err(ChannelError::from),
            }
        }
    }

    /// Receives one message and the fds attached to it (close-on-exec).
    pub fn recv(&self) -> Result<(ControlMessage, Vec<OwnedFd>), ChannelError> {
        // Peek at the packet's size first: a fixed 1 MB buffer costs more in page
        // faults and zeroing than the whole message exchange.
        let size = loop {
            // SAFETY: a zero-length peek with MSG_TRUNC only reports the packet size.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    std::ptr::null_mut(),
                    0,
                    libc::MSG_PEEK | libc::MSG_TRUNC,
                )
            };
            match nix::errno::Errno::result(n) {
                Err(nix::Error::EINTR) => continue,
                Err(nix::Error::ECONNRESET) => return Err(ChannelError::Closed),
                Err(e) => return Err(e.into()),
                Ok(n) => break usize::try_from(n).unwrap_or(0).min(MAX_MESSAGE),
            }
        };
        let mut buf = vec![0u8; size.max(1)];
        let mut space = nix::cmsg_space!([RawFd; 4]);
        let (len, fds) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(nix::Error::EINTR) => continue,
                Err(nix::Error::ECONNRESET) => return Err(ChannelError::Closed),
                Err(e) => return Err(e.into()),
                Ok(msg) => {
                    let mut fds = Vec::new();
                    for c in msg.cmsgs()? {
                        if let ControlMessageOwned::ScmRights(list) = c {
                            // SAFETY: the kernel just installed these fds for us.
                            fds.extend(
                                list.into_iter()
                                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                            );
                        }
                    }
                    break (msg.bytes, fds);
                }
            }
        };
        if len == 0 {
            return Err(ChannelError::Closed);
        }
        Ok((serde_json::from_slice(&buf[..len])?, fds))
    }

    /// Waits up to `timeout_ms` for a message to arrive; true when one (or EOF) is there.
    pub fn readable_within(&self, timeout_ms: i32) -> bool {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        let timeout = PollTimeout::try_from(timeout_ms.max(0)).unwrap_or(PollTimeout::MAX);
        matches!(poll(&mut fds, timeout), Ok(n) if n > 0)
    }
}

impl AsFd for ControlChannel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_fds_cross_the_pair() {
        let (a, b) = ControlChannel::pair().expect("socketpair");
        let file = std::fs::File::open("/dev/null").expect("open /dev/null");
        a.send(&ControlMessage::UidMapNeeded { pid: 42 }, &[file.as_fd()])
            .expect("send");
        let (msg, fds) = b.recv().expect("recv");
        assert_eq!(msg, ControlMessage::UidMapNeeded { pid: 42 });
        assert_eq!(fds.len(), 1);
        drop(a);
        assert!(matches!(b.recv(), Err(ChannelError::Closed)));
    }
}
