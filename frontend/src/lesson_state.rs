//! A student's lesson progress: the steps done and the predictions given, per lesson.
//! Reducer-shaped ([`ProgressAction`], `impl Reducible`) and kept in localStorage, so
//! a reload or a later visit keeps it. In a class, a student's passed steps are also
//! reported to the server (`views::lessons` does it), which keeps the teacher's roster.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use yew::Reducible;

/// The localStorage key holding the progress as JSON.
pub const PROGRESS_KEY: &str = "isolab.lessons.progress";

/// What a student did in every lesson.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Progress {
    /// Steps done (1-based) per lesson id.
    #[serde(default)]
    pub done: BTreeMap<String, BTreeSet<usize>>,
    /// The student's predictions, per lesson id and step (1-based).
    #[serde(default)]
    pub answers: BTreeMap<String, BTreeMap<usize, String>>,
}

/// What changes the progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProgressAction {
    /// Step `step` of `lesson` passed its checks.
    StepPassed { lesson: String, step: usize },
    /// The student answered step `step`'s question.
    Answered {
        lesson: String,
        step: usize,
        answer: String,
    },
    /// The lesson went back to where step `step` begins: it and later steps are open again.
    ResetFrom { lesson: String, step: usize },
}

impl Reducible for Progress {
    type Action = ProgressAction;

    fn reduce(self: Rc<Self>, action: ProgressAction) -> Rc<Self> {
        let mut p = Rc::unwrap_or_clone(self);
        p.apply(action);
        Rc::new(p)
    }
}

impl Progress {
    /// Applies one action in place.
    pub fn apply(&mut self, action: ProgressAction) {
        match action {
            ProgressAction::StepPassed { lesson, step } => {
                self.done.entry(lesson).or_default().insert(step);
            }
            ProgressAction::Answered {
                lesson,
                step,
                answer,
            } => {
                self.answers.entry(lesson).or_default().insert(step, answer);
            }
            ProgressAction::ResetFrom { lesson, step } => {
                if let Some(done) = self.done.get_mut(&lesson) {
                    done.retain(|&s| s < step);
                }
                if let Some(answers) = self.answers.get_mut(&lesson) {
                    answers.retain(|&s, _| s < step);
                }
            }
        }
    }

    /// Whether step `step` (1-based) of `lesson` is done.
    pub fn is_done(&self, lesson: &str, step: usize) -> bool {
        self.done.get(lesson).is_some_and(|d| d.contains(&step))
    }

    /// How many steps of `lesson` are done.
    pub fn done_count(&self, lesson: &str) -> usize {
        self.done.get(lesson).map_or(0, BTreeSet::len)
    }

    /// The student's answer to step `step`'s question, if given.
    pub fn answer(&self, lesson: &str, step: usize) -> Option<&str> {
        self.answers
            .get(lesson)
            .and_then(|a| a.get(&step))
            .map(String::as_str)
    }

    /// The first step (1-based) of a lesson of `steps` steps not yet done (the last
    /// when all are).
    pub fn first_open(&self, lesson: &str, steps: usize) -> usize {
        (1..=steps)
            .find(|&s| !self.is_done(lesson, s))
            .unwrap_or(steps.max(1))
    }

    /// The progress in JSON, or an empty one when `text` is not that.
    pub fn from_json(text: &str) -> Progress {
        serde_json::from_str(text).unwrap_or_default()
    }

    /// The progress as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.local_storage().ok().flatten())
}

/// The progress this browser kept (empty when storage is off or holds nonsense).
pub fn load_progress() -> Progress {
    storage()
        .and_then(|s| s.get_item(PROGRESS_KEY).ok().flatten())
        .map(|t| Progress::from_json(&t))
        .unwrap_or_default()
}

/// Keeps `progress` in this browser; a refused write (private mode, full) only means
/// the next visit starts over.
pub fn save_progress(progress: &Progress) {
    if let Some(s) = storage() {
        let _ = s.set_item(PROGRESS_KEY, &progress.to_json());
    }
}
