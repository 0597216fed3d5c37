//! The recordings' writer: one thread that owns every open recording file and the
//! index's updates. Terminals hand it events over a channel and never wait for the
//! disk; it writes them in batches and flushes once its queue is empty.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use super::cast::{event_line, Utf8Stream, TRUNCATED_MARK};
use super::index::{self, RecordingInfo};
use crate::store::Store;

/// Room kept under the cap for the line that says a recording was cut.
const CUT_LINE_ROOM: u64 = 128;
/// How often files are flushed while events keep coming.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// What a recording's event carries.
#[derive(Debug)]
pub enum EventData {
    Output(Vec<u8>),
    Resize(u16, u16),
    Marker(String),
}

/// A message to the writer.
pub enum WriterMsg {
    /// A new recording: its file, header line and index row.
    Open {
        info: RecordingInfo,
        path: PathBuf,
        header: Vec<u8>,
        truncated_at: u64,
        cap: u64,
        /// Set once the cap is reached, so its terminal stops sending.
        full: Arc<AtomicBool>,
    },
    /// An event, `at` seconds after the recording started.
    Event {
        id: Arc<str>,
        at: f64,
        data: EventData,
    },
    /// The terminal ended.
    Finish { id: Arc<str>, at_ms: u64 },
    /// Forget recordings (closing their files) and remove their files; answers once done.
    Delete {
        ids: Vec<String>,
        done: tokio::sync::oneshot::Sender<usize>,
    },
    /// Answers once everything sent before it is in the files.
    Flush(tokio::sync::oneshot::Sender<()>),
}

struct OpenCast {
    file: BufWriter<File>,
    path: PathBuf,
    written: u64,
    cap: u64,
    truncated_at: u64,
    truncated: bool,
    full: Arc<AtomicBool>,
    text: Utf8Stream,
    /// The time of the last event, for the text held back at the end.
    last_at: f64,
}

impl OpenCast {
    /// Appends one event; one that would pass the cap is cut there (output keeps the
    /// part that fits) and the recording ends with a marker saying so.
    fn append(&mut self, at: f64, kind: &str, data: &str) -> std::io::Result<()> {
        if self.truncated {
            return Ok(());
        }
        let room = self.cap.saturating_sub(self.written + CUT_LINE_ROOM);
        let line = event_line(at, kind, data);
        if line.len() as u64 <= room {
            self.file.write_all(&line)?;
            self.written += line.len() as u64;
            return Ok(());
        }
        if kind == "o" {
            if let Some(part) = longest_fitting(at, data, room) {
                self.file.write_all(&part)?;
                self.written += part.len() as u64;
            }
        }
        let cut = event_line(
            at,
            "m",
            &format!("recording cut: its cap of {} bytes was reached", self.cap),
        );
        if self.written + cut.len() as u64 <= self.cap {
            self.file.write_all(&cut)?;
            self.written += cut.len() as u64;
        }
        self.file.flush()?;
        self.file
            .get_ref()
            .write_all_at(TRUNCATED_MARK, self.truncated_at)?;
        self.truncated = true;
        self.full.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn event(&mut self, at: f64, data: EventData) -> std::io::Result<()> {
        // Terminals and markers stamp their events before queueing them, so two
        // racing senders may arrive out of order by microseconds: time never goes back.
        let at = at.max(self.last_at);
        self.last_at = at;
        match data {
            EventData::Output(bytes) => {
                let text = self.text.push(&bytes);
                if text.is_empty() {
                    return Ok(());
                }
                self.append(at, "o", &text)
            }
            EventData::Resize(cols, rows) => self.append(at, "r", &format!("{cols}x{rows}")),
            EventData::Marker(label) => self.append(at, "m", &label),
        }
    }
}

/// The output line of the longest start of `text` that takes at most `room` bytes.
fn longest_fitting(at: f64, text: &str, room: u64) -> Option<Vec<u8>> {
    let ends: Vec<usize> = text.char_indices().map(|(i, _)| i).skip(1).collect();
    // Escaping makes a line's length grow with its text, so the search can halve.
    let (mut fits, mut over) = (0usize, ends.len());
    let mut best = None;
    while fits < over {
        let mid = (fits + over).div_ceil(2);
        let line = event_line(at, "o", &text[..ends[mid - 1]]);
        if line.len() as u64 <= room {
            best = Some(line);
            fits = mid;
        } else {
            over = mid - 1;
        }
    }
    best
}

/// Opens `path` and writes `header` to it.
fn create(path: &PathBuf, header: &[u8]) -> std::io::Result<BufWriter<File>> {
    let mut file = BufWriter::with_capacity(64 * 1024, File::create(path)?);
    file.write_all(header)?;
    file.flush()?;
    Ok(file)
}

/// Runs the writer until every sender is gone; recordings' files are in `dir`.
pub fn run(store: Arc<Store>, dir: PathBuf, messages: Receiver<WriterMsg>) {
    let mut open: HashMap<Arc<str>, OpenCast> = HashMap::new();
    let mut dirty = false;
    loop {
        let msg = match messages.recv_timeout(FLUSH_EVERY) {
            Ok(msg) => msg,
            Err(RecvTimeoutError::Timeout) => {
                flush_all(&mut open, &mut dirty);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        take(msg, &store, &dir, &mut open, &mut dirty);
        // A batch: everything queued, then one flush.
        while let Ok(msg) = messages.try_recv() {
            take(msg, &store, &dir, &mut open, &mut dirty);
        }
        flush_all(&mut open, &mut dirty);
    }
    flush_all(&mut open, &mut dirty);
}

fn flush_all(open: &mut HashMap<Arc<str>, OpenCast>, dirty: &mut bool) {
    if !*dirty {
        return;
    }
    for (id, cast) in open.iter_mut() {
        if let Err(e) = cast.file.flush() {
            tracing::warn!(%id, "cannot write the recording: {e}");
        }
    }
    *dirty = false;
}

fn take(
    msg: WriterMsg,
    store: &Store,
    dir: &Path,
    open: &mut HashMap<Arc<str>, OpenCast>,
    dirty: &mut bool,
) {
    match msg {
        WriterMsg::Open {
            info,
            path,
            header,
            truncated_at,
            cap,
            full,
        } => {
            if let Err(e) = store.with_conn(|c| index::insert(c, &info)) {
                tracing::warn!(id = %info.id, "cannot index the recording: {e}");
                return;
            }
            match create(&path, &header) {
                Ok(file) => {
                    let cast = OpenCast {
                        file,
                        path,
                        written: header.len() as u64,
                        cap,
                        truncated_at,
                        truncated: false,
                        full,
                        text: Utf8Stream::default(),
                        last_at: 0.0,
                    };
                    open.insert(info.id.as_str().into(), cast);
                }
                Err(e) => tracing::warn!(id = %info.id, "cannot make the recording: {e}"),
            }
        }
        WriterMsg::Event { id, at, data } => {
            if let Some(cast) = open.get_mut(&id) {
                *dirty = true;
                if let Err(e) = cast.event(at, data) {
                    tracing::warn!(%id, "cannot write the recording: {e}");
                }
            }
        }
        WriterMsg::Finish { id, at_ms } => {
            let Some(mut cast) = open.remove(&id) else {
                return;
            };
            let rest = cast.text.finish();
            if !rest.is_empty() {
                let at = cast.last_at;
                let _ = cast.append(at, "o", &rest);
            }
            if let Err(e) = cast.file.flush() {
                tracing::warn!(%id, "cannot write the recording: {e}");
            }
            let finished =
                store.with_conn(|c| index::finish(c, &id, at_ms, cast.written, cast.truncated));
            if let Err(e) = finished {
                tracing::warn!(%id, "cannot index the recording's end: {e}");
            }
        }
        WriterMsg::Delete { ids, done } => {
            let mut removed = 0;
            for id in ids {
                let cast = open.remove(id.as_str());
                let path = cast.map_or_else(|| super::path_of(dir, &id), |c| c.path);
                let _ = std::fs::remove_file(&path);
                match store.with_conn(|c| index::delete(c, &id)) {
                    Ok(true) => removed += 1,
                    Ok(false) => {}
                    Err(e) => tracing::warn!(%id, "cannot forget the recording: {e}"),
                }
            }
            let _ = done.send(removed);
        }
        WriterMsg::Flush(done) => {
            *dirty = true;
            flush_all(open, dirty);
            let _ = done.send(());
        }
    }
}
