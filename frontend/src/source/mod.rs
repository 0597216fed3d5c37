//! Where the state comes from. The views only see [`Source`] and never know which.
//!
//! - [`live`]: the backend's events WebSocket (reconnect with backoff, resume from the
//!   last seq) and its REST calls.
//! - [`classroom`]: the class's routes (join, roster, hands, broadcast, end time).
//! - [`simulated`]: the model kernel of `isolab_shared::sim`, running in a Web Worker
//!   started when the Simulator is first opened.
//! - [`live_lessons`]: a lesson on live containers: a lesson session on the server.
//! - [`sim_lessons`]: a lesson on the simulator: parsing, steps, checks, predictions.
//! - [`scope`]: the part of a live stream about a few containers (a lesson's picture).
//!
//! Both feed the same reducer ([`crate::state`]) with snapshots and events.

pub mod classroom;
pub mod live;
pub mod live_lessons;
pub mod scope;
pub mod sim_lessons;
pub mod simulated;

use std::rc::Rc;

use isolab_shared::{ContainerSpec, ContainerState, ContainerSteps};

pub use live::LiveSource;
pub use simulated::SimSource;

/// What a terminal tab attaches to.
#[derive(Clone)]
pub enum TerminalTarget {
    /// A terminal WebSocket of the backend, by its API path (`/api/v1/containers/ID/terminal`).
    Live { path: String, token: Option<String> },
    /// The simulated shell.
    Simulated(SimSource),
}

impl PartialEq for TerminalTarget {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (TerminalTarget::Live { path: a, .. }, TerminalTarget::Live { path: b, .. }) => a == b,
            (TerminalTarget::Simulated(a), TerminalTarget::Simulated(b)) => a == b,
            _ => false,
        }
    }
}

/// One terminal tab: a key that survives reloads, a title, and what it attaches to.
#[derive(Clone, PartialEq)]
pub struct TerminalTab {
    pub key: String,
    pub title: String,
    pub target: TerminalTarget,
}

/// The source of one set of views: the live backend or the simulator.
#[derive(Clone, PartialEq)]
pub enum Source {
    Live(LiveSource),
    Simulated(SimSource),
}

/// A failed action, as a sentence for the user.
pub type ActionResult<T> = Result<T, String>;

impl Source {
    /// True for the simulator.
    pub fn is_simulated(&self) -> bool {
        matches!(self, Source::Simulated(_))
    }

    /// Creates and starts a container; returns its id.
    pub async fn create(&self, spec: ContainerSpec) -> ActionResult<String> {
        match self {
            Source::Live(l) => l.create(spec).await,
            Source::Simulated(s) => s.create(spec).await,
        }
    }

    /// Asks the container to stop (SIGTERM, then SIGKILL after a grace).
    pub async fn stop(&self, id: &str) -> ActionResult<()> {
        match self {
            Source::Live(l) => l.stop(id).await,
            Source::Simulated(s) => s.signal(id, 15).await,
        }
    }

    /// Sends SIGKILL to the container's first process.
    pub async fn kill(&self, id: &str) -> ActionResult<()> {
        match self {
            Source::Live(l) => l.kill(id).await,
            Source::Simulated(s) => s.signal(id, 9).await,
        }
    }

    /// Removes the container (killing it first if needed).
    pub async fn remove(&self, id: &str) -> ActionResult<()> {
        match self {
            Source::Live(l) => l.remove(id).await,
            Source::Simulated(s) => s.remove(id).await,
        }
    }

    /// The container's setup steps and isolation facts: inline when its state carries
    /// them (the simulator's does), else fetched from the server.
    pub async fn steps(&self, container: &ContainerState) -> ActionResult<ContainerSteps> {
        match self {
            Source::Live(l) if container.setup.is_empty() => l.steps(&container.id).await,
            _ => Ok(container.steps()),
        }
    }

    /// Starts a shell in the container's namespaces and returns its terminal tab.
    pub async fn exec(&self, id: &str, name: &str) -> ActionResult<TerminalTab> {
        match self {
            Source::Live(l) => l.exec(id, name).await,
            Source::Simulated(s) => s.exec(id, name).await,
        }
    }

    /// The terminal of the container's own first process.
    pub fn terminal(&self, id: &str, name: &str) -> TerminalTab {
        match self {
            Source::Live(l) => l.terminal(id, name),
            Source::Simulated(s) => s.shell_tab(),
        }
    }
}

/// Pointer equality for the `Rc`s inside sources.
pub(crate) fn same<T>(a: &Rc<T>, b: &Rc<T>) -> bool {
    Rc::ptr_eq(a, b)
}
