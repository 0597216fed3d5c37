//! The frontend, embedded in the binary so that `isolab` can be copied and run alone.
//!
//! A release build embeds `frontend/dist` as Trunk last wrote it; a debug build reads
//! the folder at run time, so a rebuilt frontend shows up without relinking.
//!
//! Text and wasm go out gzip'd to browsers that take it: the wasm is a third of its
//! size then, which is what a classroom's shared link feels. Each file is compressed
//! once, on first request, and kept.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{LazyLock, Mutex};

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode, Uri};
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

/// The Content-Type of a frontend file. wasm must be `application/wasm`, or browsers
/// refuse to compile it while it downloads (mime_guess does not know the extension).
fn content_type(path: &str) -> mime_guess::Mime {
    if path.ends_with(".wasm") {
        if let Ok(wasm) = "application/wasm".parse() {
            return wasm;
        }
    }
    mime_guess::from_path(path).first_or_octet_stream()
}

/// Files below this size go out as they are: gzip's header would eat the gain.
const GZIP_MIN_BYTES: usize = 1024;

/// A frontend file as served: its path and the sha256 of its content (a debug build
/// reads the files from disk, where they may change).
type FileKey = (String, [u8; 32]);

/// The gzip'd body of each file served so far.
static GZIPPED: LazyLock<Mutex<HashMap<FileKey, Bytes>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Whether the request's Accept-Encoding takes gzip (and does not refuse it with q=0).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// Whether gzip shrinks this kind of file (images other than svg are compressed already).
fn compressible(mime: &mime_guess::Mime) -> bool {
    matches!(mime.type_(), mime_guess::mime::TEXT)
        || matches!(
            mime.essence_str(),
            "application/javascript" | "application/wasm" | "application/json" | "image/svg+xml"
        )
}

/// `data` gzip'd at the best level, from the cache after the first time.
async fn gzipped(path: &str, hash: [u8; 32], data: Bytes) -> Option<Bytes> {
    let key = (path.to_string(), hash);
    if let Some(hit) = GZIPPED.lock().ok()?.get(&key) {
        return Some(hit.clone());
    }
    // A large wasm takes a moment at level 9: off the async threads.
    let body = tokio::task::spawn_blocking(move || {
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(data.len() / 3),
            flate2::Compression::best(),
        );
        encoder.write_all(&data).ok()?;
        encoder.finish().ok()
    })
    .await
    .ok()??;
    let body = Bytes::from(body);
    GZIPPED.lock().ok()?.insert(key, body.clone());
    Some(body)
}

/// Serves a file of the frontend, or `index.html` for any other path (the app routes itself).
pub async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    if let Some(file) = FrontendDist::get(path).filter(|_| !path.is_empty()) {
        let mime = content_type(path);
        let cache = if has_content_hash(path) {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        // Set (not appended), so they replace what the body type would set.
        let response_headers = [
            (header::CONTENT_TYPE, mime.as_ref().to_string()),
            (header::CACHE_CONTROL, cache.to_string()),
            (header::VARY, "accept-encoding".to_string()),
        ];
        let data = Bytes::from(file.data.into_owned());
        if data.len() >= GZIP_MIN_BYTES && compressible(&mime) && accepts_gzip(&headers) {
            if let Some(body) = gzipped(path, file.metadata.sha256_hash(), data.clone()).await {
                let gzip = [(header::CONTENT_ENCODING, "gzip")];
                return (response_headers, gzip, body).into_response();
            }
        }
        return (response_headers, data).into_response();
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
    use super::{accepts_gzip, has_content_hash};
    use axum::http::{header, HeaderMap, HeaderValue};

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).expect("header value"),
        );
        headers
    }

    #[test]
    fn wasm_and_modules_have_their_types() {
        assert_eq!(
            super::content_type("a-0123_bg.wasm").as_ref(),
            "application/wasm"
        );
        // Module scripts load with either of JavaScript's two types.
        for script in ["xterm.mjs", "a.js"] {
            let t = super::content_type(script);
            assert!(t.essence_str().ends_with("/javascript"), "{script}: {t}");
        }
        assert_eq!(super::content_type("a.css").as_ref(), "text/css");
    }

    #[test]
    fn gzip_only_for_browsers_that_take_it() {
        assert!(accepts_gzip(&accept("gzip, deflate, br")));
        assert!(accepts_gzip(&accept("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&accept("*")));
        assert!(!accepts_gzip(&accept("br, deflate")));
        assert!(!accepts_gzip(&accept("gzip;q=0, br")));
        assert!(!accepts_gzip(&accept("identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

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
