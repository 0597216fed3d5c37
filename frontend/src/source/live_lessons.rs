//! The lesson requests of a [`LiveSource`]: a lesson session on live containers (its
//! setup, typed lines, checks, prediction probes, limits, reset, end). The server
//! runs the checks with the same judge as the simulator's, so the page only shows them.

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

impl LiveSource {
    fn session_path(sid: &str, rest: &str) -> String {
        Self::api(&format!("/lessons/sessions/{sid}{rest}"))
    }

    /// `POST /lessons/{id}/sessions`: the lesson's setup containers, made for this
    /// caller, with the first `replay` steps' solutions typed.
    pub async fn start_lesson(&self, id: &str, replay: usize) -> ActionResult<LessonSessionInfo> {
        let path = Self::api(&format!(
            "/lessons/{}/sessions",
            js_sys::encode_uri_component(id)
        ));
        let body = LessonSessionStart { replay };
        parsed(
            self.send(self.authorized(Request::post(&path)).json(&body))
                .await?,
        )
        .await
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
