//! [`LessonMachine`]: a lesson running on the simulator in the worker: its setup, one
//! terminal per lesson terminal name, and its steps judged by the shared runner.

use isolab_shared::lesson::judge::{true_answer, Probe};
use isolab_shared::lesson::runner::{self, expand, target_of};
use isolab_shared::lesson::{run_ready, Lesson, LessonContainers, LessonSource, SimSource, Target};
use isolab_shared::sim_protocol::{CheckResult, SimView};

/// A synchronous source's future that did not complete: a bug, said as one line.
const NOT_READY: &str = "the simulator's lesson source waited (it never should)";

/// Runs a future of the simulator's source, which completes at once.
fn ready<T>(future: impl std::future::Future<Output = T>) -> Result<T, String> {
    run_ready(future).ok_or_else(|| NOT_READY.to_string())
}

/// A lesson's machine, its setup containers, and what the page has seen of it.
pub struct LessonMachine {
    source: SimSource,
    lesson: Lesson,
    containers: LessonContainers,
    /// Events up to this seq reached the page.
    sent_seq: u64,
}

impl LessonMachine {
    /// A fresh machine with `lesson`'s setup, then the solutions of its first `replay`
    /// steps typed as a student would.
    pub fn start(lesson: Lesson, replay: usize) -> Result<LessonMachine, String> {
        let mut source = SimSource::new().map_err(|e| e.to_string())?;
        let containers = ready(runner::start(&mut source, &lesson))?.map_err(|e| e.0)?;
        let mut machine = LessonMachine {
            source,
            lesson,
            containers,
            sent_seq: 0,
        };
        let solutions: Vec<_> = machine
            .lesson
            .steps
            .iter()
            .take(replay)
            .flat_map(|s| s.solution.clone())
            .collect();
        for cmd in solutions {
            machine
                .type_line(&cmd.terminal, &cmd.run)
                .map_err(|e| format!("replaying `{}` failed: {e}", cmd.run))?;
        }
        // The setup and the replay are in the first snapshot; the feed starts after them.
        machine.sent_seq = machine.source.simulator().snapshot().seq;
        let _ = ready(machine.source.events_since(u64::MAX));
        Ok(machine)
    }

    /// The simulator's source, for the page's container buttons.
    pub fn source_mut(&mut self) -> &mut SimSource {
        &mut self.source
    }

    /// `{pid:…}` placeholders replaced by host PIDs.
    pub fn expand(&mut self, line: &str) -> Result<String, String> {
        ready(expand(&mut self.source, line, &self.containers))?.map_err(|e| e.0)
    }

    /// Types `line` (placeholders expanded) into a lesson terminal; returns its output.
    pub fn type_line(&mut self, terminal: &str, line: &str) -> Result<String, String> {
        let target = target_of(terminal, &self.containers).map_err(|e| e.0)?;
        let line = self.expand(line)?;
        ready(self.source.type_line(&target, &line))?.map_err(|e| e.0)
    }

    /// The verdict of every check of step `step` (0-based).
    pub fn check(&mut self, step: usize, since: u64) -> Result<Vec<CheckResult>, String> {
        let step = self.step(step)?.clone();
        let verdicts = ready(runner::evaluate_step(
            &mut self.source,
            &step,
            &self.containers,
            since,
        ))?;
        Ok(verdicts
            .into_iter()
            .map(|v| CheckResult {
                passed: v.passed,
                reason: v.reason,
            })
            .collect())
    }

    /// The true answer of step `step`'s prediction.
    pub fn answer(&mut self, step: usize) -> Result<String, String> {
        let predict = self
            .step(step)?
            .predict
            .clone()
            .ok_or_else(|| format!("step {} asks no question", step + 1))?;
        let probe = Probe::Run(predict.probe);
        let got = ready(runner::answer(
            &mut self.source,
            &probe,
            &self.containers,
            0,
        ))?;
        true_answer(predict.answer, &got)
    }

    fn step(&self, step: usize) -> Result<&isolab_shared::lesson::LessonStep, String> {
        self.lesson
            .steps
            .get(step)
            .ok_or_else(|| format!("the lesson has no step {}", step + 1))
    }

    /// What changed since the last view, and the state the page shows.
    pub fn view(&mut self) -> SimView {
        let events = ready(self.source.events_since(self.sent_seq))
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        if let Some(last) = events.last() {
            self.sent_seq = last.seq;
        }
        let snapshot = self.source.simulator().snapshot();
        let mut terminals = std::collections::BTreeMap::new();
        terminals.insert(
            isolab_shared::lesson::model::HOST_TERMINAL.to_string(),
            self.prompt_of(&Target::Host, "isolab-host"),
        );
        for spec in &self.lesson.setup {
            let Some(name) = spec.name.clone() else {
                continue;
            };
            let Some(id) = self.containers.get(&name) else {
                continue;
            };
            let host = spec.hostname.clone().unwrap_or_else(|| name.clone());
            let prompt = self.prompt_of(&Target::Container(id.clone()), &host);
            terminals.insert(name, prompt);
        }
        SimView {
            events,
            prompt: terminals.get("host").cloned().unwrap_or_default(),
            snapshot,
            finished: false,
            scenario: format!("lesson {}", self.lesson.id),
            terminals,
        }
    }

    /// The terminal's prompt; before its first line, the prompt its shell will show.
    fn prompt_of(&self, target: &Target, hostname: &str) -> String {
        self.source
            .prompt(target)
            .unwrap_or_else(|| format!("root@{hostname}:~# "))
    }
}
