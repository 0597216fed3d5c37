//! Keeps docs/api.md true: every documented route exists, every error code is
//! documented with the status the server really answers.

use crate::support::server::StateRootGuard;
use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use isolab::server::error::status_for;
use isolab::server::{app, auth::AccessToken, AppState, ServerConfig};
use isolab_shared::ErrorCode;
use tower::ServiceExt;

const TOKEN: &str = "doc-test-token";

fn doc() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md"))
        .expect("docs/api.md exists")
}

/// `(method, path)` of every row of the REST table.
fn documented_routes(doc: &str) -> Vec<(Method, String)> {
    doc.lines()
        .filter_map(|line| {
            let cell = line.strip_prefix("| `")?.split('`').next()?;
            let (method, path) = cell.split_once(' ')?;
            let method = Method::from_bytes(method.as_bytes()).ok()?;
            path.starts_with('/').then(|| (method, path.to_string()))
        })
        .collect()
}

#[tokio::test]
async fn every_documented_route_exists() {
    let mut config = ServerConfig::new(
        AccessToken::from_user(TOKEN).expect("token"),
        env!("CARGO_BIN_EXE_isolab").into(),
    );
    // A state root of this process's own: other runs of this test may be live.
    let state_root =
        std::env::temp_dir().join(format!("isolab-test-api-doc-{}", std::process::id()));
    let _cleanup = StateRootGuard(state_root.clone());
    config.live.runtime.state_root = state_root.clone();
    let router = app(AppState::new(config));
    let routes = documented_routes(&doc());
    assert!(
        routes.len() >= 10,
        "the REST table was not found: {routes:?}"
    );
    for (method, path) in routes {
        let uri = format!("/api/v1{}", path.replace("{id}", "no-such-container"));
        let request = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/json")
            // A body no route accepts (an empty command): every route answers, and
            // `POST /containers` makes no container that would outlive the test.
            .body(Body::from(r#"{"command":[]}"#))
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("answer");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("no such API route") && status != 405,
            "{method} {path} is documented but not routed: {status} {text}"
        );
    }
    let made = isolab::runtime::list(&state_root);
    assert!(made.is_empty(), "the route check made containers: {made:?}");
}

#[test]
fn every_error_code_is_documented_with_its_status() {
    let doc = doc();
    for code in [
        ErrorCode::Unauthorized,
        ErrorCode::ForbiddenOrigin,
        ErrorCode::BadJson,
        ErrorCode::BadRequest,
        ErrorCode::UnknownMessage,
        ErrorCode::NotFound,
        ErrorCode::ImageNotFound,
        ErrorCode::LimitOutOfRange,
        ErrorCode::TooManyContainers,
        ErrorCode::LiveUnavailable,
        ErrorCode::Conflict,
        ErrorCode::Internal,
        ErrorCode::Forbidden,
        ErrorCode::QuotaExceeded,
        ErrorCode::NamespaceRequired,
        ErrorCode::BadJoinCode,
        ErrorCode::JoiningClosed,
        ErrorCode::RateLimited,
        ErrorCode::BadName,
        ErrorCode::NameTaken,
        ErrorCode::NoClassroom,
    ] {
        let name = serde_json::to_value(code).expect("serializes");
        let name = name.as_str().expect("a string");
        let row = format!("| `{name}` | {} |", status_for(code).as_u16());
        assert!(doc.contains(&row), "docs/api.md lacks the row {row}");
    }
}

#[test]
fn every_documented_state_changing_route_has_a_documented_audit_action() {
    let doc = doc();
    let audit_section = doc
        .split("## Audit log")
        .nth(1)
        .expect("docs/api.md has an audit log section");
    let mut checked = 0;
    for (method, path) in documented_routes(&doc) {
        if method == Method::GET {
            continue;
        }
        let action = isolab::server::audit::action_name(&method, &path)
            .unwrap_or_else(|| panic!("{method} {path} has no audit action name"));
        assert!(
            audit_section.contains(&format!("`{action}`")),
            "the audit action {action} of {method} {path} is not documented"
        );
        checked += 1;
    }
    assert!(
        checked >= 15,
        "the state-changing routes were not found: {checked}"
    );
}
