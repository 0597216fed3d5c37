//! [`ClassroomApi`]: the backend's `/api/v1/classroom…` routes, for the join page,
//! the student's bar and the teacher's view. Every failure is the server's one-line
//! message (`bad_join_code`, `name_taken`, … each have one).

use gloo_net::http::{Request, RequestBuilder, Response};
use isolab_shared::{
    ApiError, BroadcastRequest, ClassChanges, ClassInfo, ClassSettings, JoinAnswer, JoinRequest,
    RosterEntry,
};
use serde::de::DeserializeOwned;

use super::ActionResult;

/// Why a class call failed.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassError {
    /// 401: the token is not (or no longer) valid; a removed student gets this.
    Unauthorized(String),
    /// 404 `no_classroom`: this server runs no class.
    NoClassroom,
    /// Anything else, as one line for the user.
    Failed(String),
}

impl ClassError {
    /// The line shown to the user.
    pub fn message(&self) -> String {
        match self {
            ClassError::Unauthorized(m) | ClassError::Failed(m) => m.clone(),
            ClassError::NoClassroom => "this server runs no class".to_string(),
        }
    }
}

/// The classroom API, with the session's token.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassroomApi {
    token: Option<String>,
}

fn api(path: &str) -> String {
    format!("/api/v1/classroom{path}")
}

/// Sends `request`; an error status becomes the server's one-line message.
async fn send(request: Result<Request, gloo_net::Error>) -> Result<Response, ClassError> {
    let request =
        request.map_err(|e| ClassError::Failed(format!("the request could not be built: {e}")))?;
    let response = request
        .send()
        .await
        .map_err(|e| ClassError::Failed(format!("the isolab server did not answer: {e}")))?;
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    let error = response.json::<ApiError>().await.ok().map(|e| e.error);
    let message = error
        .as_ref()
        .map(|e| e.message.clone())
        .unwrap_or_else(|| format!("the server answered HTTP {status}"));
    Err(match status {
        401 => ClassError::Unauthorized(message),
        404 if error.is_some_and(|e| e.code == isolab_shared::ErrorCode::NoClassroom) => {
            ClassError::NoClassroom
        }
        _ => ClassError::Failed(message),
    })
}

async fn json<T: DeserializeOwned>(response: Response) -> Result<T, ClassError> {
    response
        .json()
        .await
        .map_err(|e| ClassError::Failed(format!("the server's answer was not understood: {e}")))
}

/// `POST /classroom/join` (no token): the new student's token and name.
pub async fn join(code: &str, name: &str) -> Result<JoinAnswer, ClassError> {
    let body = JoinRequest {
        code: code.to_string(),
        name: name.to_string(),
    };
    json(send(Request::post(&api("/join")).json(&body)).await?).await
}

impl ClassroomApi {
    /// The API reached with `token`.
    pub fn new(token: Option<String>) -> Self {
        ClassroomApi { token }
    }

    /// The token, for terminal sockets.
    pub fn token(&self) -> Option<String> {
        self.token.clone()
    }

    fn authorized(&self, builder: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(t) => builder.header("Authorization", &format!("Bearer {t}")),
            None => builder,
        }
    }

    /// `GET /classroom`: who the caller is, and the class's settings.
    pub async fn info(&self) -> Result<ClassInfo, ClassError> {
        json(send(self.authorized(Request::get(&api(""))).build()).await?).await
    }

    /// `GET /classroom/changes?since=N`: the class's change counter, once it differs
    /// from `since` (the server answers unchanged after a long wait).
    pub async fn changes(&self, since: u64) -> Result<u64, ClassError> {
        let path = api(&format!("/changes?since={since}"));
        let answer: ClassChanges =
            json(send(self.authorized(Request::get(&path)).build()).await?).await?;
        Ok(answer.version)
    }

    /// `POST /classroom/hand` or `DELETE /classroom/hand`.
    pub async fn set_hand(&self, raised: bool) -> ActionResult<()> {
        let builder = if raised {
            Request::post(&api("/hand"))
        } else {
            Request::delete(&api("/hand"))
        };
        self.done(self.authorized(builder).build()).await
    }

    /// `POST /classroom/progress`: a lesson step this student passed.
    pub async fn report_passed(&self, lesson: &str, step: usize) -> ActionResult<()> {
        let body = isolab_shared::ProgressReport {
            lesson: lesson.to_string(),
            step: step.to_string(),
            passed: true,
        };
        self.done(
            self.authorized(Request::post(&api("/progress")))
                .json(&body),
        )
        .await
    }

    /// `GET /classroom/students`.
    pub async fn roster(&self) -> Result<Vec<RosterEntry>, ClassError> {
        json(send(self.authorized(Request::get(&api("/students"))).build()).await?).await
    }

    /// `DELETE /classroom/students/{id}/hand`.
    pub async fn lower_hand_of(&self, student: &str) -> ActionResult<()> {
        let path = api(&format!("/students/{student}/hand"));
        self.done(self.authorized(Request::delete(&path)).build())
            .await
    }

    /// `DELETE /classroom/students/{id}`: revokes the token, removes the containers.
    pub async fn remove_student(&self, student: &str) -> ActionResult<()> {
        let path = api(&format!("/students/{student}"));
        self.done(self.authorized(Request::delete(&path)).build())
            .await
    }

    /// `POST /classroom/code`: a new join code.
    pub async fn rotate_code(&self) -> ActionResult<ClassInfo> {
        self.class_info(self.authorized(Request::post(&api("/code"))).build())
            .await
    }

    /// `PATCH /classroom` with `body` (`joining`, `ends_at_ms`).
    pub async fn update(&self, body: ClassSettings) -> ActionResult<ClassInfo> {
        self.class_info(self.authorized(Request::patch(&api(""))).json(&body))
            .await
    }

    /// `POST /classroom/end`: every student's container removed.
    pub async fn end_class(&self) -> ActionResult<()> {
        self.done(self.authorized(Request::post(&api("/end"))).build())
            .await
    }

    /// `POST /classroom/broadcast` of `container`, or `DELETE` with `None`.
    pub async fn broadcast(&self, container: Option<&str>) -> ActionResult<ClassInfo> {
        let request = match container {
            Some(id) => {
                self.authorized(Request::post(&api("/broadcast")))
                    .json(&BroadcastRequest {
                        container: id.to_string(),
                    })
            }
            None => self.authorized(Request::delete(&api("/broadcast"))).build(),
        };
        self.class_info(request).await
    }

    /// `GET /classroom/progress.csv`, as bytes.
    pub async fn progress_csv(&self) -> ActionResult<Vec<u8>> {
        let request = self.authorized(Request::get(&api("/progress.csv"))).build();
        let response = send(request).await.map_err(|e| e.message())?;
        response
            .binary()
            .await
            .map_err(|e| format!("the export did not arrive: {e}"))
    }

    async fn done(&self, request: Result<Request, gloo_net::Error>) -> ActionResult<()> {
        send(request).await.map(|_| ()).map_err(|e| e.message())
    }

    async fn class_info(
        &self,
        request: Result<Request, gloo_net::Error>,
    ) -> ActionResult<ClassInfo> {
        let response = send(request).await.map_err(|e| e.message())?;
        json(response).await.map_err(|e| e.message())
    }
}
