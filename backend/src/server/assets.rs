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

/// Whether Trunk put a content hash in the name (`name-0123456789abcdef.ext`): such a
/// file never changes, so browsers may keep it for good. Copied files (xterm's) have
/// none and are revalidated.
fn has_content_hash(path: &str) -> bool {
    let stem = path.rsplit('/').next().unwrap_or(path);
    let stem = stem.split('.').next().unwrap_or(stem);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Serves a file of the frontend, or `index.html` for any other path (the app routes itself).
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if let Some(file) = FrontendDist::get(path).filter(|_| !path.is_empty()) {
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        let cache = if has_content_hash(path) {
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

#[cfg(test)]
mod tests {
    use super::has_content_hash;

    #[test]
    fn only_hashed_names_are_cached_for_good() {
        assert!(has_content_hash("isolab-frontend-4b10b12151f46c0d_bg.wasm"));
        assert!(has_content_hash("isolab-frontend-4b10b12151f46c0d.js"));
        assert!(has_content_hash("style-838b64c97634a5f1.css"));
        assert!(!has_content_hash("xterm.css"));
        assert!(!has_content_hash("addon-fit.mjs"));
        // Trunk names workers without a hash (the page names them at run time).
        assert!(!has_content_hash("sim-worker_bg.wasm"));
        assert!(!has_content_hash("sim-worker_loader.js"));
        assert!(!has_content_hash("index.html"));
    }
}
