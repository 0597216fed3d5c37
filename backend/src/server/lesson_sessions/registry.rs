//! The running lesson sessions: who owns each, what it holds, how it ends
//! ([`finish`]), and [`spawn_idle_reaper`], which ends the sessions nobody uses any
//! more, since a closed tab never says goodbye.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use isolab_shared::lesson::{runner, Lesson, LessonContainers};
use isolab_shared::ErrorCode;

use crate::classroom::Principal;
use crate::live::LiveSource;
use crate::server::error::HttpError;
use crate::server::AppState;

/// How long a session may go unused (no request, no terminal open onto it) before
/// the server ends it. An open lesson page asks about its step every second while
/// the step is open, and keeps its terminals open; a hidden tab's timers slow to
/// once a minute, well within this.
pub const IDLE_DEFAULT: Duration = Duration::from_secs(300);

/// Every running lesson session, by id.
#[derive(Default)]
pub struct LessonSessions {
    sessions: Mutex<HashMap<String, Arc<LessonSession>>>,
}

/// One lesson on live containers for one caller.
pub struct LessonSession {
    pub(super) id: String,
    /// The student whose session it is; `None` for the admin's or the teacher's.
    pub(super) owner: Option<String>,
    pub(super) lesson: Lesson,
    /// Held while a request works on the session, so checks never overlap.
    pub(super) run: tokio::sync::Mutex<SessionRun>,
    /// When a request, or a terminal open onto it, last showed the session in use.
    pub(super) last_used: Mutex<Instant>,
}

impl LessonSession {
    fn touch(&self) {
        *lock(&self.last_used) = Instant::now();
    }

    fn unused_for(&self) -> Duration {
        lock(&self.last_used).elapsed()
    }
}

/// What a session's requests change.
pub(super) struct SessionRun {
    pub(super) source: LiveSource,
    pub(super) containers: LessonContainers,
    /// The event sequence number at which each step (1-based) began, for event checks.
    pub(super) began: BTreeMap<usize, u64>,
    /// Set once the session ended: requests still queued on it then find nothing.
    pub(super) ended: bool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(super) fn not_found(sid: &str) -> HttpError {
    HttpError::new(
        ErrorCode::NotFound,
        format!("no lesson session '{sid}': it ended, or it is not yours"),
    )
}

impl LessonSessions {
    pub(super) fn insert(&self, session: Arc<LessonSession>) {
        lock(&self.sessions).insert(session.id.clone(), session);
    }

    /// The session `sid` if `caller` may use it; any other is answered as missing.
    pub(super) fn get(
        &self,
        caller: &Principal,
        sid: &str,
    ) -> Result<Arc<LessonSession>, HttpError> {
        let session = lock(&self.sessions)
            .get(sid)
            .filter(|s| caller.may_touch(s.owner.as_deref()))
            .cloned()
            .ok_or_else(|| not_found(sid))?;
        session.touch();
        Ok(session)
    }

    /// Takes `session` if it is still the one running under its id.
    pub(super) fn take_this(&self, session: &Arc<LessonSession>) -> bool {
        let mut all = lock(&self.sessions);
        if all
            .get(&session.id)
            .is_some_and(|s| Arc::ptr_eq(s, session))
        {
            all.remove(&session.id);
            return true;
        }
        false
    }

    pub(super) fn take(&self, sid: &str) -> Option<Arc<LessonSession>> {
        lock(&self.sessions).remove(sid)
    }

    /// Takes every session of student `student`.
    pub(super) fn take_of(&self, student: &str) -> Vec<Arc<LessonSession>> {
        let mut all = lock(&self.sessions);
        let ids: Vec<String> = all
            .values()
            .filter(|s| s.owner.as_deref() == Some(student))
            .map(|s| s.id.clone())
            .collect();
        ids.iter().filter_map(|id| all.remove(id)).collect()
    }

    /// How many sessions run now.
    pub fn len(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// Whether no session runs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Ends every lesson session of `student` (removed from the class): their host
/// processes and containers go, and the containers are disowned.
pub async fn end_sessions_of(state: &AppState, student: &str) {
    for session in state.lesson_sessions().take_of(student) {
        finish(state, &session).await;
    }
}

/// Whether someone still uses `session`: a request works on it now, or a terminal
/// is open onto one of its containers or its host shell.
fn in_use(state: &AppState, session: &LessonSession) -> bool {
    let Ok(run) = session.run.try_lock() else {
        return true;
    };
    run.source.host_terminal_attached()
        || run.containers.values().any(|id| {
            state
                .live()
                .terminal(id)
                .is_ok_and(|terminal| terminal.attached() > 0)
        })
}

/// Ends, every so often, the sessions unused for `idle` (see the module's comment).
pub fn spawn_idle_reaper(state: AppState, idle: Duration) {
    let every = (idle / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let sessions: Vec<Arc<LessonSession>> = lock(&state.lesson_sessions().sessions)
                .values()
                .cloned()
                .collect();
            for session in sessions {
                let unused = session.unused_for();
                if unused < idle {
                    continue;
                }
                if in_use(&state, &session) {
                    // The idle time counts from when the last terminal closes.
                    session.touch();
                    continue;
                }
                if state.lesson_sessions().take_this(&session) {
                    tracing::info!(
                        session = %session.id,
                        lesson = %session.lesson.id,
                        student = session.owner.as_deref().unwrap_or("-"),
                        "ending a lesson session unused for {}s",
                        unused.as_secs()
                    );
                    finish(&state, &session).await;
                }
            }
        }
    });
}

/// disowning a student's; failures are logged (what is gone may be gone already).
pub(super) async fn tear_down(state: &AppState, session: &LessonSession, run: &mut SessionRun) {
    let ids: Vec<String> = run.containers.values().cloned().collect();
    if let Err(e) = runner::end(&mut run.source, &session.lesson, &run.containers).await {
        tracing::debug!(session = %session.id, "ending a lesson session: {e}");
    }
    if let (Some(_), Some(classroom)) = (&session.owner, state.classroom()) {
        for id in &ids {
            let _ = classroom.disown_container(id).await;
        }
    }
    run.containers.clear();
}

pub(super) async fn finish(state: &AppState, session: &LessonSession) {
    let mut run = session.run.lock().await;
    if !run.ended {
        run.ended = true;
        tear_down(state, session, &mut run).await;
    }
}

/// The session's run, unless it ended while this request waited for it.
pub(super) async fn running<'a>(
    session: &'a LessonSession,
) -> Result<tokio::sync::MutexGuard<'a, SessionRun>, HttpError> {
    let run = session.run.lock().await;
    if run.ended {
        return Err(not_found(&session.id));
    }
    Ok(run)
}
