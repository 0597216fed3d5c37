//! The recordings API: the index (`GET /api/v1/recordings`) and one recording's file.

use gloo_net::http::{Request, RequestBuilder};
use serde::Deserialize;

/// One row of the recordings index (`RecordingInfo` in docs/api.md).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RecordingEntry {
    pub id: String,
    pub container: String,
    pub container_name: String,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub exec_id: Option<String>,
    pub started_at_ms: u64,
    #[serde(default)]
    pub ended_at_ms: Option<u64>,
    pub bytes: u64,
    #[serde(default)]
    pub truncated: bool,
}

impl RecordingEntry {
    /// Whether it is a recording of `container` (an id or a name).
    pub fn is_of(&self, container: &str) -> bool {
        self.container == container || self.container_name == container
    }

    /// "web", or "web (exec x1)".
    pub fn title(&self) -> String {
        match &self.exec_id {
            Some(exec) => format!("{} (exec {exec})", self.container_name),
            None => self.container_name.clone(),
        }
    }
}

fn authorized(builder: RequestBuilder, token: &Option<String>) -> RequestBuilder {
    match token {
        Some(t) => builder.header("Authorization", &format!("Bearer {t}")),
        None => builder,
    }
}

async fn get(path: &str, token: &Option<String>) -> Result<gloo_net::http::Response, String> {
    let response = authorized(Request::get(path), token)
        .send()
        .await
        .map_err(|e| format!("the isolab server did not answer: {e}"))?;
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    let message = response
        .json::<isolab_shared::ApiError>()
        .await
        .map(|e| e.error.message)
        .unwrap_or_else(|_| format!("the server answered HTTP {status}"));
    Err(message)
}

/// The recordings the caller may see, newest first.
pub async fn list(token: &Option<String>) -> Result<Vec<RecordingEntry>, String> {
    get("/api/v1/recordings", token)
        .await?
        .json()
        .await
        .map_err(|e| format!("the recordings index was not understood: {e}"))
}

/// One recording's file, as text.
pub async fn fetch(id: &str, token: &Option<String>) -> Result<String, String> {
    let path = format!("/api/v1/recordings/{}", js_sys::encode_uri_component(id));
    get(&path, token)
        .await?
        .text()
        .await
        .map_err(|e| format!("the recording could not be read: {e}"))
}
