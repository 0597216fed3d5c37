//! Live containers under a running server: made through the runtime, watched until
//! they exit, their terminals kept, and every change published on the event hub.
//!
//! # Layout
//! - [`supervisor`]: [`Supervisor`]: create, inspect, signal, limit, remove, shutdown,
//!   and each terminal's recording begun.
//! - [`entry`]: one container the supervisor knows, shared by the files that extend it.
//! - [`exec`]: exec sessions: another process in a running container, on its own terminal.
//! - [`adopt`]: containers left by a previous server: adopt the living, clean the dead.
//! - [`error`]: [`LiveError`], whose codes are the API's; runtime errors keep theirs.
//! - [`lesson_source`]: [`LiveSource`], real containers as a lesson source (the headless
//!   checker), and the supervisor's captured-output exec.
//! - [`host_shell`]: a lesson's `host` terminal: a root shell on a PTY, ended with its session.
//! - [`hub`]: numbers events, keeps the snapshot and the replay buffer, fans out one
//!   shared frame per event.
//! - [`hub_stats`]: the latest usage figures and when each changed (stats deltas), and
//!   the stats rates clients asked for.
//! - [`feed`]: one events client's frames: start, live events, stats at its rate.
//! - [`terminal`]: terminal sessions shared by many clients, with scrollback.
//! - [`recording`]: the recordings opened, and their container's events as markers.
//! - [`watch`]: background work: process events, stats ticks, host refresh.
//! - [`pid_wait`]: waiting for a process to end (a pidfd), ours or not.
//!
//! Files import one way: `supervisor` uses `entry`, `recording`, `pid_wait` and
//! `terminal`; `exec`, `adopt`, `watch` and `lesson_source` extend it from above.
//!
//! The runtime calls block, so they run on tokio's blocking threads.

pub mod adopt;
pub mod entry;
pub mod error;
pub mod exec;
pub mod feed;
pub mod host_shell;
pub mod hub;
pub mod hub_stats;
pub mod lesson_source;
pub mod pid_wait;
pub mod recording;
pub mod supervisor;
pub mod terminal;
pub mod watch;

pub use error::LiveError;
pub use exec::{ExecInfo, ExecSpec};
pub use lesson_source::LiveSource;
pub use supervisor::{CreateOptions, LiveConfig, Supervisor};
