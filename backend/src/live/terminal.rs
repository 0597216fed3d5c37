//! Terminal sessions: one PTY master (or, for a container without a terminal, its
//! stdin pipe and its stdout and stderr pipes) shared by any number of attached clients.
//!
//! A session reads the output into a scrollback ring and fans the bytes out. Clients
//! attach from a byte offset, so a reconnecting client gets exactly what it missed
//! (or the whole scrollback after a reload), with nothing duplicated. The session
//! lives until the processes writing the output are gone, whatever the clients do.
//! A session given a [`Recorder`] hands it every byte of output and every resize.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::sync::{watch, Notify};

use crate::recording::{cast::DEFAULT_SIZE, Recorder};

/// How much output a session keeps for clients that attach later (256 KiB).
pub const SCROLLBACK_BYTES: usize = 256 * 1024;
/// The largest chunk read from the PTY at once.
const READ_CHUNK: usize = 64 * 1024;
/// Clamp for resize requests: no terminal is bigger, and the kernel takes u16.
pub const MAX_COLS: u16 = 1000;
/// See [`MAX_COLS`].
pub const MAX_ROWS: u16 = 500;

struct Scrollback {
    bytes: VecDeque<u8>,
    /// Offset of the first byte still held.
    start: u64,
}

impl Scrollback {
    fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }

    /// Appends `chunk`, dropping the oldest bytes past [`SCROLLBACK_BYTES`]. What
    /// falls out goes before the chunk comes in, and the ring grows at most to the
    /// scrollback's size: extending first made a full ring double its allocation
    /// (512 KiB for 256 KiB kept), and every busy terminal then held twice its
    /// scrollback once the ring had gone round.
    fn push(&mut self, chunk: &[u8]) {
        let skip = chunk.len().saturating_sub(SCROLLBACK_BYTES);
        let chunk = &chunk[skip..];
        let excess = (self.bytes.len() + chunk.len()).saturating_sub(SCROLLBACK_BYTES);
        self.bytes.drain(..excess.min(self.bytes.len()));
        self.start += (excess + skip) as u64;
        let needed = self.bytes.len() + chunk.len();
        if needed > self.bytes.capacity() {
            let grown = (self.bytes.capacity() * 2).clamp(needed, SCROLLBACK_BYTES);
            self.bytes.reserve_exact(grown - self.bytes.len());
        }
        self.bytes.extend(chunk);
    }

    /// The bytes from `offset` on (clamped to what is held), and where they start.
    fn since(&self, offset: u64) -> (u64, Vec<u8>) {
        let from = offset.clamp(self.start, self.end());
        let skip = usize::try_from(from - self.start).unwrap_or(usize::MAX);
        (from, self.bytes.iter().skip(skip).copied().collect())
    }
}

/// How long a reader may make no progress before it no longer holds the terminal
/// back (it then loses what scrolls out, rather than freezing everyone).
const STALL_LIMIT: Duration = Duration::from_secs(2);

struct ReaderMark {
    offset: u64,
    progressed: Instant,
}

/// What the session and its readers share.
struct Shared {
    scrollback: Mutex<Scrollback>,
    /// The end offset of the output; changes whenever output arrives.
    end: watch::Sender<u64>,
    ended: watch::Sender<bool>,
    readers: Mutex<HashMap<u64, ReaderMark>>,
    next_reader: AtomicU64,
    /// Woken when a reader takes output, so a held-back pump can go on.
    progress: Notify,
    /// Where output and resizes are recorded; set under the scrollback's lock, so
    /// that it gets every byte exactly once.
    recorder: OnceLock<Recorder>,
}

impl Shared {
    fn scrollback(&self) -> MutexGuard<'_, Scrollback> {
        self.scrollback.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn readers(&self) -> MutexGuard<'_, HashMap<u64, ReaderMark>> {
        self.readers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the pump may read more without pushing unread output out of the
    /// scrollback of a reader that is keeping up.
    fn has_room(&self) -> bool {
        let end = self.scrollback().end();
        let now = Instant::now();
        let slowest = self
            .readers()
            .values()
            .filter(|m| m.offset >= end || now.duration_since(m.progressed) < STALL_LIMIT)
            .map(|m| m.offset)
            .min()
            .unwrap_or(end);
        end - slowest <= (SCROLLBACK_BYTES - READ_CHUNK) as u64
    }
}

/// One attached client's cursor into the output.
pub struct Reader {
    id: u64,
    shared: Arc<Shared>,
    /// The offset of the next byte this reader will get.
    offset: u64,
    end: watch::Receiver<u64>,
    ended: watch::Receiver<bool>,
}

impl Reader {
    /// The offset of the next byte this reader will get.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Waits for output after the reader's offset and takes all of it (up to the
    /// scrollback), with the offset of its first byte. `None` once the terminal has
    /// ended and everything was taken. Cancel-safe: output is taken only on return.
    pub async fn next(&mut self) -> Option<(u64, Vec<u8>)> {
        loop {
            let (from, bytes) = self.shared.scrollback().since(self.offset);
            if !bytes.is_empty() {
                self.offset = from + bytes.len() as u64;
                if let Some(mark) = self.shared.readers().get_mut(&self.id) {
                    mark.offset = self.offset;
                    mark.progressed = Instant::now();
                }
                self.shared.progress.notify_waiters();
                return Some((from, bytes));
            }
            if *self.ended.borrow() {
                return None;
            }
            tokio::select! {
                changed = self.end.changed() => if changed.is_err() { return None },
                changed = self.ended.changed() => if changed.is_err() { return None },
            }
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.shared.readers().remove(&self.id);
        self.shared.progress.notify_waiters();
    }
}

/// One PTY shared by its attached clients.
pub struct TerminalSession {
    /// Where input goes: the PTY master, or the command's stdin pipe.
    input: Arc<AsyncFd<OwnedFd>>,
    /// Whether `input` is a PTY (pipes have no window size).
    pty: bool,
    shared: Arc<Shared>,
}

/// Registers `fd`, made non-blocking, with tokio's reactor.
fn register(fd: OwnedFd) -> io::Result<Arc<AsyncFd<OwnedFd>>> {
    set_nonblocking(&fd)?;
    // SAFETY: an OwnedFd stays open and names the same file until it is dropped,
    // and the AsyncFd owns it for its whole life.
    let registered = unsafe { AsyncFd::register(fd) };
    Ok(Arc::new(
        registered.map_err(|e| io::Error::other(e.to_string()))?,
    ))
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(fd.as_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

nix::ioctl_write_ptr_bad!(set_window_size, nix::libc::TIOCSWINSZ, nix::libc::winsize);
nix::ioctl_read_bad!(get_window_size, nix::libc::TIOCGWINSZ, nix::libc::winsize);

impl TerminalSession {
    /// Starts a session on a PTY master; must be called inside a tokio runtime.
    pub fn start(master: OwnedFd) -> io::Result<Arc<TerminalSession>> {
        let master = register(master)?;
        Ok(Self::with_outputs(master.clone(), true, vec![master]))
    }

    /// Starts a session on a command's pipes, for a container without a terminal:
    /// input goes to `stdin`, and stdout and stderr share one output stream, in the
    /// order the bytes arrive. Must be called inside a tokio runtime.
    pub fn start_pipes(stdin: OwnedFd, outputs: Vec<OwnedFd>) -> io::Result<Arc<TerminalSession>> {
        let outputs = outputs
            .into_iter()
            .map(register)
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Self::with_outputs(register(stdin)?, false, outputs))
    }

    fn with_outputs(
        input: Arc<AsyncFd<OwnedFd>>,
        pty: bool,
        outputs: Vec<Arc<AsyncFd<OwnedFd>>>,
    ) -> Arc<TerminalSession> {
        let shared = Arc::new(Shared {
            scrollback: Mutex::new(Scrollback {
                bytes: VecDeque::new(),
                start: 0,
            }),
            end: watch::Sender::new(0),
            ended: watch::Sender::new(false),
            readers: Mutex::new(HashMap::new()),
            next_reader: AtomicU64::new(0),
            progress: Notify::new(),
            recorder: OnceLock::new(),
        });
        let session = Arc::new(TerminalSession {
            input,
            pty,
            shared: shared.clone(),
        });
        // The session ends when the last of its outputs does.
        let open = Arc::new(AtomicU64::new(outputs.len() as u64));
        for output in outputs {
            let (shared, open) = (shared.clone(), open.clone());
            tokio::spawn(async move {
                if let Err(e) = pump_output(&output, &shared).await {
                    tracing::debug!("terminal output ended: {e}");
                }
                if open.fetch_sub(1, Ordering::AcqRel) == 1 {
                    // Under the lock [`TerminalSession::record`] takes: a recorder set
                    // now is finished by one side or the other, never by none.
                    let _sb = shared.scrollback();
                    shared.ended.send_replace(true);
                    if let Some(recorder) = shared.recorder.get() {
                        recorder.finish();
                    }
                }
            });
        }
        session
    }

    /// Attaches a client that already has the output up to `offset` (`None`: nothing);
    /// its reader starts there, or at the oldest byte still held.
    pub fn attach(&self, offset: Option<u64>) -> Reader {
        let start = {
            let scrollback = self.shared.scrollback();
            offset
                .unwrap_or(0)
                .clamp(scrollback.start, scrollback.end())
        };
        let id = self.shared.next_reader.fetch_add(1, Ordering::Relaxed);
        self.shared.readers().insert(
            id,
            ReaderMark {
                offset: start,
                progressed: Instant::now(),
            },
        );
        Reader {
            id,
            shared: self.shared.clone(),
            offset: start,
            end: self.shared.end.subscribe(),
            ended: self.shared.ended.subscribe(),
        }
    }

    /// How many clients are attached now (recorders are not clients).
    pub fn attached(&self) -> usize {
        self.shared.readers().len()
    }

    /// Records the session into `recorder` from its first byte on (the output so far
    /// is still in the scrollback, as a session is recorded as soon as it starts).
    /// A second recorder is ignored.
    pub fn record(&self, recorder: Recorder) {
        let sb = self.shared.scrollback();
        if sb.start > 0 {
            tracing::warn!(
                recording = recorder.id(),
                "a recording misses its first bytes"
            );
        }
        let (_, held) = sb.since(0);
        if !held.is_empty() {
            recorder.output(&held);
        }
        if self.shared.recorder.set(recorder).is_err() {
            return;
        }
        if *self.shared.ended.borrow() {
            if let Some(recorder) = self.shared.recorder.get() {
                recorder.finish();
            }
        }
        drop(sb);
    }

    /// The window size (columns, rows); a session on pipes has none and says 80x24.
    pub fn size(&self) -> (u16, u16) {
        if !self.pty {
            return DEFAULT_SIZE;
        }
        let mut size = nix::libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one winsize struct to a valid pointer; fd is open.
        match unsafe { get_window_size(self.input.get_ref().as_raw_fd(), &mut size) } {
            Ok(_) if size.ws_col > 0 && size.ws_row > 0 => (size.ws_col, size.ws_row),
            _ => DEFAULT_SIZE,
        }
    }

    /// Total bytes of output so far.
    pub fn output_len(&self) -> u64 {
        self.shared.scrollback().end()
    }

    /// Whether the PTY's processes are gone.
    pub fn has_ended(&self) -> bool {
        *self.shared.ended.borrow()
    }

    /// Writes input to the PTY (or stdin pipe), waiting while its buffer is full.
    pub async fn write_input(&self, mut input: &[u8]) -> io::Result<()> {
        while !input.is_empty() {
            let mut guard = self.input.writable().await?;
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

    /// Sets the window size, clamped to 1..=[`MAX_COLS`] x 1..=[`MAX_ROWS`]; a session
    /// on pipes has none, and ignores it.
    pub fn resize(&self, cols: u16, rows: u16) -> io::Result<()> {
        if !self.pty {
            return Ok(());
        }
        resize_pty(self.input.get_ref(), cols, rows)?;
        if let Some(recorder) = self.shared.recorder.get() {
            recorder.resize(cols.clamp(1, MAX_COLS), rows.clamp(1, MAX_ROWS));
        }
        Ok(())
    }

    /// Whether the session is a PTY (false: the command's pipes).
    pub fn is_pty(&self) -> bool {
        self.pty
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

/// Reads a PTY or pipe into the scrollback until its writers are gone. While a reader
/// that keeps up would lose unread output, it waits: the program writing to the
/// terminal then blocks, as it would on a slow real terminal.
async fn pump_output(master: &AsyncFd<OwnedFd>, shared: &Shared) -> io::Result<()> {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        while !shared.has_room() {
            let progressed = shared.progress.notified();
            let _ = tokio::time::timeout(Duration::from_millis(200), progressed).await;
        }
        let mut guard = master.readable().await?;
        match guard.try_io(|fd| nix::unistd::read(fd.get_ref(), &mut buf).map_err(io::Error::from))
        {
            // EIO: every slave end is closed, the terminal's processes are gone.
            Ok(Err(e)) if e.raw_os_error() == Some(nix::libc::EIO) => return Ok(()),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(n)) => {
                let end = {
                    let mut sb = shared.scrollback();
                    sb.push(&buf[..n]);
                    if let Some(recorder) = shared.recorder.get() {
                        // A copy and a channel send: the disk is the writer's.
                        recorder.output(&buf[..n]);
                    }
                    sb.end()
                };
                shared.end.send_replace(end);
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

    /// A busy terminal's ring holds its scrollback and no more: it used to double to
    /// 512 KiB once full, which the soak showed as every terminal's RSS doubling.
    #[test]
    fn a_full_scrollback_allocates_no_more_than_it_keeps() {
        let mut sb = Scrollback {
            bytes: VecDeque::new(),
            start: 0,
        };
        let chunk = vec![b'x'; READ_CHUNK - 7];
        for _ in 0..20 {
            sb.push(&chunk);
            assert!(sb.bytes.len() <= SCROLLBACK_BYTES);
            assert!(
                sb.bytes.capacity() <= SCROLLBACK_BYTES,
                "capacity {} for {} bytes kept",
                sb.bytes.capacity(),
                sb.bytes.len()
            );
        }
        assert_eq!(sb.end(), 20 * chunk.len() as u64);
        assert_eq!(sb.start, sb.end() - SCROLLBACK_BYTES as u64);
        // A chunk bigger than the scrollback keeps its newest bytes.
        let big: Vec<u8> = (0..SCROLLBACK_BYTES + 10)
            .map(|i| (i % 251) as u8)
            .collect();
        let before = sb.end();
        sb.push(&big);
        assert_eq!(sb.end(), before + big.len() as u64);
        assert_eq!(sb.since(0).1, big[10..].to_vec());
    }
}
