//! The HTTP server: the embedded UI, token auth and the `/api/v1` routes.
//!
//! # Layout
//! - [`auth`]: the access token and the middleware that checks it.
//! - [`assets`]: the frontend, embedded in the binary.
//! - [`error`]: the typed JSON error every failing request gets.
//! - [`api`]: the REST handlers.
//! - [`hub`]: numbers events, keeps the snapshot and the replay buffer, fans out.
//! - [`events_ws`]: the events WebSocket (snapshot, then events; resume by sequence).
//! - [`terminal_ws`]: terminal WebSockets (bytes both ways, control in JSON, view mode).
//! - [`origin`]: the WebSocket origin allowlist.
//! - [`metrics`]: Prometheus text metrics.
//!
//! [`app`] builds the router without binding a port, so tests drive it with
//! `tower::ServiceExt::oneshot`; [`run`] serves it on a listener the caller made.

pub mod api;
pub mod assets;
pub mod auth;
pub mod error;
pub mod events_ws;
pub mod hub;
pub mod metrics;
pub mod origin;
pub mod terminal_ws;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use auth::AccessToken;
use hub::EventHub;
use metrics::ServerMetrics;

/// The largest WebSocket message or frame accepted (1 MiB).
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<AppStateInner>,
}

struct AppStateInner {
    token: AccessToken,
    allowed_origins: Vec<String>,
    hub: Arc<EventHub>,
    metrics: Arc<ServerMetrics>,
}

impl AppState {
    /// State for a server that accepts `token` and WebSockets from its own origin.
    pub fn new(token: AccessToken) -> Self {
        AppState::with_origins(token, Vec::new())
    }

    /// State that also accepts WebSockets from `allowed_origins`.
    pub fn with_origins(token: AccessToken, allowed_origins: Vec<String>) -> Self {
        AppState {
            inner: Arc::new(AppStateInner {
                token,
                allowed_origins,
                hub: Arc::new(EventHub::default()),
                metrics: Arc::new(ServerMetrics::default()),
            }),
        }
    }

    /// The token clients must present.
    pub fn token(&self) -> &AccessToken {
        &self.inner.token
    }

    /// Origins allowed besides the server's own.
    pub fn allowed_origins(&self) -> &[String] {
        &self.inner.allowed_origins
    }

    /// The event hub.
    pub fn hub(&self) -> &Arc<EventHub> {
        &self.inner.hub
    }

    /// The server's counters.
    pub fn metrics(&self) -> &Arc<ServerMetrics> {
        &self.inner.metrics
    }
}

/// The whole application: `/api/v1/*` behind the token, the UI open to all.
pub fn app(state: AppState) -> Router {
    // `layer` (not `route_layer`) so unknown API paths also need the token.
    let api =
        api::routes()
            .fallback(api::unknown_route)
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                auth::require_token,
            ));
    Router::new()
        .nest("/api/v1", api)
        .fallback(assets::serve)
        .with_state(state)
}

/// Serves `app(state)` on `listener` until `shutdown` completes, then drains connections.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
