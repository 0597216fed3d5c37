//! The HTTP server: the embedded UI, token auth and the `/api/v1` routes.
//!
//! # Layout
//! - [`auth`]: the access token and the middleware that checks it.
//! - [`assets`]: the frontend, embedded in the binary.
//! - [`error`]: the typed JSON error every failing request gets.
//! - [`api`]: the REST handlers.
//!
//! [`app`] builds the router without binding a port, so tests drive it with
//! `tower::ServiceExt::oneshot`; [`run`] serves it on a listener the caller made.

pub mod api;
pub mod assets;
pub mod auth;
pub mod error;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use auth::AccessToken;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<AppStateInner>,
}

struct AppStateInner {
    token: AccessToken,
}

impl AppState {
    /// State for a server that accepts `token`.
    pub fn new(token: AccessToken) -> Self {
        AppState {
            inner: Arc::new(AppStateInner { token }),
        }
    }

    /// The token clients must present.
    pub fn token(&self) -> &AccessToken {
        &self.inner.token
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
