//! A real server on port 0: HTTP, the event stream, terminals, restarts, scale, lessons
//! on live containers, and the API document's truth.
//!
//! One test binary per group, so the crate links once per group, not once per file.

#[path = "../support/mod.rs"]
mod support;

mod api_doc;
mod http;
mod lesson_sessions;
mod lessons_live;
mod live;
mod restart;
mod scale;
mod terminal;
