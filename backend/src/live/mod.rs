//! Live containers under a running server: made through the runtime, watched until
//! they exit, their terminals kept, and every change published on the event hub.
//!
//! # Layout
//! - [`supervisor`]: [`Supervisor`]: create, inspect, signal, limit, remove, shutdown.
//! - [`exec`]: exec sessions: another process in a running container, on its own terminal.
//! - [`adopt`]: containers left by a previous server: adopt the living, clean the dead.
//! - [`error`]: [`LiveError`], whose codes are the API's; runtime errors keep theirs.
//! - [`hub`]: numbers events, keeps the snapshot and the replay buffer, fans out.
//! - [`terminal`]: terminal sessions shared by many clients, with scrollback.
//! - [`recording`]: each terminal session recorded, its container's events as markers.
//! - [`watch`]: background work: exit watchers, process events, stats ticks, host refresh.
//!
//! The runtime calls block, so they run on tokio's blocking threads.

pub mod adopt;
pub mod error;
pub mod exec;
pub mod hub;
pub mod recording;
pub mod supervisor;
pub mod terminal;
pub mod watch;

pub use error::LiveError;
pub use exec::{ExecInfo, ExecSpec};
pub use supervisor::{CreateOptions, LiveConfig, Supervisor};
