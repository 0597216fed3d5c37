//! Helpers shared by the test groups: each group's `main.rs` includes this module, and
//! uses what it needs.

#![allow(dead_code)]

pub mod classroom;
pub mod raw_ws;
pub mod recording;
pub mod runtime;
pub mod server;
