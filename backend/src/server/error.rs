//! The API's error type: a stable code, a one-line message, and an HTTP status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use isolab_shared::{ApiError, ErrorCode};

/// An error answered as `{"error":{"code":…,"message":…}}` with a matching status.
#[derive(Debug, Clone)]
pub struct HttpError {
    pub status: StatusCode,
    pub body: ApiError,
}

impl HttpError {
    /// An error with the status that belongs to `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        HttpError {
            status: status_for(code),
            body: ApiError::new(code, message),
        }
    }
}

/// The HTTP status each error code is answered with.
pub fn status_for(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::ForbiddenOrigin
        | ErrorCode::Forbidden
        | ErrorCode::QuotaExceeded
        | ErrorCode::NamespaceRequired
        | ErrorCode::BadJoinCode
        | ErrorCode::JoiningClosed => StatusCode::FORBIDDEN,
        ErrorCode::BadJson
        | ErrorCode::BadRequest
        | ErrorCode::UnknownMessage
        | ErrorCode::ImageNotFound
        | ErrorCode::LimitOutOfRange
        | ErrorCode::BadName
        | ErrorCode::NameTaken => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound | ErrorCode::NoClassroom => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::TooManyContainers | ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::LiveUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        // The code rides along for the audit log, which does not read bodies.
        let code = self.body.error.code;
        let mut response = (self.status, Json(self.body)).into_response();
        response.extensions_mut().insert(code);
        response
    }
}
