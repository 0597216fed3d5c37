//! isolab's web UI.
//!
//! # Layout
//! - [`app`]: the frame: navigation between the Live, Simulator and Learn views.
//! - [`connection`]: the access token and the backend's `/api/v1/version` check.
//! - [`views`]: one module per view, plus small shared components.
//!
//! Views render only `isolab_shared` types, so they never know whether the live
//! backend or the simulator feeds them.

pub mod app;
pub mod connection;
pub mod views;

pub use app::App;
