//! [`Machine`]: what the worker runs, the free simulator or a lesson's machine, and how
//! each [`SimCall`] is answered by it. Native code, tested without a browser.

use isolab_shared::lesson::{load_lessons, Lesson, EMBEDDED_LESSONS};
use isolab_shared::sim::SimSession;
use isolab_shared::sim_protocol::{
    LessonCatalog, LessonFile, LessonMenu, LessonOutline, SimCall, SimOutcome, SimReply, SimRequest,
};

use crate::lesson::LessonMachine;

/// Which simulator runs.
pub enum Running {
    /// The Simulator view's machine, started from a scenario.
    Free(Box<SimSession>),
    /// A lesson's machine (after [`SimRequest::LessonStart`]).
    Lesson(Box<LessonMachine>),
}

/// The simulator behind the worker's message port, and the lessons it loaded.
pub struct Machine {
    running: Running,
    known: Vec<Lesson>,
}

fn free() -> Result<Running, String> {
    SimSession::new()
        .map(|s| Running::Free(Box::new(s)))
        .map_err(|e| e.to_string())
}

impl Machine {
    /// A free machine in the default scenario.
    pub fn new() -> Result<Machine, String> {
        Ok(Machine {
            running: free()?,
            known: Vec::new(),
        })
    }

    /// Carries out one call; the answer carries the new state of whichever machine runs.
    pub fn answer(&mut self, call: SimCall) -> SimReply {
        let id = call.call;
        let outcome = match call.request {
            SimRequest::Lessons {
                files,
                catalogs,
                embedded,
            } => {
                let catalog = parse(&files, &catalogs, embedded);
                let menu = LessonMenu {
                    lessons: catalog.lessons.iter().map(LessonOutline::from).collect(),
                    errors: catalog.errors,
                };
                for lesson in catalog.lessons {
                    self.known.retain(|l| l.id != lesson.id);
                    self.known.push(lesson);
                }
                SimOutcome::Lessons(menu)
            }
            SimRequest::LessonStart { id: lesson, replay } => {
                match self.known.iter().find(|l| l.id == lesson) {
                    None => SimOutcome::Failed(format!("no lesson '{lesson}' is loaded")),
                    Some(l) => match LessonMachine::start(l.clone(), replay) {
                        Ok(m) => {
                            self.running = Running::Lesson(Box::new(m));
                            SimOutcome::Done
                        }
                        Err(e) => SimOutcome::Failed(e),
                    },
                }
            }
            SimRequest::Reset { .. } if matches!(self.running, Running::Lesson(_)) => {
                // Back to a free machine, which then takes the reset itself.
                match free() {
                    Ok(running) => {
                        self.running = running;
                        return self.answer(SimCall {
                            call: id,
                            request: call.request,
                        });
                    }
                    Err(e) => SimOutcome::Failed(e),
                }
            }
            request => match &mut self.running {
                Running::Free(session) if !is_lesson_request(&request) => {
                    return session.answer(SimCall { call: id, request });
                }
                Running::Free(_) => SimOutcome::Failed("no lesson is running".to_string()),
                Running::Lesson(lesson) => in_lesson(lesson, request),
            },
        };
        let view = match &mut self.running {
            Running::Free(session) => session.view(),
            Running::Lesson(lesson) => lesson.view(),
        };
        SimReply::Answer {
            call: id,
            outcome,
            view: Box::new(view),
        }
    }
}

fn is_lesson_request(request: &SimRequest) -> bool {
    matches!(
        request,
        SimRequest::LessonType { .. }
            | SimRequest::LessonExpand { .. }
            | SimRequest::LessonCheck { .. }
            | SimRequest::LessonAnswer { .. }
    )
}

/// The built-in lessons (when asked), the given files and the server's catalogs (JSON),
/// parsed; each bad file is one `FILE:LINE: FIELD: message`. A later lesson replaces an
/// earlier one of the same id.
pub fn parse(files: &[LessonFile], catalogs: &[String], embedded: bool) -> LessonCatalog {
    let built_in = EMBEDDED_LESSONS.iter().filter(|_| embedded).copied();
    let given = files.iter().map(|f| (f.name.as_str(), f.text.as_str()));
    let (lessons, errors) = load_lessons(built_in.chain(given));
    let mut all = LessonCatalog {
        lessons,
        errors: errors.iter().map(ToString::to_string).collect(),
    };
    for text in catalogs {
        match serde_json::from_str::<LessonCatalog>(text) {
            Ok(more) => {
                for lesson in more.lessons {
                    all.lessons.retain(|l| l.id != lesson.id);
                    all.lessons.push(lesson);
                }
                all.errors.extend(more.errors);
            }
            Err(e) => all
                .errors
                .push(format!("the server's lessons were not understood: {e}")),
        }
    }
    all
}

/// A request answered by the lesson's machine; the free shell's requests act on it too.
fn in_lesson(lesson: &mut LessonMachine, request: SimRequest) -> SimOutcome {
    let done = |r: Result<(), String>| r.map_or_else(SimOutcome::Failed, |()| SimOutcome::Done);
    match request {
        SimRequest::LessonType { terminal, line } => lesson
            .type_line(&terminal, &line)
            .map_or_else(SimOutcome::Failed, SimOutcome::Output),
        SimRequest::RunLine { line } => lesson
            .type_line("host", &line)
            .map_or_else(SimOutcome::Failed, SimOutcome::Output),
        SimRequest::LessonExpand { line } => lesson
            .expand(&line)
            .map_or_else(SimOutcome::Failed, SimOutcome::Output),
        SimRequest::LessonCheck { step, since } => lesson
            .check(step, since)
            .map_or_else(SimOutcome::Failed, SimOutcome::Checked),
        SimRequest::LessonAnswer { step } => lesson
            .answer(step)
            .map_or_else(SimOutcome::Failed, SimOutcome::Output),
        SimRequest::Create { spec } => {
            match lesson.source_mut().simulator_mut().create_container(spec) {
                Ok(state) => SimOutcome::Created(state.id),
                Err(e) => SimOutcome::Failed(e.to_string()),
            }
        }
        SimRequest::Signal { id, signal } => done(
            lesson
                .source_mut()
                .simulator_mut()
                .signal(&id, signal)
                .map_err(|e| e.to_string()),
        ),
        SimRequest::Remove { id } => done(
            lesson
                .source_mut()
                .simulator_mut()
                .remove_container(&id)
                .map_err(|e| e.to_string()),
        ),
        SimRequest::Attach { .. } => SimOutcome::Failed(
            "in a lesson, each container has its own terminal: use its tab".to_string(),
        ),
        SimRequest::Reset { .. } | SimRequest::Lessons { .. } | SimRequest::LessonStart { .. } => {
            SimOutcome::Failed("answered elsewhere".to_string())
        }
    }
}
