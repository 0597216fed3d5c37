//! Classroom mode: what a student and the teacher see in a class.
//!
//! - [`join`]: the page at `/join/CODE`: a display name, then the student's own token.
//! - [`student_bar`]: above a student's page: their name, the raised hand, the
//!   countdown, the teacher's broadcast and the "teacher is typing" notice.
//! - [`teacher`]: the teacher's Classroom tab: the class's controls and the roster.
//! - [`roster`]: the roster table (connected, containers, hands, progress, remove).
//! - [`grid`]: every student's terminal, live in view mode; one enlarged, with
//!   "take control".
//! - [`countdown`]: the time left until the class ends.
//!
//! Everything is polled every [`POLL_MS`] from `/api/v1/classroom…`.

pub mod countdown;
pub mod grid;
pub mod join;
pub mod roster;
pub mod student_bar;
pub mod teacher;

pub use join::JoinPage;
pub use student_bar::StudentBar;
pub use teacher::TeacherView;

/// How often class state (roster, hands, broadcast, end time) is fetched again.
pub const POLL_MS: u32 = 2000;

/// The time now by the browser's clock (ms since the Unix epoch).
pub fn local_now_ms() -> f64 {
    js_sys::Date::now()
}

/// Asks the person to confirm `question` (a destructive action); false if they do not.
pub fn confirmed(question: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.confirm_with_message(question).ok())
        .unwrap_or(false)
}
