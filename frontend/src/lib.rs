//! isolab's web UI.
//!
//! # Layout
//! - [`app`]: the frame: navigation between the Live, Simulator and Lessons views (and
//!   Classroom for a class's teacher); the join page at `/join/CODE`.
//! - [`route`]: the hash router (`#/live`, `#/simulator`, `#/lessons/ID/STEP`), read
//!   by the page and by the module fetched on demand alike.
//! - [`connection`]: the access token and the backend's `/api/v1/version` check.
//! - [`state`]: the reducer every view reads (snapshot, history, events feed).
//! - [`lesson_state`]: lesson progress (steps done, predictions), kept in localStorage.
//! - [`source`]: where state comes from: the live backend or the in-page simulator.
//! - [`terminal`]: xterm.js terminals attached to live or simulated shells.
//! - [`views`]: one module per view, plus small shared components.
//! - [`on_demand`]: where the page shows a view of the module fetched on demand.
//! - [`extra_views`]: that module's views (the Lessons tab, the teacher's, the join
//!   page, recordings), linked only into the `extra-views` bin.
//! - [`player`]: the recordings list and player (asciicast reading, seeking, the
//!   container rebuilt at a moment), one of those views.
//!
//! Views render only `isolab_shared` types, so they never know whether the live
//! backend or the simulator feeds them.

pub mod app;
pub mod connection;
pub mod extra_views;
pub mod lesson_state;
pub mod on_demand;
pub mod player;
pub mod route;
pub mod source;
pub mod state;
pub mod terminal;
pub mod views;

pub use app::{App, Root};
