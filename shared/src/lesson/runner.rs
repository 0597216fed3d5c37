//! Running a lesson on any [`LessonSource`]: starting its setup, judging a step's checks,
//! and [`check_lesson`], the headless self-test that runs every step's solution.

use super::judge::{
    answer_is_right, judge, true_answer, LessonContainers, Probe, ProbeAnswer, Verdict,
};
use super::model::{Lesson, LessonStep, HOST_TERMINAL};
use crate::protocol::Snapshot;

use super::source::{LessonSource, ProbeRun, SourceError, Target};

/// How often a failing check is retried while a source settles.
const SETTLE_SLICE_MS: u64 = 200;

/// How one step fared in [`check_lesson`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepReport {
    /// 1-based.
    pub number: usize,
    pub title: String,
    pub passed: bool,
    pub reason: String,
}

/// How a lesson fared in [`check_lesson`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LessonReport {
    pub id: String,
    pub steps: Vec<StepReport>,
    /// Set when the lesson's setup or teardown failed.
    pub error: Option<String>,
}

impl LessonReport {
    /// Steps that passed and that failed (a setup error counts as one failure).
    pub fn counts(&self) -> (usize, usize) {
        let passed = self.steps.iter().filter(|s| s.passed).count();
        let failed = self.steps.len() - passed + usize::from(self.error.is_some());
        (passed, failed)
    }
}

/// Creates the lesson's setup containers, returning their lesson-local names' ids.
pub async fn start<S: LessonSource>(
    source: &mut S,
    lesson: &Lesson,
) -> Result<LessonContainers, SourceError> {
    let mut containers = LessonContainers::new();
    for spec in &lesson.setup {
        let name = spec.name.clone().unwrap_or_default();
        match source.create(spec).await {
            Ok(state) => containers.insert(name, state.id),
            Err(e) => {
                // The containers made so far would otherwise outlive the failed start.
                let _ = stop(source, &containers).await;
                return Err(e);
            }
        };
    }
    Ok(containers)
}

/// Ends a lesson: runs its `cleanup` commands (their exit status ignored), removes its
/// setup containers, and lets the source end its terminals; reports the first failure.
pub async fn end<S: LessonSource>(
    source: &mut S,
    lesson: &Lesson,
    containers: &LessonContainers,
) -> Result<(), SourceError> {
    let mut first = Ok(());
    for cmd in &lesson.cleanup {
        let ran = match target_of(&cmd.terminal, containers) {
            Ok(target) => source.probe(&target, &cmd.run).await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = ran {
            if first.is_ok() {
                first = Err(SourceError(format!("cleanup `{}`: {e}", cmd.run)));
            }
        }
    }
    let stopped = stop(source, containers).await;
    let finished = source.finish().await;
    first.and(stopped).and(finished)
}

/// Removes the lesson's setup containers (all of them, reporting the first failure).
pub async fn stop<S: LessonSource>(
    source: &mut S,
    containers: &LessonContainers,
) -> Result<(), SourceError> {
    let mut first = Ok(());
    for id in containers.values() {
        if let Err(e) = source.remove(id).await {
            if first.is_ok() {
                first = Err(e);
            }
        }
    }
    first
}

/// The source's target for a lesson terminal name.
pub fn target_of(terminal: &str, containers: &LessonContainers) -> Result<Target, SourceError> {
    if terminal == HOST_TERMINAL {
        return Ok(Target::Host);
    }
    containers
        .get(terminal)
        .map(|id| Target::Container(id.clone()))
        .ok_or_else(|| SourceError(format!("no setup container '{terminal}'")))
}

/// Replaces `{pid:NAME}` and `{pid:NAME:CMD}` with host PIDs (see [`host_pid`]).
pub async fn expand<S: LessonSource>(
    source: &mut S,
    line: &str,
    containers: &LessonContainers,
) -> Result<String, SourceError> {
    if !line.contains("{pid:") {
        return Ok(line.to_string());
    }
    let snapshot = source.snapshot().await?;
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("{pid:") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 5..];
        let end = tail
            .find('}')
            .ok_or_else(|| SourceError(format!("unclosed {{pid:…}} in '{line}'")))?;
        out.push_str(&host_pid(&snapshot, containers, &tail[..end])?.to_string());
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The host PID `{pid:NAME}` or `{pid:NAME:CMD}` names: container NAME's init, or the
/// first process in NAME (or on the host) whose command line contains CMD.
fn host_pid(
    snapshot: &Snapshot,
    containers: &LessonContainers,
    spec: &str,
) -> Result<u32, SourceError> {
    let (name, cmd) = match spec.split_once(':') {
        Some((n, c)) => (n, Some(c)),
        None => (spec, None),
    };
    let container = containers.get(name).and_then(|id| snapshot.container(id));
    let processes = match (name, container) {
        (HOST_TERMINAL, _) => &snapshot.host.processes,
        (_, Some(c)) => &c.processes,
        _ => return Err(SourceError(format!("no running setup container '{name}'"))),
    };
    let found = match (cmd, container) {
        (None, Some(c)) => c.init_pid,
        (Some(cmd), _) => processes
            .iter()
            .find(|p| p.cmdline.contains(cmd))
            .map(|p| p.host_pid),
        (None, None) => None,
    };
    found.ok_or_else(|| SourceError(format!("no process for {{pid:{spec}}}")))
}

/// Answers one probe on the source; failures become answers the judge explains.
pub async fn answer<S: LessonSource>(
    source: &mut S,
    probe: &Probe,
    containers: &LessonContainers,
    step_seq: u64,
) -> ProbeAnswer {
    let result = match probe {
        Probe::Run(cmd) => run_probe(source, &cmd.terminal, &cmd.run, containers).await,
        Probe::Snapshot => source
            .snapshot()
            .await
            .map(|s| ProbeAnswer::Snapshot(Box::new(s))),
        Probe::EventsSinceStep => source.events_since(step_seq).await.map(ProbeAnswer::Events),
    };
    result.unwrap_or_else(|e| ProbeAnswer::Failed(e.0))
}

async fn run_probe<S: LessonSource>(
    source: &mut S,
    terminal: &str,
    line: &str,
    containers: &LessonContainers,
) -> Result<ProbeAnswer, SourceError> {
    let target = target_of(terminal, containers)?;
    let line = expand(source, line, containers).await?;
    Ok(match source.probe(&target, &line).await? {
        ProbeRun::Finished { exit, output } => ProbeAnswer::Ran { exit, output },
        ProbeRun::TimedOut => ProbeAnswer::TimedOut,
    })
}

/// Judges every check of a step; the step passes when all verdicts pass.
pub async fn evaluate_step<S: LessonSource>(
    source: &mut S,
    step: &LessonStep,
    containers: &LessonContainers,
    step_seq: u64,
) -> Vec<Verdict> {
    let mut verdicts = Vec::with_capacity(step.checks.len());
    for check in &step.checks {
        let answer = answer(source, &check.probe(), containers, step_seq).await;
        verdicts.push(judge(check, &answer, containers));
    }
    verdicts
}

/// The step's overall verdict: the first failure, or a pass naming the first check.
pub fn overall(verdicts: &[Verdict]) -> Verdict {
    verdicts
        .iter()
        .find(|v| !v.passed)
        .or(verdicts.first())
        .cloned()
        .unwrap_or(Verdict {
            passed: false,
            reason: "the step has no checks".to_string(),
        })
}

/// Runs a lesson headless: for each step, its checks must fail first, then pass after
/// its solution is typed; a prediction's true answer must be among its choices.
pub async fn check_lesson<S: LessonSource>(source: &mut S, lesson: &Lesson) -> LessonReport {
    let mut report = LessonReport {
        id: lesson.id.clone(),
        steps: Vec::new(),
        error: None,
    };
    let containers = match start(source, lesson).await {
        Ok(c) => c,
        Err(e) => {
            report.error = Some(format!("setup failed: {e}"));
            // What was made before the failure goes too.
            let _ = source.finish().await;
            return report;
        }
    };
    for (i, step) in lesson.steps.iter().enumerate() {
        let verdict = check_step(source, step, &containers).await;
        report.steps.push(StepReport {
            number: i + 1,
            title: step.title.clone(),
            passed: verdict.passed,
            reason: verdict.reason,
        });
    }
    if let Err(e) = end(source, lesson, &containers).await {
        report.error = Some(format!("teardown failed: {e}"));
    }
    report
}

async fn check_step<S: LessonSource>(
    source: &mut S,
    step: &LessonStep,
    containers: &LessonContainers,
) -> Verdict {
    let fail = |reason: String| Verdict {
        passed: false,
        reason,
    };
    let seq = match source.snapshot().await {
        Ok(s) => s.seq,
        Err(e) => return fail(e.0),
    };
    let before = overall(&evaluate_step(source, step, containers, seq).await);
    if before.passed {
        return fail(format!(
            "passes before its solution ran ({})",
            before.reason
        ));
    }
    for cmd in &step.solution {
        let typed = match target_of(&cmd.terminal, containers) {
            Ok(target) => match expand(source, &cmd.run, containers).await {
                Ok(line) => source.type_line(&target, &line).await.map(drop),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        if let Err(e) = typed {
            return fail(format!("solution `{}` failed: {e}", cmd.run));
        }
    }
    if let Some(change) = &step.set_limits {
        let changed = match containers.get(&change.container) {
            Some(id) => source.set_limits(id, &change.limits).await.map(drop),
            None => Err(SourceError(format!(
                "no setup container '{}'",
                change.container
            ))),
        };
        if let Err(e) = changed {
            return fail(format!("solution's limits change failed: {e}"));
        }
    }
    let mut after = overall(&evaluate_step(source, step, containers, seq).await);
    let mut waited = 0;
    while !after.passed && waited < source.settle_ms() {
        source.pause(SETTLE_SLICE_MS).await;
        waited += SETTLE_SLICE_MS;
        after = overall(&evaluate_step(source, step, containers, seq).await);
    }
    if !after.passed {
        return after;
    }
    if let Some(predict) = &step.predict {
        let probe = Probe::Run(predict.probe.clone());
        let truth = true_answer(
            predict.answer,
            &answer(source, &probe, containers, seq).await,
        );
        match truth {
            Err(e) => return fail(format!("prediction probe failed: {e}")),
            Ok(t)
                if !predict.choices.is_empty()
                    && !predict.choices.iter().any(|c| answer_is_right(c, &t)) =>
            {
                return fail(format!(
                    "the prediction's true answer '{t}' is not among its choices"
                ));
            }
            Ok(_) => {}
        }
    }
    after
}
