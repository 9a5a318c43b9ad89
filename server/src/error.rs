//! The one error type of the control server, turned into an HTTP response or a
//! WebSocket `error` frame in exactly one place each.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mesh_proto::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{1}")]
    BadRequest(&'static str, String),
    #[error("{1}")]
    Unauthorized(&'static str, String),
    #[error("{1}")]
    Forbidden(&'static str, String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("Too many attempts; try again in {0} seconds.")]
    RateLimited(u64),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn validation(message: impl Into<String>) -> Self {
        Error::BadRequest("validation", message.into())
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Error::Forbidden("forbidden", message.into())
    }

    pub fn unauthorized() -> Self {
        Error::Unauthorized(
            "unauthorized",
            "You are not signed in, or your session has ended. Sign in again.".into(),
        )
    }

    pub fn room_not_found() -> Self {
        Error::NotFound("That room does not exist or you are not in it.".into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(..) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(..) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(..) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Gone(_) => StatusCode::GONE,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The wire form. Internal details never leave the server; they are logged.
    pub fn to_api(&self) -> ApiError {
        let code = match self {
            Error::BadRequest(code, _)
            | Error::Unauthorized(code, _)
            | Error::Forbidden(code, _) => code,
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) => "conflict",
            Error::Gone(_) => "invite_expired",
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::RateLimited(_) => "rate_limited",
            Error::Internal(_) => "internal",
        };
        let message = match self {
            Error::Internal(err) => {
                tracing::error!(error = %format!("{err:#}"), "internal error");
                "Something went wrong on the server. It has been logged; try again.".to_owned()
            }
            other => other.to_string(),
        };
        ApiError {
            code: code.to_owned(),
            message,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        Error::Internal(err.into())
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, axum::Json(self.to_api())).into_response();
        if let Error::RateLimited(secs) = self {
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}
