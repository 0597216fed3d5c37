//! A real isolab server on port 0 for integration tests, with its own state dir, and
//! clients for its REST API, event stream and terminals. Whatever a test leaves
//! behind (containers, cgroups, state) is removed when the server is dropped.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use isolab::runtime;
use isolab::server::{auth::AccessToken, AppState, ServerConfig};
use isolab_shared::{Event, EventKind, StreamMessage, TerminalNotice};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const TOKEN: &str = "integration-token";

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A server running in this test process.
pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub state: AppState,
    pub state_root: PathBuf,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Lessons whose checks read the whole host's processes (the pid1 lesson's `ps -ef`
/// for its `sleep 500`) take this one at a time: two at once see each other's markers.
pub static LESSONS_ON_THE_HOST: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A state root of its own per server, so tests never see each other's containers.
pub fn fresh_state_root(tag: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("isolab-it-{tag}-{}-{n}", std::process::id()))
}

impl TestServer {
    pub async fn start(tag: &str) -> TestServer {
        Self::start_with(tag, |_| {}).await
    }

    pub async fn start_with(tag: &str, tune: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let state_root = fresh_state_root(tag);
        let token = AccessToken::from_user(TOKEN).expect("token");
        let mut config = ServerConfig::new(token, env!("CARGO_BIN_EXE_isolab").into());
        config.live.runtime.state_root = state_root.clone();
        config.live.stats_interval = Duration::from_millis(300);
        tune(&mut config);
        let state = AppState::new(config);
        state.start_background().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(isolab::server::run(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            state,
            state_root,
            http: reqwest::Client::new(),
            stop: Some(stop),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/api/v1{path}", self.addr)
    }

    pub fn ws_url(&self, path: &str) -> String {
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("ws://{}/api/v1{path}{sep}token={TOKEN}", self.addr)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(TOKEN)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(TOKEN)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.delete(self.url(path)).bearer_auth(TOKEN)
    }

    pub fn patch(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.patch(self.url(path)).bearer_auth(TOKEN)
    }

    /// Creates a container and returns its id.
    pub async fn create(&self, body: serde_json::Value) -> String {
        let response = self
            .post("/containers")
            .json(&body)
            .send()
            .await
            .expect("POST /containers");
        let status = response.status();
        let json: serde_json::Value = response.json().await.expect("json");
        assert_eq!(status, 201, "create failed: {json}");
        json["id"].as_str().expect("an id").to_string()
    }

    /// Opens a WebSocket at `path` (token added).
    pub async fn socket(&self, path: &str) -> Socket {
        let (ws, _) = tokio_tungstenite::connect_async(self.ws_url(path))
            .await
            .expect("websocket connects");
        ws
    }

    /// Opens a WebSocket with an `Origin` header; returns the HTTP status on refusal.
    pub async fn socket_from_origin(&self, path: &str, origin: &str) -> Result<Socket, u16> {
        let mut request = self.ws_url(path).into_client_request().expect("request");
        request
            .headers_mut()
            .insert("Origin", origin.parse().expect("origin"));
        match tokio_tungstenite::connect_async(request).await {
            Ok((ws, _)) => Ok(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
            Err(e) => panic!("unexpected websocket error: {e}"),
        }
    }

    /// Stops the server and removes every container it has.
    pub async fn shutdown(mut self) {
        self.state.live().shutdown(false).await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Ids of container state dirs left in this server's state root (its files, the
    /// database and the recordings, are no container's).
    pub fn leftover_state_dirs(&self) -> Vec<String> {
        std::fs::read_dir(&self.state_root)
            .map(|dir| {
                dir.filter_map(|e| e.ok())
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // On a failed test: remove whatever is left, from the state dir (works from
        // any process), then the state root itself.
        let config = runtime::RuntimeConfig {
            state_root: self.state_root.clone(),
            ..runtime::RuntimeConfig::new(env!("CARGO_BIN_EXE_isolab").into())
        };
        for record in runtime::list(&self.state_root) {
            let _ = runtime::remove(&config, &record.id);
        }
        let _ = std::fs::remove_dir_all(&self.state_root);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Whether any cgroup directory of container `id` is left on the host.
pub fn cgroup_left(id: &str) -> bool {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return false;
    };
    let mut dirs: Vec<PathBuf> = vec![PathBuf::from("/sys/fs/cgroup/isolab").join(id)];
    for h in hierarchies.filter_map(|e| e.ok()) {
        dirs.push(h.path().join("isolab").join(id));
    }
    dirs.iter().any(|d| d.exists())
}

/// Reads the next stream message of an events socket, within `timeout`.
pub async fn next_message(ws: &mut Socket, timeout: Duration) -> Option<StreamMessage> {
    loop {
        let frame = tokio::time::timeout(timeout, ws.next()).await.ok()??.ok()?;
        if let Message::Text(t) = frame {
            return serde_json::from_str(&t).ok();
        }
    }
}

/// Reads events until `want` matches one; returns all events read (the match last).
pub async fn events_until(
    ws: &mut Socket,
    timeout: Duration,
    mut want: impl FnMut(&Event) -> bool,
) -> Vec<Event> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match next_message(ws, left).await {
            Some(StreamMessage::Event { event }) => {
                let done = want(&event);
                seen.push(event);
                if done {
                    return seen;
                }
            }
            Some(_) => continue,
            None => panic!(
                "the wanted event did not come; saw {:?}",
                seen.iter().map(|e| &e.kind).collect::<Vec<_>>()
            ),
        }
    }
}

/// Whether `event` is about container `id`.
pub fn is_about(event: &Event, id: &str) -> bool {
    match &event.kind {
        EventKind::ContainerCreated { container } | EventKind::ContainerAdopted { container } => {
            container.id == id
        }
        EventKind::ContainerStarted { id: i, .. }
        | EventKind::ContainerExited { id: i, .. }
        | EventKind::ContainerOomKilled { id: i }
        | EventKind::ContainerRemoved { id: i }
        | EventKind::ContainerCleaned { id: i }
        | EventKind::LimitHit { id: i, .. }
        | EventKind::LimitsChanged { id: i, .. } => i == id,
        EventKind::ProcessStarted { container, .. }
        | EventKind::ProcessExited { container, .. } => container.as_deref() == Some(id),
        EventKind::Stats { .. } => false,
    }
}

/// A terminal client: collects output bytes, remembers notices.
pub struct TerminalClient {
    pub ws: Socket,
    pub output: Vec<u8>,
    pub attached_offset: Option<u64>,
    pub ended: bool,
}

impl TerminalClient {
    pub async fn open(server: &TestServer, path: &str) -> TerminalClient {
        TerminalClient {
            ws: server.socket(path).await,
            output: Vec::new(),
            attached_offset: None,
            ended: false,
        }
    }

    pub async fn type_text(&mut self, text: &str) {
        self.ws
            .send(Message::Binary(text.as_bytes().to_vec().into()))
            .await
            .expect("send keystrokes");
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }

    /// Reads until the output contains `needle`.
    pub async fn read_until(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.text().contains(needle) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = tokio::time::timeout(left, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no {needle:?} in terminal output {:?}", self.text()));
            match frame {
                Some(Ok(Message::Binary(b))) => self.output.extend_from_slice(&b),
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<TerminalNotice>(&t) {
                    Ok(TerminalNotice::Attached { offset, .. }) => {
                        self.attached_offset = Some(offset)
                    }
                    Ok(TerminalNotice::Ended) => self.ended = true,
                    _ => {}
                },
                Some(Ok(_)) => {}
                _ => panic!("terminal closed before {needle:?}; got {:?}", self.text()),
            }
        }
        self.text()
    }
}

/// Removes, whatever happens, every container left in a state root, then the root
/// (for tests that run a server of their own on it).
pub struct StateRootGuard(pub PathBuf);

impl Drop for StateRootGuard {
    fn drop(&mut self) {
        let config = runtime::RuntimeConfig {
            state_root: self.0.clone(),
            ..runtime::RuntimeConfig::new(env!("CARGO_BIN_EXE_isolab").into())
        };
        for record in runtime::list(&self.0) {
            let _ = runtime::remove(&config, &record.id);
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
