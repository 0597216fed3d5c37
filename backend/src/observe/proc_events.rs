//! Process events pushed by the kernel: the netlink proc connector (NETLINK_CONNECTOR,
//! CN_IDX_PROC) reports every fork, exec and exit on the host as it happens, so the
//! server can show a new process without polling /proc.
//!
//! Use a [`ProcEventListener`] from one dedicated thread: [`ProcEventListener::next`]
//! blocks up to a timeout. The kernel may refuse (no CONFIG_PROC_EVENTS, not root, not
//! the initial network namespace); the error says so and the caller falls back to
//! polling. If the listener falls behind, it yields [`ProcEvent::Lost`]: resync then.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

// From <linux/connector.h> and <linux/cn_proc.h>; stable kernel ABI.
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_EVENT_FORK: u32 = 0x0000_0001;
const PROC_EVENT_EXEC: u32 = 0x0000_0002;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;
const NLMSG_DONE: u16 = 3;
const NLMSG_HDR_LEN: usize = 16;
const CN_MSG_LEN: usize = 20;
/// proc_event: what, cpu, then an 8-aligned timestamp; event data follows at 16.
const EVENT_DATA: usize = NLMSG_HDR_LEN + CN_MSG_LEN + 16;
/// Room for bursts of forks before the kernel drops events (needs root).
const RECEIVE_BUFFER: libc::c_int = 4 << 20;

/// One event from the kernel. PIDs are host PIDs; `pid` is the thread, `tgid` the
/// process (equal for a process's main thread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcEvent {
    /// A process or thread was created.
    Fork {
        parent_pid: u32,
        parent_tgid: u32,
        child_pid: u32,
        child_tgid: u32,
    },
    /// A process called execve.
    Exec { pid: u32, tgid: u32 },
    /// A process or thread ended; `exit_status` is wait(2)-style.
    Exit {
        pid: u32,
        tgid: u32,
        exit_status: u32,
        parent_pid: u32,
    },
    /// The kernel dropped events because the reader fell behind.
    Lost,
}

impl ProcEvent {
    /// Whether the event is about a thread other than a process's main one (thread
    /// creation or exit), which a process list can ignore.
    pub fn is_thread_event(&self) -> bool {
        match *self {
            ProcEvent::Fork {
                child_pid,
                child_tgid,
                ..
            } => child_pid != child_tgid,
            ProcEvent::Exec { pid, tgid } | ProcEvent::Exit { pid, tgid, .. } => pid != tgid,
            ProcEvent::Lost => false,
        }
    }

    /// The exit code of an [`ProcEvent::Exit`] that ended normally.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            ProcEvent::Exit { exit_status, .. } if exit_status & 0x7f == 0 => {
                Some(((exit_status >> 8) & 0xff) as i32)
            }
            _ => None,
        }
    }

    /// The signal that ended an [`ProcEvent::Exit`], if one did.
    pub fn exit_signal(&self) -> Option<i32> {
        match self {
            ProcEvent::Exit { exit_status, .. } if exit_status & 0x7f != 0 => {
                Some((exit_status & 0x7f) as i32)
            }
            _ => None,
        }
    }
}

/// Why the proc connector cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProcEventsError {
    #[error("the kernel refused a proc connector socket ({0}); it needs root and CONFIG_PROC_EVENTS, so poll /proc instead")]
    Socket(io::Error),
    #[error("cannot join the proc connector's multicast group ({0}); it only works as root in the initial network namespace, so poll /proc instead")]
    Bind(io::Error),
    #[error("cannot subscribe to process events ({0})")]
    Subscribe(io::Error),
    #[error("cannot receive process events ({0})")]
    Receive(io::Error),
}

/// A subscription to the kernel's fork/exec/exit events.
pub struct ProcEventListener {
    socket: OwnedFd,
    pending: VecDeque<ProcEvent>,
    buffer: Vec<u8>,
}

impl ProcEventListener {
    /// Opens the netlink socket and subscribes to process events.
    pub fn open() -> Result<ProcEventListener, ProcEventsError> {
        // SAFETY: plain syscall; the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::NETLINK_CONNECTOR,
            )
        };
        if fd < 0 {
            return Err(ProcEventsError::Socket(io::Error::last_os_error()));
        }
        // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        // Best effort: a larger buffer only makes Lost rarer.
        // SAFETY: passes a pointer to a live c_int with its size.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&RECEIVE_BUFFER as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        // SAFETY: sockaddr_nl is plain data; all-zero is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = CN_IDX_PROC;
        // nl_pid 0: the kernel picks a unique port, so several listeners can coexist.
        // SAFETY: addr is a valid sockaddr_nl and the length is its size.
        let bound = unsafe {
            libc::bind(
                socket.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if bound < 0 {
            return Err(ProcEventsError::Bind(io::Error::last_os_error()));
        }
        let message = subscribe_message();
        // SAFETY: sends `message.len()` bytes from a live buffer.
        let sent = unsafe {
            libc::send(
                socket.as_raw_fd(),
                message.as_ptr().cast(),
                message.len(),
                0,
            )
        };
        if sent < 0 {
            return Err(ProcEventsError::Subscribe(io::Error::last_os_error()));
        }
        Ok(ProcEventListener {
            socket,
            pending: VecDeque::new(),
            buffer: vec![0; 8192],
        })
    }

    /// The next event, waiting at most `timeout`; `None` when none came in time.
    pub fn next(&mut self, timeout: Duration) -> Result<Option<ProcEvent>, ProcEventsError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(Some(event));
            }
            if !self.wait_readable(timeout)? {
                return Ok(None);
            }
            // SAFETY: receives into a live buffer of the given length.
            let n = unsafe {
                libc::recv(
                    self.socket.as_raw_fd(),
                    self.buffer.as_mut_ptr().cast(),
                    self.buffer.len(),
                    0,
                )
            };
            if n < 0 {
                let err = io::Error::last_os_error();
                match err.raw_os_error() {
                    Some(libc::ENOBUFS) => return Ok(Some(ProcEvent::Lost)),
                    Some(libc::EINTR) | Some(libc::EAGAIN) => continue,
                    _ => return Err(ProcEventsError::Receive(err)),
                }
            }
            let len = usize::try_from(n).unwrap_or(0);
            self.pending.extend(parse_datagram(&self.buffer[..len]));
        }
    }

    fn wait_readable(&self, timeout: Duration) -> Result<bool, ProcEventsError> {
        let mut poll = libc::pollfd {
            fd: self.socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        loop {
            // SAFETY: one live pollfd.
            let ready = unsafe { libc::poll(&mut poll, 1, millis) };
            if ready >= 0 {
                return Ok(ready > 0);
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(ProcEventsError::Receive(err));
            }
        }
    }
}

/// nlmsghdr + cn_msg + PROC_CN_MCAST_LISTEN.
fn subscribe_message() -> Vec<u8> {
    let total = NLMSG_HDR_LEN + CN_MSG_LEN + 4;
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&(total as u32).to_ne_bytes());
    m.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&std::process::id().to_ne_bytes());
    m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // ack
    m.extend_from_slice(&4u16.to_ne_bytes()); // payload length
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    m
}

/// The fork, exec and exit events in one datagram (other kinds are skipped).
fn parse_datagram(mut data: &[u8]) -> Vec<ProcEvent> {
    let mut events = Vec::new();
    while data.len() >= NLMSG_HDR_LEN {
        let len = u32_at(data, 0).map_or(0, |l| l as usize);
        if len < NLMSG_HDR_LEN || len > data.len() {
            break;
        }
        if let Some(event) = parse_message(&data[..len]) {
            events.push(event);
        }
        // Netlink messages are 4-byte aligned.
        let next = (len + 3) & !3;
        data = data.get(next..).unwrap_or(&[]);
    }
    events
}

fn parse_message(m: &[u8]) -> Option<ProcEvent> {
    if u32_at(m, NLMSG_HDR_LEN)? != CN_IDX_PROC || u32_at(m, NLMSG_HDR_LEN + 4)? != CN_VAL_PROC {
        return None;
    }
    let what = u32_at(m, NLMSG_HDR_LEN + CN_MSG_LEN)?;
    let field = |i: usize| u32_at(m, EVENT_DATA + 4 * i);
    match what {
        PROC_EVENT_FORK => Some(ProcEvent::Fork {
            parent_pid: field(0)?,
            parent_tgid: field(1)?,
            child_pid: field(2)?,
            child_tgid: field(3)?,
        }),
        PROC_EVENT_EXEC => Some(ProcEvent::Exec {
            pid: field(0)?,
            tgid: field(1)?,
        }),
        PROC_EVENT_EXIT => Some(ProcEvent::Exit {
            pid: field(0)?,
            tgid: field(1)?,
            exit_status: field(2)?,
            parent_pid: field(4)?,
        }),
        _ => None,
    }
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at + 4)?;
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A message as the kernel builds it: headers, then `what` and event fields.
    fn message(what: u32, fields: &[u32]) -> Vec<u8> {
        let mut m = subscribe_message();
        m.truncate(NLMSG_HDR_LEN + CN_MSG_LEN);
        m.extend_from_slice(&what.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes()); // cpu
        m.extend_from_slice(&0u64.to_ne_bytes()); // timestamp
        for f in fields {
            m.extend_from_slice(&f.to_ne_bytes());
        }
        let len = m.len() as u32;
        m[..4].copy_from_slice(&len.to_ne_bytes());
        m
    }

    #[test]
    fn kernel_messages_parse() {
        let mut datagram = message(PROC_EVENT_FORK, &[1, 1, 7, 7]);
        datagram.extend(message(PROC_EVENT_EXIT, &[7, 7, 3 << 8, 0, 1, 1]));
        datagram.extend(message(0x4, &[7, 7, 0, 0])); // a uid change: skipped
        let events = parse_datagram(&datagram);
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0],
            ProcEvent::Fork {
                parent_pid: 1,
                parent_tgid: 1,
                child_pid: 7,
                child_tgid: 7
            }
        );
        assert_eq!(events[1].exit_code(), Some(3));
        assert!(!events[0].is_thread_event());
        assert_eq!(events[1].exit_signal(), None);
        assert!(parse_datagram(&datagram[..10]).is_empty());
    }

    #[test]
    fn a_child_is_seen_forking_execing_and_exiting() {
        let mut listener = ProcEventListener::open().expect("proc connector (needs root)");
        let child = std::process::Command::new("/bin/sh")
            .args(["-c", "exit 3"])
            .spawn()
            .expect("spawn sh");
        let pid = child.id();
        let output = child.wait_with_output().expect("wait for sh");
        assert_eq!(output.status.code(), Some(3));

        let (mut forked, mut execed, mut exited) = (false, false, None);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && exited.is_none() {
            match listener.next(Duration::from_millis(100)).expect("receive") {
                Some(ProcEvent::Fork { child_tgid, .. }) if child_tgid == pid => forked = true,
                Some(ProcEvent::Exec { tgid, .. }) if tgid == pid => execed = true,
                Some(e @ ProcEvent::Exit { pid: p, .. }) if p == pid => exited = Some(e),
                _ => {}
            }
        }
        assert!(forked && execed, "fork seen: {forked}, exec seen: {execed}");
        let exit = exited.expect("exit seen");
        assert_eq!(exit.exit_code(), Some(3));
    }
}
