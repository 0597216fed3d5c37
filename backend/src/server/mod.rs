//! The HTTP server: the embedded UI, token auth and the `/api/v1` routes.
//!
//! # Layout
//! - [`auth`]: the access token and the middleware that turns a token into the
//!   caller's [`crate::classroom::Principal`].
//! - [`classroom_access`]: where the access rules are enforced: the guard of every
//!   `/containers/{id}…` route and socket, the teacher-only guard, students' specs.
//! - [`classroom_api`]: `/classroom…`: join, settings, roster, hands, progress,
//!   broadcast, and the clock that ends a class on time.
//! - [`assets`]: the frontend, embedded in the binary.
//! - [`error`]: the typed JSON error every failing request gets.
//! - [`audit`]: the audit log, one event per state-changing call, from one middleware.
//! - [`api`]: the REST handlers of the server itself (version, host, metrics).
//! - [`containers`]: the REST handlers and terminal sockets of containers.
//! - [`steps`]: a container's setup steps and isolation facts, on demand.
//! - [`events_ws`]: the events WebSocket (snapshot, then events; resume by sequence).
//! - [`terminal_ws`]: terminal WebSockets (bytes both ways, control in JSON, view mode).
//! - [`lessons`]: `GET /lessons`, the built-in lessons and a teacher's directory.
//! - [`lesson_sessions`]: a lesson run by the page on live containers: its setup,
//!   typed lines, checks, prediction probes, reset and end, each owner-checked.
//! - [`recordings`]: terminal recordings: the files, their listing, their removal.
//! - [`websocket`]: WebSocket upgrades, compressed (permessage-deflate) when the
//!   client offers it; the sockets above are served through it.
//! - [`origin`]: the WebSocket origin allowlist.
//! - [`metrics`]: Prometheus text metrics.
//! - [`tls`]: HTTPS/WSS: the certificate (given or self-signed) and a TLS listener.
//!
//! [`app`] builds the router without binding a port, so tests drive it with
//! `tower::ServiceExt::oneshot`; [`run`] serves it on a listener the caller made
//! (plain TCP, or [`tls::TlsListener`]).

pub mod api;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod classroom_access;
pub mod classroom_api;
pub mod containers;
pub mod error;
pub mod events_ws;
pub mod lesson_sessions;
pub mod lessons;
pub mod metrics;
pub mod origin;
pub mod recordings;
pub mod steps;
pub mod terminal_ws;
pub mod tls;
pub mod websocket;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::classroom::limiter::FailureLimiter;
use crate::classroom::Classroom;
use crate::live::hub::EventHub;
use auth::AccessToken;
use isolab_shared::LiveStatus;

use crate::live::{LiveConfig, Supervisor};
use crate::runtime::RuntimeConfig;
use metrics::ServerMetrics;

/// The largest WebSocket message or frame accepted (1 MiB).
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// What a server is started with.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The token clients must present.
    pub token: AccessToken,
    /// Origins allowed to open WebSockets besides the server's own.
    pub allowed_origins: Vec<String>,
    /// Settings of the live containers.
    pub live: LiveConfig,
    /// Whether live containers work here, and why not.
    pub live_status: LiveStatus,
    /// The class, with `--classroom`: the token above is then the teacher's.
    pub classroom: Option<Arc<Classroom>>,
    /// Wrong tokens one address may present per minute before it gets 429.
    pub max_auth_failures: usize,
    /// How long a lesson session may go unused before the server ends it.
    pub lesson_idle: Duration,
}

impl ServerConfig {
    /// A config with `token`, the default live settings with `helper_exe` as the
    /// runtime's helper binary, and live mode as this host allows.
    pub fn new(token: AccessToken, helper_exe: PathBuf) -> Self {
        ServerConfig {
            token,
            allowed_origins: Vec::new(),
            live: LiveConfig::new(RuntimeConfig::new(helper_exe)),
            live_status: crate::sysinfo::live_status(),
            classroom: None,
            max_auth_failures: auth::MAX_AUTH_FAILURES,
            lesson_idle: lesson_sessions::IDLE_DEFAULT,
        }
    }
}

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
    live: Arc<Supervisor>,
    classroom: Option<Arc<Classroom>>,
    lesson_sessions: lesson_sessions::LessonSessions,
    lesson_idle: Duration,
    auth_failures: FailureLimiter,
}

impl AppState {
    /// The state of a server made with `config`. Needs a tokio runtime.
    pub fn new(config: ServerConfig) -> Self {
        let hub = Arc::new(EventHub::default());
        let live = Supervisor::new(config.live, hub.clone(), config.live_status);
        AppState {
            inner: Arc::new(AppStateInner {
                token: config.token,
                allowed_origins: config.allowed_origins,
                hub,
                metrics: Arc::new(ServerMetrics::default()),
                live,
                classroom: config.classroom,
                lesson_sessions: lesson_sessions::LessonSessions::default(),
                lesson_idle: config.lesson_idle,
                auth_failures: FailureLimiter::new(
                    config.max_auth_failures,
                    auth::AUTH_FAILURE_WINDOW,
                ),
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

    /// The live containers.
    pub fn live(&self) -> &Arc<Supervisor> {
        &self.inner.live
    }

    /// The lessons the page runs on live containers now.
    pub fn lesson_sessions(&self) -> &lesson_sessions::LessonSessions {
        &self.inner.lesson_sessions
    }

    /// Wrong tokens per address.
    pub fn auth_failures(&self) -> &FailureLimiter {
        &self.inner.auth_failures
    }

    /// The class, when the server runs one.
    pub fn classroom(&self) -> Option<&Arc<Classroom>> {
        self.inner.classroom.as_ref()
    }

    /// Adopts or cleans what a previous server left (students' containers stay
    /// theirs), and starts the background work (exit watchers, process events,
    /// stats). Call once, after [`AppState::new`].
    pub async fn start_background(&self) {
        let mut owners = BTreeMap::new();
        if let Some(classroom) = self.classroom() {
            match classroom.container_owners().await {
                Ok(list) => owners.extend(list),
                Err(e) => tracing::warn!("cannot read the class's container owners: {e}"),
            }
        }
        self.live().reconcile(&owners).await;
        if let Some(classroom) = self.classroom() {
            // Containers that did not outlive the last server own nothing now.
            for id in owners.keys() {
                if self.live().owner(id).is_err() {
                    let _ = classroom.disown_container(id).await;
                }
            }
        }
        crate::live::watch::spawn_background(self.live().clone());
        classroom_api::spawn_class_clock(self.clone());
        lesson_sessions::spawn_idle_reaper(self.clone(), self.inner.lesson_idle);
    }
}

/// The whole application: `/api/v1/*` behind the token (but joining a class), the
/// UI open to all.
pub fn app(state: AppState) -> Router {
    // `layer` (not `route_layer`) so unknown API paths also need the token.
    let api = api::routes(&state).fallback(api::unknown_route).layer(
        axum::middleware::from_fn_with_state(state.clone(), auth::require_token),
    );
    // Outside auth, so it also sees the requests auth refuses.
    let api = classroom_api::open_routes()
        .merge(api)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            classroom_api::note_class_changes,
        ))
        .layer(axum::middleware::from_fn(audit::record));
    Router::new()
        .nest("/api/v1", api)
        .fallback(assets::serve)
        .with_state(state)
}

/// Serves `app(state)` on `listener` (a [`tokio::net::TcpListener`], or a [`tls::TlsListener`]
/// for HTTPS) until `shutdown` completes, then drains connections.
pub async fn run<L>(
    listener: L,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    // Pending waits on the class's changes answer at once when the server stops, so
    // the drain below does not wait out a whole wait.
    let classroom = state.classroom().cloned();
    let shutdown = async move {
        shutdown.await;
        if let Some(classroom) = classroom {
            classroom.changes().close();
        }
    };
    // The peer's address counts wrong tokens and join codes per address; axum hands
    // it to handlers of any listener wrapped by `tap_io`.
    let listener = axum::serve::ListenerExt::tap_io(listener, |_: &mut L::Io| {});
    let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}
