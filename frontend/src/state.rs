//! The app state of one source (live or simulated) and the one reducer that changes it.
//!
//! In the style of yew's `function_todomvc`: a [`State`], the [`Action`]s that change
//! it, and `impl Reducible`. Events are folded with [`Snapshot::apply`], the same rule
//! the server uses, so client and server always agree.

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use isolab_shared::{CgroupUsage, Event, EventKind, LimitKind, Snapshot};
use yew::Reducible;

/// How many usage samples each container keeps for its sparklines.
pub const HISTORY_LEN: usize = 60;
/// How many entries the events log keeps.
pub const LOG_LEN: usize = 200;

/// Whether the stream of events reaches us.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum StreamStatus {
    /// Not started (no backend, or live mode not chosen).
    #[default]
    Idle,
    /// Opening the WebSocket.
    Connecting,
    /// Snapshot received, events flowing.
    Open,
    /// Lost; the next attempt is in `retry_ms`.
    Reconnecting { attempt: u32, retry_ms: u32 },
    /// The model kernel in this page feeds the views.
    Simulated,
}

/// One point of a container's usage history.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Sample {
    pub at_ms: u64,
    /// Percent of one cpu over the interval before this sample.
    pub cpu_percent: f64,
    pub memory_bytes: f64,
    pub pids: f64,
    /// Cumulative cpu time, kept to compute the next interval's percent.
    pub cpu_usage_us: Option<u64>,
}

/// How much a log entry matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// One line of the events feed.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// The event's sequence number (unique per source).
    pub seq: u64,
    pub at_ms: u64,
    pub severity: Severity,
    pub text: String,
    /// Shown as a notification until dismissed.
    pub notify: bool,
}

/// Everything the views draw, for one source.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct State {
    pub snapshot: Snapshot,
    pub status: StreamStatus,
    /// Usage history per container id, oldest first.
    pub history: BTreeMap<String, VecDeque<Sample>>,
    /// The events feed, newest last.
    pub log: VecDeque<LogEntry>,
    /// Sequence numbers of notifications the user dismissed.
    pub dismissed: Vec<u64>,
    /// Bumped on every change: cheap equality for memoised views.
    pub version: u64,
}

/// What changes the state.
#[derive(Clone, Debug)]
pub enum Action {
    /// A whole new picture (first message, after a gap, or after a simulator step).
    Snapshot(Snapshot),
    /// One event, in order.
    Event(Event),
    /// Several events at once (a replay), rendered once.
    Events(Vec<Event>),
    /// The stream's connection changed.
    Status(StreamStatus),
    /// The user closed a notification.
    Dismiss(u64),
    /// A message for the feed from the UI itself (a failed request).
    Notice(Severity, String),
    /// Back to nothing (simulator reset).
    Clear,
}

impl Reducible for State {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = Rc::unwrap_or_clone(self);
        s.apply(action);
        Rc::new(s)
    }
}

impl State {
    /// Applies one action in place.
    pub fn apply(&mut self, action: Action) {
        self.version += 1;
        match action {
            Action::Snapshot(snapshot) => {
                self.snapshot = snapshot;
                self.history
                    .retain(|id, _| self.snapshot.containers.iter().any(|c| &c.id == id));
                let now = self
                    .snapshot
                    .containers
                    .iter()
                    .map(|c| c.created_at_ms)
                    .max();
                let usage: Vec<(String, CgroupUsage)> = self
                    .snapshot
                    .containers
                    .iter()
                    .filter_map(|c| c.cgroup.clone().map(|u| (c.id.clone(), u)))
                    .collect();
                for (id, u) in usage {
                    self.record(&id, now.unwrap_or(0), &u);
                }
            }
            Action::Event(event) => self.fold(&event),
            Action::Events(events) => events.iter().for_each(|e| self.fold(e)),
            Action::Status(status) => self.status = status,
            Action::Dismiss(seq) => self.dismissed.push(seq),
            Action::Notice(severity, text) => {
                let seq = u64::MAX - self.version;
                self.push_log(LogEntry {
                    seq,
                    at_ms: js_now_ms(),
                    severity,
                    text,
                    notify: true,
                });
            }
            Action::Clear => {
                let status = self.status.clone();
                *self = State {
                    status,
                    version: self.version,
                    ..State::default()
                };
            }
        }
    }

    /// The notifications not yet dismissed, newest first, at most `n`.
    pub fn notifications(&self, n: usize) -> Vec<&LogEntry> {
        self.log
            .iter()
            .rev()
            .filter(|e| e.notify && !self.dismissed.contains(&e.seq))
            .take(n)
            .collect()
    }

    fn fold(&mut self, event: &Event) {
        // Stats are samples that repeat the last event's number (see Snapshot::apply).
        let sample = matches!(event.kind, EventKind::Stats { .. });
        if !sample && event.seq <= self.snapshot.seq && self.snapshot.seq != 0 {
            return;
        }
        if let Some(entry) = self.describe(event) {
            self.push_log(entry);
        }
        self.snapshot.apply(event);
        match &event.kind {
            EventKind::Stats { usage } => {
                for (id, u) in usage {
                    self.record(id, event.at_ms, u);
                }
            }
            EventKind::ContainerRemoved { id } | EventKind::ContainerCleaned { id } => {
                self.history.remove(id);
            }
            _ => {}
        }
    }

    fn push_log(&mut self, entry: LogEntry) {
        if self.log.len() >= LOG_LEN {
            self.log.pop_front();
        }
        self.log.push_back(entry);
    }

    fn record(&mut self, id: &str, at_ms: u64, u: &CgroupUsage) {
        let history = self.history.entry(id.to_string()).or_default();
        let cpu_percent = match (history.back(), u.cpu_usage_us) {
            (Some(prev), Some(now_us)) => match prev.cpu_usage_us {
                Some(prev_us) if at_ms > prev.at_ms => {
                    let busy_us = now_us.saturating_sub(prev_us) as f64;
                    busy_us / ((at_ms - prev.at_ms) as f64 * 1000.0) * 100.0
                }
                _ => 0.0,
            },
            _ => 0.0,
        };
        if history.len() >= HISTORY_LEN {
            history.pop_front();
        }
        history.push_back(Sample {
            at_ms,
            cpu_percent,
            memory_bytes: u.memory_current.unwrap_or(0) as f64,
            pids: u.pids_current.unwrap_or(0) as f64,
            cpu_usage_us: u.cpu_usage_us,
        });
    }

    fn name_of(&self, id: &str) -> String {
        self.snapshot
            .container(id)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| id.to_string())
    }

    /// The feed line for an event; `None` for the routine ones (stats, processes).
    fn describe(&self, event: &Event) -> Option<LogEntry> {
        let (severity, notify, text) = match &event.kind {
            EventKind::ContainerCreated { container } => (
                Severity::Info,
                false,
                format!("{} created ({})", container.name, container.spec.image),
            ),
            EventKind::ContainerAdopted { container } => (
                Severity::Info,
                false,
                format!("{} found running and adopted", container.name),
            ),
            EventKind::ContainerStarted { id, init_pid } => (
                Severity::Info,
                false,
                format!("{} started: PID 1 is host PID {init_pid}", self.name_of(id)),
            ),
            EventKind::ContainerExited { id, exit } => {
                let how = exit.describe();
                let bad = exit.code != Some(0);
                let sev = if bad {
                    Severity::Warning
                } else {
                    Severity::Info
                };
                (sev, true, format!("{} {how}", self.name_of(id)))
            }
            EventKind::ContainerOomKilled { id } => (
                Severity::Error,
                true,
                format!(
                    "{}: the OOM killer ended a process (memory limit)",
                    self.name_of(id)
                ),
            ),
            EventKind::ContainerRemoved { id } => (
                Severity::Info,
                false,
                format!("{} removed", self.name_of(id)),
            ),
            EventKind::ContainerCleaned { id } => (
                Severity::Info,
                false,
                format!("{id} was dead at start; cleaned up"),
            ),
            EventKind::LimitHit { id, limit } => {
                let what = match limit {
                    LimitKind::Pids => "pids.max refused a fork",
                    LimitKind::Memory => "memory limit reached",
                    LimitKind::Cpu => "cpu quota throttled it",
                };
                (
                    Severity::Warning,
                    true,
                    format!("{}: {what}", self.name_of(id)),
                )
            }
            EventKind::LimitsChanged { id, .. } => (
                Severity::Info,
                false,
                format!("{}: limits changed", self.name_of(id)),
            ),
            EventKind::ProcessStarted { .. }
            | EventKind::ProcessExited { .. }
            | EventKind::Stats { .. } => return None,
        };
        Some(LogEntry {
            seq: event.seq,
            at_ms: event.at_ms,
            severity,
            text,
            notify,
        })
    }
}

/// Milliseconds since the Unix epoch, from the browser's clock.
pub fn js_now_ms() -> u64 {
    js_sys::Date::now() as u64
}
