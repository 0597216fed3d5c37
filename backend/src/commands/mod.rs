//! The subcommands of the `isolab` binary; each is a thin user of the library.
//!
//! - [`serve`]: the web UI and the API.
//! - [`run`]: a command in a new container.
//! - [`manage`]: `ps`, `rm` and `gc` over the state dir.
//! - [`tty`]: the CLI's terminal: raw mode, window size, PTY relay.
//! - [`lessons`]: `lessons check`, the lessons' headless self-test.

pub mod lessons;
pub mod manage;
pub mod run;
pub mod serve;
pub mod tty;
