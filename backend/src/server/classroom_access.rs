//! Where the server enforces [`crate::classroom::access`]: the caller of a request,
//! the guard every `/containers/{id}…` route and socket passes (with its one
//! exception: a student's view-mode terminal of the container the teacher
//! broadcasts), the teacher-only guard, what a student's new container or exec may
//! be, and when a socket must close (a revoked student, a broadcast stopped).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use axum::extract::ws::{CloseFrame, Message};
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use isolab_shared::{ContainerSpec, ErrorCode, NamespaceSet};

use super::error::HttpError;
use super::terminal_ws::{AttachMode, TerminalQuery};
use super::AppState;
use crate::classroom::policy::LimitsGiven;
use crate::classroom::{ClassroomError, Principal};
use crate::live::{CreateOptions, LiveError};
use crate::runtime::RuntimeError;

impl From<ClassroomError> for HttpError {
    fn from(e: ClassroomError) -> Self {
        HttpError::new(e.code(), e.to_string())
    }
}

/// The caller of a request, as the auth middleware found it.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| {
                HttpError::new(ErrorCode::Unauthorized, "a token is needed for this route")
            })
    }
}

/// Middleware on every `/containers/{id}…` route: a container the caller may not
/// touch is answered exactly as one that does not exist. A removed container is
/// known by its recordings' owner, so its recordings stay reachable to that owner.
pub async fn guard_container(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(params): Path<HashMap<String, String>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(id) = params.get("id") else {
        return next.run(req).await;
    };
    match state.live().owner(id) {
        Ok((_, owner)) if caller.may_touch(owner.as_deref()) => next.run(req).await,
        Ok((real_id, _)) if views_broadcast(&state, &caller, &real_id, &params, &req) => {
            next.run(req).await
        }
        Ok(_) => {
            HttpError::from(LiveError::from(RuntimeError::NotFound(id.clone()))).into_response()
        }
        // A container gone is still its recordings' owner's (and the teacher's).
        Err(e) => match recorded_owner(&state, id).await {
            Some(owner) if caller.may_touch(owner.as_deref()) => next.run(req).await,
            _ => HttpError::from(e).into_response(),
        },
    }
}

/// Whether `req` is a student's view-mode terminal socket of the container the
/// teacher broadcasts (`real_id`): the one thing of the teacher's a student may see.
fn views_broadcast(
    state: &AppState,
    caller: &Principal,
    real_id: &str,
    params: &HashMap<String, String>,
    req: &Request,
) -> bool {
    let Some(classroom) = state.classroom() else {
        return false;
    };
    let view_mode =
        Query::<TerminalQuery>::try_from_uri(req.uri()).is_ok_and(|q| q.0.mode == AttachMode::View);
    caller.student().is_some()
        && view_mode
        && !params.contains_key("exec_id")
        && req.uri().path().ends_with("/terminal")
        && classroom.stage().broadcast().as_deref() == Some(real_id)
}

/// The owner of the newest recording of container `id` (id or name), for a container
/// that is gone: `None` when it has none.
async fn recorded_owner(state: &AppState, id: &str) -> Option<Option<String>> {
    let recordings = state.live().recordings()?;
    let all = recordings.of_container(id).await.ok()?;
    all.into_iter().next().map(|r| r.owner)
}

/// Middleware on the teacher's routes: a student's token gets `403 forbidden`.
pub async fn require_teacher(Caller(caller): Caller, req: Request, next: Next) -> Response {
    if caller.is_staff() {
        next.run(req).await
    } else {
        HttpError::from(ClassroomError::TeacherOnly).into_response()
    }
}

/// What a container made by `caller` from `spec` (as sent, in `body`) becomes: for a
/// student, limits within the quota and the namespaces the class requires.
pub async fn admit_spec(
    state: &AppState,
    caller: &Principal,
    mut spec: ContainerSpec,
    body: &serde_json::Value,
) -> Result<(ContainerSpec, CreateOptions), HttpError> {
    let Some(student) = caller.student() else {
        return Ok((spec, CreateOptions::default()));
    };
    let classroom = state.classroom().ok_or(ClassroomError::NoClassroom)?;
    if classroom.has_ended() {
        return Err(ClassroomError::ClassEnded.into());
    }
    let policy = classroom.policy();
    let given = LimitsGiven::of_json(body.get("limits"));
    spec.limits = policy
        .admit_limits(&spec.limits, given)
        .map_err(ClassroomError::from)?;
    spec.namespaces = policy
        .admit_namespaces(&spec.namespaces)
        .map_err(ClassroomError::from)?;
    // Root inside is an unprivileged host uid of the container's own range, so no
    // student's container shares ids with another's (or the teacher's).
    spec.userns = isolab_shared::UsernsMode::Auto;
    // The student must still be on the roster.
    classroom.student(student).await?;
    let options = CreateOptions {
        owner: Some(student.to_string()),
        max_containers: Some(policy.quota.containers),
    };
    Ok((spec, options))
}

/// The limits a caller may set on a container (as sent, in `body`).
pub fn admit_limits(
    state: &AppState,
    caller: &Principal,
    limits: isolab_shared::limits::Limits,
    body: &serde_json::Value,
) -> Result<isolab_shared::limits::Limits, HttpError> {
    if caller.is_staff() {
        return Ok(limits);
    }
    let classroom = state.classroom().ok_or(ClassroomError::NoClassroom)?;
    Ok(classroom
        .policy()
        .admit_limits(&limits, LimitsGiven::of_json(Some(body)))
        .map_err(ClassroomError::from)?)
}

/// Checks that a student's exec enters every namespace of its container.
pub fn admit_exec(
    state: &AppState,
    caller: &Principal,
    asked: Option<&NamespaceSet>,
    container: &NamespaceSet,
) -> Result<(), HttpError> {
    if caller.is_staff() {
        return Ok(());
    }
    let classroom = state.classroom().ok_or(ClassroomError::NoClassroom)?;
    Ok(classroom
        .policy()
        .admit_exec(asked, container)
        .map_err(ClassroomError::from)?)
}

/// Completes when a socket `caller` opens now must close: a student's when their
/// token is revoked, anyone else's never. While it is held the student counts as
/// connected, so keep it for the socket's whole life.
pub type SocketLease = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The lease of a socket `caller` opens now.
pub fn socket_lease(state: &AppState, caller: &Principal) -> SocketLease {
    match (caller.student(), state.classroom()) {
        (Some(id), Some(classroom)) => {
            let connected = classroom.socket_opened(id);
            let revoked = classroom.revocation(id);
            Box::pin(async move {
                let _connected = connected;
                revoked.await
            })
        }
        _ => Box::pin(std::future::pending()),
    }
}

/// Completes with the close frame a terminal socket must get now.
pub type TerminalLease = Pin<Box<dyn Future<Output = Message> + Send>>;

/// The lease of a terminal socket `caller` opens now on container `id` in `mode`:
/// a student's view of the broadcast also ends when the broadcast stops; the
/// teacher's control of a student's terminal is shown to the student while it lasts.
pub fn terminal_lease(
    state: &AppState,
    caller: &Principal,
    id: &str,
    mode: AttachMode,
) -> TerminalLease {
    let revoked = socket_lease(state, caller);
    let owner = state.live().owner(id);
    let (Some(classroom), Ok((real_id, owner))) = (state.classroom(), owner) else {
        return Box::pin(async move {
            revoked.await;
            revoked_close()
        });
    };
    match (caller.student(), owner) {
        // The guard let a student onto a container not theirs: the broadcast.
        (Some(me), owner) if owner.as_deref() != Some(me) => {
            let stopped = classroom.stage().broadcast_ended(&real_id);
            Box::pin(async move {
                tokio::select! {
                    () = revoked => revoked_close(),
                    () = stopped => broadcast_stopped_close(),
                }
            })
        }
        (None, Some(student)) if mode == AttachMode::Control => {
            let control = classroom.stage().take_control(&student, &real_id);
            Box::pin(async move {
                let _control = control;
                revoked.await;
                revoked_close()
            })
        }
        _ => Box::pin(async move {
            revoked.await;
            revoked_close()
        }),
    }
}

/// The close frame a student's view of the broadcast gets when it stops.
pub fn broadcast_stopped_close() -> Message {
    Message::Close(Some(CloseFrame {
        // 4002: an application code, next to 4001 (revoked).
        code: 4002,
        reason: "the teacher stopped the broadcast".into(),
    }))
}

/// The close frame a socket gets when its student is removed from the class.
pub fn revoked_close() -> Message {
    Message::Close(Some(CloseFrame {
        // 4001: an application code; the reason says the rest.
        code: 4001,
        reason: "your token was revoked: the teacher removed you from the class".into(),
    }))
}
