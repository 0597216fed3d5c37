//! [`LessonSource`]: what a lesson needs from the simulator or the live kernel.
//!
//! The methods are async so a live source can answer over HTTP (browser) or through the
//! supervisor (CLI); the simulator's answers are ready at once, and [`run_ready`] drives
//! them without an executor.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::limits::Limits;
use crate::protocol::{ContainerSpec, ContainerState, Event, Snapshot};

use super::model::SourceKind;

/// Where a command runs: the host's shell or a container (by the source's id).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Host,
    Container(String),
}

/// The result of a probe command: exit status and output, or a timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeRun {
    Finished { exit: i32, output: String },
    TimedOut,
}

/// A source refused or failed; one line for the student.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// The operations a lesson runs on: containers, terminals, probes, snapshots, events.
// Sources are used through generics on one thread (a browser has no other), so the
// futures carry no `Send` bound.
#[allow(async_fn_in_trait)]
pub trait LessonSource {
    /// Which kind of source this is.
    fn kind(&self) -> SourceKind;
    /// Creates and starts a setup container.
    async fn create(&mut self, spec: &ContainerSpec) -> Result<ContainerState, SourceError>;
    /// Stops and removes a container.
    async fn remove(&mut self, id: &str) -> Result<(), SourceError>;
    /// Types a line into the student's terminal at `target`, as a button would.
    async fn type_line(&mut self, target: &Target, line: &str) -> Result<String, SourceError>;
    /// Runs `command` in a session of its own at `target`, leaving the student's
    /// terminals as they were; gives up after [`super::judge::PROBE_TIMEOUT_MS`].
    async fn probe(&mut self, target: &Target, command: &str) -> Result<ProbeRun, SourceError>;
    /// Changes a container's limits, as the limits control (the API's PATCH) does.
    async fn set_limits(
        &mut self,
        id: &str,
        limits: &Limits,
    ) -> Result<ContainerState, SourceError>;
    /// The state now.
    async fn snapshot(&mut self) -> Result<Snapshot, SourceError>;
    /// The events with a sequence number above `seq`, oldest first.
    async fn events_since(&mut self, seq: u64) -> Result<Vec<Event>, SourceError>;
    /// How long the kernel may take to show a solution's effect (a process's exec,
    /// the next usage reading); checks that fail are retried for that long. The
    /// simulator shows every effect at once.
    fn settle_ms(&self) -> u64 {
        0
    }
    /// Waits `ms` milliseconds (only called by sources with a [`Self::settle_ms`]).
    async fn pause(&mut self, _ms: u64) {}
    /// Ends what the source started for the lesson besides its containers (the
    /// terminals' processes), when the lesson ends.
    async fn finish(&mut self) -> Result<(), SourceError> {
        Ok(())
    }
}

/// Runs a future that completes without waiting (a synchronous source's), or `None` if it
/// would wait: such a source needs a real executor.
pub fn run_ready<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}
