//! Lessons that check themselves, on the simulator and on the real kernel.
//!
//! A lesson is data (a TOML file, see `docs/lessons.md`); nothing here does IO. A check
//! names the probe it needs, a source answers it, and a pure judge decides, so the same
//! code runs on the simulator (synchronous) and the live kernel (async, over HTTP).
//!
//! # Layout
//! - [`model`]: [`Lesson`], [`LessonStep`], [`Check`]… (the file format's serde shape).
//! - [`parse`]: file text to a validated [`Lesson`], errors with file, line and field
//!   (feature `lessons-parse`).
//! - [`judge`]: [`Probe`], [`ProbeAnswer`] and the pure [`judge`] function.
//! - [`source`]: the [`LessonSource`] trait a simulator or live backend implements.
//! - [`runner`]: setup, step evaluation, and [`check_lesson`], the headless self-test.
//! - [`sim_source`]: [`SimSource`], the simulator as a lesson source.
//! - [`EMBEDDED_LESSONS`]: the repository's `lessons/*.toml`, listed by `build.rs`.

pub mod judge;
pub mod model;
#[cfg(any(test, feature = "lessons-parse"))]
pub mod parse;
pub mod runner;
pub mod sim_source;
pub mod source;

pub use judge::{judge, LessonContainers, Probe, ProbeAnswer, Verdict};
pub use model::{Check, Lesson, LessonStep, PicturePart, SetLimits, SourceKind, TerminalCommand};
#[cfg(any(test, feature = "lessons-parse"))]
pub use parse::{load_lessons, parse_lesson, LessonError};
pub use runner::{check_lesson, LessonReport, StepReport};
pub use sim_source::SimSource;
pub use source::{run_ready, LessonSource, SourceError, Target};

/// The lesson files built in: (file name, text), in file-name order.
pub static EMBEDDED_LESSONS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/lessons.rs"));

#[cfg(test)]
mod tests;
