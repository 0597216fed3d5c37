//! Where the server enforces [`crate::classroom::access`]: the caller of a request,
//! the guard every `/containers/{id}…` route and socket passes, the teacher-only
//! guard, what a student's new container or exec may be, and the end of a revoked
//! student's sockets.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use axum::extract::ws::{CloseFrame, Message};
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use isolab_shared::{ContainerSpec, ErrorCode, NamespaceSet};

use super::error::HttpError;
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
    let policy = classroom.policy();
    let given = LimitsGiven::of_json(body.get("limits"));
    spec.limits = policy
        .admit_limits(&spec.limits, given)
        .map_err(ClassroomError::from)?;
    spec.namespaces = policy
        .admit_namespaces(&spec.namespaces)
        .map_err(ClassroomError::from)?;
    let row = classroom.student(student).await?;
    let options = CreateOptions {
        owner: Some(student.to_string()),
        id_map: Some((row.id_map_base, crate::classroom::STUDENT_ID_RANGE)),
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

/// The close frame a socket gets when its student is removed from the class.
pub fn revoked_close() -> Message {
    Message::Close(Some(CloseFrame {
        // 4001: an application code; the reason says the rest.
        code: 4001,
        reason: "your token was revoked: the teacher removed you from the class".into(),
    }))
}
