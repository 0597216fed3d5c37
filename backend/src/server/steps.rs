//! `GET /api/v1/containers/{id}/steps`: the details the event stream leaves out (the
//! recorded setup steps and the isolation facts), fetched when a view shows them.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use isolab_shared::ContainerSteps;

use super::error::HttpError;
use super::AppState;

/// The route, relative to `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new().route("/containers/{id}/steps", get(steps))
}

async fn steps(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ContainerSteps>, HttpError> {
    Ok(Json(state.live().get(&id).await?.steps()))
}
