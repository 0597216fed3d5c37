//! Terminal recordings over HTTP: the asciicast files of containers' terminals and
//! exec sessions, their listing, and their removal by the teacher.
//!
//! The `/containers/{id}…` routes pass [`super::classroom_access::guard_container`],
//! which also knows removed containers by their recordings' owner; `/recordings…`
//! asks the same rule ([`crate::classroom::Principal::may_touch`]) of each row.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use isolab_shared::ErrorCode;

use super::classroom_access::{require_teacher, Caller};
use super::error::HttpError;
use super::AppState;
use crate::classroom::{ClassroomError, Principal};
use crate::recording::cast::CONTENT_TYPE;
use crate::recording::{RecordingError, RecordingInfo, Recordings};

/// The routes of `/recordings…`, relative to `/api/v1`.
pub fn routes() -> Router<AppState> {
    let teacher_only = Router::new()
        .route(
            "/recordings/{recording_id}",
            axum::routing::delete(delete_one),
        )
        .route_layer(axum::middleware::from_fn(require_teacher));
    Router::new()
        .route("/recordings", get(list))
        .route("/recordings/{recording_id}", get(by_id))
        .merge(teacher_only)
}

impl From<RecordingError> for HttpError {
    fn from(e: RecordingError) -> Self {
        HttpError::new(ErrorCode::Internal, e.to_string())
    }
}

fn recordings(state: &AppState) -> Result<&Arc<Recordings>, HttpError> {
    state.live().recordings().ok_or_else(|| {
        HttpError::new(
            ErrorCode::NotFound,
            "this server records no terminals: its recordings index could not be opened",
        )
    })
}

fn no_recording(what: &str) -> HttpError {
    HttpError::new(ErrorCode::NotFound, format!("no recording of {what}"))
}

/// A recording's file as `application/x-asciicast`.
async fn cast(recordings: &Recordings, info: &RecordingInfo) -> Result<Response, HttpError> {
    let bytes = recordings.read(info).await?;
    Ok((
        [
            (header::CONTENT_TYPE, CONTENT_TYPE.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"recording-{}.cast\"", info.id),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /containers/{id}/recording`: the newest recording of its own terminal.
pub async fn container_recording(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    let recordings = recordings(&state)?;
    let info = recordings
        .latest(&id, None)
        .await?
        .ok_or_else(|| no_recording(&format!("container {id}")))?;
    cast(recordings, &info).await
}

/// `GET /containers/{id}/exec/{exec_id}/recording`.
pub async fn exec_recording(
    State(state): State<AppState>,
    Path((id, exec_id)): Path<(String, String)>,
) -> Result<Response, HttpError> {
    let recordings = recordings(&state)?;
    let info = recordings
        .latest(&id, Some(&exec_id))
        .await?
        .ok_or_else(|| no_recording(&format!("exec session {exec_id} of {id}")))?;
    cast(recordings, &info).await
}

/// `DELETE /containers/{id}/recordings`: the teacher removes every recording of it.
pub async fn delete_of_container(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    if !caller.is_staff() {
        return Err(ClassroomError::TeacherOnly.into());
    }
    let recordings = recordings(&state)?;
    let ids = recordings
        .of_container(&id)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    recordings.delete(ids).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The recording `id`, if `caller` may see it (another's is answered as none).
async fn visible(
    recordings: &Recordings,
    caller: &Principal,
    id: &str,
) -> Result<RecordingInfo, HttpError> {
    match recordings.get(id).await? {
        Some(info) if caller.may_touch(info.owner.as_deref()) => Ok(info),
        _ => Err(no_recording(id)),
    }
}

/// `GET /recordings`: the caller's recordings (the teacher: all), newest first.
async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<Vec<RecordingInfo>>, HttpError> {
    let mut all = recordings(&state)?.list().await?;
    all.retain(|r| caller.may_touch(r.owner.as_deref()));
    Ok(Json(all))
}

/// `GET /recordings/{recording_id}`: one recording's file.
async fn by_id(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, HttpError> {
    let recordings = recordings(&state)?;
    let info = visible(recordings, &caller, &id).await?;
    cast(recordings, &info).await
}

/// `DELETE /recordings/{recording_id}`: the teacher removes one recording.
async fn delete_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    let recordings = recordings(&state)?;
    if recordings.delete(vec![id.clone()]).await? == 0 {
        return Err(no_recording(&id));
    }
    Ok(StatusCode::NO_CONTENT)
}
