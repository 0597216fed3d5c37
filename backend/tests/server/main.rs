//! A real server on port 0: HTTP, the event stream, terminals, restarts, scale, lessons
//! on live containers, the API document's truth, TLS, the limit on wrong tokens and
//! the audit log, the resync after lost process events, and the host's own processes.
//!
//! One test binary per group, so the crate links once per group, not once per file.

#[path = "../support/mod.rs"]
mod support;

mod api_doc;
mod audit;
mod compression;
mod host;
mod http;
mod lesson_sessions;
mod lessons_live;
mod live;
mod process_resync;
mod rate_limit;
mod restart;
mod scale;
mod serve_process;
mod terminal;
mod tls;
