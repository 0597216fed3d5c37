//! The terminal: xterm.js in a Yew component, attached to a live or simulated shell.
//!
//! - [`xterm`]: the wasm-bindgen binding of xterm.js and its fit addon.
//! - [`pane`]: the [`pane::TerminalPane`] component (resize, copy/paste, view mode).
//! - [`live_session`]: a terminal WebSocket with reconnect and exact replay by offset.
//! - [`sim_session`]: the simulated shell behind the same terminal.
//! - [`line_editor`]: line editing and history for the simulated shell.
//! - [`replay`]: which bytes of a (re)attach are new, given what the terminal has.

pub mod line_editor;
pub mod live_session;
pub mod pane;
pub mod replay;
pub mod sim_session;
pub mod xterm;

pub use pane::TerminalPane;
