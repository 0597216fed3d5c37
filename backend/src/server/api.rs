//! REST handlers under `/api/v1`.

use axum::extract::State;
use axum::http::{header, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use isolab_shared::{ErrorCode, VersionInfo, API_VERSION};

use super::classroom_access::{require_teacher, Caller};
use super::error::HttpError;
use super::AppState;
use crate::classroom::access::host_for;
use crate::sysinfo;

/// The routes of `/api/v1` that need a token, before auth is layered on.
pub fn routes(state: &AppState) -> Router<AppState> {
    let teacher_only = Router::new()
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn(require_teacher));
    Router::new()
        .route("/version", get(version))
        .route("/events", get(super::events_ws::upgrade))
        .route("/host", get(host))
        .merge(teacher_only)
        .merge(super::containers::routes(state))
        .merge(super::classroom_api::routes())
        .merge(super::lessons::routes())
        .merge(super::lesson_sessions::routes())
        .merge(super::recordings::routes())
}

/// `GET /host`: the host's namespaces and a process summary, read now (without
/// the host's processes for a student).
pub async fn host(Caller(caller): Caller) -> Result<Json<isolab_shared::HostState>, HttpError> {
    tokio::task::spawn_blocking(crate::observe::host_state)
        .await
        .map(|host| Json(host_for(&caller, host)))
        .map_err(|e| HttpError::new(ErrorCode::Internal, format!("cannot read the host: {e}")))
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        super::metrics::render(&state.hub().snapshot(), state.metrics()),
    )
}

/// `GET /version`: what this server is and what it can do here.
pub async fn version() -> Json<VersionInfo> {
    Json(VersionInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        api_version: API_VERSION,
        live: sysinfo::live_status(),
        cgroup_mode: sysinfo::cgroup_mode(),
        kernel_release: sysinfo::kernel_release(),
    })
}

/// Any other path under `/api/v1`.
pub async fn unknown_route(uri: Uri) -> HttpError {
    HttpError::new(
        ErrorCode::NotFound,
        format!("no such API route: {}", uri.path()),
    )
}
