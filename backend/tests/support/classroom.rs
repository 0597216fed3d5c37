//! A class on a real server (port 0): the teacher holds [`support::TOKEN`], students
//! join for tokens of their own; requests and sockets with any token (or none).

#![allow(dead_code)]

use std::time::Duration;

use isolab::classroom::{Classroom, StudentPolicy};
use reqwest::Method;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support::server::{Socket, TestServer, TOKEN};

/// Who sends a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Who {
    Teacher,
    Student(String),
    NoToken,
    WrongToken,
}

impl Who {
    /// The token it sends, if any.
    pub fn token(&self) -> Option<&str> {
        match self {
            Who::Teacher => Some(TOKEN),
            Who::Student(t) => Some(t),
            Who::NoToken => None,
            Who::WrongToken => Some("0123456789abcdef0123456789abcdef"),
        }
    }
}

/// A student who joined.
#[derive(Clone, Debug)]
pub struct Student {
    pub id: String,
    pub name: String,
    pub token: String,
}

impl Student {
    pub fn who(&self) -> Who {
        Who::Student(self.token.clone())
    }
}

/// A server running a class with `policy` (the default when `None`).
pub async fn class_server(tag: &str, policy: Option<StudentPolicy>) -> TestServer {
    TestServer::start_with(tag, |config| {
        let classroom =
            Classroom::open(&config.live.runtime.state_root, policy).expect("the class opens");
        config.classroom = Some(classroom);
    })
    .await
}

/// Sends `method path` with `body` as `who`; returns the status and the JSON body
/// (`Value::Null` when there is none).
pub async fn call(
    server: &TestServer,
    who: &Who,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = server.http.request(method, server.url(path));
    if let Some(token) = who.token() {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The error code of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// The class's join code, as the teacher sees it.
pub async fn join_code(server: &TestServer) -> String {
    let (status, info) = call(server, &Who::Teacher, Method::GET, "/classroom", None).await;
    assert_eq!(status, 200, "{info}");
    info["join_code"].as_str().expect("a join code").to_string()
}

/// Joins as `name`; panics unless it works.
pub async fn join(server: &TestServer, name: &str) -> Student {
    let code = join_code(server).await;
    let (status, body) = call(
        server,
        &Who::NoToken,
        Method::POST,
        "/classroom/join",
        Some(json!({"code": code, "name": name})),
    )
    .await;
    assert_eq!(status, 201, "join as {name}: {body}");
    Student {
        id: body["student"]["id"].as_str().expect("an id").to_string(),
        name: body["student"]["name"]
            .as_str()
            .expect("a name")
            .to_string(),
        token: body["token"].as_str().expect("a token").to_string(),
    }
}

/// Creates a shell container as `who`; returns its id.
pub async fn create_as(server: &TestServer, who: &Who, body: Value) -> String {
    let (status, state) = call(server, who, Method::POST, "/containers", Some(body)).await;
    assert_eq!(status, 201, "create as {who:?}: {state}");
    state["id"].as_str().expect("an id").to_string()
}

/// Opens a WebSocket at `path` as `who`: the socket, or the HTTP status refusing it.
pub async fn socket_as(server: &TestServer, who: &Who, path: &str) -> Result<Socket, u16> {
    let url = match who.token() {
        Some(t) => {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("ws://{}/api/v1{path}{sep}token={t}", server.addr)
        }
        None => format!("ws://{}/api/v1{path}", server.addr),
    };
    match tokio_tungstenite::connect_async(url).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("unexpected websocket error: {e}"),
    }
}

/// The HTTP status of opening a WebSocket at `path` as `who` (101 when it opens).
pub async fn socket_status(server: &TestServer, who: &Who, path: &str) -> u16 {
    match socket_as(server, who, path).await {
        Ok(mut ws) => {
            let _ = ws.close(None).await;
            101
        }
        Err(status) => status,
    }
}

/// Waits up to `within` for the socket to close; returns the close code, if any.
pub async fn closed_within(ws: &mut Socket, within: Duration) -> Option<Option<u16>> {
    use futures::StreamExt;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, ws.next()).await {
            Err(_) => return None,
            Ok(Some(Ok(Message::Close(frame)))) => return Some(frame.map(|f| u16::from(f.code))),
            Ok(None) | Ok(Some(Err(_))) => return Some(None),
            Ok(Some(Ok(_))) => continue,
        }
    }
}
