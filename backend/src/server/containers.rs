//! `/api/v1/containers…`: create, inspect, signal, limit, exec, remove, and the
//! terminal WebSockets of containers and exec sessions, and their recordings
//! ([`super::recordings`]). Every `{id}` route passes
//! [`guard_container`] first; the list and the sockets ask the same access rules.

use std::str::FromStr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Extension, Json, Router};
use futures_util::{SinkExt, StreamExt};
use isolab_shared::limits::Limits;
use isolab_shared::{ContainerSpec, ContainerState, ErrorCode};
use nix::sys::signal::Signal;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::audit::AuditContainer;
use super::classroom_access::{self, guard_container, Caller};
use super::error::HttpError;
use super::terminal_ws::{terminal_socket, TerminalQuery};
use super::websocket::{self, Upgrade};
use super::{origin, recordings, AppState};
use crate::classroom::Principal;
use crate::live::terminal::TerminalSession;
use crate::live::{ExecSpec, LiveError};

/// The container routes, relative to `/api/v1`.
pub fn routes(state: &AppState) -> Router<AppState> {
    let by_id = Router::new()
        .route("/containers/{id}", get(inspect).delete(remove))
        .route("/containers/{id}/stop", post(stop))
        .route("/containers/{id}/signal", post(signal))
        .route("/containers/{id}/limits", patch(set_limits))
        .route("/containers/{id}/steps", get(super::steps::steps))
        .route("/containers/{id}/exec", post(exec))
        .route("/containers/{id}/terminal", get(terminal))
        .route(
            "/containers/{id}/exec/{exec_id}/terminal",
            get(exec_terminal),
        )
        .route(
            "/containers/{id}/recording",
            get(recordings::container_recording),
        )
        .route(
            "/containers/{id}/recordings",
            axum::routing::delete(recordings::delete_of_container),
        )
        .route(
            "/containers/{id}/exec/{exec_id}/recording",
            get(recordings::exec_recording),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard_container,
        ));
    Router::new()
        .route("/containers", get(list).post(create))
        .merge(by_id)
}

impl From<LiveError> for HttpError {
    fn from(e: LiveError) -> Self {
        HttpError::new(e.code(), e.to_string())
    }
}

/// A JSON body whose every rejection is a typed API error: bad syntax is `bad_json`,
/// wrong field types or unknown fields are `bad_request`.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(HttpError::new(
                ErrorCode::BadJson,
                format!("the body is not valid JSON: {}", e.body_text()),
            )),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(HttpError::new(
                ErrorCode::BadRequest,
                "send the body as JSON with Content-Type: application/json",
            )),
            Err(e) => Err(HttpError::new(ErrorCode::BadRequest, e.body_text())),
        }
    }
}

/// A body parsed as `T`, kept as sent too: a student's quota depends on which
/// limits the body names, which the parsed value (with its defaults) cannot tell.
fn parse_body<T: DeserializeOwned>(body: &serde_json::Value) -> Result<T, HttpError> {
    serde_json::from_value(body.clone())
        .map_err(|e| HttpError::new(ErrorCode::BadRequest, format!("bad body: {e}")))
}

async fn list(State(state): State<AppState>, Caller(caller): Caller) -> Json<Vec<ContainerState>> {
    let mut list = state.live().list();
    list.retain(|c| caller.may_touch(c.owner.as_deref()));
    Json(list)
}

async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Extension<AuditContainer>, Json<ContainerState>), HttpError> {
    let spec: ContainerSpec = parse_body(&body)?;
    let (spec, options) = classroom_access::admit_spec(&state, &caller, spec, &body).await?;
    let created = state.live().create(spec, &options).await?;
    if let (Some(student), Some(classroom)) = (caller.student(), state.classroom()) {
        // Ownership is kept in the class's store; without it the container goes.
        if let Err(e) = classroom.own_container(&created.id, student).await {
            let _ = state.live().remove(&created.id).await;
            return Err(e.into());
        }
    }
    Ok((
        StatusCode::CREATED,
        Extension(AuditContainer(created.id.clone())),
        Json(created),
    ))
}

async fn inspect(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ContainerState>, HttpError> {
    Ok(Json(state.live().get(&id).await?))
}

async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    let (id, owner) = state.live().owner(&id)?;
    state.live().remove(&id).await?;
    if let (Some(_), Some(classroom)) = (owner, state.classroom()) {
        classroom.disown_container(&id).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn stop(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    state.live().stop(&id)?;
    Ok(StatusCode::ACCEPTED)
}

/// The body of `POST /containers/{id}/signal`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalRequest {
    /// `SIGTERM`, `TERM` or `15`.
    pub signal: serde_json::Value,
}

/// Parses a signal given by name (with or without `SIG`) or number.
pub fn parse_signal(value: &serde_json::Value) -> Result<Signal, HttpError> {
    let bad = || {
        HttpError::new(
            ErrorCode::BadRequest,
            format!("unknown signal {value}: use a name like \"SIGTERM\" or a number like 15"),
        )
    };
    match value {
        serde_json::Value::String(name) => {
            let upper = name.trim().to_ascii_uppercase();
            let full = if upper.starts_with("SIG") {
                upper
            } else {
                format!("SIG{upper}")
            };
            Signal::from_str(&full).map_err(|_| bad())
        }
        serde_json::Value::Number(n) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .and_then(|n| Signal::try_from(n).ok())
            .ok_or_else(bad),
        _ => Err(bad()),
    }
}

async fn signal(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SignalRequest>,
) -> Result<StatusCode, HttpError> {
    let sig = parse_signal(&body.signal)?;
    state.live().signal(&id, sig)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_limits(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<ContainerState>, HttpError> {
    let limits: Limits = parse_body(&body)?;
    let limits = classroom_access::admit_limits(&state, &caller, limits, &body)?;
    Ok(Json(state.live().set_limits(&id, limits).await?))
}

async fn exec(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(spec): ApiJson<ExecSpec>,
) -> Result<Response, HttpError> {
    if !caller.is_staff() {
        let container = state.live().get(&id).await?;
        classroom_access::admit_exec(
            &state,
            &caller,
            spec.namespaces.as_ref(),
            &container.spec.namespaces,
        )?;
    }
    let info = state.live().exec(&id, spec).await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// Upgrades `ws` to a terminal socket on `session`, with the lease `caller` gets on
/// `container` (also used by a lesson session's host terminal).
pub(super) fn upgrade_terminal(
    state: AppState,
    caller: &Principal,
    headers: &HeaderMap,
    ws: Upgrade,
    session: std::sync::Arc<TerminalSession>,
    query: TerminalQuery,
    container: &str,
) -> Result<Response, HttpError> {
    origin::check(headers, state.allowed_origins())?;
    let metrics = state.metrics().clone();
    let lease = classroom_access::terminal_lease(&state, caller, container, query.mode);
    websocket::upgrade(ws, headers, move |socket| async move {
        metrics.terminals.inc();
        let (mut write, mut read) = socket.split();
        tokio::select! {
            () = terminal_socket(&mut write, &mut read, session, query, metrics.clone()) => {}
            close = lease => {
                let _ = write.send(close).await;
            }
        }
        metrics.terminals.dec();
    })
}

async fn terminal(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(query): Query<TerminalQuery>,
    headers: HeaderMap,
    ws: Upgrade,
) -> Result<Response, HttpError> {
    let session = state.live().terminal(&id)?;
    upgrade_terminal(state, &caller, &headers, ws, session, query, &id)
}

async fn exec_terminal(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((id, exec_id)): Path<(String, String)>,
    Query(query): Query<TerminalQuery>,
    headers: HeaderMap,
    ws: Upgrade,
) -> Result<Response, HttpError> {
    let session = state.live().exec_terminal(&id, &exec_id)?;
    upgrade_terminal(state, &caller, &headers, ws, session, query, &id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_or_number() {
        let s = |v: serde_json::Value| parse_signal(&v).ok();
        assert_eq!(s(serde_json::json!("SIGKILL")), Some(Signal::SIGKILL));
        assert_eq!(s(serde_json::json!("term")), Some(Signal::SIGTERM));
        assert_eq!(s(serde_json::json!(2)), Some(Signal::SIGINT));
        assert_eq!(s(serde_json::json!("SIGNOPE")), None);
        assert_eq!(s(serde_json::json!(999)), None);
        assert_eq!(s(serde_json::json!(true)), None);
    }
}
