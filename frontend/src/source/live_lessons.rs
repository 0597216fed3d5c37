//! The lesson requests of a [`LiveSource`]: a lesson session on live containers (its
//! setup, typed lines, checks, prediction probes, limits, reset, end). The server
//! runs the checks with the same judge as the simulator's, so the page only shows them.
//!
//! A reload gives the lesson view no chance to end its session, so the tab keeps the
//! session's id (sessionStorage, [`KEPT_SESSION_KEY`]) until it ends it: the reloaded
//! view resets that session to its step rather than leave it running and start another.

use gloo_net::http::Request;
use isolab_shared::lesson::model::TerminalCommand;
use isolab_shared::{
    LessonProbeAnswer, LessonSessionInfo, LessonSessionStart, LessonStepChecked, LessonTyped,
};
use serde::de::DeserializeOwned;

use super::{ActionResult, LiveSource, TerminalTab, TerminalTarget};

async fn parsed<T: DeserializeOwned>(response: gloo_net::http::Response) -> ActionResult<T> {
    response
        .json()
        .await
        .map_err(|e| format!("the server's answer was not understood: {e}"))
}

/// The sessionStorage key of the tab's running lesson session: `SID LESSON`.
pub const KEPT_SESSION_KEY: &str = "isolab.lessons.session";

fn tab_storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.session_storage().ok().flatten())
}

/// The session this tab left running, if any: its id and its lesson's.
fn kept_session() -> Option<(String, String)> {
    let kept = tab_storage()?.get_item(KEPT_SESSION_KEY).ok()??;
    let (sid, lesson) = kept.split_once(' ')?;
    Some((sid.to_string(), lesson.to_string()))
}

/// Keeps `info` as the tab's running session (a refused write only means a reload
/// starts a new one).
fn keep_session(info: &LessonSessionInfo) {
    if let Some(s) = tab_storage() {
        let _ = s.set_item(KEPT_SESSION_KEY, &format!("{} {}", info.id, info.lesson));
    }
}

/// Forgets session `sid` once it ended.
fn forget_session(sid: &str) {
    let Some(s) = tab_storage() else { return };
    let kept = s.get_item(KEPT_SESSION_KEY).ok().flatten();
    if kept.is_some_and(|k| k.split_once(' ').is_some_and(|(id, _)| id == sid)) {
        let _ = s.remove_item(KEPT_SESSION_KEY);
    }
}

impl LiveSource {
    fn session_path(sid: &str, rest: &str) -> String {
        Self::api(&format!("/lessons/sessions/{sid}{rest}"))
    }

    /// `POST /lessons/{id}/sessions`: the lesson's setup containers, made for this
    /// caller, with the first `replay` steps' solutions typed. The session of this
    /// lesson the tab left running (a reload) is reset to there instead; one of
    /// another lesson is ended.
    pub async fn start_lesson(&self, id: &str, replay: usize) -> ActionResult<LessonSessionInfo> {
        match kept_session() {
            Some((sid, lesson)) if lesson == id => {
                // It may have ended meanwhile (a server restart): then start anew.
                if let Ok(info) = self.reset_lesson(&sid, replay).await {
                    return Ok(info);
                }
                forget_session(&sid);
            }
            // Whether or not it still runs, the tab has no use for it.
            Some((sid, _)) => {
                let _ = self.end_lesson(&sid).await;
            }
            None => {}
        }
        let path = Self::api(&format!(
            "/lessons/{}/sessions",
            js_sys::encode_uri_component(id)
        ));
        let body = LessonSessionStart { replay };
        let info: LessonSessionInfo = parsed(
            self.send(self.authorized(Request::post(&path)).json(&body))
                .await?,
        )
        .await?;
        keep_session(&info);
        Ok(info)
    }

    /// `POST /lessons/sessions/{sid}/reset`: new setup containers, `replay` steps done.
    pub async fn reset_lesson(&self, sid: &str, replay: usize) -> ActionResult<LessonSessionInfo> {
        let path = Self::session_path(sid, "/reset");
        let body = LessonSessionStart { replay };
        parsed(
            self.send(self.authorized(Request::post(&path)).json(&body))
                .await?,
        )
        .await
    }

    /// `DELETE /lessons/sessions/{sid}`: cleanup, and the containers removed.
    pub async fn end_lesson(&self, sid: &str) -> ActionResult<()> {
        forget_session(sid);
        let path = Self::session_path(sid, "");
        self.send(self.authorized(Request::delete(&path)).build())
            .await
            .map(drop)
    }

    /// `POST /lessons/sessions/{sid}/type`: one of the lesson's commands, typed into
    /// its terminal by the server (placeholders expanded there).
    pub async fn type_lesson_line(&self, sid: &str, cmd: &TerminalCommand) -> ActionResult<()> {
        let path = Self::session_path(sid, "/type");
        let body = LessonTyped {
            terminal: cmd.terminal.clone(),
            run: cmd.run.clone(),
        };
        self.send(self.authorized(Request::post(&path)).json(&body))
            .await
            .map(drop)
    }

    /// `GET /lessons/sessions/{sid}/steps/{n}/check` (`n` 1-based).
    pub async fn check_lesson_step(&self, sid: &str, n: usize) -> ActionResult<LessonStepChecked> {
        let path = Self::session_path(sid, &format!("/steps/{n}/check"));
        parsed(
            self.send(self.authorized(Request::get(&path)).build())
                .await?,
        )
        .await
    }

    /// `GET /lessons/sessions/{sid}/steps/{n}/probe`: the kernel's true answer.
    pub async fn probe_lesson_step(&self, sid: &str, n: usize) -> ActionResult<String> {
        let path = Self::session_path(sid, &format!("/steps/{n}/probe"));
        let answer: LessonProbeAnswer = parsed(
            self.send(self.authorized(Request::get(&path)).build())
                .await?,
        )
        .await?;
        Ok(answer.answer)
    }

    /// `POST /lessons/sessions/{sid}/steps/{n}/limits`: the step's limits change.
    pub async fn set_lesson_limits(&self, sid: &str, n: usize) -> ActionResult<()> {
        let path = Self::session_path(sid, &format!("/steps/{n}/limits"));
        self.send(self.authorized(Request::post(&path)).build())
            .await
            .map(drop)
    }

    /// The terminal of a lesson session's root shell on the host.
    pub fn lesson_host_terminal(&self, sid: &str) -> TerminalTab {
        TerminalTab {
            key: format!("lesson-host-{sid}"),
            title: "host".to_string(),
            target: TerminalTarget::Live {
                path: Self::session_path(sid, "/host/terminal"),
                token: self.token(),
            },
        }
    }
}
