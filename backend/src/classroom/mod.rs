//! Classroom mode (`isolab serve --classroom`): the teacher holds the server's token,
//! students join with a code and get tokens of their own; each container has an owner.
//!
//! # Layout
//! - [`access`]: [`Principal`] and the one answer to "may this caller see or touch
//!   that", for routes, sockets and the event stream.
//! - [`policy`]: the students' quota and the namespaces they may not leave out.
//! - [`join`]: join codes, display names, the limit on wrong codes per address.
//! - [`limiter`]: failures per address over a sliding window, bounded in memory
//!   (wrong join codes here, wrong tokens in the server).
//! - [`store`]: the SQLite database in the state root (roster, token hashes, id
//!   ranges, ownership, progress, settings), with versioned migrations.
//! - [`export`]: the progress export as CSV.
//! - [`stage`]: the teacher's broadcast and the terminals the teacher took control of.
//! - [`clock`]: the class's end time (`--ends-at`).
//! - [`changes`]: the change counter pages wait on instead of polling.
//!
//! The database is the class's store, not a cache: a restarted server finds its
//! students logged in, their containers theirs, and the roster whole. Its calls run on
//! tokio's blocking threads. No axum in here: the server is a thin user of it.

pub mod access;
pub mod changes;
pub mod clock;
pub mod export;
pub mod join;
pub mod limiter;
pub mod policy;
pub mod stage;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use isolab_shared::ErrorCode;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::broadcast;

use crate::store::{Store, StoreError, StudentRow};
use crate::wall_clock::now_ms;
pub use access::Principal;
use changes::Changes;
use join::NameError;
use limiter::FailureLimiter;
pub use policy::{PolicyError, StudentPolicy};
use stage::Stage;

/// Why a classroom operation failed; each case has one API error code.
#[derive(Debug, thiserror::Error)]
pub enum ClassroomError {
    #[error("this server runs no class: start it with `isolab serve --classroom`")]
    NoClassroom,
    #[error("only the teacher may do this")]
    TeacherOnly,
    #[error("only a student may do this")]
    StudentOnly,
    #[error("wrong join code: ask the teacher for the code on the board")]
    BadJoinCode,
    #[error("the teacher has closed joining")]
    JoiningClosed,
    #[error("too many wrong join codes from this address: wait a minute")]
    RateLimited,
    #[error("{0}")]
    BadName(#[from] NameError),
    #[error("the name '{0}' is taken in this class: pick another")]
    NameTaken(String),
    #[error("no student '{0}' in this class")]
    NoSuchStudent(String),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("{0}")]
    Store(StoreError),
    #[error("a classroom worker failed: {0}")]
    Worker(String),
    #[error("the class has ended: the teacher can extend it")]
    ClassEnded,
}

impl From<StoreError> for ClassroomError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NameTaken(name) => ClassroomError::NameTaken(name),
            other => ClassroomError::Store(other),
        }
    }
}

impl ClassroomError {
    /// The API error code of this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            ClassroomError::NoClassroom => ErrorCode::NoClassroom,
            ClassroomError::TeacherOnly
            | ClassroomError::StudentOnly
            | ClassroomError::ClassEnded => ErrorCode::Forbidden,
            ClassroomError::BadJoinCode => ErrorCode::BadJoinCode,
            ClassroomError::JoiningClosed => ErrorCode::JoiningClosed,
            ClassroomError::RateLimited => ErrorCode::RateLimited,
            ClassroomError::BadName(_) => ErrorCode::BadName,
            ClassroomError::NameTaken(_) => ErrorCode::NameTaken,
            ClassroomError::NoSuchStudent(_) => ErrorCode::NotFound,
            ClassroomError::Policy(PolicyError::QuotaExceeded(..)) => ErrorCode::QuotaExceeded,
            ClassroomError::Policy(PolicyError::NamespaceRequired(_)) => {
                ErrorCode::NamespaceRequired
            }
            ClassroomError::Store(_) | ClassroomError::Worker(_) => ErrorCode::Internal,
        }
    }
}

/// The SHA-256 of a token: all the database keeps (tokens are 128 random bits, so a
/// fast hash is enough).
fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Settings keys.
const JOIN_CODE: &str = "join_code";
const JOINING: &str = "joining";
const POLICY: &str = "student_policy";
const ENDS_AT: &str = "ends_at_ms";

/// A running class.
pub struct Classroom {
    store: Arc<Store>,
    policy: StudentPolicy,
    limiter: FailureLimiter,
    /// Open sockets per student id (for the roster's "connected").
    sockets: Mutex<HashMap<String, usize>>,
    /// Ids of students removed, for their open sockets to close.
    revoked: broadcast::Sender<String>,
    /// The broadcast and the terminals taken over.
    stage: Arc<Stage>,
    /// The end time, as stored (read every second by the class's clock).
    ends_at_ms: Mutex<Option<u64>>,
    /// Bumped whenever the roster or a student's bar may show something new.
    changes: Arc<Changes>,
}

impl std::fmt::Debug for Classroom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classroom")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Counts one open socket of a student while it lives.
pub struct SocketGuard {
    classroom: Arc<Classroom>,
    student: String,
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        let mut sockets = self.classroom.lock_sockets();
        if let Some(n) = sockets.get_mut(&self.student) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                sockets.remove(&self.student);
                drop(sockets);
                // The roster's "connected" changes.
                self.classroom.changes.bump();
            }
        }
    }
}

impl Classroom {
    /// Opens the class kept in `state_root` (a new one if none). `policy` replaces
    /// the stored one when given; otherwise the stored one (or the default) holds.
    pub fn open(
        state_root: &Path,
        policy: Option<StudentPolicy>,
    ) -> Result<Arc<Classroom>, ClassroomError> {
        let store = Store::open(state_root)?;
        let stored = store
            .setting(POLICY)?
            .and_then(|json| serde_json::from_str::<StudentPolicy>(&json).ok());
        let policy = policy.or(stored).unwrap_or_default();
        let json =
            serde_json::to_string(&policy).map_err(|e| ClassroomError::Worker(e.to_string()))?;
        store.set_setting(POLICY, &json)?;
        if store.setting(JOIN_CODE)?.is_none() {
            store.set_setting(JOIN_CODE, &join::new_code())?;
        }
        let ends_at_ms = store.setting(ENDS_AT)?.and_then(|v| v.parse().ok());
        let (revoked, _) = broadcast::channel(64);
        let changes = Arc::new(Changes::default());
        Ok(Arc::new(Classroom {
            store: Arc::new(store),
            policy,
            limiter: FailureLimiter::new(join::MAX_WRONG_CODES, join::WRONG_CODE_WINDOW),
            sockets: Mutex::new(HashMap::new()),
            revoked,
            stage: Arc::new(Stage::new(changes.clone())),
            ends_at_ms: Mutex::new(ends_at_ms),
            changes,
        }))
    }

    /// Runs `f` on the store on a blocking thread.
    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ClassroomError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| ClassroomError::Worker(e.to_string()))?
            .map_err(ClassroomError::from)
    }

    /// What students may use.
    pub fn policy(&self) -> &StudentPolicy {
        &self.policy
    }

    /// The broadcast and the terminals the teacher took control of.
    pub fn stage(&self) -> &Arc<Stage> {
        &self.stage
    }

    /// The change counter pages wait on.
    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// When the class ends (ms since the Unix epoch), if it has an end time.
    pub fn ends_at(&self) -> Option<u64> {
        // A plain value: a poisoned lock still holds a whole one.
        *self.ends_at_ms.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the class has an end time that has passed.
    pub fn has_ended(&self) -> bool {
        self.ends_at().is_some_and(|end| end <= now_ms())
    }

    /// Sets (or, with `None`, removes) the end time; kept in the store.
    pub async fn set_ends_at(&self, at: Option<u64>) -> Result<(), ClassroomError> {
        let value = at.map_or_else(String::new, |ms| ms.to_string());
        self.db(move |s| s.set_setting(ENDS_AT, &value)).await?;
        *self.ends_at_ms.lock().unwrap_or_else(|p| p.into_inner()) = at;
        Ok(())
    }

    /// The current join code.
    pub async fn join_code(&self) -> Result<String, ClassroomError> {
        Ok(self.db(|s| s.setting(JOIN_CODE)).await?.unwrap_or_default())
    }

    /// Makes a new join code; the old one stops working.
    pub async fn rotate_code(&self) -> Result<String, ClassroomError> {
        let code = join::new_code();
        let c = code.clone();
        self.db(move |s| s.set_setting(JOIN_CODE, &c)).await?;
        Ok(code)
    }

    /// Whether new students may join.
    pub async fn joining(&self) -> Result<bool, ClassroomError> {
        Ok(self.db(|s| s.setting(JOINING)).await?.as_deref() != Some("false"))
    }

    /// Opens or closes joining.
    pub async fn set_joining(&self, open: bool) -> Result<(), ClassroomError> {
        self.db(move |s| s.set_setting(JOINING, if open { "true" } else { "false" }))
            .await
    }

    /// Adds a student named `name` who knows `code`; returns their new token.
    pub async fn join(
        &self,
        from: IpAddr,
        code: &str,
        name: &str,
    ) -> Result<(String, StudentRow), ClassroomError> {
        if self.limiter.is_limited(from, Instant::now()) {
            return Err(ClassroomError::RateLimited);
        }
        if !self.joining().await? {
            return Err(ClassroomError::JoiningClosed);
        }
        if !join::code_matches(&self.join_code().await?, code) {
            self.limiter.record_failure(from, Instant::now());
            return Err(ClassroomError::BadJoinCode);
        }
        let name = join::check_name(name)?;
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let id = format!("s{:010x}", rand::random::<u64>() & 0xff_ffff_ffff);
        let hash = token_hash(&token);
        let student = self
            .db(move |s| s.add_student(&id, &name, &hash, now_ms()))
            .await?;
        Ok((token, student))
    }

    /// The student holding `token`, if any.
    pub async fn student_by_token(
        &self,
        token: &str,
    ) -> Result<Option<StudentRow>, ClassroomError> {
        let hash = token_hash(token);
        let found = {
            let h = hash.clone();
            self.db(move |s| s.student_by_token_hash(&h)).await?
        };
        // Looked up by index; confirmed in constant time.
        Ok(found
            .filter(|(_, stored)| bool::from(stored.ct_eq(&hash)))
            .map(|(row, _)| row))
    }

    /// One student.
    pub async fn student(&self, id: &str) -> Result<StudentRow, ClassroomError> {
        let key = id.to_string();
        self.db(move |s| s.student(&key))
            .await?
            .ok_or_else(|| ClassroomError::NoSuchStudent(id.to_string()))
    }

    /// Every student, in the order they joined.
    pub async fn students(&self) -> Result<Vec<StudentRow>, ClassroomError> {
        self.db(|s| s.students()).await
    }

    /// Removes a student: their token stops working and their open sockets close.
    /// Their containers are the caller's to remove.
    pub async fn remove_student(&self, id: &str) -> Result<(), ClassroomError> {
        let key = id.to_string();
        if !self.db(move |s| s.remove_student(&key)).await? {
            return Err(ClassroomError::NoSuchStudent(id.to_string()));
        }
        // No sockets open is fine: nothing to close.
        let _ = self.revoked.send(id.to_string());
        Ok(())
    }

    /// A future that completes once student `id` is removed (listening starts now).
    pub fn revocation(
        self: &Arc<Self>,
        id: &str,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut revoked = self.revoked.subscribe();
        let classroom = self.clone();
        let id = id.to_string();
        async move {
            loop {
                match revoked.recv().await {
                    Ok(gone) if gone == id => return,
                    Ok(_) => {}
                    // Missed some: ask the store whether this student is still there.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if matches!(
                            classroom.student(&id).await,
                            Err(ClassroomError::NoSuchStudent(_))
                        ) {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
                }
            }
        }
    }

    /// Raises or lowers student `id`'s hand.
    pub async fn set_hand(&self, id: &str, raised: bool) -> Result<(), ClassroomError> {
        let key = id.to_string();
        let at = raised.then(now_ms);
        if !self.db(move |s| s.set_hand(&key, at)).await? {
            return Err(ClassroomError::NoSuchStudent(id.to_string()));
        }
        Ok(())
    }

    /// Counts one attempt of student `id` at a lesson step.
    pub async fn record_progress(
        &self,
        id: &str,
        lesson: String,
        step: String,
        passed: bool,
    ) -> Result<(), ClassroomError> {
        let key = id.to_string();
        self.db(move |s| s.record_progress(&key, &lesson, &step, passed, now_ms()))
            .await
    }

    /// The progress of every student as CSV.
    pub async fn progress_csv(&self) -> Result<String, ClassroomError> {
        let rows = self.db(|s| s.progress()).await?;
        Ok(export::progress_csv(&rows))
    }

    /// Records that `student` owns container `id`.
    pub async fn own_container(&self, id: &str, student: &str) -> Result<(), ClassroomError> {
        let (id, student) = (id.to_string(), student.to_string());
        self.db(move |s| s.own_container(&id, &student)).await
    }

    /// Forgets the owner of a removed container.
    pub async fn disown_container(&self, id: &str) -> Result<(), ClassroomError> {
        let id = id.to_string();
        self.db(move |s| s.disown_container(&id)).await
    }

    /// Every (container id, student id) recorded, for adoption after a restart.
    pub async fn container_owners(&self) -> Result<Vec<(String, String)>, ClassroomError> {
        self.db(|s| s.container_owners()).await
    }

    fn lock_sockets(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        // Each update is one counter change, so a poisoned lock is still consistent.
        self.sockets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts an open socket of student `id` until the guard is dropped.
    pub fn socket_opened(self: &Arc<Self>, id: &str) -> SocketGuard {
        let first = {
            let mut sockets = self.lock_sockets();
            let n = sockets.entry(id.to_string()).or_default();
            *n += 1;
            *n == 1
        };
        if first {
            self.changes.bump();
        }
        SocketGuard {
            classroom: self.clone(),
            student: id.to_string(),
        }
    }

    /// Whether student `id` has a socket open.
    pub fn is_connected(&self, id: &str) -> bool {
        self.lock_sockets().get(id).is_some_and(|n| *n > 0)
    }
}
