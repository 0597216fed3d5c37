//! The views, and the small components they share.
//!
//! - [`workbench`]: the sub-views of one source (dashboard, map, VMs, steps, terminals).
//! - [`dashboard`], [`container_list`], [`create_dialog`], [`sparkline`], [`events_feed`]:
//!   the container list (filtered, paged), creation, usage history, events.
//! - [`map`], [`map_canvas`]: the namespace map (layout, search, view; the memoised SVG).
//! - [`vms`]: containers next to VMs.
//! - [`steps`]: creation steps and isolation facts.
//! - [`terminals`]: terminal tabs.
//! - [`connection_badge`]: the always-visible connection status.
//! - [`live`], [`simulator`]: the top-level views of the page.
//! - [`lessons`], [`lesson`], [`lesson_step`]: the Lessons tab (in the module fetched
//!   on demand): the list; one lesson: its steps, terminals, picture; a step's text.
//! - [`lesson_live`]: one lesson on live containers, through a lesson session.
//! - [`lesson_picture`]: the map, creation steps or limits beside a lesson's terminals.
//! - [`markdown`]: the safe Markdown subset lesson text is written in.
//! - [`classroom`]: a class's join page, student bar, and the teacher's view.

pub mod classroom;
pub mod connection_badge;
pub mod container_list;
pub mod create_dialog;
pub mod dashboard;
pub mod events_feed;
pub mod lesson;
pub mod lesson_live;
pub mod lesson_picture;
pub mod lesson_step;
pub mod lessons;
pub mod live;
pub mod map;
pub mod map_canvas;
pub mod markdown;
pub mod simulator;
pub mod sparkline;
pub mod steps;
pub mod terminals;
pub mod vms;
pub mod workbench;

use yew::prelude::*;

use crate::source::{Source, TerminalTab};
use crate::state::State;

pub use connection_badge::ConnectionBadge;
pub use live::LiveView;
pub use simulator::SimulatorView;
pub use workbench::Workbench;

/// What every sub-view gets: the state, the source, and how to open things.
#[derive(Properties, PartialEq, Clone)]
pub struct ViewProps {
    pub state: UseReducerHandle<State>,
    pub source: Source,
    /// Opens (or focuses) a terminal tab.
    pub on_open_terminal: Callback<TerminalTab>,
    /// Shows a container's creation steps.
    pub on_show_steps: Callback<String>,
}
