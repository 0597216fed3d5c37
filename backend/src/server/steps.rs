//! `GET /api/v1/containers/{id}/steps`: the details the event stream leaves out (the
//! recorded setup steps and the isolation facts), fetched when a view shows them.

use axum::extract::{Path, State};
use axum::Json;
use isolab_shared::ContainerSteps;

use super::error::HttpError;
use super::AppState;

/// The handler; routed with the other per-container routes, behind the same owner
/// check (`containers::routes`).
pub(super) async fn steps(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ContainerSteps>, HttpError> {
    Ok(Json(state.live().get(&id).await?.steps()))
}
