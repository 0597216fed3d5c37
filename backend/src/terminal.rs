//! Terminal sessions: one PTY master shared by any number of attached clients.
//!
//! A session reads the PTY into a scrollback ring and fans the bytes out. Clients
//! attach from a byte offset, so a reconnecting client gets exactly what it missed
//! (or the whole scrollback after a reload), with nothing duplicated. The session
//! lives until the PTY's processes are gone, whatever the clients do.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use tokio::io::unix::AsyncFd;
use tokio::sync::{broadcast, watch};

/// How much output a session keeps for clients that attach later (256 KiB).
pub const SCROLLBACK_BYTES: usize = 256 * 1024;
/// The largest chunk read from the PTY at once.
const READ_CHUNK: usize = 64 * 1024;
/// Clamp for resize requests: no terminal is bigger, and the kernel takes u16.
pub const MAX_COLS: u16 = 1000;
/// See [`MAX_COLS`].
pub const MAX_ROWS: u16 = 500;

/// A chunk of output and the byte offset of its first byte.
#[derive(Clone, Debug)]
pub struct Output {
    pub offset: u64,
    pub bytes: Arc<[u8]>,
}

struct Scrollback {
    bytes: VecDeque<u8>,
    /// Offset of the first byte still held.
    start: u64,
}

impl Scrollback {
    fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }

    fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend(chunk);
        let excess = self.bytes.len().saturating_sub(SCROLLBACK_BYTES);
        if excess > 0 {
            self.bytes.drain(..excess);
            self.start += excess as u64;
        }
    }

    /// The bytes from `offset` on (clamped to what is held), and where they start.
    fn since(&self, offset: u64) -> (u64, Vec<u8>) {
        let from = offset.clamp(self.start, self.end());
        let skip = usize::try_from(from - self.start).unwrap_or(usize::MAX);
        (from, self.bytes.iter().skip(skip).copied().collect())
    }
}

/// What a client gets when it attaches.
pub struct Attachment {
    /// Offset of the first byte of `backlog`.
    pub backlog_offset: u64,
    /// Output it missed (from the scrollback).
    pub backlog: Vec<u8>,
    /// Live output after the backlog.
    pub live: broadcast::Receiver<Output>,
    /// Turns true when the session has ended.
    pub ended: watch::Receiver<bool>,
}

/// One PTY shared by its attached clients.
pub struct TerminalSession {
    master: Arc<AsyncFd<OwnedFd>>,
    scrollback: Arc<Mutex<Scrollback>>,
    sender: broadcast::Sender<Output>,
    ended: watch::Receiver<bool>,
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(fd.as_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

nix::ioctl_write_ptr_bad!(set_window_size, nix::libc::TIOCSWINSZ, nix::libc::winsize);

impl TerminalSession {
    /// Starts a session on a PTY master; must be called inside a tokio runtime.
    pub fn start(master: OwnedFd) -> io::Result<Arc<TerminalSession>> {
        set_nonblocking(&master)?;
        // SAFETY: an OwnedFd stays open and names the same file until it is dropped,
        // and the AsyncFd owns it for its whole life.
        let registered = unsafe { AsyncFd::register(master) };
        let master = Arc::new(registered.map_err(|e| io::Error::other(e.to_string()))?);
        let scrollback = Arc::new(Mutex::new(Scrollback {
            bytes: VecDeque::new(),
            start: 0,
        }));
        let (sender, _) = broadcast::channel(1024);
        let (ended_tx, ended) = watch::channel(false);
        let session = Arc::new(TerminalSession {
            master: master.clone(),
            scrollback: scrollback.clone(),
            sender: sender.clone(),
            ended,
        });
        tokio::spawn(async move {
            if let Err(e) = pump_output(&master, &scrollback, &sender).await {
                tracing::debug!("terminal output ended: {e}");
            }
            // Nobody left to tell is fine: the flag is also read by late attachers.
            let _ = ended_tx.send(true);
        });
        Ok(session)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Scrollback> {
        self.scrollback.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Attaches a client that has seen output up to `offset` (0 or `None`: nothing).
    pub fn attach(&self, offset: Option<u64>) -> Attachment {
        let scrollback = self.lock();
        // Subscribing under the lock: no chunk falls between backlog and live.
        let live = self.sender.subscribe();
        let (backlog_offset, backlog) = scrollback.since(offset.unwrap_or(0));
        Attachment {
            backlog_offset,
            backlog,
            live,
            ended: self.ended.clone(),
        }
    }

    /// Total bytes of output so far.
    pub fn output_len(&self) -> u64 {
        self.lock().end()
    }

    /// Whether the PTY's processes are gone.
    pub fn has_ended(&self) -> bool {
        *self.ended.borrow()
    }

    /// Writes input to the PTY, waiting while its buffer is full.
    pub async fn write_input(&self, mut input: &[u8]) -> io::Result<()> {
        while !input.is_empty() {
            let mut guard = self.master.writable().await?;
            match guard
                .try_io(|fd| nix::unistd::write(fd.get_ref(), input).map_err(io::Error::from))
            {
                Ok(Ok(n)) => input = &input[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }

    /// Sets the window size, clamped to 1..=[`MAX_COLS`] x 1..=[`MAX_ROWS`].
    pub fn resize(&self, cols: u16, rows: u16) -> io::Result<()> {
        resize_pty(self.master.get_ref(), cols, rows)
    }
}

/// Sets a PTY's window size (the kernel then sends SIGWINCH to its foreground group).
pub fn resize_pty(fd: &OwnedFd, cols: u16, rows: u16) -> io::Result<()> {
    let size = nix::libc::winsize {
        ws_row: rows.clamp(1, MAX_ROWS),
        ws_col: cols.clamp(1, MAX_COLS),
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize struct from a valid pointer; fd is open.
    unsafe { set_window_size(fd.as_raw_fd(), &size) }.map_err(io::Error::from)?;
    Ok(())
}

async fn pump_output(
    master: &AsyncFd<OwnedFd>,
    scrollback: &Mutex<Scrollback>,
    sender: &broadcast::Sender<Output>,
) -> io::Result<()> {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let mut guard = master.readable().await?;
        match guard.try_io(|fd| nix::unistd::read(fd.get_ref(), &mut buf).map_err(io::Error::from))
        {
            // EIO: every slave end is closed, the terminal's processes are gone.
            Ok(Err(e)) if e.raw_os_error() == Some(nix::libc::EIO) => return Ok(()),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(n)) => {
                let chunk: Arc<[u8]> = Arc::from(&buf[..n]);
                let mut sb = scrollback.lock().unwrap_or_else(|p| p.into_inner());
                let offset = sb.end();
                sb.push(&chunk);
                // No attached client is fine: the bytes are in the scrollback.
                let _ = sender.send(Output {
                    offset,
                    bytes: chunk,
                });
            }
            Err(_would_block) => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrollback_keeps_the_newest_bytes_and_offsets() {
        let mut sb = Scrollback {
            bytes: VecDeque::new(),
            start: 0,
        };
        sb.push(&vec![b'a'; SCROLLBACK_BYTES]);
        sb.push(b"xyz");
        assert_eq!(sb.start, 3);
        assert_eq!(sb.end(), SCROLLBACK_BYTES as u64 + 3);
        let (from, bytes) = sb.since(sb.end() - 2);
        assert_eq!(from, sb.end() - 2);
        assert_eq!(bytes, b"yz");
        // Too old: clamped to what is held.
        let (from, bytes) = sb.since(0);
        assert_eq!(from, 3);
        assert_eq!(bytes.len(), SCROLLBACK_BYTES);
        // From the future: nothing.
        assert!(sb.since(u64::MAX).1.is_empty());
    }
}
