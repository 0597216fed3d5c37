//! [`LiveSource`]: the backend's events WebSocket and REST API.
//!
//! The events socket reconnects by itself with exponential backoff and resumes from
//! the last sequence number it saw (`?since=N`), so no event is lost or applied twice.

use std::cell::Cell;
use std::rc::Rc;

use futures::StreamExt;
use gloo_net::http::{Request, RequestBuilder, Response};
use gloo_net::websocket::{futures::WebSocket, Message, State};
use isolab_shared::{ApiError, ContainerSpec, ContainerSteps, StreamMessage};
use serde::{Deserialize, Serialize};
use yew::Callback;

use super::{same, ActionResult, TerminalTab, TerminalTarget};
use crate::state::{Action, Severity, StreamStatus};

/// The first retry waits this long; each further one doubles, up to [`MAX_RETRY_MS`].
const FIRST_RETRY_MS: u32 = 500;
const MAX_RETRY_MS: u32 = 15_000;

/// The live backend, reached with the session's token.
#[derive(Clone)]
pub struct LiveSource {
    token: Option<String>,
    stopped: Rc<Cell<bool>>,
}

impl PartialEq for LiveSource {
    fn eq(&self, other: &Self) -> bool {
        same(&self.stopped, &other.stopped)
    }
}

/// The body of `POST /containers/{id}/signal`. Typed bodies, not `serde_json::json!`,
/// keep `serde_json::Value` out of the page's wasm.
#[derive(Serialize)]
struct SignalBody {
    signal: &'static str,
}

/// The body of `POST /containers/{id}/exec`.
#[derive(Serialize)]
struct ExecBody {
    command: [&'static str; 1],
    tty: bool,
}

/// The part we use of the answers of `POST /containers` and `POST /containers/{id}/exec`:
/// the new id. (Parsing the whole `ContainerState` here would add a second copy of its
/// deserializer to the wasm; the event stream brings the state anyway.)
#[derive(Deserialize)]
struct Created {
    id: String,
}

/// The delay before reconnect attempt `attempt` (1-based).
pub fn retry_delay_ms(attempt: u32) -> u32 {
    FIRST_RETRY_MS
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(10))
        .min(MAX_RETRY_MS)
}

/// `ws://host/path` (or `wss://`) for a path on the page's own server.
pub fn websocket_url(path_and_query: &str) -> String {
    let location = web_sys::window().map(|w| w.location());
    let (protocol, host) = match location {
        Some(l) => (
            l.protocol().unwrap_or_else(|_| "http:".into()),
            l.host().unwrap_or_default(),
        ),
        None => ("http:".into(), String::new()),
    };
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    format!("{scheme}://{host}{path_and_query}")
}

impl LiveSource {
    /// The backend's REST API only, following no events (a view that reads none).
    pub fn without_events(token: Option<String>) -> LiveSource {
        LiveSource {
            token,
            stopped: Rc::new(Cell::new(true)),
        }
    }

    /// Starts following the backend's events into `dispatch`.
    pub fn start(token: Option<String>, dispatch: Callback<Action>) -> LiveSource {
        let source = LiveSource {
            token,
            stopped: Rc::new(Cell::new(false)),
        };
        let token = source.token.clone().unwrap_or_default();
        let stopped = source.stopped.clone();
        wasm_bindgen_futures::spawn_local(follow_events(token, dispatch, stopped));
        source
    }

    /// The session's token (for lesson sessions and the views fetched on demand).
    pub fn token(&self) -> Option<String> {
        self.token.clone()
    }

    /// Stops following (the loop ends at its next message or retry).
    pub fn close(&self) {
        self.stopped.set(true);
    }

    pub(super) fn authorized(&self, builder: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(t) => builder.header("Authorization", &format!("Bearer {t}")),
            None => builder,
        }
    }

    pub(super) async fn send(
        &self,
        request: Result<Request, gloo_net::Error>,
    ) -> ActionResult<Response> {
        let request = request.map_err(|e| format!("the request could not be built: {e}"))?;
        let response = request
            .send()
            .await
            .map_err(|e| format!("the isolab server did not answer: {e}"))?;
        if response.ok() {
            return Ok(response);
        }
        let status = response.status();
        Err(match response.json::<ApiError>().await {
            Ok(e) => e.error.message,
            Err(_) => format!("the server answered HTTP {status}"),
        })
    }

    pub(super) fn api(path: &str) -> String {
        format!("/api/v1{path}")
    }

    /// `POST /containers`.
    pub async fn create(&self, spec: ContainerSpec) -> ActionResult<String> {
        let request = self
            .authorized(Request::post(&Self::api("/containers")))
            .json(&spec);
        let response = self.send(request).await?;
        let created: Created = response
            .json()
            .await
            .map_err(|e| format!("the server's answer was not understood: {e}"))?;
        Ok(created.id)
    }

    /// `GET /lessons`: the server's lessons as JSON text (the simulator's worker parses
    /// them), or `None` when it has no such route (404).
    pub async fn lessons(&self) -> ActionResult<Option<String>> {
        let request = self
            .authorized(Request::get(&Self::api("/lessons")))
            .build()
            .map_err(|e| format!("the request could not be built: {e}"))?;
        let response = request
            .send()
            .await
            .map_err(|e| format!("the isolab server did not answer: {e}"))?;
        match response.status() {
            404 => Ok(None),
            s if !response.ok() => Err(format!("the server's lessons: HTTP {s}")),
            _ => response
                .text()
                .await
                .map(Some)
                .map_err(|e| format!("the server's lessons did not arrive: {e}")),
        }
    }

    /// `GET /containers/{id}/steps`: the setup steps and isolation facts the event
    /// stream leaves out.
    pub async fn steps(&self, id: &str) -> ActionResult<ContainerSteps> {
        let path = Self::api(&format!("/containers/{id}/steps"));
        let response = self
            .send(self.authorized(Request::get(&path)).build())
            .await?;
        response
            .json()
            .await
            .map_err(|e| format!("the server's answer was not understood: {e}"))
    }

    /// `POST /containers/{id}/stop`.
    pub async fn stop(&self, id: &str) -> ActionResult<()> {
        let path = Self::api(&format!("/containers/{id}/stop"));
        self.send(self.authorized(Request::post(&path)).build())
            .await
            .map(|_| ())
    }

    /// `POST /containers/{id}/signal` with SIGKILL.
    pub async fn kill(&self, id: &str) -> ActionResult<()> {
        let path = Self::api(&format!("/containers/{id}/signal"));
        let body = SignalBody { signal: "SIGKILL" };
        self.send(self.authorized(Request::post(&path)).json(&body))
            .await
            .map(|_| ())
    }

    /// `DELETE /containers/{id}`.
    pub async fn remove(&self, id: &str) -> ActionResult<()> {
        let path = Self::api(&format!("/containers/{id}"));
        self.send(self.authorized(Request::delete(&path)).build())
            .await
            .map(|_| ())
    }

    /// `POST /containers/{id}/exec` of a shell with a tty, then its terminal tab.
    pub async fn exec(&self, id: &str, name: &str) -> ActionResult<TerminalTab> {
        let path = Self::api(&format!("/containers/{id}/exec"));
        let body = ExecBody {
            command: ["/bin/sh"],
            tty: true,
        };
        let response = self
            .send(self.authorized(Request::post(&path)).json(&body))
            .await?;
        let exec: Created = response
            .json()
            .await
            .map_err(|e| format!("the server's answer was not understood: {e}"))?;
        Ok(TerminalTab {
            key: format!("exec-{id}-{}", exec.id),
            title: format!("{name} · exec"),
            target: TerminalTarget::Live {
                path: Self::api(&format!("/containers/{id}/exec/{}/terminal", exec.id)),
                token: self.token.clone(),
            },
        })
    }

    /// The terminal of the container's first process.
    pub fn terminal(&self, id: &str, name: &str) -> TerminalTab {
        TerminalTab {
            key: format!("tty-{id}"),
            title: name.to_string(),
            target: TerminalTarget::Live {
                path: Self::api(&format!("/containers/{id}/terminal")),
                token: self.token.clone(),
            },
        }
    }
}

/// Follows `/api/v1/events` until `stopped`, reconnecting with backoff and resuming
/// from the last sequence number seen.
async fn follow_events(token: String, dispatch: Callback<Action>, stopped: Rc<Cell<bool>>) {
    let mut since: Option<u64> = None;
    let mut attempt: u32 = 0;
    while !stopped.get() {
        dispatch.emit(Action::Status(StreamStatus::Connecting));
        let resume = since.map(|s| format!("&since={s}")).unwrap_or_default();
        let url = websocket_url(&format!("/api/v1/events?token={token}{resume}"));
        if let Ok(socket) = WebSocket::open(&url) {
            // A resumed stream may send nothing until the next event: call it open once
            // the socket is, not at the first message.
            while matches!(socket.state(), State::Connecting) {
                gloo_timers::future::TimeoutFuture::new(20).await;
            }
            if matches!(socket.state(), State::Open) {
                attempt = 0;
                dispatch.emit(Action::Status(StreamStatus::Open));
            }
            let (_write, mut read) = socket.split();
            while let Some(message) = read.next().await {
                if stopped.get() {
                    return;
                }
                let Ok(Message::Text(text)) = message else {
                    break;
                };
                match serde_json::from_str::<StreamMessage>(&text) {
                    Ok(StreamMessage::Snapshot { snapshot }) => {
                        since = Some(snapshot.seq);
                        dispatch.emit(Action::Snapshot(snapshot));
                    }
                    Ok(StreamMessage::Event { event }) => {
                        since = Some(event.seq);
                        dispatch.emit(Action::Event(event));
                    }
                    Ok(StreamMessage::Error { error }) => {
                        dispatch.emit(Action::Notice(Severity::Warning, error.message));
                    }
                    Err(e) => dispatch.emit(Action::Notice(
                        Severity::Warning,
                        format!("an event was not understood: {e}"),
                    )),
                }
            }
        }
        if stopped.get() {
            return;
        }
        attempt = attempt.saturating_add(1);
        let retry_ms = retry_delay_ms(attempt);
        dispatch.emit(Action::Status(StreamStatus::Reconnecting {
            attempt,
            retry_ms,
        }));
        gloo_timers::future::TimeoutFuture::new(retry_ms).await;
    }
}
