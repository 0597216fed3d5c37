//! The messages between the page and the simulator running in a Web Worker.
//!
//! The page sends [`SimRequest`]s; the worker answers each with one [`SimReply`], in
//! order. Both travel as JSON strings. This module lives outside [`crate::sim`] so the
//! page can speak it without linking the model kernel.

use serde::{Deserialize, Serialize};

use crate::protocol::{ContainerSpec, Event, Snapshot};

/// The scenario a fresh simulator starts from.
pub const DEFAULT_SCENARIO: &str = "two-containers";

/// Every scenario name, with a one-line description.
pub const SCENARIOS: &[(&str, &str)] = &[
    (
        "empty",
        "a host with a few daemons and your shell; no containers",
    ),
    (
        "two-containers",
        "two containers, web and db, each in its own namespaces",
    ),
    (
        "nested-pid",
        "a container whose shell made a nested pid namespace (three NSpid levels)",
    ),
    (
        "bridge",
        "two containers joined by veths to bridge br0 on the host: they can ping",
    ),
    ("pids-limit", "a container whose cgroup allows only 8 tasks"),
    (
        "rootless",
        "your shell runs as student (uid 1000): try unshare -r",
    ),
];

/// What the page asks the simulator to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SimRequest {
    /// Start (over) from a named scenario.
    Reset { scenario: String },
    /// Run one line in the simulated shell.
    RunLine { line: String },
    /// Create and start a container.
    Create { spec: ContainerSpec },
    /// End a container's first process with a signal (the model has no grace period).
    Signal { id: String, signal: i32 },
    /// Kill and forget a container.
    Remove { id: String },
    /// Move the shell into a container's namespaces and cgroup.
    Attach { id: String },
}

/// A request with the number its reply will carry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimCall {
    pub call: u32,
    pub request: SimRequest,
}

/// How a request went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum SimOutcome {
    /// Done, nothing to return.
    Done,
    /// The shell's output for a [`SimRequest::RunLine`].
    Output(String),
    /// The id of the container a [`SimRequest::Create`] made.
    Created(String),
    /// Refused, with a sentence for the user.
    Failed(String),
}

/// The simulator's state after a request: what the views and the terminal need.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SimView {
    /// Events since the previous reply (the scenario's own are in the snapshot).
    pub events: Vec<Event>,
    pub snapshot: Snapshot,
    /// The prompt of the current shell.
    pub prompt: String,
    /// True once the last shell exited.
    pub finished: bool,
    /// The scenario it started from.
    pub scenario: String,
}

/// The worker's answer to one [`SimCall`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum SimReply {
    /// The worker is listening; calls sent before this may be lost.
    Ready,
    /// The answer to call `call`.
    Answer {
        call: u32,
        outcome: SimOutcome,
        view: Box<SimView>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_replies_survive_json() {
        let call = SimCall {
            call: 7,
            request: SimRequest::Signal {
                id: "c1".into(),
                signal: 9,
            },
        };
        let text = serde_json::to_string(&call).expect("serializes");
        assert_eq!(
            serde_json::from_str::<SimCall>(&text).expect("parses"),
            call
        );
        let reply = SimReply::Answer {
            call: 7,
            outcome: SimOutcome::Output("isolab-host\n".into()),
            view: Box::new(SimView {
                prompt: "# ".into(),
                scenario: DEFAULT_SCENARIO.into(),
                ..SimView::default()
            }),
        };
        let text = serde_json::to_string(&reply).expect("serializes");
        assert_eq!(
            serde_json::from_str::<SimReply>(&text).expect("parses"),
            reply
        );
    }

    #[test]
    fn the_default_scenario_is_listed() {
        assert!(SCENARIOS.iter().any(|(n, _)| *n == DEFAULT_SCENARIO));
    }
}
