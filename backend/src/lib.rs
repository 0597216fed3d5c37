//! isolab's backend: a container runtime, observers of the kernel's state, and the server.
//!
//! # Layout
//! - [`sysinfo`]: facts about the host (kernel release, cgroup layout, whether live mode works).
//! - [`runtime`]: the container runtime library (spec -> plan -> apply; lifecycle).
//! - [`observe`]: reads /proc and cgroupfs into shared types.
//! - [`live`]: the live containers of a server: supervisor, exit watchers, process events,
//!   the event hub, and terminal sessions shared by many clients.
//! - [`recording`]: terminal recordings (asciicast v2 files, their index in SQLite).
//! - [`store`]: the server's one SQLite database (the class, the recordings' index).
//! - [`classroom`]: classroom mode: who a caller is, what they may see and touch,
//!   students' quotas, and the class kept in the store.
//! - [`server`]: axum routes: the embedded UI, token auth, the REST API.
//! - [`sim_cli`]: `isolab sim`, the simulator's shell in a terminal.
//! - [`wall_clock`]: the time in ms since the epoch, as everything here stores it.
//!
//! The rooms layer one way, from the top: `commands -> server -> classroom -> live ->
//! recording -> store -> runtime -> observe -> sysinfo`; a test (`layering.rs`) fails on
//! an upward import, an import cycle between the files of a room, or a file in no room.
//!
//! The runtime is a library with no axum or clap in it; `main.rs` only parses flags
//! and calls in here.

pub mod classroom;
#[cfg(test)]
mod layering;
pub mod live;
pub mod observe;
pub mod recording;
pub mod runtime;
pub mod server;
pub mod sim_cli;
pub mod store;
pub mod sysinfo;
pub mod wall_clock;
