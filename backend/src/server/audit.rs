//! The audit log: one `tracing` event (target [`TARGET`]) per state-changing API call,
//! written by the middleware [`record`] around every `/api/v1` route, so no handler
//! has to remember it.
//!
//! Audited: every request but `GET`/`HEAD`/`OPTIONS`, every terminal socket opened in
//! control mode (typing into a container, the teacher's "take control" included), and
//! every request refused for its token (`401`, `429 rate_limited`), whatever its
//! method. Each event says who (`admin`, `teacher`, `student:ID`, or `anonymous`), from
//! which address, the action (a stable name, see [`action_name`]), the container and
//! the other object the route names, and the result (HTTP status and error code).
//!
//! The middleware learns the caller and the error code from the response's
//! extensions: the auth middleware puts the [`Principal`] there, [`HttpError`] its
//! code; a handler whose object is not in the path (a new container, a student who
//! just joined) adds an [`AuditContainer`] or the [`Principal`] itself.
//!
//! [`HttpError`]: super::error::HttpError

use axum::extract::{MatchedPath, Query, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use isolab_shared::ErrorCode;

use super::auth::peer_ip;
use super::terminal_ws::{AttachMode, TerminalQuery};
use crate::classroom::Principal;

/// The `tracing` target of audit events (filter on it, e.g. `ISOLAB_LOG=warn,isolab::audit=info`).
pub const TARGET: &str = "isolab::audit";

/// The container a request acted on when its path does not name it (a new one).
#[derive(Clone, Debug)]
pub struct AuditContainer(pub String);

/// The stable name of the action of `method` on `route` (the route's pattern under
/// `/api/v1`), for the state-changing routes; `None` for the others.
pub fn action_name(method: &Method, route: &str) -> Option<&'static str> {
    let name = match (method.as_str(), route) {
        ("POST", "/containers") => "container.create",
        ("DELETE", "/containers/{id}") => "container.remove",
        ("POST", "/containers/{id}/stop") => "container.stop",
        ("POST", "/containers/{id}/signal") => "container.signal",
        ("PATCH", "/containers/{id}/limits") => "container.limits",
        ("POST", "/containers/{id}/exec") => "container.exec",
        ("GET", "/containers/{id}/terminal") => "terminal.control",
        ("GET", "/containers/{id}/exec/{exec_id}/terminal") => "exec_terminal.control",
        ("DELETE", "/containers/{id}/recordings") => "recordings.delete_of_container",
        ("DELETE", "/recordings/{recording_id}") => "recording.delete",
        ("POST", "/classroom/join") => "classroom.join",
        ("PATCH", "/classroom") => "classroom.settings",
        ("POST", "/classroom/code") => "classroom.rotate_code",
        ("DELETE", "/classroom/students/{student_id}") => "classroom.remove_student",
        ("DELETE", "/classroom/students/{student_id}/hand") => "classroom.lower_hand_of",
        ("POST", "/classroom/end") => "classroom.end",
        ("POST", "/classroom/broadcast") => "classroom.broadcast_start",
        ("DELETE", "/classroom/broadcast") => "classroom.broadcast_stop",
        ("POST", "/classroom/hand") => "classroom.raise_hand",
        ("DELETE", "/classroom/hand") => "classroom.lower_hand",
        ("POST", "/classroom/progress") => "classroom.progress",
        ("POST", "/lessons/{id}/sessions") => "lesson.start",
        ("POST", "/lessons/sessions/{sid}/type") => "lesson.type",
        ("POST", "/lessons/sessions/{sid}/steps/{n}/limits") => "lesson.limits",
        ("POST", "/lessons/sessions/{sid}/reset") => "lesson.reset",
        ("DELETE", "/lessons/sessions/{sid}") => "lesson.end",
        ("GET", "/lessons/sessions/{sid}/host/terminal") => "lesson.host_terminal",
        _ => return None,
    };
    Some(name)
}

/// Whether a request changes state (or may, as a terminal in control mode does).
fn changes_state(req: &Request, route: &str) -> bool {
    match *req.method() {
        Method::GET | Method::HEAD | Method::OPTIONS => {
            route.ends_with("/terminal")
                && Query::<TerminalQuery>::try_from_uri(req.uri())
                    .is_ok_and(|q| q.0.mode == AttachMode::Control)
        }
        _ => true,
    }
}

/// The value of each `{param}` of `route` in `path`, by name.
fn path_params<'a>(route: &'a str, path: &'a str) -> Vec<(&'a str, &'a str)> {
    route
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(pattern, value)| {
            let name = pattern.strip_prefix('{')?.strip_suffix('}')?;
            Some((name, value))
        })
        .collect()
}

/// Who a principal is, for the log.
fn who(principal: Option<&Principal>) -> String {
    match principal {
        Some(Principal::Admin) => "admin".to_string(),
        Some(Principal::Teacher) => "teacher".to_string(),
        Some(Principal::Student { id }) => format!("student:{id}"),
        None => "anonymous".to_string(),
    }
}

/// Middleware around every `/api/v1` route: passes the request on, then logs it if
/// it changed state or was refused for its token.
pub async fn record(req: Request, next: Next) -> Response {
    let full_route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let path = req.uri().path().to_string();
    let route = full_route
        .as_deref()
        .map(|r| r.strip_prefix("/api/v1").unwrap_or(r).to_string())
        // No route matched: the path as sent stands for it.
        .unwrap_or_else(|| path.strip_prefix("/api/v1").unwrap_or(&path).to_string());
    let audited = changes_state(&req, &route);
    let method = req.method().clone();
    let from = peer_ip(&req);
    let response = next.run(req).await;
    let code = response.extensions().get::<ErrorCode>().copied();
    let refused_token = matches!(code, Some(ErrorCode::Unauthorized | ErrorCode::RateLimited))
        && response.extensions().get::<Principal>().is_none();
    if !(audited || refused_token) {
        return response;
    }
    let relative_path = path.strip_prefix("/api/v1").unwrap_or(&path);
    let params = path_params(&route, relative_path);
    let param = |name: &str| params.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    let container = param("id").map(str::to_string).or_else(|| {
        response
            .extensions()
            .get::<AuditContainer>()
            .map(|c| c.0.clone())
    });
    let object = param("exec_id")
        .or_else(|| param("student_id"))
        .or_else(|| param("recording_id"));
    let action = action_name(&method, &route)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{method} {route}"));
    let code_name = code.map(|c| {
        serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    });
    tracing::info!(
        target: TARGET,
        who = %who(response.extensions().get::<Principal>()),
        from = %from,
        action = %action,
        container = container.as_deref(),
        object = object,
        status = response.status().as_u16(),
        code = code_name.as_deref(),
        "audit"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_read_by_the_routes_pattern() {
        let params = path_params(
            "/containers/{id}/exec/{exec_id}/terminal",
            "/containers/web/exec/e1/terminal",
        );
        assert_eq!(params, vec![("id", "web"), ("exec_id", "e1")]);
        assert!(path_params("/containers", "/containers").is_empty());
    }

    #[test]
    fn state_changing_routes_have_names() {
        assert_eq!(
            action_name(&Method::POST, "/containers"),
            Some("container.create")
        );
        assert_eq!(action_name(&Method::GET, "/containers"), None);
    }
}
