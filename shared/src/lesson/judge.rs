//! Checks as data in, verdicts out: [`Check::probe`] says what a check needs from the
//! source, the source answers with a [`ProbeAnswer`], and the pure [`judge`] decides.
//! Nothing here knows whether the answer came from the simulator or the kernel.

use std::collections::BTreeMap;

use crate::protocol::{ContainerState, Event, EventKind, Snapshot};

use super::model::{AnswerFrom, Check, OutputMatch, TerminalCommand, HOST_TERMINAL};

/// How long a probe may take before its check fails (the source enforces it).
pub const PROBE_TIMEOUT_MS: u64 = 10_000;

/// What a check needs from the source.
#[derive(Clone, Debug, PartialEq)]
pub enum Probe {
    /// Run a command in a session of its own in this terminal.
    Run(TerminalCommand),
    /// The current snapshot.
    Snapshot,
    /// The events since the step began.
    EventsSinceStep,
}

/// What the source answered to a [`Probe`].
#[derive(Clone, Debug, PartialEq)]
pub enum ProbeAnswer {
    /// The command ran: its exit status and output.
    Ran { exit: i32, output: String },
    /// The state now.
    Snapshot(Box<Snapshot>),
    /// The events since the step began, oldest first.
    Events(Vec<Event>),
    /// The source could not answer (no such container, not running, refused…).
    Failed(String),
    /// The probe took longer than [`PROBE_TIMEOUT_MS`].
    TimedOut,
}

/// A check's result, with one line saying why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub passed: bool,
    pub reason: String,
}

impl Verdict {
    fn pass(reason: impl Into<String>) -> Verdict {
        Verdict {
            passed: true,
            reason: reason.into(),
        }
    }

    fn fail(reason: impl Into<String>) -> Verdict {
        Verdict {
            passed: false,
            reason: reason.into(),
        }
    }
}

/// A lesson's setup containers: lesson-local name to the source's container id.
pub type LessonContainers = BTreeMap<String, String>;

impl Check {
    /// The one probe this check is judged on.
    pub fn probe(&self) -> Probe {
        match self {
            Check::Command { terminal, run, .. } => Probe::Run(TerminalCommand {
                terminal: terminal.clone(),
                run: run.clone(),
            }),
            Check::LimitHit { .. } | Check::Event { .. } => Probe::EventsSinceStep,
            _ => Probe::Snapshot,
        }
    }
}

/// Decides a check from its probe's answer; `containers` maps the lesson's names.
pub fn judge(check: &Check, answer: &ProbeAnswer, containers: &LessonContainers) -> Verdict {
    match answer {
        ProbeAnswer::Failed(why) => return Verdict::fail(why.clone()),
        ProbeAnswer::TimedOut => {
            return Verdict::fail(format!("timed out after {} s", PROBE_TIMEOUT_MS / 1000))
        }
        _ => {}
    }
    match (check, answer) {
        (
            Check::Command {
                run, exit, output, ..
            },
            ProbeAnswer::Ran {
                exit: got,
                output: out,
            },
        ) => judge_command(run, *exit, output.as_ref(), *got, out),
        (_, ProbeAnswer::Snapshot(snapshot)) => judge_snapshot(check, snapshot, containers),
        (_, ProbeAnswer::Events(events)) => judge_events(check, events, containers),
        _ => Verdict::fail("the source answered a different probe"),
    }
}

fn judge_command(
    run: &str,
    want_exit: Option<i32>,
    output: Option<&OutputMatch>,
    exit: i32,
    out: &str,
) -> Verdict {
    let want_exit = want_exit.or(if output.is_none() { Some(0) } else { None });
    if let Some(want) = want_exit {
        if want != exit {
            return Verdict::fail(format!("`{run}` exited {exit}, not {want}"));
        }
    }
    if let Some(m) = output {
        if let Err(why) = m.matches(out) {
            return Verdict::fail(format!("`{run}`: {why}"));
        }
    }
    Verdict::pass(format!("`{run}` ran as expected"))
}

impl OutputMatch {
    /// Ok when `out` meets every condition given, else what did not hold.
    pub fn matches(&self, out: &str) -> Result<(), String> {
        let t = out.trim();
        let first_line = t.lines().next().unwrap_or("");
        if let Some(e) = &self.equals {
            if t != e.trim() {
                return Err(format!("printed '{first_line}', not '{e}'"));
            }
        }
        if let Some(c) = &self.contains {
            if !out.contains(c.as_str()) {
                return Err(format!("output lacks '{c}'"));
            }
        }
        if let Some(c) = &self.lacks {
            if out.contains(c.as_str()) {
                return Err(format!("output contains '{c}'"));
            }
        }
        if self.number.is_some() || self.at_least.is_some() {
            let Ok(n) = t.parse::<i64>() else {
                return Err(format!("printed '{first_line}', not a number"));
            };
            if self.number.is_some_and(|want| want != n) {
                return Err(format!("printed {n}, not {}", self.number.unwrap_or(n)));
            }
            if self.at_least.is_some_and(|least| n < least) {
                return Err(format!(
                    "printed {n}, less than {}",
                    self.at_least.unwrap_or(n)
                ));
            }
        }
        if let Some(want) = self.lines {
            let n = out.lines().filter(|l| !l.trim().is_empty()).count();
            if n != want {
                return Err(format!("printed {n} lines, not {want}"));
            }
        }
        Ok(())
    }
}

fn find<'a>(
    snapshot: &'a Snapshot,
    containers: &LessonContainers,
    name: &str,
) -> Result<&'a ContainerState, Verdict> {
    let id = containers
        .get(name)
        .ok_or_else(|| Verdict::fail(format!("no setup container '{name}'")))?;
    snapshot
        .container(id)
        .ok_or_else(|| Verdict::fail(format!("container '{name}' is gone")))
}

fn judge_snapshot(check: &Check, s: &Snapshot, containers: &LessonContainers) -> Verdict {
    let verdict = || -> Result<Verdict, Verdict> {
        Ok(match check {
            Check::Namespace {
                container,
                ns,
                compared_with,
                same,
            } => {
                let mine = find(s, containers, container)?.namespaces.get(ns).copied();
                let theirs = if compared_with == HOST_TERMINAL {
                    s.host.namespaces.get(ns).copied()
                } else {
                    find(s, containers, compared_with)?
                        .namespaces
                        .get(ns)
                        .copied()
                };
                let (kind, equal) = (ns.name(), mine.is_some() && mine == theirs);
                match (equal, *same) {
                    (true, true) => Verdict::pass(format!(
                        "{container} shares {compared_with}'s {kind} namespace"
                    )),
                    (false, false) => {
                        Verdict::pass(format!("{container} has its own {kind} namespace"))
                    }
                    (true, false) => Verdict::fail(format!(
                        "{container}'s {kind} namespace is still {compared_with}'s"
                    )),
                    (false, true) => Verdict::fail(format!(
                        "{container}'s {kind} namespace is not {compared_with}'s"
                    )),
                }
            }
            Check::Process {
                container,
                cmdline,
                pid,
                state,
                own_ns,
                absent,
            } => {
                let processes = if container == HOST_TERMINAL {
                    &s.host.processes
                } else {
                    &find(s, containers, container)?.processes
                };
                let found = processes.iter().any(|p| {
                    p.cmdline.contains(cmdline.as_str())
                        && pid.is_none_or(|want| p.nspid.last() == Some(&want))
                        && state
                            .as_ref()
                            .is_none_or(|st| p.state.starts_with(st.as_str()))
                        && own_ns
                            .iter()
                            .all(|k| p.namespaces.get(k) != s.host.namespaces.get(k))
                });
                let what = format!(
                    "'{cmdline}'{}{}",
                    pid.map(|p| format!(" as PID {p}")).unwrap_or_default(),
                    state
                        .as_ref()
                        .map(|s| format!(" in state {s}"))
                        .unwrap_or_default()
                );
                match (found, *absent) {
                    (true, false) => Verdict::pass(format!("{container} runs {what}")),
                    (false, true) => Verdict::pass(format!("{container} runs no {what}")),
                    (false, false) => Verdict::fail(format!("{container} runs no {what}")),
                    (true, true) => Verdict::fail(format!("{container} still runs {what}")),
                }
            }
            Check::Interfaces {
                container,
                names,
                up,
            } => {
                let c = find(s, containers, container)?;
                let mut have: Vec<&str> = c.interfaces.iter().map(|i| i.name.as_str()).collect();
                let mut want: Vec<&str> = names.iter().map(String::as_str).collect();
                have.sort_unstable();
                want.sort_unstable();
                if have != want {
                    return Ok(Verdict::fail(format!(
                        "{container} has interfaces [{}], not [{}]",
                        have.join(", "),
                        want.join(", ")
                    )));
                }
                if let Some(up) = up {
                    let mut is_up: Vec<&str> = c
                        .interfaces
                        .iter()
                        .filter(|i| i.up)
                        .map(|i| i.name.as_str())
                        .collect();
                    let mut want_up: Vec<&str> = up.iter().map(String::as_str).collect();
                    is_up.sort_unstable();
                    want_up.sort_unstable();
                    if is_up != want_up {
                        return Ok(Verdict::fail(format!(
                            "up in {container}: [{}], not [{}]",
                            is_up.join(", "),
                            want_up.join(", ")
                        )));
                    }
                }
                Verdict::pass(format!("{container} has interfaces [{}]", have.join(", ")))
            }
            Check::OomKilled { container } => {
                let c = find(s, containers, container)?;
                let kills = c.cgroup.as_ref().and_then(|g| g.oom_kills).unwrap_or(0);
                if kills > 0 || c.exit.as_ref().is_some_and(|e| e.oom_killed) {
                    Verdict::pass(format!("the OOM killer struck in {container}"))
                } else {
                    Verdict::fail(format!("nothing was OOM-killed in {container}"))
                }
            }
            Check::Status { container, status } => {
                let c = find(s, containers, container)?;
                if c.status == *status {
                    Verdict::pass(format!("{container} is {status:?}"))
                } else {
                    Verdict::fail(format!("{container} is {:?}, not {status:?}", c.status))
                }
            }
            _ => Verdict::fail("the source answered a different probe"),
        })
    };
    verdict().unwrap_or_else(|v| v)
}

/// The serde name of an event's type (`limit_hit`…) and the container it is about.
pub fn event_type_and_container(event: &Event) -> (String, Option<String>) {
    let name = serde_json::to_value(&event.kind)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_default();
    let id = event.kind.container_id().map(str::to_string);
    (name, id)
}

fn judge_events(check: &Check, events: &[Event], containers: &LessonContainers) -> Verdict {
    let (want_type, name, limit) = match check {
        Check::LimitHit { container, limit } => ("limit_hit", Some(container), Some(*limit)),
        Check::Event { event, container } => (event.as_str(), container.as_ref(), None),
        _ => return Verdict::fail("the source answered a different probe"),
    };
    let id = match name {
        Some(n) => match containers.get(n) {
            Some(id) => Some(id),
            None => return Verdict::fail(format!("no setup container '{n}'")),
        },
        None => None,
    };
    let seen = events.iter().any(|e| {
        let (t, about) = event_type_and_container(e);
        let limit_ok = match (&e.kind, limit) {
            (EventKind::LimitHit { limit: got, .. }, Some(want)) => *got == want,
            _ => limit.is_none(),
        };
        t == want_type && limit_ok && id.is_none_or(|id| about.as_ref() == Some(id))
    });
    let what = match (limit, name) {
        (Some(l), Some(n)) => format!("{n} hit its {l:?} limit").to_lowercase(),
        (_, Some(n)) => format!("a {want_type} event about {n}"),
        _ => format!("a {want_type} event"),
    };
    if seen {
        Verdict::pass(format!("seen: {what}"))
    } else {
        Verdict::fail(format!("not yet seen: {what}"))
    }
}

/// The true answer of a prediction, from its probe's result.
pub fn true_answer(from: AnswerFrom, answer: &ProbeAnswer) -> Result<String, String> {
    match answer {
        ProbeAnswer::Ran { exit, output } => Ok(match from {
            AnswerFrom::Output => output.trim().to_string(),
            AnswerFrom::Lines => output
                .lines()
                .filter(|l| !l.trim().is_empty())
                .count()
                .to_string(),
            AnswerFrom::Exit => exit.to_string(),
        }),
        ProbeAnswer::TimedOut => Err(format!("timed out after {} s", PROBE_TIMEOUT_MS / 1000)),
        ProbeAnswer::Failed(why) => Err(why.clone()),
        _ => Err("the source answered a different probe".to_string()),
    }
}

/// Whether a student's answer is the true one (trimmed, case ignored).
pub fn answer_is_right(given: &str, truth: &str) -> bool {
    given.trim().eq_ignore_ascii_case(truth.trim())
}
