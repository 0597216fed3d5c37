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
//! Class state is fetched again whenever the server's change counter moves
//! ([`use_class_changes`] waits on `/api/v1/classroom/changes`), not on a timer.

pub mod countdown;
pub mod grid;
pub mod join;
pub mod roster;
pub mod student_bar;
pub mod teacher;

pub use join::JoinPage;
pub use student_bar::StudentBar;
pub use teacher::TeacherView;

use std::cell::Cell;
use std::rc::Rc;

use yew::prelude::*;

use crate::source::classroom::ClassroomApi;

/// How long to wait before asking again after a failed wait (server restarting,
/// network gone).
const RETRY_MS: u32 = 2000;

/// The class's change counter as last heard: it moves whenever the roster, a hand,
/// the broadcast or a setting changes, so views fetch again when it does. One wait
/// on the server is pending while the component lives.
#[hook]
pub fn use_class_changes(api: &ClassroomApi) -> u64 {
    let version = use_state_eq(|| 0u64);
    {
        let version = version.clone();
        use_effect_with(api.clone(), move |api| {
            let alive = Rc::new(Cell::new(true));
            let (api, running) = (api.clone(), alive.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let mut since = 0;
                while running.get() {
                    match api.changes(since).await {
                        Ok(now) => {
                            since = now;
                            if running.get() {
                                version.set(now);
                            }
                        }
                        Err(_) => gloo_timers::future::TimeoutFuture::new(RETRY_MS).await,
                    }
                }
            });
            move || alive.set(false)
        });
    }
    *version
}

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
