//! The access token: made at start, printed in the URL, required on every API call.
//! The middleware turns the token presented into the caller's [`Principal`] (admin,
//! teacher, or a student by their own token), which every handler and socket gets.
//! Wrong tokens are counted per address: after [`MAX_AUTH_FAILURES`] (by default) within
//! [`AUTH_FAILURE_WINDOW`], every request with a token from that address gets `429
//! rate_limited` until the window has passed (a right token too, so the answer tells
//! a guesser nothing).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use isolab_shared::ErrorCode;
use rand::RngCore;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::error::HttpError;
use super::AppState;
use crate::classroom::Principal;

/// The default of [`super::ServerConfig::max_auth_failures`]: wrong tokens one
/// address may present per [`AUTH_FAILURE_WINDOW`].
pub const MAX_AUTH_FAILURES: usize = 20;
/// The window of [`MAX_AUTH_FAILURES`].
pub const AUTH_FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// A secret that grants full access to the API.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// A fresh random token: 128 bits as 32 hex digits.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        AccessToken(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// A token the user chose (`--token`); refuses ones too short to be secret.
    pub fn from_user(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.len() < 8 {
            return Err("the token must be at least 8 characters long".to_string());
        }
        if !t.chars().all(|c| c.is_ascii_graphic()) || t.contains(['&', '#', '?', '%', '+']) {
            return Err("the token may use only printable ASCII without & # ? % +".to_string());
        }
        Ok(AccessToken(t.to_string()))
    }

    /// The token's text, for the printed URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares in constant time, so response timing does not leak the token.
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(…)")
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The token a request presents: `Authorization: Bearer …`, or `?token=` (which
/// browsers need for WebSockets, since they cannot set headers there).
fn presented_token(req: &Request) -> Option<String> {
    if let Some(value) = req.headers().get(AUTHORIZATION) {
        if let Some(t) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")) {
            return Some(t.trim().to_string());
        }
    }
    Query::<TokenQuery>::try_from_uri(req.uri())
        .ok()
        .and_then(|q| q.0.token)
}

/// Who holds `token`: the server's token is the admin's (the teacher's in a class);
/// in a class, a student's token is that student's. `None`: nobody's.
async fn principal_of(state: &AppState, token: &str) -> Result<Option<Principal>, HttpError> {
    if state.token().matches(token) {
        return Ok(Some(match state.classroom() {
            Some(_) => Principal::Teacher,
            None => Principal::Admin,
        }));
    }
    let Some(classroom) = state.classroom() else {
        return Ok(None);
    };
    let student = classroom
        .student_by_token(token)
        .await
        .map_err(|e| HttpError::new(e.code(), e.to_string()))?;
    Ok(student.map(|s| Principal::Student { id: s.id }))
}

/// The address a request came from; a router driven without a listener (tests)
/// has none, and all its requests count as one address.
pub fn peer_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(a)| a.ip())
}

/// Middleware: lets the request through only with a known token, else 401 (429
/// once its address has presented too many wrong ones); the request carries the
/// caller's [`Principal`] from here on, and so does the response (for the audit log).
pub async fn require_token(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(token) = presented_token(&req) else {
        return HttpError::new(
            ErrorCode::Unauthorized,
            "a token is needed: open the URL that `isolab serve` printed (it ends in ?token=…), \
             or send Authorization: Bearer TOKEN",
        )
        .into_response();
    };
    let from = peer_ip(&req);
    let failures = state.auth_failures();
    if failures.is_limited(from, Instant::now()) {
        return HttpError::new(
            ErrorCode::RateLimited,
            format!(
                "too many wrong tokens from this address: wait a minute (at most {} a minute)",
                failures.max()
            ),
        )
        .into_response();
    }
    match principal_of(&state, &token).await {
        Ok(Some(principal)) => {
            req.extensions_mut().insert(principal.clone());
            let mut response = next.run(req).await;
            response.extensions_mut().insert(principal);
            response
        }
        Ok(None) => {
            failures.record_failure(from, Instant::now());
            HttpError::new(
                ErrorCode::Unauthorized,
                "the token is wrong: open the URL that `isolab serve` printed",
            )
            .into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_long_and_distinct() {
        let a = AccessToken::generate();
        let b = AccessToken::generate();
        assert_eq!(a.as_str().len(), 32);
        assert_ne!(a.as_str(), b.as_str());
        assert!(a.matches(a.as_str()));
        assert!(!a.matches(b.as_str()));
        assert!(!a.matches(""));
    }

    #[test]
    fn user_tokens_must_be_long_and_url_safe() {
        assert!(AccessToken::from_user("short").is_err());
        assert!(AccessToken::from_user("has&amp;sign").is_err());
        assert!(AccessToken::from_user("classroom-2026").is_ok());
    }
}
