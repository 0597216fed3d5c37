//! `/lessons/{id}/sessions` and `/lessons/sessions/{sid}…`: a lesson run by the page on
//! live containers. A session holds the lesson's setup containers (owned by its caller,
//! made within a student's quota as `POST /containers` would make them), and a
//! [`LiveSource`]; its checks and prediction probes go through the same shared runner
//! and judge as `isolab lessons check --source live`, each in an exec session of its
//! own, never in a terminal the student sees.
//!
//! A session is its caller's: another student's request for it is answered `404`, as
//! for one that does not exist (the teacher and the admin reach every session). A
//! lesson that types into a root shell on the host runs here for the admin and the
//! teacher only. Ending a session (DELETE, a student's newer session, the student's
//! removal from the class) runs the lesson's `cleanup` and removes its containers.
//! So does closing the tab, in effect: a session that had no request for the
//! server's idle time (`--lesson-idle`, [`IDLE_DEFAULT`]) and has no terminal open
//! onto it is ended by [`spawn_idle_reaper`].
//!
//! - [`registry`]: the running sessions, their ends, and the idle reaper.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use isolab_shared::lesson::judge::true_answer;
use isolab_shared::lesson::model::HOST_TERMINAL;
use isolab_shared::lesson::{runner, LessonContainers, LessonSource, Probe, SourceKind};
use isolab_shared::limits::{Limits, DEFAULT_PIDS_MAX};
use isolab_shared::{
    ContainerSpec, ErrorCode, LessonProbeAnswer, LessonSessionInfo, LessonSessionStart,
    LessonStepChecked, LessonTyped, LessonVerdict,
};

use super::classroom_access::{self, Caller};
use super::containers::{upgrade_terminal, ApiJson};
use super::error::HttpError;
use super::terminal_ws::TerminalQuery;
use super::{lessons, AppState};
use crate::classroom::Principal;
use crate::live::LiveSource;
use isolab_shared::lesson::Lesson;

/// The routes of lesson sessions, relative to `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/lessons/{id}/sessions", post(start))
        .route("/lessons/sessions/{sid}", delete(end))
        .route("/lessons/sessions/{sid}/reset", post(reset))
        .route("/lessons/sessions/{sid}/type", post(type_line))
        // Reads: they change nothing the student sees (so the audit log skips them).
        .route("/lessons/sessions/{sid}/steps/{n}/check", get(check))
        .route("/lessons/sessions/{sid}/steps/{n}/probe", get(probe))
        .route("/lessons/sessions/{sid}/steps/{n}/limits", post(set_limits))
        .route("/lessons/sessions/{sid}/host/terminal", get(host_terminal))
}

mod registry;

pub use registry::{end_sessions_of, spawn_idle_reaper, LessonSessions, IDLE_DEFAULT};
use registry::{finish, not_found, running, tear_down, LessonSession, SessionRun};

/// Whether a lesson types into the `host` terminal (a root shell on the host).
pub fn types_on_host(lesson: &Lesson) -> bool {
    lesson
        .steps
        .iter()
        .flat_map(|s| s.try_commands.iter().chain(&s.solution))
        .any(|c| c.terminal == HOST_TERMINAL)
}

/// What a start or reset answers. A lesson that types on the host gets its host shell
/// now, so the page's picture can follow what descends from it.
fn info(session: &LessonSession, run: &mut SessionRun) -> LessonSessionInfo {
    let host = types_on_host(&session.lesson);
    let host_pid = host.then(|| run.source.host_shell_pid().ok()).flatten();
    LessonSessionInfo {
        id: session.id.clone(),
        lesson: session.lesson.id.clone(),
        containers: run.containers.clone(),
        host,
        host_pid,
    }
}

/// A start or reset body; none at all means from the first step.
fn start_body(body: &[u8]) -> Result<LessonSessionStart, HttpError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(LessonSessionStart::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| HttpError::new(ErrorCode::BadRequest, format!("bad body: {e}")))
}

/// The lesson `id` if `caller` may run it on live here.
fn runnable(state: &AppState, caller: &Principal, id: &str) -> Result<Lesson, HttpError> {
    let lesson = lessons::catalog()
        .lessons
        .iter()
        .find(|l| l.id == id)
        .cloned()
        .ok_or_else(|| HttpError::new(ErrorCode::NotFound, format!("no lesson '{id}'")))?;
    if !lesson.runs_on(SourceKind::Live) {
        return Err(HttpError::new(
            ErrorCode::BadRequest,
            format!("the lesson '{id}' runs on the simulator only"),
        ));
    }
    state.live().require_live()?;
    if !caller.is_staff() && types_on_host(&lesson) {
        return Err(HttpError::new(
            ErrorCode::Forbidden,
            "this lesson types into a root shell on the host, so in a class only the \
             teacher runs it on live containers: run it on the simulator",
        ));
    }
    Ok(lesson)
}

/// The JSON object of the limits a lesson file names: those it sets. For a student,
/// what is not named gets the class quota rather than "unlimited", which the quota
/// refuses; the default pids limit of a setup spec counts as not named.
fn limits_as_sent(limits: &Limits, default_pids_named: bool) -> serde_json::Value {
    let mut named = serde_json::Map::new();
    if let Some(p) = limits
        .pids
        .filter(|&p| default_pids_named || p != DEFAULT_PIDS_MAX)
    {
        named.insert("pids".into(), p.into());
    }
    if let Some(m) = limits.memory_bytes {
        named.insert("memory_bytes".into(), m.into());
    }
    if let Some(c) = limits.cpus {
        named.insert("cpus".into(), c.into());
    }
    serde_json::Value::Object(named)
}

/// The JSON a setup spec would have been sent as, for the quota's sake.
fn spec_as_sent(spec: &ContainerSpec) -> serde_json::Value {
    serde_json::json!({ "limits": limits_as_sent(&spec.limits, false) })
}

/// Makes the lesson's setup containers for `caller` (admitted as `POST /containers`
/// admits a spec), then types the first `replay` steps' solutions.
async fn set_up(
    state: &AppState,
    caller: &Principal,
    lesson: &Lesson,
    run: &mut SessionRun,
    replay: usize,
) -> Result<(), HttpError> {
    for spec in &lesson.setup {
        let name = spec.name.clone().unwrap_or_default();
        let (admitted, options) =
            classroom_access::admit_spec(state, caller, spec.clone(), &spec_as_sent(spec)).await?;
        let created = run.source.create_with(&admitted, &options).await?;
        if let (Some(student), Some(classroom)) = (caller.student(), state.classroom()) {
            classroom.own_container(&created.id, student).await?;
        }
        run.containers.insert(name, created.id);
    }
    for (i, step) in lesson.steps.iter().take(replay).enumerate() {
        for cmd in &step.solution {
            let line = runner::expand(&mut run.source, &cmd.run, &run.containers)
                .await
                .and_then(|line| Ok((runner::target_of(&cmd.terminal, &run.containers)?, line)));
            let typed = match line {
                Ok((target, line)) => run.source.type_line(&target, &line).await.map(drop),
                Err(e) => Err(e),
            };
            typed.map_err(|e| {
                HttpError::new(
                    ErrorCode::Conflict,
                    format!("replaying step {}: `{}`: {e}", i + 1, cmd.run),
                )
            })?;
        }
        if step.set_limits.is_some() {
            apply_limits(state, caller, run, step).await?;
        }
    }
    run.began.clear();
    run.began
        .insert(replay.min(lesson.steps.len()) + 1, state.hub().last_seq());
    Ok(())
}

/// Applies `step`'s `set_limits` to its setup container, within a student's quota.
async fn apply_limits(
    state: &AppState,
    caller: &Principal,
    run: &mut SessionRun,
    step: &isolab_shared::lesson::LessonStep,
) -> Result<(), HttpError> {
    let Some(change) = &step.set_limits else {
        return Err(HttpError::new(
            ErrorCode::BadRequest,
            "this step changes no limits",
        ));
    };
    let id = run
        .containers
        .get(&change.container)
        .cloned()
        .ok_or_else(|| {
            HttpError::new(
                ErrorCode::BadRequest,
                format!("no setup container '{}'", change.container),
            )
        })?;
    let body = limits_as_sent(&change.limits, true);
    let limits = classroom_access::admit_limits(state, caller, change.limits.clone(), &body)?;
    run.source
        .set_limits(&id, &limits)
        .await
        .map_err(|e| HttpError::new(ErrorCode::Conflict, e.0))?;
    Ok(())
}

/// Runs the lesson's cleanup, ends its host shell and removes its containers,
fn step_of(
    session: &LessonSession,
    n: usize,
) -> Result<&isolab_shared::lesson::LessonStep, HttpError> {
    n.checked_sub(1)
        .and_then(|i| session.lesson.steps.get(i))
        .ok_or_else(|| {
            HttpError::new(
                ErrorCode::NotFound,
                format!("the lesson '{}' has no step {n}", session.lesson.id),
            )
        })
}

async fn start(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<LessonSessionInfo>), HttpError> {
    let lesson = runnable(&state, &caller, &id)?;
    let replay = start_body(&body)?.replay;
    // A student runs one lesson at a time: a newer start (a reload, another lesson)
    // ends the older sessions, which would otherwise hold containers of the quota.
    if let Some(student) = caller.student() {
        end_sessions_of(&state, student).await;
    }
    let session = Arc::new(LessonSession {
        id: format!("l{:016x}", rand::random::<u64>()),
        owner: caller.owner_of_new(),
        lesson: lesson.clone(),
        run: tokio::sync::Mutex::new(SessionRun {
            source: LiveSource::new(state.live().clone()),
            containers: LessonContainers::new(),
            began: BTreeMap::new(),
            ended: false,
        }),
        last_used: Mutex::new(Instant::now()),
    });
    let mut run = session.run.lock().await;
    if let Err(e) = set_up(&state, &caller, &lesson, &mut run, replay).await {
        run.ended = true;
        tear_down(&state, &session, &mut run).await;
        return Err(e);
    }
    let answer = info(&session, &mut run);
    drop(run);
    state.lesson_sessions().insert(session);
    Ok((StatusCode::CREATED, Json(answer)))
}

async fn reset(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(sid): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<LessonSessionInfo>, HttpError> {
    let session = state.lesson_sessions().get(&caller, &sid)?;
    let replay = start_body(&body)?.replay;
    let mut run = running(&session).await?;
    tear_down(&state, &session, &mut run).await;
    if let Err(e) = set_up(&state, &caller, &session.lesson, &mut run, replay).await {
        run.ended = true;
        tear_down(&state, &session, &mut run).await;
        drop(run);
        state.lesson_sessions().take(&sid);
        return Err(e);
    }
    Ok(Json(info(&session, &mut run)))
}

async fn end(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(sid): Path<String>,
) -> Result<StatusCode, HttpError> {
    let session = state.lesson_sessions().get(&caller, &sid)?;
    state.lesson_sessions().take(&sid);
    finish(&state, &session).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn type_line(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(sid): Path<String>,
    ApiJson(typed): ApiJson<LessonTyped>,
) -> Result<StatusCode, HttpError> {
    let session = state.lesson_sessions().get(&caller, &sid)?;
    let known = session
        .lesson
        .steps
        .iter()
        .flat_map(|s| s.try_commands.iter().chain(&s.solution))
        .any(|c| c.terminal == typed.terminal && c.run == typed.run);
    if !known {
        return Err(HttpError::new(
            ErrorCode::BadRequest,
            "only the lesson's own commands are typed this way",
        ));
    }
    if typed.terminal == HOST_TERMINAL && !caller.is_staff() {
        return Err(HttpError::new(
            ErrorCode::Forbidden,
            "the host's shell is the teacher's",
        ));
    }
    let mut run = running(&session).await?;
    let run = &mut *run;
    let failed = |e: isolab_shared::lesson::SourceError| HttpError::new(ErrorCode::Conflict, e.0);
    let target = runner::target_of(&typed.terminal, &run.containers).map_err(failed)?;
    let line = runner::expand(&mut run.source, &typed.run, &run.containers)
        .await
        .map_err(failed)?;
    run.source.type_now(&target, &line).await.map_err(failed)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn check(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((sid, n)): Path<(String, usize)>,
) -> Result<Json<LessonStepChecked>, HttpError> {
    let session = state.lesson_sessions().get(&caller, &sid)?;
    let step = step_of(&session, n)?;
    let mut run = running(&session).await?;
    let run = &mut *run;
    let last_seq = state.hub().last_seq();
    let since = *run.began.entry(n).or_insert(last_seq);
    let verdicts = runner::evaluate_step(&mut run.source, step, &run.containers, since).await;
    let passed = runner::overall(&verdicts).passed;
    if passed {
        // The next step begins now, unless it was opened already.
        run.began.entry(n + 1).or_insert(last_seq);
    }
    Ok(Json(LessonStepChecked {
        passed,
        checks: verdicts
            .into_iter()
            .map(|v| LessonVerdict {
                passed: v.passed,
                reason: v.reason,
            })
            .collect(),
    }))
}

async fn probe(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((sid, n)): Path<(String, usize)>,
) -> Result<Json<LessonProbeAnswer>, HttpError> {
    let session = state.lesson_sessions().get(&caller, &sid)?;
    let step = step_of(&session, n)?;
    let Some(predict) = &step.predict else {
        return Err(HttpError::new(
            ErrorCode::BadRequest,
            format!("step {n} asks no prediction"),
        ));
    };
    let mut run = running(&session).await?;
    let run = &mut *run;
    let since = run.began.get(&n).copied().unwrap_or(0);
    let probe = Probe::Run(predict.probe.clone());
    let answer = runner::answer(&mut run.source, &probe, &run.containers, since).await;
    let answer = true_answer(predict.answer, &answer)
        .map_err(|e| HttpError::new(ErrorCode::Conflict, format!("the kernel's probe: {e}")))?;
    Ok(Json(LessonProbeAnswer { answer }))
}

async fn set_limits(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((sid, n)): Path<(String, usize)>,
) -> Result<StatusCode, HttpError> {
    let session = state.lesson_sessions().get(&caller, &sid)?;
    let step = step_of(&session, n)?;
    let mut run = running(&session).await?;
    apply_limits(&state, &caller, &mut run, step).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn host_terminal(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(sid): Path<String>,
    Query(query): Query<TerminalQuery>,
    headers: HeaderMap,
    ws: super::websocket::Upgrade,
) -> Result<Response, HttpError> {
    let session = state.lesson_sessions().get(&caller, &sid)?;
    if !caller.is_staff() || !types_on_host(&session.lesson) {
        return Err(not_found(&sid));
    }
    let terminal = {
        let mut run = running(&session).await?;
        run.source
            .host_terminal()
            .map_err(|e| HttpError::new(ErrorCode::Conflict, e.0))?
    };
    upgrade_terminal(state, &caller, &headers, ws, terminal, query, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_limits_a_lesson_names_count_as_asked() {
        let mut spec = ContainerSpec::default();
        assert_eq!(spec_as_sent(&spec), serde_json::json!({ "limits": {} }));
        spec.limits.pids = Some(8);
        spec.limits.memory_bytes = Some(1 << 26);
        assert_eq!(
            spec_as_sent(&spec),
            serde_json::json!({ "limits": { "pids": 8, "memory_bytes": 67108864 } })
        );
    }

    #[test]
    fn lessons_that_type_on_the_host_are_known() {
        let all = &lessons::catalog().lessons;
        let by_id = |id: &str| all.iter().find(|l| l.id == id).expect("built-in lesson");
        assert!(types_on_host(by_id("pid")));
        assert!(!types_on_host(by_id("limits")));
    }
}
