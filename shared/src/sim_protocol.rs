//! The messages between the page and the simulator running in a Web Worker.
//!
//! The page sends [`SimRequest`]s; the worker answers each with one [`SimReply`], in
//! order. Both travel as JSON strings. This module lives outside [`crate::sim`] so the
//! page can speak it without linking the model kernel.
//!
//! A worker that got [`SimRequest::LessonStart`] runs that lesson's machine: the `Lesson*`
//! requests type into its terminals and judge its steps, and its views show that machine.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::lesson::{Lesson, PicturePart, SetLimits, TerminalCommand};
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
    /// Parse lesson files, `GET /api/v1/lessons` answers (JSON text), and the built-in
    /// lessons when `embedded`; the worker keeps them, and answers their outlines
    /// ([`SimOutcome::Lessons`]). The page never parses a whole lesson: that keeps the
    /// lesson model's code out of its first load.
    Lessons {
        files: Vec<LessonFile>,
        #[serde(default)]
        catalogs: Vec<String>,
        embedded: bool,
    },
    /// Start lesson `id` on a fresh machine: its setup, then the solutions of its first
    /// `replay` steps, so a link to step N lands where step N begins.
    LessonStart { id: String, replay: usize },
    /// Type a line into a lesson terminal (`host` or a setup container's name).
    LessonType { terminal: String, line: String },
    /// Replace a line's `{pid:…}` placeholders with host PIDs; answers the line.
    LessonExpand { line: String },
    /// Judge the checks of step `step` (0-based); `since` is the seq when it began.
    LessonCheck { step: usize, since: u64 },
    /// The true answer of step `step`'s prediction, from its probe.
    LessonAnswer { step: usize },
}

/// A lesson file the user picked: its name (for errors) and its text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LessonFile {
    pub name: String,
    pub text: String,
}

/// Lessons that loaded, and one `FILE:LINE: FIELD: message` per file that did not; the
/// shape `GET /api/v1/lessons` answers too.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LessonCatalog {
    pub lessons: Vec<Lesson>,
    #[serde(default)]
    pub errors: Vec<String>,
}

/// What the page shows of a lesson: all but its checks, probes and setup specs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LessonOutline {
    pub id: String,
    pub title: String,
    pub summary: String,
    /// The setup containers' names: each is a terminal, like `host`.
    pub terminals: Vec<String>,
    pub steps: Vec<StepOutline>,
    /// The lesson runs on live containers too (its `sources` has `live`).
    #[serde(default)]
    pub live: bool,
    /// The tabs of the picture beside the terminals.
    #[serde(default = "PicturePart::default_set")]
    pub picture: Vec<PicturePart>,
}

/// What the page shows of a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepOutline {
    pub title: String,
    /// Markdown.
    pub text: String,
    #[serde(rename = "try")]
    pub try_commands: Vec<TerminalCommand>,
    /// The question and its choices (empty: a free answer).
    pub predict: Option<(String, Vec<String>)>,
    pub solution: Vec<TerminalCommand>,
    /// The limits change that completes the step after `solution`, if any.
    #[serde(default)]
    pub set_limits: Option<SetLimits>,
}

impl LessonOutline {
    /// Whether a step types into the `host` terminal, a root shell on the host.
    pub fn types_on_host(&self) -> bool {
        self.steps
            .iter()
            .flat_map(|s| s.try_commands.iter().chain(&s.solution))
            .any(|c| c.terminal == crate::lesson::model::HOST_TERMINAL)
    }
}

impl From<&Lesson> for LessonOutline {
    fn from(lesson: &Lesson) -> LessonOutline {
        LessonOutline {
            id: lesson.id.clone(),
            title: lesson.title.clone(),
            summary: lesson.summary.clone(),
            terminals: lesson.container_names().map(str::to_string).collect(),
            steps: lesson
                .steps
                .iter()
                .map(|s| StepOutline {
                    title: s.title.clone(),
                    text: s.text.clone(),
                    try_commands: s.try_commands.clone(),
                    predict: s
                        .predict
                        .as_ref()
                        .map(|p| (p.question.clone(), p.choices.clone())),
                    solution: s.solution.clone(),
                    set_limits: s.set_limits.clone(),
                })
                .collect(),
            live: lesson.runs_on(crate::lesson::SourceKind::Live),
            picture: lesson.picture.clone(),
        }
    }
}

/// The outlines of the lessons a [`SimRequest::Lessons`] loaded, and its errors.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LessonMenu {
    pub lessons: Vec<LessonOutline>,
    pub errors: Vec<String>,
}

/// One check's verdict as the page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub passed: bool,
    pub reason: String,
}

/// A request with the number its reply will carry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimCall {
    pub call: u32,
    pub request: SimRequest,
}

/// How a request went.
// Externally tagged: a tagged form would make the page buffer every reply (see
// `crate::wire`); only the page and its worker speak this.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimOutcome {
    /// Done, nothing to return.
    Done,
    /// The shell's output for a [`SimRequest::RunLine`].
    Output(String),
    /// The id of the container a [`SimRequest::Create`] made.
    Created(String),
    /// Refused, with a sentence for the user.
    Failed(String),
    /// The lessons a [`SimRequest::Lessons`] loaded.
    Lessons(LessonMenu),
    /// The verdicts of a [`SimRequest::LessonCheck`], one per check.
    Checked(Vec<CheckResult>),
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
    /// A lesson's terminals (lesson-local name) and their prompts.
    #[serde(default)]
    pub terminals: BTreeMap<String, String>,
}

/// The worker's answer to one [`SimCall`].
// Externally tagged, as `SimOutcome`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
