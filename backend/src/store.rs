//! The server's SQLite database, `classroom.db` in the state root: the roster with
//! token hashes, container ownership, lesson progress and the class's
//! settings, and the index of terminal recordings (kept in every mode, so the file is
//! opened with or without a class; its classroom tables stay empty outside one).
//! Versioned by `PRAGMA user_version`; each migration runs once, in order.
//!
//! Every call is a short query behind one mutex; the async side runs them on tokio's
//! blocking threads ([`crate::classroom::Classroom`], [`crate::recording`]).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};

/// The database's file name in the state root (a file, so the runtime's scans of
/// container dirs pass it by).
pub const DB_FILE: &str = "classroom.db";

/// The schema, one migration per entry; `user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    // 1: the first classroom.
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE students (
         id TEXT PRIMARY KEY,
         name TEXT NOT NULL UNIQUE COLLATE NOCASE,
         token_hash BLOB NOT NULL UNIQUE,
         id_map_base INTEGER NOT NULL UNIQUE,
         joined_at_ms INTEGER NOT NULL,
         hand_raised_at_ms INTEGER
     );
     CREATE TABLE containers (
         id TEXT PRIMARY KEY,
         student_id TEXT NOT NULL REFERENCES students(id) ON DELETE CASCADE
     );
     CREATE TABLE progress (
         student_id TEXT NOT NULL REFERENCES students(id) ON DELETE CASCADE,
         lesson TEXT NOT NULL,
         step TEXT NOT NULL,
         attempts INTEGER NOT NULL,
         passed_at_ms INTEGER,
         PRIMARY KEY (student_id, lesson, step)
     );",
    // 2: the index of terminal recordings (asciicast files beside the database). The
    // owner is no foreign key: a recording outlives its student and its container.
    "CREATE TABLE recordings (
         id TEXT PRIMARY KEY,
         container_id TEXT NOT NULL,
         container_name TEXT NOT NULL,
         owner TEXT,
         exec_id TEXT,
         started_at_ms INTEGER NOT NULL,
         ended_at_ms INTEGER,
         bytes INTEGER NOT NULL DEFAULT 0,
         truncated INTEGER NOT NULL DEFAULT 0
     );
     CREATE INDEX recordings_by_container ON recordings (container_id, exec_id, started_at_ms);",
    // 3: students' containers take `userns: auto` ranges from the runtime's allocator
    // (the state root's subuid file), so the roster keeps no id range. The column is
    // UNIQUE, which DROP COLUMN refuses: the table is rebuilt, with foreign keys off
    // (see `migrate`) so the children's rows stay.
    "CREATE TABLE students_new (
         id TEXT PRIMARY KEY,
         name TEXT NOT NULL UNIQUE COLLATE NOCASE,
         token_hash BLOB NOT NULL UNIQUE,
         joined_at_ms INTEGER NOT NULL,
         hand_raised_at_ms INTEGER
     );
     INSERT INTO students_new (id, name, token_hash, joined_at_ms, hand_raised_at_ms)
         SELECT id, name, token_hash, joined_at_ms, hand_raised_at_ms FROM students;
     DROP TABLE students;
     ALTER TABLE students_new RENAME TO students;
     DELETE FROM settings WHERE key = 'next_id_slot';",
];

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("classroom database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the classroom database is at schema {0}, newer than this isolab knows ({1})")]
    TooNew(u32, usize),
    #[error("cannot make the state dir {0}: {1}")]
    Dir(std::path::PathBuf, std::io::Error),
    #[error("the name '{0}' is taken in this class")]
    NameTaken(String),
}

/// A student as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StudentRow {
    pub id: String,
    pub name: String,
    pub hand_raised_at_ms: Option<u64>,
    pub steps_passed: u32,
    pub steps_tried: u32,
}

/// One step of one student's lesson progress, for the export.
#[derive(Clone, Debug, PartialEq)]
pub struct ProgressRow {
    pub student: String,
    pub lesson: String,
    pub step: String,
    pub passed_at_ms: Option<u64>,
    pub attempts: u32,
}

/// The open database.
pub struct Store {
    conn: Mutex<Connection>,
}

const STUDENT_COLUMNS: &str = "s.id, s.name, s.hand_raised_at_ms,
     (SELECT COUNT(*) FROM progress p WHERE p.student_id = s.id AND p.passed_at_ms IS NOT NULL),
     (SELECT COUNT(*) FROM progress p WHERE p.student_id = s.id)";

/// How many columns [`STUDENT_COLUMNS`] selects: a query may add its own after them.
const STUDENT_COLUMN_COUNT: usize = 5;

fn student_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StudentRow> {
    Ok(StudentRow {
        id: row.get(0)?,
        name: row.get(1)?,
        hand_raised_at_ms: row.get(2)?,
        steps_passed: row.get(3)?,
        steps_tried: row.get(4)?,
    })
}

impl Store {
    /// Opens (or makes) `classroom.db` in `dir` and brings its schema up to date.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Dir(dir.to_path_buf(), e))?;
        let mut conn = Connection::open(dir.join(DB_FILE))?;
        // WAL: a commit is one append, and a kill -9 loses nothing committed.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(2))?;
        migrate(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-query leaves SQLite's own state consistent (transactions roll back).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the connection: for the tables other rooms keep here (recordings).
    pub fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        Ok(f(&self.conn())?)
    }

    /// A setting of the class (join code, joining open, quota), if set.
    pub fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Sets a setting of the class.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// Adds a student; refuses a name taken (any case).
    pub fn add_student(
        &self,
        id: &str,
        name: &str,
        token_hash: &[u8],
        now_ms: u64,
    ) -> Result<StudentRow, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let taken: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM students WHERE name = ?1)",
            [name],
            |r| r.get(0),
        )?;
        if taken {
            return Err(StoreError::NameTaken(name.to_string()));
        }
        tx.execute(
            "INSERT INTO students (id, name, token_hash, joined_at_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![id, name, token_hash, now_ms],
        )?;
        tx.commit()?;
        Ok(StudentRow {
            id: id.to_string(),
            name: name.to_string(),
            hand_raised_at_ms: None,
            steps_passed: 0,
            steps_tried: 0,
        })
    }

    /// The student whose token hashes to `token_hash`.
    pub fn student_by_token_hash(
        &self,
        token_hash: &[u8],
    ) -> Result<Option<(StudentRow, Vec<u8>)>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {STUDENT_COLUMNS}, s.token_hash FROM students s WHERE s.token_hash = ?1"),
                [token_hash],
                |r| Ok((student_row(r)?, r.get::<_, Vec<u8>>(STUDENT_COLUMN_COUNT)?)),
            )
            .optional()?)
    }

    /// One student by id.
    pub fn student(&self, id: &str) -> Result<Option<StudentRow>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {STUDENT_COLUMNS} FROM students s WHERE s.id = ?1"),
                [id],
                student_row,
            )
            .optional()?)
    }

    /// Every student, in the order they joined.
    pub fn students(&self) -> Result<Vec<StudentRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {STUDENT_COLUMNS} FROM students s ORDER BY s.joined_at_ms, s.id"
        ))?;
        let rows = stmt.query_map([], student_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes a student (their token stops working), with their ownership and
    /// progress rows. Whether there was one.
    pub fn remove_student(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .execute("DELETE FROM students WHERE id = ?1", [id])?
            > 0)
    }

    /// Raises (`Some(at)`) or lowers a student's hand. Whether the student exists.
    pub fn set_hand(&self, id: &str, raised_at_ms: Option<u64>) -> Result<bool, StoreError> {
        Ok(self.conn().execute(
            "UPDATE students SET hand_raised_at_ms = ?2 WHERE id = ?1",
            params![id, raised_at_ms],
        )? > 0)
    }

    /// Records that `student` owns container `id`.
    pub fn own_container(&self, id: &str, student: &str) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO containers (id, student_id) VALUES (?1, ?2)",
            [id, student],
        )?;
        Ok(())
    }

    /// Forgets the owner of container `id` (removed).
    pub fn disown_container(&self, id: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM containers WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Every (container id, student id) recorded.
    pub fn container_owners(&self) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id, student_id FROM containers")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Counts one attempt at a step; the first pass keeps its time.
    pub fn record_progress(
        &self,
        student: &str,
        lesson: &str,
        step: &str,
        passed: bool,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO progress (student_id, lesson, step, attempts, passed_at_ms)
             VALUES (?1, ?2, ?3, 1, ?4)
             ON CONFLICT(student_id, lesson, step) DO UPDATE SET
                 attempts = attempts + 1,
                 passed_at_ms = COALESCE(passed_at_ms, excluded.passed_at_ms)",
            params![student, lesson, step, passed.then_some(now_ms)],
        )?;
        Ok(())
    }

    /// All progress, by student name, lesson and step.
    pub fn progress(&self) -> Result<Vec<ProgressRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT s.name, p.lesson, p.step, p.passed_at_ms, p.attempts
             FROM progress p JOIN students s ON s.id = p.student_id
             ORDER BY s.name, p.lesson, p.step",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ProgressRow {
                student: r.get(0)?,
                lesson: r.get(1)?,
                step: r.get(2)?,
                passed_at_ms: r.get(3)?,
                attempts: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Applies the migrations not yet applied, each in its own transaction.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version as usize > MIGRATIONS.len() {
        return Err(StoreError::TooNew(version, MIGRATIONS.len()));
    }
    // Off while migrating, as SQLite's procedure for rebuilding a table asks (a DROP
    // TABLE would otherwise cascade to the children's rows); checked after.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as u32 + 1)?;
        tx.commit()?;
    }
    let broken: bool = conn.prepare("PRAGMA foreign_key_check")?.exists([])?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if broken {
        return Err(StoreError::Sql(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
            Some("a migration left rows whose student is gone".into()),
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("isolab-store-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn schema_survives_reopening_and_names_are_unique_in_any_case() {
        let dir = temp_dir("reopen");
        {
            let store = Store::open(&dir).expect("opens");
            store.add_student("s1", "Ada", b"h1", 1).expect("adds");
            store.add_student("s2", "Bob", b"h2", 2).expect("adds");
            assert!(matches!(
                store.add_student("s3", "ada", b"h3", 3),
                Err(StoreError::NameTaken(_))
            ));
            store.own_container("c1", "s1").expect("owns");
            store
                .record_progress("s1", "l", "1", false, 10)
                .expect("records");
            store
                .record_progress("s1", "l", "1", true, 20)
                .expect("records");
            store
                .record_progress("s1", "l", "1", true, 30)
                .expect("records");
        }
        let store = Store::open(&dir).expect("reopens");
        let students = store.students().expect("lists");
        assert_eq!(students.len(), 2);
        assert_eq!((students[0].steps_passed, students[0].steps_tried), (1, 1));
        let progress = store.progress().expect("progress");
        assert_eq!(progress[0].attempts, 3);
        assert_eq!(progress[0].passed_at_ms, Some(20));
        assert_eq!(
            store.container_owners().expect("owners"),
            vec![("c1".to_string(), "s1".to_string())]
        );
        assert!(store.remove_student("s2").expect("removes"));
        assert!(store.remove_student("s1").expect("removes"));
        assert!(store.container_owners().expect("owners").is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn schema_3_drops_the_id_ranges_and_keeps_every_student_row() {
        let dir = temp_dir("migrate3");
        std::fs::create_dir_all(&dir).expect("dir");
        {
            let conn = Connection::open(dir.join(DB_FILE)).expect("opens");
            conn.execute_batch(MIGRATIONS[0]).expect("schema 1");
            conn.execute_batch(MIGRATIONS[1]).expect("schema 2");
            conn.pragma_update(None, "user_version", 2)
                .expect("version");
            conn.execute_batch(
                "INSERT INTO students (id, name, token_hash, id_map_base, joined_at_ms)
                     VALUES ('s1', 'Ada', x'01', 1000000, 1);
                 INSERT INTO containers (id, student_id) VALUES ('c1', 's1');
                 INSERT INTO progress VALUES ('s1', 'l', '1', 2, 5);
                 INSERT INTO settings VALUES ('next_id_slot', '1');",
            )
            .expect("a class of schema 2");
        }
        let store = Store::open(&dir).expect("migrates");
        let students = store.students().expect("lists");
        assert_eq!(students.len(), 1);
        assert_eq!((students[0].steps_passed, students[0].steps_tried), (1, 1));
        assert_eq!(
            store.container_owners().expect("owners"),
            vec![("c1".to_string(), "s1".to_string())]
        );
        assert!(store
            .student_by_token_hash(&[1])
            .expect("looks up")
            .is_some());
        // Foreign keys are on again: removing the student takes its rows with it.
        assert!(store.remove_student("s1").expect("removes"));
        assert!(store.container_owners().expect("owners").is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
