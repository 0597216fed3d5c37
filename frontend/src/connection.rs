//! The access token and the first call to the backend.
//!
//! The token arrives once in the URL (`?token=…`), is kept in sessionStorage so a
//! reload keeps working, and is removed from the address bar so it does not end up
//! in screenshots, history or a projector.

use gloo_net::http::Request;
use isolab_shared::{ApiError, VersionInfo};

/// The sessionStorage key holding the token.
const TOKEN_KEY: &str = "isolab.token";

/// What the page knows about its backend.
#[derive(Clone, Debug, PartialEq)]
pub enum Connection {
    /// The first request is in flight.
    Checking,
    /// The backend answered.
    Connected(VersionInfo),
    /// The backend wants a token we lack or have wrong; the text says how to get one.
    TokenNeeded(String),
    /// No backend answered: a static page, or the server stopped.
    Offline(String),
}

/// Takes the token from the URL into sessionStorage (removing it from the address
/// bar), and returns whichever token the session has.
pub fn take_token() -> Option<String> {
    let window = web_sys::window()?;
    let storage = window.session_storage().ok().flatten();
    let location = window.location();
    let search = location.search().unwrap_or_default();
    let params = web_sys::UrlSearchParams::new_with_str(&search).ok();
    if let Some(token) = params.as_ref().and_then(|p| p.get("token")) {
        if let Some(s) = &storage {
            // A failed write only means a reload will ask for the token again.
            let _ = s.set_item(TOKEN_KEY, &token);
        }
        if let Some(p) = &params {
            p.delete("token");
            let rest = String::from(p.to_string());
            let path = location.pathname().unwrap_or_else(|_| "/".into());
            let hash = location.hash().unwrap_or_default();
            let clean = if rest.is_empty() {
                format!("{path}{hash}")
            } else {
                format!("{path}?{rest}{hash}")
            };
            if let Ok(history) = window.history() {
                let _ =
                    history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&clean));
            }
        }
        return Some(token);
    }
    storage.and_then(|s| s.get_item(TOKEN_KEY).ok().flatten())
}

/// Keeps `token` (a student's, just joined) as the session's token.
pub fn keep_token(token: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.session_storage().ok().flatten())
        .is_some_and(|s| s.set_item(TOKEN_KEY, token).is_ok())
}

/// The join code when the page's path is `/join/CODE` (the link a student opens).
pub fn join_code_in_path() -> Option<String> {
    let path = web_sys::window()?.location().pathname().ok()?;
    join_code_of(&path)
}

/// The join code of a path `/join/CODE`, if it is one.
pub fn join_code_of(path: &str) -> Option<String> {
    let code = path.strip_prefix("/join/")?.trim_end_matches('/');
    (!code.is_empty() && !code.contains('/')).then(|| code.to_string())
}

/// The message shown when there is no token at all.
pub const TOKEN_HELP: &str = "A token is needed to reach this isolab server. Open the URL that \
`isolab serve` printed in its terminal: it ends in ?token=…";

/// The message shown when the page comes from something other than `isolab serve`.
pub const NOT_ISOLAB: &str = "this page is not served by an isolab server (it has no /api/v1), \
so only the Simulator can run here.";

/// Asks the backend for `/api/v1/version` and classifies the answer.
pub async fn check_backend(token: Option<String>) -> Connection {
    // Asked even without a token: a 401 means "an isolab server wants a token", anything
    // else means this page is not served by isolab (a static copy), so no token helps.
    let request = Request::get("/api/v1/version");
    let request = match &token {
        Some(token) => request.header("Authorization", &format!("Bearer {token}")),
        None => request,
    };
    let response = request.send().await;
    let response = match response {
        Ok(r) => r,
        Err(e) => return Connection::Offline(format!("no isolab server answered: {e}")),
    };
    match response.status() {
        200 => match response.json::<VersionInfo>().await {
            Ok(v) => Connection::Connected(v),
            Err(_) => Connection::Offline(NOT_ISOLAB.to_string()),
        },
        401 if token.is_none() => Connection::TokenNeeded(TOKEN_HELP.to_string()),
        401 => {
            let message = match response.json::<ApiError>().await {
                Ok(e) => e.error.message,
                Err(_) => TOKEN_HELP.to_string(),
            };
            Connection::TokenNeeded(message)
        }
        404 => Connection::Offline(NOT_ISOLAB.to_string()),
        status => Connection::Offline(format!("the server answered HTTP {status}")),
    }
}
