//! Live containers under a running server: made through the runtime, watched until
//! they exit, their terminals kept, and every change published on the event hub.
//!
//! # Layout
//! - [`supervisor`]: [`Supervisor`]: create, inspect, signal, limit, exec, remove;
//!   adoption of containers left by a previous server; shutdown.
//! - [`hub`]: numbers events, keeps the snapshot and the replay buffer, fans out.
//! - [`terminal`]: terminal sessions shared by many clients, with scrollback.
//! - [`watch`]: background work: exit watchers, process events, stats ticks, host refresh.
//!
//! The runtime calls block, so they run on tokio's blocking threads.

pub mod hub;
pub mod supervisor;
pub mod terminal;
pub mod watch;

pub use supervisor::{ExecSpec, LiveConfig, LiveError, Supervisor};
