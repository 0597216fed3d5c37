//! Terminal recordings: every terminal session's output, resizes and its container's
//! events, as asciicast v2 files that outlive the container and the server.
//!
//! # Layout
//! - [`cast`]: the file format (header, event lines, text across split reads).
//! - [`writer`]: the one thread that writes every open recording and updates the index.
//! - [`index`]: the index in SQLite: owner, container, exec session, times, size.
//!
//! Files are `recording-{id}.cast` in the state root, beside `classroom.db`, whose
//! `recordings` table is the index. They are files, not a directory: the runtime takes
//! a directory of the state root without a container record for a crashed create and
//! `isolab gc` removes it. A recording is kept until deleted, or until `keep` (the
//! retention) has passed since its terminal ended.

pub mod cast;
pub mod index;
pub mod writer;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::store::{Store, StoreError};
use crate::wall_clock::now_ms;
use cast::CastHeader;
pub use index::RecordingInfo;
use writer::{EventData, WriterMsg};

/// The default cap of one recording (16 MiB).
pub const DEFAULT_CAP_BYTES: u64 = 16 << 20;

/// How long a recording whose terminal ended still takes its container's markers.
pub const FINISH_GRACE: Duration = Duration::from_millis(500);

/// How recordings are made and kept.
#[derive(Clone, Debug)]
pub struct RecordingConfig {
    /// Whether new terminals are recorded (those recorded are served either way).
    pub enabled: bool,
    /// The most bytes one recording's file may have.
    pub cap_bytes: u64,
    /// How long a recording is kept after its terminal ended; `None`: until deleted.
    pub keep: Option<Duration>,
    /// Whether there are recordings at all: a headless lesson check neither records
    /// nor opens the index, so it leaves nothing in the state root.
    pub index: bool,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        RecordingConfig {
            enabled: true,
            cap_bytes: DEFAULT_CAP_BYTES,
            keep: None,
            index: true,
        }
    }
}

/// Why a recordings operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("recordings index: {0}")]
    Store(#[from] StoreError),
    #[error("cannot read the recording {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("the recordings writer has stopped")]
    WriterGone,
    #[error("a recordings worker failed: {0}")]
    Worker(String),
}

/// The file of recording `id` in `dir`. Ids are made here of letters and digits; any
/// other character is dropped, so no id names a path outside `dir`.
pub fn path_of(dir: &Path, id: &str) -> PathBuf {
    let safe: String = id.chars().filter(char::is_ascii_alphanumeric).collect();
    dir.join(format!("recording-{safe}.cast"))
}

/// A recording under way, for its container's markers.
struct Active {
    container: String,
    id: Arc<str>,
    started: Instant,
}

/// The recordings of a server: the index, the writer, the recordings under way.
pub struct Recordings {
    store: Arc<Store>,
    dir: PathBuf,
    config: RecordingConfig,
    writer: Sender<WriterMsg>,
    active: Mutex<Vec<Active>>,
}

impl std::fmt::Debug for Recordings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recordings")
            .field("dir", &self.dir)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What a terminal session calls with its output; sending never waits for the disk.
pub struct Recorder {
    id: Arc<str>,
    started: Instant,
    full: Arc<AtomicBool>,
    recordings: Arc<Recordings>,
}

impl Recorder {
    /// The recording's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn send(&self, data: EventData) {
        if self.full.load(Ordering::Relaxed) {
            return;
        }
        let at = self.started.elapsed().as_secs_f64();
        let id = self.id.clone();
        // The writer outlives every recorder but at process exit; nothing to do then.
        let _ = self
            .recordings
            .writer
            .send(WriterMsg::Event { id, at, data });
    }

    /// Records output bytes.
    pub fn output(&self, bytes: &[u8]) {
        self.send(EventData::Output(bytes.to_vec()));
    }

    /// Records a new terminal size.
    pub fn resize(&self, cols: u16, rows: u16) {
        self.send(EventData::Resize(cols, rows));
    }

    /// Ends the recording (its terminal ended). Its container's last events (the
    /// exit of its processes and its own) come just after its terminal closes, so
    /// markers are taken for [`FINISH_GRACE`] more; the end time is now.
    pub fn finish(&self) {
        let at_ms = now_ms();
        let (id, recordings) = (self.id.clone(), self.recordings.clone());
        let close = move || {
            recordings.lock_active().retain(|a| a.id != id);
            let _ = recordings.writer.send(WriterMsg::Finish { id, at_ms });
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    tokio::time::sleep(FINISH_GRACE).await;
                    close();
                });
            }
            Err(_) => close(),
        }
    }
}

/// What a new recording is of.
#[derive(Clone, Debug)]
pub struct RecordingSubject {
    pub container: String,
    pub container_name: String,
    pub owner: Option<String>,
    pub exec_id: Option<String>,
    /// The terminal's size (columns, rows) at the start.
    pub size: (u16, u16),
    /// The container as the server knows it now, for the header (so a player can
    /// rebuild it); `None` while it is being created.
    pub state: Option<isolab_shared::ContainerState>,
}

impl Recordings {
    /// Opens the index in `state_root` (closing recordings a stopped server left
    /// unfinished) and starts the writer thread.
    pub fn open(
        state_root: &Path,
        config: RecordingConfig,
    ) -> Result<Arc<Recordings>, RecordingError> {
        let store = Arc::new(Store::open(state_root)?);
        let dir = state_root.to_path_buf();
        close_unfinished(&store, &dir)?;
        let (writer, messages) = std::sync::mpsc::channel();
        let (s, d) = (store.clone(), dir.clone());
        std::thread::Builder::new()
            .name("isolab-recorder".into())
            .spawn(move || writer::run(s, d, messages))
            .map_err(|e| RecordingError::Worker(e.to_string()))?;
        Ok(Arc::new(Recordings {
            store,
            dir,
            config,
            writer,
            active: Mutex::new(Vec::new()),
        }))
    }

    fn lock_active(&self) -> MutexGuard<'_, Vec<Active>> {
        // Each update is one push or retain: a poisoned lock is still consistent.
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The settings.
    pub fn config(&self) -> &RecordingConfig {
        &self.config
    }

    /// Starts recording a terminal of `subject`.
    pub fn begin(self: &Arc<Self>, subject: RecordingSubject) -> Recorder {
        let id: Arc<str> = format!("r{:016x}", rand::random::<u64>()).into();
        let started_ms = now_ms();
        let (cols, rows) = subject.size;
        let title = match &subject.exec_id {
            Some(exec) => format!("{} (exec {exec})", subject.container_name),
            None => subject.container_name.clone(),
        };
        let (header, truncated_at) = CastHeader {
            width: cols,
            height: rows,
            timestamp: started_ms / 1000,
            title,
            cap_bytes: self.config.cap_bytes,
            container: subject.state,
        }
        .line();
        let full = Arc::new(AtomicBool::new(false));
        let info = RecordingInfo {
            id: id.to_string(),
            container: subject.container.clone(),
            container_name: subject.container_name,
            owner: subject.owner,
            exec_id: subject.exec_id,
            started_at_ms: started_ms,
            ended_at_ms: None,
            bytes: header.len() as u64,
            truncated: false,
        };
        let _ = self.writer.send(WriterMsg::Open {
            path: path_of(&self.dir, &id),
            info,
            header,
            truncated_at,
            cap: self.config.cap_bytes,
            full: full.clone(),
        });
        let started = Instant::now();
        self.lock_active().push(Active {
            container: subject.container,
            id: id.clone(),
            started,
        });
        Recorder {
            id,
            started,
            full,
            recordings: self.clone(),
        }
    }

    /// Adds a marker to every recording under way of `container`; `label` is the
    /// marker's whole text ([`cast::marker_data`] adds the event to it).
    pub fn marker(&self, container: &str, label: &str) {
        for a in self
            .lock_active()
            .iter()
            .filter(|a| a.container == container)
        {
            let _ = self.writer.send(WriterMsg::Event {
                id: a.id.clone(),
                at: a.started.elapsed().as_secs_f64(),
                data: EventData::Marker(label.to_string()),
            });
        }
    }

    /// How many recordings are under way.
    pub fn active(&self) -> usize {
        self.lock_active().len()
    }

    /// On server exit: waits up to `within` for the terminals being closed to end
    /// their recordings, then until the files hold everything.
    pub async fn close(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.active() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Err(e) = self.flush().await {
            tracing::warn!("recordings may miss their last output: {e}");
        }
    }

    /// Waits until everything recorded so far is in the files.
    pub async fn flush(&self) -> Result<(), RecordingError> {
        let (done, flushed) = tokio::sync::oneshot::channel();
        self.writer
            .send(WriterMsg::Flush(done))
            .map_err(|_| RecordingError::WriterGone)?;
        flushed.await.map_err(|_| RecordingError::WriterGone)
    }

    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, RecordingError> {
        // Index rows are written by the writer: let it catch up first.
        self.flush().await?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.with_conn(f))
            .await
            .map_err(|e| RecordingError::Worker(e.to_string()))?
            .map_err(RecordingError::from)
    }

    /// The size a recording under way has now (the index has it once ended).
    fn with_live_size(&self, mut info: RecordingInfo) -> RecordingInfo {
        if info.ended_at_ms.is_none() {
            if let Ok(meta) = std::fs::metadata(path_of(&self.dir, &info.id)) {
                info.bytes = meta.len();
            }
        }
        info
    }

    /// Every recording, newest first.
    pub async fn list(&self) -> Result<Vec<RecordingInfo>, RecordingError> {
        let all = self.db(index::all).await?;
        Ok(all.into_iter().map(|i| self.with_live_size(i)).collect())
    }

    /// One recording.
    pub async fn get(&self, id: &str) -> Result<Option<RecordingInfo>, RecordingError> {
        let id = id.to_string();
        let found = self.db(move |c| index::get(c, &id)).await?;
        Ok(found.map(|i| self.with_live_size(i)))
    }

    /// The newest recording of container `container` (id or name) and exec session
    /// `exec_id` (`None`: the container's own terminal).
    pub async fn latest(
        &self,
        container: &str,
        exec_id: Option<&str>,
    ) -> Result<Option<RecordingInfo>, RecordingError> {
        let (container, exec_id) = (container.to_string(), exec_id.map(str::to_string));
        let found = self
            .db(move |c| index::latest(c, &container, exec_id.as_deref()))
            .await?;
        Ok(found.map(|i| self.with_live_size(i)))
    }

    /// Every recording of container `container` (id or name), exec sessions' included.
    pub async fn of_container(
        &self,
        container: &str,
    ) -> Result<Vec<RecordingInfo>, RecordingError> {
        let container = container.to_string();
        self.db(move |c| index::of_container(c, &container)).await
    }

    /// The file of a recording, as it is now.
    pub async fn read(&self, info: &RecordingInfo) -> Result<Vec<u8>, RecordingError> {
        self.flush().await?;
        let path = path_of(&self.dir, &info.id);
        tokio::fs::read(&path)
            .await
            .map_err(|e| RecordingError::Io(path, e))
    }

    /// Removes recordings, files and index rows; how many there were.
    pub async fn delete(&self, ids: Vec<String>) -> Result<usize, RecordingError> {
        let (done, deleted) = tokio::sync::oneshot::channel();
        self.writer
            .send(WriterMsg::Delete { ids, done })
            .map_err(|_| RecordingError::WriterGone)?;
        deleted.await.map_err(|_| RecordingError::WriterGone)
    }

    /// Removes the recordings whose retention has run out; how many.
    pub async fn expire(&self) -> Result<usize, RecordingError> {
        let Some(keep) = self.config.keep else {
            return Ok(0);
        };
        let keep_ms = u64::try_from(keep.as_millis()).unwrap_or(u64::MAX);
        let before = now_ms().saturating_sub(keep_ms);
        let ids = self.db(move |c| index::ended_before(c, before)).await?;
        if ids.is_empty() {
            return Ok(0);
        }
        self.delete(ids).await
    }

    /// Removes expired recordings now and then (a quarter of the retention, at most
    /// each minute), while the runtime runs. Nothing to do without a retention.
    pub fn spawn_retention(self: &Arc<Self>) {
        let Some(keep) = self.config.keep else { return };
        let every = (keep / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
        let recordings = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(r) = recordings.upgrade() else {
                    return;
                };
                match r.expire().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("removed {n} recordings past their retention"),
                    Err(e) => tracing::warn!("cannot remove old recordings: {e}"),
                }
                drop(r);
                tokio::time::sleep(every).await;
            }
        });
    }
}

/// Parses a duration (a retention, an idle time) such as `7d`, `12h`, `30m` or `45s` (a number and one unit).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad =
        || format!("'{text}' is no duration: write a number and a unit, like 7d, 12h, 30m or 45s");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(seconds)
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

/// Ends in the index the recordings a stopped server left open: their end is the
/// file's last change, their size the file's; a missing file is forgotten.
fn close_unfinished(store: &Store, dir: &Path) -> Result<(), RecordingError> {
    for id in store.with_conn(index::unfinished)? {
        let path = path_of(dir, &id);
        let Ok(meta) = std::fs::metadata(&path) else {
            store.with_conn(|c| index::delete(c, &id))?;
            continue;
        };
        let ended = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or_else(now_ms, |d| u64::try_from(d.as_millis()).unwrap_or(0));
        let truncated = std::fs::File::open(&path)
            .ok()
            .and_then(|f| std::io::BufReader::new(f).lines().next()?.ok())
            .is_some_and(|header| header.contains("\"truncated\":true"));
        store.with_conn(|c| index::finish(c, &id, ended, meta.len(), truncated))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retentions_parse_with_one_unit() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        for bad in [
            "",
            "7",
            "d",
            "0h",
            "7w",
            "1.5h",
            "-1d",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_name_no_path_outside_the_dir() {
        let dir = Path::new("/run/isolab");
        assert_eq!(
            path_of(dir, "../../etc/passwd"),
            Path::new("/run/isolab/recording-etcpasswd.cast")
        );
    }
}
