//! The lesson requests of a [`SimSource`]: parse lessons, start one, expand and type its
//! commands, judge its steps and answer its predictions, all in the simulator's worker
//! (which holds the lesson parser, so the page's own wasm does not).

use isolab_shared::sim_protocol::{CheckResult, LessonFile, LessonMenu, SimOutcome, SimRequest};

use super::{ActionResult, SimSource};

/// An answer of the wrong kind, as a sentence.
fn unexpected(what: &str) -> String {
    format!("the simulator answered something else than {what}")
}

impl SimSource {
    /// Loads `files`, the server's `catalogs` (JSON text), and the built-in lessons when
    /// `embedded`, into the worker; answers their outlines.
    pub async fn lessons(
        &self,
        files: Vec<LessonFile>,
        catalogs: Vec<String>,
        embedded: bool,
    ) -> ActionResult<LessonMenu> {
        let request = SimRequest::Lessons {
            files,
            catalogs,
            embedded,
        };
        match self.call(request).await? {
            SimOutcome::Lessons(catalog) => Ok(catalog),
            _ => Err(unexpected("lessons")),
        }
    }

    /// Starts the loaded lesson `id` on a fresh machine, with the solutions of its first
    /// `replay` steps already typed.
    pub async fn start_lesson(&self, id: &str, replay: usize) -> ActionResult<()> {
        self.call(SimRequest::LessonStart {
            id: id.to_string(),
            replay,
        })
        .await
        .map(drop)
    }

    /// `line` with its `{pid:…}` placeholders replaced by host PIDs.
    pub async fn expand(&self, line: &str) -> ActionResult<String> {
        match self
            .call(SimRequest::LessonExpand {
                line: line.to_string(),
            })
            .await?
        {
            SimOutcome::Output(line) => Ok(line),
            _ => Err(unexpected("a line")),
        }
    }

    /// The verdicts of step `step`'s (0-based) checks; `since` is the seq it began at.
    pub async fn check_step(&self, step: usize, since: u64) -> ActionResult<Vec<CheckResult>> {
        match self.call(SimRequest::LessonCheck { step, since }).await? {
            SimOutcome::Checked(verdicts) => Ok(verdicts),
            _ => Err(unexpected("verdicts")),
        }
    }

    /// The simulator's true answer to step `step`'s (0-based) prediction.
    pub async fn prediction_answer(&self, step: usize) -> ActionResult<String> {
        match self.call(SimRequest::LessonAnswer { step }).await? {
            SimOutcome::Output(answer) => Ok(answer),
            _ => Err(unexpected("an answer")),
        }
    }

    /// Types `line` (placeholders expanded) into this lesson terminal's screen, or runs
    /// it there directly when no screen is open.
    pub async fn type_command(&self, line: &str) -> ActionResult<()> {
        let line = self.expand(line).await?;
        if !self.type_text(&format!("{line}\r")) {
            self.run_line(&line).await;
        }
        Ok(())
    }
}
