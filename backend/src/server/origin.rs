//! The WebSocket origin check: a page from another site must not reach the API
//! through a visitor's browser (cross-site WebSocket hijacking).

use axum::http::header::{HOST, ORIGIN};
use axum::http::HeaderMap;
use isolab_shared::ErrorCode;

use super::error::HttpError;

/// Lets an upgrade through when it has no `Origin` (not a browser), when the origin
/// is the server's own (same host and port as the request), or when it is allowed.
pub fn check(headers: &HeaderMap, allowed: &[String]) -> Result<(), HttpError> {
    let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok()) else {
        return Ok(());
    };
    let origin = origin.trim_end_matches('/');
    let own = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| {
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                == Some(host)
        });
    if own || allowed.iter().any(|a| a.trim_end_matches('/') == origin) {
        return Ok(());
    }
    Err(HttpError::new(
        ErrorCode::ForbiddenOrigin,
        format!("origin {origin} is not allowed: start isolab serve with --allow-origin {origin} to permit it"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HOST, host.parse().expect("host header"));
        if let Some(o) = origin {
            h.insert(ORIGIN, o.parse().expect("origin header"));
        }
        h
    }

    #[test]
    fn own_origin_and_non_browsers_pass() {
        assert!(check(
            &headers(Some("http://127.0.0.1:7477"), "127.0.0.1:7477"),
            &[]
        )
        .is_ok());
        assert!(check(&headers(None, "127.0.0.1:7477"), &[]).is_ok());
    }

    #[test]
    fn other_origins_need_the_allowlist() {
        let h = headers(Some("http://evil.example"), "127.0.0.1:7477");
        let err = check(&h, &[]).expect_err("refused");
        assert_eq!(err.status, axum::http::StatusCode::FORBIDDEN);
        assert!(check(&h, &["http://evil.example/".to_string()]).is_ok());
        // Same host, other port is another origin.
        assert!(check(
            &headers(Some("http://127.0.0.1:9999"), "127.0.0.1:7477"),
            &[]
        )
        .is_err());
    }
}
