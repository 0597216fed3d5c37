//! The router driven without a port (`oneshot`), and the real server on port 0.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use isolab::server::{app, auth::AccessToken, AppState, ServerConfig};
use isolab_shared::{ApiError, ErrorCode, VersionInfo, API_VERSION};
use tower::ServiceExt;

const TOKEN: &str = "test-token-1234";

fn state() -> AppState {
    let token = AccessToken::from_user(TOKEN).expect("valid token");
    let mut config = ServerConfig::new(token, env!("CARGO_BIN_EXE_isolab").into());
    // Never touch the host's real state dir from these tests.
    config.live.runtime.state_root = std::env::temp_dir().join("isolab-test-server-http");
    // No container is made here, and no recordings' index either: nothing to leave.
    config.live.recording.index = false;
    AppState::new(config)
}

async fn send(req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let (status, _, body) = send_for_headers(req).await;
    (status, body)
}

async fn send_for_headers(req: Request<Body>) -> (StatusCode, header::HeaderMap, Vec<u8>) {
    let response = app(state()).oneshot(req).await.expect("router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body reads")
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .body(Body::empty())
        .expect("request builds")
}

#[tokio::test]
async fn version_with_bearer_token() {
    let req = Request::get("/api/v1/version")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .expect("request builds");
    let (status, body) = send(req).await;
    assert_eq!(status, StatusCode::OK);
    let v: VersionInfo = serde_json::from_slice(&body).expect("a VersionInfo");
    assert_eq!(v.api_version, API_VERSION);
    assert_eq!(v.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(v.kernel_release, isolab::sysinfo::kernel_release());
    assert_eq!(v.live.available, v.live.reason.is_none());
}

#[tokio::test]
async fn version_with_query_token() {
    let (status, _) = send(get(&format!("/api/v1/version?token={TOKEN}"))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn missing_or_wrong_token_is_401_with_a_json_error() {
    for uri in [
        "/api/v1/version",
        "/api/v1/version?token=wrong-token",
        "/api/v1/nope",
    ] {
        let (status, body) = send(get(uri)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        let e: ApiError = serde_json::from_slice(&body).expect("a JSON error");
        assert_eq!(e.error.code, ErrorCode::Unauthorized);
        assert!(e.error.message.contains("token"), "{}", e.error.message);
    }
}

#[tokio::test]
async fn unknown_api_route_is_404_json() {
    let (status, body) = send(get(&format!("/api/v1/nope?token={TOKEN}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let e: ApiError = serde_json::from_slice(&body).expect("a JSON error");
    assert_eq!(e.error.code, ErrorCode::NotFound);
}

#[tokio::test]
async fn the_page_is_served_without_a_token() {
    let (status, body) = send(get("/")).await;
    assert_eq!(status, StatusCode::OK);
    let html = String::from_utf8_lossy(&body);
    assert!(html.contains("isolab"), "{html}");
    // Client-side routes fall back to the page too.
    let (status, _) = send(get("/live/some/view")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_wasm_goes_out_gzipped_to_browsers_that_take_it() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend/dist");
    let wasm = std::fs::read_dir(&dist)
        .expect("frontend/dist exists: build the frontend first (./x test does)")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .max_by_key(|p| p.metadata().map(|m| m.len()).unwrap_or(0))
        .expect("a wasm file in frontend/dist");
    let raw = std::fs::read(&wasm).expect("wasm reads");
    let name = wasm
        .file_name()
        .expect("a name")
        .to_string_lossy()
        .into_owned();
    let request = |encoding: Option<&str>| {
        let mut req = Request::get(format!("/{name}"));
        if let Some(e) = encoding {
            req = req.header(header::ACCEPT_ENCODING, e);
        }
        req.body(Body::empty()).expect("request builds")
    };
    for _ in 0..2 {
        // Twice: the second answer comes from the cache.
        let (status, headers, body) = send_for_headers(request(Some("gzip, deflate, br"))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
        assert_eq!(headers[header::CONTENT_TYPE], "application/wasm");
        assert!(
            body.len() < raw.len() / 2,
            "{} of {} bytes",
            body.len(),
            raw.len()
        );
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut unzipped)
            .expect("valid gzip");
        assert!(unzipped == raw, "gzip holds the same bytes");
    }
    let (_, headers, body) = send_for_headers(request(None)).await;
    assert!(headers.get(header::CONTENT_ENCODING).is_none());
    assert!(body[..] == raw[..], "as it is without Accept-Encoding");
}

#[tokio::test]
async fn real_server_on_port_zero_answers_and_shuts_down() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let addr = listener.local_addr().expect("local addr");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(isolab::server::run(listener, state(), async move {
        let _ = stop_rx.await;
    }));
    let client = reqwest::Client::new();
    let v: VersionInfo = client
        .get(format!("http://{addr}/api/v1/version"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("server answers")
        .json()
        .await
        .expect("a VersionInfo");
    assert_eq!(v.api_version, API_VERSION);
    let unauth = client
        .get(format!("http://{addr}/api/v1/version"))
        .send()
        .await
        .expect("server answers");
    assert_eq!(unauth.status(), reqwest::StatusCode::UNAUTHORIZED);
    stop_tx.send(()).expect("server still running");
    server
        .await
        .expect("server task joins")
        .expect("server exits cleanly");
}
