//! A real server in classroom mode: who may do what, joining and quotas, the teacher's
//! stage, restarts, and terminal recordings.
//!
//! One test binary per group, so the crate links once per group, not once per file.

#[path = "../support/mod.rs"]
mod support;

mod access;
mod lessons;
mod recordings;
mod recordings_access;
mod restart;
mod rules;
mod stage;
