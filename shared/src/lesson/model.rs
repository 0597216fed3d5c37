//! A lesson as data: [`Lesson`], its [`LessonStep`]s, and the [`Check`]s that turn a
//! step green. The serde shape is the file format that `docs/lessons.md` documents.

use serde::{Deserialize, Serialize};

use crate::limits::Limits;
use crate::namespace::NamespaceKind;
use crate::protocol::{ContainerSpec, ContainerStatus, LimitKind};

/// The terminal name that means the host's shell (any other name is a setup container).
pub const HOST_TERMINAL: &str = "host";

/// A self-checking lesson, as one `lessons/NN-name.toml` file holds it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    /// Stable identifier, e.g. `pid`; `isolab lessons check pid` picks it.
    pub id: String,
    /// The title a lesson list shows.
    pub title: String,
    /// One line saying what the student will see.
    pub summary: String,
    /// Where the lesson runs: `sim`, `live`, or both.
    pub sources: Vec<SourceKind>,
    /// Containers created when the lesson starts and removed when it ends or resets.
    #[serde(default)]
    pub setup: Vec<ContainerSpec>,
    /// The steps, in order.
    pub steps: Vec<LessonStep>,
    /// Commands run when the lesson ends or resets, each in a session of its own, so
    /// that what the steps made outside the setup containers (a named network
    /// namespace, a System V segment on the host) does not outlive the lesson. Their
    /// exit status is ignored: there may be nothing left to remove.
    #[serde(default)]
    pub cleanup: Vec<TerminalCommand>,
    /// What the picture beside the terminals offers, in order.
    #[serde(default = "PicturePart::default_set")]
    pub picture: Vec<PicturePart>,
}

/// A part of the picture beside a lesson's terminals: a tab the student switches to.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PicturePart {
    /// The namespace map.
    Map,
    /// The setup containers' creation steps.
    Steps,
    /// Their limits and use.
    Limits,
    /// The containers' setup times measured on the source, next to published VM figures.
    Figures,
}

impl PicturePart {
    /// What a lesson that names no `picture` shows.
    pub fn default_set() -> Vec<PicturePart> {
        vec![PicturePart::Map, PicturePart::Steps, PicturePart::Limits]
    }

    /// The tab's label.
    pub fn label(self) -> &'static str {
        match self {
            PicturePart::Map => "Namespace map",
            PicturePart::Steps => "Creation steps",
            PicturePart::Limits => "Containers and limits",
            PicturePart::Figures => "Figures",
        }
    }
}

impl Lesson {
    /// The setup containers' lesson-local names, in setup order.
    pub fn container_names(&self) -> impl Iterator<Item = &str> {
        self.setup.iter().filter_map(|s| s.name.as_deref())
    }

    /// Whether the lesson says it runs on `source`.
    pub fn runs_on(&self, source: SourceKind) -> bool {
        self.sources.contains(&source)
    }
}

/// A source of kernel state a lesson runs against.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// The simulator, in the page or in-process.
    Sim,
    /// Real containers on the host's kernel.
    Live,
}

impl SourceKind {
    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Sim => "sim",
            SourceKind::Live => "live",
        }
    }
}

/// One step: what to read, what to try, and how the step knows it was done.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LessonStep {
    /// A short heading.
    pub title: String,
    /// The explanation, in Markdown.
    pub text: String,
    /// Commands offered as buttons that type them into their terminal.
    #[serde(default, rename = "try")]
    pub try_commands: Vec<TerminalCommand>,
    /// An optional question asked before the student tries.
    #[serde(default)]
    pub predict: Option<Prediction>,
    /// All must pass for the step to turn green.
    pub checks: Vec<Check>,
    /// The commands that complete the step ("show me", and the headless checker).
    pub solution: Vec<TerminalCommand>,
    /// A limits change that completes the step after `solution`'s commands, made as
    /// the limits control does (`PATCH /containers/{id}/limits`).
    #[serde(default)]
    pub set_limits: Option<SetLimits>,
}

/// New limits for a setup container.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SetLimits {
    /// The setup container's lesson-local name.
    #[serde(rename = "in")]
    pub container: String,
    /// Its limits from then on (what is not given is unlimited, as in the API).
    pub limits: Limits,
}

/// A command line meant for one terminal.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TerminalCommand {
    /// `host`, or a setup container's lesson-local name.
    #[serde(rename = "in")]
    pub terminal: String,
    /// The line. `{pid:NAME}` stands for container NAME's init's host PID, and
    /// `{pid:NAME:CMD}` for the host PID of a process in NAME (or `host`) running CMD.
    pub run: String,
}

/// A question whose true answer comes from a probe on the source, never from the file.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Prediction {
    /// The question, in Markdown.
    pub question: String,
    /// The offered answers; empty means a free answer.
    #[serde(default)]
    pub choices: Vec<String>,
    /// Run when the step passes; its result is the true answer.
    pub probe: TerminalCommand,
    /// Which part of the probe's result is the answer.
    #[serde(default)]
    pub answer: AnswerFrom,
}

/// How a prediction's probe result becomes an answer.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum AnswerFrom {
    /// The output, trimmed.
    #[default]
    Output,
    /// The number of non-empty output lines.
    Lines,
    /// The exit status.
    Exit,
}

/// A typed assertion on the kernel's state, judged the same way on every source.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// A command, run in its own session in `in`, exits and prints as expected.
    Command {
        #[serde(rename = "in")]
        terminal: String,
        run: String,
        /// The exit status wanted; 0 when no `output` is given either.
        #[serde(default)]
        exit: Option<i32>,
        #[serde(default)]
        output: Option<OutputMatch>,
    },
    /// A container's namespace of one kind is (or is not) the host's or another's.
    Namespace {
        #[serde(rename = "in")]
        container: String,
        ns: NamespaceKind,
        /// `host` or another setup container.
        #[serde(default = "host_terminal")]
        compared_with: String,
        /// true: must be the same namespace; false (default): must differ.
        #[serde(default)]
        same: bool,
    },
    /// A process in the container (or on the `host`) matches: e.g. the shell is PID 1,
    /// a zombie exists, a process runs in namespaces of its own.
    Process {
        #[serde(rename = "in")]
        container: String,
        /// A substring of its command line.
        cmdline: String,
        /// Its PID inside its own pid namespace.
        #[serde(default)]
        pid: Option<u32>,
        /// Its state letter (`R`, `S`, `Z`).
        #[serde(default)]
        state: Option<String>,
        /// Kinds of namespace in which it must differ from the host.
        #[serde(default)]
        own_ns: Vec<NamespaceKind>,
        /// true: no such process may exist.
        #[serde(default)]
        absent: bool,
    },
    /// The container's interfaces are exactly `names`, and exactly `up` are up.
    Interfaces {
        #[serde(rename = "in")]
        container: String,
        names: Vec<String>,
        #[serde(default)]
        up: Option<Vec<String>>,
    },
    /// The container has a process OOM-killed (its cgroup counts one, or its exit says so).
    OomKilled {
        #[serde(rename = "in")]
        container: String,
    },
    /// The container ran into `limit` since the step began.
    LimitHit {
        #[serde(rename = "in")]
        container: String,
        limit: LimitKind,
    },
    /// The container is in this status.
    Status {
        #[serde(rename = "in")]
        container: String,
        status: ContainerStatus,
    },
    /// An event of this type (`container_exited`, `limit_hit`…) was seen since the step
    /// began, about `in` when given.
    Event {
        event: String,
        #[serde(rename = "in", default)]
        container: Option<String>,
    },
}

fn host_terminal() -> String {
    HOST_TERMINAL.to_string()
}

/// What a command's output must be; every field given must hold.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct OutputMatch {
    /// The trimmed output equals this.
    #[serde(default)]
    pub equals: Option<String>,
    /// The output contains this.
    #[serde(default)]
    pub contains: Option<String>,
    /// The output does not contain this.
    #[serde(default)]
    pub lacks: Option<String>,
    /// The trimmed output is a number equal to this.
    #[serde(default)]
    pub number: Option<i64>,
    /// The trimmed output is a number at least this.
    #[serde(default)]
    pub at_least: Option<i64>,
    /// The output has exactly this many non-empty lines.
    #[serde(default)]
    pub lines: Option<usize>,
}

impl Check {
    /// The setup containers and terminals this check names, for validation.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Check::Command { terminal, .. } => vec![terminal],
            Check::Namespace {
                container,
                compared_with,
                ..
            } => vec![container, compared_with],
            Check::Interfaces { container, .. }
            | Check::OomKilled { container }
            | Check::LimitHit { container, .. }
            | Check::Status { container, .. } => vec![container],
            Check::Process { container, .. } => vec![container],
            Check::Event { container, .. } => container.iter().map(String::as_str).collect(),
        }
    }
}
