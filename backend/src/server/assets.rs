//! The frontend, embedded in the binary so that `isolab` can be copied and run alone.
//!
//! A release build embeds `frontend/dist` as Trunk last wrote it; a debug build reads
//! the folder at run time, so a rebuilt frontend shows up without relinking.

use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../frontend/dist"]
struct FrontendDist;

/// The page served when the binary was built without the frontend.
const NOT_BUILT: &str = "<!doctype html><title>isolab</title>\
<p>This isolab binary was built without its web UI. Build it with <code>./x run</code>.</p>";

/// Serves a file of the frontend, or `index.html` for any other path (the app routes itself).
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if let Some(file) = FrontendDist::get(path).filter(|_| !path.is_empty()) {
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        // Trunk puts a content hash in asset names, so they can be cached for good.
        let cache = if path.ends_with(".wasm") || path.ends_with(".js") || path.ends_with(".css") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return (
            [
                (header::CONTENT_TYPE, mime.as_ref().to_string()),
                (header::CACHE_CONTROL, cache.to_string()),
            ],
            file.data.into_owned(),
        )
            .into_response();
    }
    match FrontendDist::get("index.html") {
        Some(index) => (
            [(header::CACHE_CONTROL, "no-cache")],
            Html(index.data.into_owned()),
        )
            .into_response(),
        None => (StatusCode::OK, Html(NOT_BUILT)).into_response(),
    }
}
