//! The recording player and the recordings list, part of the views fetched on demand
//! ([`crate::on_demand`]): the page's first load carries none of it.
//!
//! - [`cast`]: reading asciicast v2, isolab's marker payloads and header included.
//! - [`timeline`]: the clock, seeking (the terminal's work), the container at a moment.
//! - [`api`]: the recordings index and files.
//! - [`view`]: the [`view::Player`] component.
//! - [`list`]: the [`list::Recordings`] component (the index, then a player).

pub mod api;
pub mod cast;
pub mod list;
pub mod timeline;
pub mod view;

pub use list::Recordings;
pub use view::Player;
