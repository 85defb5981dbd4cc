//! The HTTP error type: every 4xx says exactly what was wrong in the upstream API's envelope
//! `{"error":{"message","type","code","param"}}`; a 5xx says nothing internal and logs the cause.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use realtime_store::{AppendError, FieldError, FieldErrorKind, ImportError};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Invalid {
        status: StatusCode,
        code: &'static str,
        message: String,
        param: Option<String>,
    },
    #[error(transparent)]
    Store(#[from] realtime_store::Error),
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            status,
            code,
            message: message.into(),
            param: None,
        }
    }

    pub fn bad_request(
        code: &'static str,
        message: impl Into<String>,
        param: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message).with_param(param)
    }

    pub fn with_param(self, p: impl Into<String>) -> Self {
        match self {
            ApiError::Invalid {
                status,
                code,
                message,
                ..
            } => ApiError::Invalid {
                status,
                code,
                message,
                param: Some(p.into()),
            },
            other => other,
        }
    }

    pub fn session_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "session_not_found",
            format!("no session with id `{id}`"),
        )
        .with_param("id")
    }

    /// A field of element `index` of a batch: `param` names it as `events[3].direction`.
    pub fn event_field(index: usize, e: FieldError) -> Self {
        let param = if e.field.is_empty() {
            format!("events[{index}]")
        } else {
            format!("events[{index}].{}", e.field)
        };
        let (status, code) = match e.kind {
            FieldErrorKind::Missing => (StatusCode::BAD_REQUEST, "missing_required_parameter"),
            FieldErrorKind::Invalid => (StatusCode::BAD_REQUEST, "invalid_value"),
            FieldErrorKind::Unknown => (StatusCode::BAD_REQUEST, "unknown_parameter"),
            FieldErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "event_too_large"),
        };
        Self::new(status, code, format!("{param}: {}", e.message)).with_param(param)
    }
}

impl From<AppendError> for ApiError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::UnknownSession => Self::new(
                StatusCode::NOT_FOUND,
                "session_not_found",
                "no such session",
            )
            .with_param("id"),
            AppendError::Conflict { index, seq } => Self::new(
                StatusCode::CONFLICT,
                "seq_conflict",
                format!(
                    "seq {seq} is already stored with different content; the batch was not stored"
                ),
            )
            .with_param(format!("events[{index}].seq")),
            AppendError::SeqsExhausted => Self::new(
                StatusCode::CONFLICT,
                "seqs_exhausted",
                "the session's server seqs are used up",
            ),
            AppendError::Store(e) => ApiError::Store(e),
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        let message = e.to_string();
        match e {
            ImportError::Line { line, error } => {
                let (status, code) = match error.kind {
                    FieldErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "event_too_large"),
                    FieldErrorKind::Missing => {
                        (StatusCode::BAD_REQUEST, "missing_required_parameter")
                    }
                    FieldErrorKind::Unknown => (StatusCode::BAD_REQUEST, "unknown_parameter"),
                    FieldErrorKind::Invalid => (StatusCode::BAD_REQUEST, "invalid_value"),
                };
                Self::new(status, code, message).with_param(format!("line {line}"))
            }
            ImportError::Json { line } => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_json", message)
                    .with_param(format!("line {line}"))
            }
            ImportError::Conflict { line, .. } => {
                Self::new(StatusCode::BAD_REQUEST, "seq_conflict", message)
                    .with_param(format!("line {line}"))
            }
            ImportError::LineTooLong { line } => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "line_too_long", message)
                    .with_param(format!("line {line}"))
            }
            ImportError::Empty => Self::new(StatusCode::BAD_REQUEST, "empty_import", message),
            ImportError::Body(_) => Self::new(StatusCode::BAD_REQUEST, "invalid_body", message),
            ImportError::Store(e) => ApiError::Store(e),
        }
    }
}

/// The envelope, shared with the security layers that answer before any handler runs.
pub fn envelope(status: StatusCode, code: &str, message: &str, param: Option<&str>) -> Response {
    let kind = if status.is_server_error() {
        "server_error"
    } else {
        "invalid_request_error"
    };
    (
        status,
        Json(json!({"error": {"message": message, "type": kind, "code": code, "param": param}})),
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Invalid {
                status,
                code,
                message,
                param,
            } => envelope(status, code, &message, param.as_deref()),
            ApiError::Store(e) => {
                tracing::error!(error = %e, "store error");
                envelope(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "the server could not complete the request",
                    None,
                )
            }
        }
    }
}
