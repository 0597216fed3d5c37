//! The recordings' index in SQLite (the `recordings` table of the server's database,
//! made by its migration 2): who a recording belongs to, when it ran, how big it is.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// One recording as the index and the API describe it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RecordingInfo {
    /// The recording's id (its file is `recording-{id}.cast`).
    pub id: String,
    /// The id of the container whose terminal it recorded.
    pub container: String,
    /// The container's name when it was recorded.
    pub container_name: String,
    /// The owning student's id; absent for the teacher's or the admin's.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub owner: Option<String>,
    /// The exec session recorded; absent for the container's own terminal.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exec_id: Option<String>,
    pub started_at_ms: u64,
    /// When its terminal ended; `None` while it runs.
    pub ended_at_ms: Option<u64>,
    /// Size of the file.
    pub bytes: u64,
    /// Whether the cap cut it short.
    pub truncated: bool,
}

const COLUMNS: &str = "id, container_id, container_name, owner, exec_id, started_at_ms,
     ended_at_ms, bytes, truncated";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecordingInfo> {
    Ok(RecordingInfo {
        id: r.get(0)?,
        container: r.get(1)?,
        container_name: r.get(2)?,
        owner: r.get(3)?,
        exec_id: r.get(4)?,
        started_at_ms: r.get(5)?,
        ended_at_ms: r.get(6)?,
        bytes: r.get(7)?,
        truncated: r.get(8)?,
    })
}

/// Adds a recording that has just started.
pub fn insert(conn: &Connection, info: &RecordingInfo) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO recordings (id, container_id, container_name, owner, exec_id,
             started_at_ms, ended_at_ms, bytes, truncated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            info.id,
            info.container,
            info.container_name,
            info.owner,
            info.exec_id,
            info.started_at_ms,
            info.ended_at_ms,
            info.bytes,
            info.truncated
        ],
    )?;
    Ok(())
}

/// Records how a recording ended.
pub fn finish(
    conn: &Connection,
    id: &str,
    ended_at_ms: u64,
    bytes: u64,
    truncated: bool,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE recordings SET ended_at_ms = ?2, bytes = ?3, truncated = ?4 WHERE id = ?1",
        params![id, ended_at_ms, bytes, truncated],
    )?;
    Ok(())
}

/// Every recording, newest first.
pub fn all(conn: &Connection) -> rusqlite::Result<Vec<RecordingInfo>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM recordings ORDER BY started_at_ms DESC, id"
    ))?;
    let rows = stmt.query_map([], row)?;
    rows.collect()
}

/// One recording by id.
pub fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<RecordingInfo>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM recordings WHERE id = ?1"),
        [id],
        row,
    )
    .optional()
}

/// The newest recording of a container (by id or name) and exec session (`None`: its
/// own terminal).
pub fn latest(
    conn: &Connection,
    container: &str,
    exec_id: Option<&str>,
) -> rusqlite::Result<Option<RecordingInfo>> {
    conn.query_row(
        &format!(
            "SELECT {COLUMNS} FROM recordings
             WHERE (container_id = ?1 OR container_name = ?1) AND exec_id IS ?2
             ORDER BY started_at_ms DESC, rowid DESC LIMIT 1"
        ),
        params![container, exec_id],
        row,
    )
    .optional()
}

/// Every recording of a container (by id or name), its exec sessions' included.
pub fn of_container(conn: &Connection, container: &str) -> rusqlite::Result<Vec<RecordingInfo>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM recordings WHERE container_id = ?1 OR container_name = ?1
         ORDER BY started_at_ms DESC, id"
    ))?;
    let rows = stmt.query_map([container], row)?;
    rows.collect()
}

/// Recordings that ended before `before_ms` (their retention ran out).
pub fn ended_before(conn: &Connection, before_ms: u64) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT id FROM recordings WHERE ended_at_ms < ?1")?;
    let rows = stmt.query_map([before_ms], |r| r.get(0))?;
    rows.collect()
}

/// Recordings with no end: their server stopped while they ran.
pub fn unfinished(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT id FROM recordings WHERE ended_at_ms IS NULL")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}

/// Forgets a recording; whether there was one.
pub fn delete(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM recordings WHERE id = ?1", [id])? > 0)
}
