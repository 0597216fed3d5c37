//! `/api/v1/classroom…`: joining, the class's settings (joining, end time), the
//! teacher's roster and controls, the broadcast, raised hands and lesson progress.
//! The join route needs no token (it is how a student gets one); the teacher's
//! routes pass [`require_teacher`]. [`spawn_class_clock`] ends the class on time.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use isolab_shared::{
    BroadcastRequest, ClassChanges, ClassInfo, ClassRole, ClassSettings, ErrorCode, JoinAnswer,
    JoinRequest, ProgressReport, RosterEntry, StudentInfo,
};

use super::audit::AuditContainer;
use super::classroom_access::{require_teacher, Caller};
use super::containers::ApiJson;
use super::error::HttpError;
use super::AppState;
use crate::classroom::{Classroom, ClassroomError, Principal};
use crate::wall_clock::now_ms;

/// The routes that need a token (student's or teacher's), relative to `/api/v1`.
pub fn routes() -> Router<AppState> {
    let teacher_only = Router::new()
        .route("/classroom", axum::routing::patch(update_settings))
        .route("/classroom/code", post(rotate_code))
        .route("/classroom/students", get(roster))
        .route("/classroom/students/{student_id}", delete(remove_student))
        .route(
            "/classroom/students/{student_id}/hand",
            delete(lower_hand_of),
        )
        .route("/classroom/end", post(end_class))
        .route(
            "/classroom/broadcast",
            post(start_broadcast).delete(stop_broadcast),
        )
        .route("/classroom/progress.csv", get(progress_csv))
        .route_layer(axum::middleware::from_fn(require_teacher));
    Router::new()
        .route("/classroom", get(info))
        .route("/classroom/hand", post(raise_hand).delete(lower_hand))
        .route("/classroom/progress", post(report_progress))
        .route("/classroom/changes", get(changes))
        .merge(teacher_only)
}

/// Bumps the class's change counter after every request that changed something (a
/// successful call other than GET): a join, a hand, a container made or removed, a
/// setting. Pages waiting on `/classroom/changes` then fetch what they show again.
pub async fn note_class_changes(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let reads = matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    let response = next.run(request).await;
    if !reads && response.status().is_success() {
        if let Some(classroom) = state.classroom() {
            classroom.changes().bump();
        }
    }
    response
}

/// `GET /classroom/changes?since=N`: answers with the change counter as soon as it
/// differs from `N`, or after [`LONGEST_WAIT`](crate::classroom::changes::LONGEST_WAIT)
/// with `N` again. A page loops on it instead of polling.
async fn changes(
    State(state): State<AppState>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Json<ClassChanges>, HttpError> {
    let classroom = classroom(&state)?;
    let since = match query
        .as_deref()
        .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("since=")))
    {
        None => 0,
        Some(n) => n.parse::<u64>().map_err(|_| {
            HttpError::new(
                ErrorCode::BadRequest,
                format!("since must be a whole number, not '{n}'"),
            )
        })?,
    };
    let version = classroom
        .changes()
        .after(since, crate::classroom::changes::LONGEST_WAIT)
        .await;
    Ok(Json(ClassChanges { version }))
}

/// The route that needs no token: `POST /classroom/join`.
pub fn open_routes() -> Router<AppState> {
    Router::new().route("/classroom/join", post(join))
}

fn classroom(state: &AppState) -> Result<&Arc<Classroom>, HttpError> {
    state
        .classroom()
        .ok_or_else(|| ClassroomError::NoClassroom.into())
}

/// The caller's student id, or 403 for the teacher.
fn student_of(caller: &Principal) -> Result<&str, HttpError> {
    caller
        .student()
        .ok_or_else(|| ClassroomError::StudentOnly.into())
}

async fn join(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    ApiJson(body): ApiJson<JoinRequest>,
) -> Result<(StatusCode, Extension<Principal>, Json<JoinAnswer>), HttpError> {
    let classroom = classroom(&state)?;
    // Without a peer address (a router driven in a test) all share one count.
    let from = peer.map_or(
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        |Extension(ConnectInfo(a))| a.ip(),
    );
    let (token, student) = classroom.join(from, &body.code, &body.name).await?;
    tracing::info!(id = %student.id, name = %student.name, "a student joined");
    Ok((
        StatusCode::CREATED,
        // The audit log names the student who joined.
        Extension(Principal::Student {
            id: student.id.clone(),
        }),
        Json(JoinAnswer {
            token,
            student: StudentInfo {
                id: student.id,
                name: student.name,
            },
        }),
    ))
}

async fn class_info(classroom: &Classroom, caller: &Principal) -> Result<ClassInfo, HttpError> {
    let joining = classroom.joining().await?;
    let mut info = ClassInfo {
        role: ClassRole::Teacher,
        student: None,
        joining,
        join_code: None,
        ends_at_ms: classroom.ends_at(),
        now_ms: now_ms(),
        broadcast: classroom.stage().broadcast(),
        hand_raised_at_ms: None,
        taken_over: Vec::new(),
    };
    match caller.student() {
        Some(id) => {
            let me = classroom.student(id).await?;
            info.role = ClassRole::Student;
            info.hand_raised_at_ms = me.hand_raised_at_ms;
            info.taken_over = classroom.stage().taken_over(&me.id);
            info.student = Some(StudentInfo {
                id: me.id,
                name: me.name,
            });
        }
        None => info.join_code = Some(classroom.join_code().await?),
    }
    Ok(info)
}

/// `GET /classroom`: who the caller is in the class, and its settings.
async fn info(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<ClassInfo>, HttpError> {
    Ok(Json(class_info(classroom(&state)?, &caller).await?))
}

async fn update_settings(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(settings): ApiJson<ClassSettings>,
) -> Result<Json<ClassInfo>, HttpError> {
    let classroom = classroom(&state)?;
    if let Some(open) = settings.joining {
        classroom.set_joining(open).await?;
    }
    if let Some(at) = settings.ends_at_ms {
        classroom.set_ends_at((at > 0).then_some(at)).await?;
    }
    Ok(Json(class_info(classroom, &caller).await?))
}

async fn rotate_code(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<ClassInfo>, HttpError> {
    let classroom = classroom(&state)?;
    classroom.rotate_code().await?;
    Ok(Json(class_info(classroom, &caller).await?))
}

async fn roster(State(state): State<AppState>) -> Result<Json<Vec<RosterEntry>>, HttpError> {
    let classroom = classroom(&state)?;
    let students = classroom.students().await?;
    Ok(Json(
        students
            .into_iter()
            .map(|s| RosterEntry {
                connected: classroom.is_connected(&s.id),
                containers: state.live().owned_by(&s.id),
                id: s.id,
                name: s.name,
                hand_raised_at_ms: s.hand_raised_at_ms,
                steps_passed: s.steps_passed,
                steps_tried: s.steps_tried,
            })
            .collect(),
    ))
}

/// Removes every container of `student`; returns the ids removed.
async fn remove_containers_of(state: &AppState, student: &str) -> Vec<String> {
    let mut removed = Vec::new();
    for id in state.live().owned_by(student) {
        match state.live().remove(&id).await {
            Ok(()) => removed.push(id),
            Err(e) => tracing::warn!(%id, "cannot remove a student's container: {e}"),
        }
    }
    removed
}

async fn remove_student(
    State(state): State<AppState>,
    Path(student_id): Path<String>,
) -> Result<StatusCode, HttpError> {
    // The token goes first, so nothing new is made while the containers go.
    classroom(&state)?.remove_student(&student_id).await?;
    super::lesson_sessions::end_sessions_of(&state, &student_id).await;
    remove_containers_of(&state, &student_id).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn end_class(State(state): State<AppState>) -> Result<StatusCode, HttpError> {
    let classroom = classroom(&state)?;
    for student in classroom.students().await? {
        super::lesson_sessions::end_sessions_of(&state, &student.id).await;
        for id in remove_containers_of(&state, &student.id).await {
            classroom.disown_container(&id).await?;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn raise_hand(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<StatusCode, HttpError> {
    let classroom = classroom(&state)?;
    classroom.set_hand(student_of(&caller)?, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn lower_hand(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<StatusCode, HttpError> {
    let classroom = classroom(&state)?;
    classroom.set_hand(student_of(&caller)?, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn lower_hand_of(
    State(state): State<AppState>,
    Path(student_id): Path<String>,
) -> Result<StatusCode, HttpError> {
    classroom(&state)?.set_hand(&student_id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn report_progress(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(report): ApiJson<ProgressReport>,
) -> Result<StatusCode, HttpError> {
    let classroom = classroom(&state)?;
    let student = student_of(&caller)?;
    if report.lesson.trim().is_empty() || report.step.trim().is_empty() {
        return Err(HttpError::new(
            isolab_shared::ErrorCode::BadRequest,
            "lesson and step must not be empty",
        ));
    }
    classroom
        .record_progress(student, report.lesson, report.step, report.passed)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn progress_csv(State(state): State<AppState>) -> Result<impl IntoResponse, HttpError> {
    let csv = classroom(&state)?.progress_csv().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"progress.csv\"",
            ),
        ],
        csv,
    ))
}

/// `POST /classroom/broadcast`: shows one of the teacher's own containers, read-only,
/// to every student (a student's container is theirs alone, so it cannot be).
async fn start_broadcast(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<BroadcastRequest>,
) -> Result<(Extension<AuditContainer>, Json<ClassInfo>), HttpError> {
    let classroom = classroom(&state)?;
    let (id, owner) = state.live().owner(&body.container)?;
    if owner.is_some() {
        return Err(HttpError::new(
            ErrorCode::BadRequest,
            "only the teacher's own containers can be broadcast",
        ));
    }
    classroom.stage().set_broadcast(Some(id.clone()));
    Ok((
        Extension(AuditContainer(id)),
        Json(class_info(classroom, &caller).await?),
    ))
}

/// `DELETE /classroom/broadcast`: students' views of it close.
async fn stop_broadcast(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<ClassInfo>, HttpError> {
    let classroom = classroom(&state)?;
    classroom.stage().set_broadcast(None);
    Ok(Json(class_info(classroom, &caller).await?))
}

/// How often the class's clock looks at the end time.
const CLOCK_TICK: std::time::Duration = std::time::Duration::from_millis(500);

/// Starts the class's clock: once the end time passes, every student's container is
/// stopped (not removed: the teacher may still look at them); a broadcast whose
/// container is gone stops. An end time moved later starts the count again.
pub fn spawn_class_clock(state: AppState) {
    let Some(classroom) = state.classroom().cloned() else {
        return;
    };
    tokio::spawn(async move {
        let mut stopped_for: Option<u64> = None;
        let mut tick = tokio::time::interval(CLOCK_TICK);
        loop {
            tick.tick().await;
            if let Some(id) = classroom.stage().broadcast() {
                if state.live().owner(&id).is_err() {
                    classroom.stage().set_broadcast(None);
                }
            }
            let Some(end) = classroom.ends_at() else {
                continue;
            };
            if end > now_ms() || stopped_for == Some(end) {
                continue;
            }
            stopped_for = Some(end);
            let students = match classroom.students().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("the class ended, but its roster cannot be read: {e}");
                    continue;
                }
            };
            tracing::info!("the class has ended: stopping the students' containers");
            for student in students {
                for id in state.live().owned_by(&student.id) {
                    // One already stopped answers "not running": nothing to do.
                    let _ = state.live().stop(&id);
                }
            }
        }
    });
}
