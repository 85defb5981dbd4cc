//! The HTTP edge's one error type. Every 4xx says exactly what was wrong in the upstream API's envelope
//! `{"error":{"message","type","code","param"}}`; a 5xx says nothing internal and logs the cause. On a page,
//! the same error is rendered as `error.html` ([`PageError`]).

use askama::Template;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use realtime_store::{AppendError, FieldError, FieldErrorKind, ImportError, SessionId};
use realtime_token::PublicError;
use serde_json::json;

use super::rt::RecordError;
use crate::upstream::NotStarted;

/// `error.code` of the envelopes this server writes itself (upstream failures keep the upstream's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    InvalidValue,
    InvalidType,
    InvalidJson,
    InvalidBody,
    InvalidOffer,
    UnknownParameter,
    MissingRequiredParameter,
    UnsupportedContentType,
    EmptyImport,
    RequestTooLarge,
    TooManyEvents,
    EventTooLarge,
    LineTooLong,
    RequestTimeout,
    SessionNotFound,
    SeqConflict,
    SeqsExhausted,
    AudioChunkConflict,
    AudioFormatMismatch,
    AudioNotFound,
    AudioNotMixable,
    NoCall,
    UnknownUrl,
    MethodNotAllowed,
    AccessDenied,
    InvalidApiKey,
    UpgradeRequired,
    CrossOriginRequest,
    MisdirectedRequest,
    RateLimitExceeded,
    UpstreamUnavailable,
    InternalError,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidValue => "invalid_value",
            Code::InvalidType => "invalid_type",
            Code::InvalidJson => "invalid_json",
            Code::InvalidBody => "invalid_body",
            Code::InvalidOffer => "invalid_offer",
            Code::UnknownParameter => "unknown_parameter",
            Code::MissingRequiredParameter => "missing_required_parameter",
            Code::UnsupportedContentType => "unsupported_content_type",
            Code::EmptyImport => "empty_import",
            Code::RequestTooLarge => "request_too_large",
            Code::TooManyEvents => "too_many_events",
            Code::EventTooLarge => "event_too_large",
            Code::LineTooLong => "line_too_long",
            Code::RequestTimeout => "request_timeout",
            Code::SessionNotFound => "session_not_found",
            Code::SeqConflict => "seq_conflict",
            Code::SeqsExhausted => "seqs_exhausted",
            Code::AudioChunkConflict => "audio_chunk_conflict",
            Code::AudioFormatMismatch => "audio_format_mismatch",
            Code::AudioNotFound => "audio_not_found",
            Code::AudioNotMixable => "audio_not_mixable",
            Code::NoCall => "no_call",
            Code::UnknownUrl => "unknown_url",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::AccessDenied => "access_denied",
            Code::InvalidApiKey => "invalid_api_key",
            Code::UpgradeRequired => "websocket_required",
            Code::CrossOriginRequest => "cross_origin_request",
            Code::MisdirectedRequest => "misdirected_request",
            Code::RateLimitExceeded => "rate_limit_exceeded",
            Code::UpstreamUnavailable => "upstream_unavailable",
            Code::InternalError => "internal_error",
        }
    }

    /// The status an error with this code answers with, unless it says otherwise.
    pub fn status(self) -> StatusCode {
        match self {
            Code::InvalidValue
            | Code::InvalidType
            | Code::InvalidJson
            | Code::InvalidBody
            | Code::InvalidOffer
            | Code::UnknownParameter
            | Code::MissingRequiredParameter
            | Code::EmptyImport => StatusCode::BAD_REQUEST,
            Code::UnsupportedContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::RequestTooLarge
            | Code::TooManyEvents
            | Code::EventTooLarge
            | Code::LineTooLong => StatusCode::PAYLOAD_TOO_LARGE,
            Code::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Code::SessionNotFound | Code::UnknownUrl | Code::AudioNotFound => StatusCode::NOT_FOUND,
            Code::SeqConflict
            | Code::SeqsExhausted
            | Code::NoCall
            | Code::AudioChunkConflict
            | Code::AudioFormatMismatch
            | Code::AudioNotMixable => StatusCode::CONFLICT,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::AccessDenied | Code::InvalidApiKey => StatusCode::UNAUTHORIZED,
            Code::UpgradeRequired => StatusCode::UPGRADE_REQUIRED,
            Code::CrossOriginRequest => StatusCode::FORBIDDEN,
            Code::MisdirectedRequest => StatusCode::MISDIRECTED_REQUEST,
            Code::RateLimitExceeded => StatusCode::TOO_MANY_REQUESTS,
            Code::UpstreamUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What a field error of a batch element or an import line is.
    fn of_field(kind: FieldErrorKind) -> Code {
        match kind {
            FieldErrorKind::Missing => Code::MissingRequiredParameter,
            FieldErrorKind::Invalid => Code::InvalidValue,
            FieldErrorKind::Unknown => Code::UnknownParameter,
            FieldErrorKind::TooLarge => Code::EventTooLarge,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is wrong: what, where (`param`), and the status that says so.
    #[error("{message}")]
    Invalid {
        status: StatusCode,
        code: Code,
        message: String,
        param: Option<String>,
    },
    #[error("no session with id `{0}`")]
    SessionNotFound(String),
    /// The upstream refused or failed; `session` is the console session the failure was recorded in.
    #[error("the upstream failed with {}", .public.status)]
    Upstream {
        public: Box<PublicError>,
        session: Option<SessionId>,
    },
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error(transparent)]
    NotStarted(#[from] NotStarted),
    #[error(transparent)]
    Store(#[from] realtime_store::Error),
    /// The server's own fault: logged, never shown.
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// The header that names the console session an `/api/rt` failure was recorded in.
pub const SESSION_ID_HEADER: header::HeaderName =
    header::HeaderName::from_static("x-console-session-id");

impl ApiError {
    /// A client error with `code`'s status.
    pub fn invalid(code: Code, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            status: code.status(),
            code,
            message: message.into(),
            param: None,
        }
    }

    /// A client error about the field `param`.
    pub fn field(code: Code, message: impl Into<String>, param: impl Into<String>) -> Self {
        Self::invalid(code, message).with_param(param)
    }

    pub fn with_param(mut self, p: impl Into<String>) -> Self {
        if let ApiError::Invalid { param, .. } = &mut self {
            *param = Some(p.into());
        }
        self
    }

    pub fn with_status(mut self, s: StatusCode) -> Self {
        if let ApiError::Invalid { status, .. } = &mut self {
            *status = s;
        }
        self
    }

    /// A field of element `index` of a batch: `param` names it as `events[3].direction`.
    pub fn event_field(index: usize, e: FieldError) -> Self {
        let param = if e.field.is_empty() {
            format!("events[{index}]")
        } else {
            format!("events[{index}].{}", e.field)
        };
        Self::field(
            Code::of_field(e.kind),
            format!("{param}: {}", e.message),
            param,
        )
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid { status, .. } => *status,
            ApiError::SessionNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Upstream { public, .. } => public.status,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotStarted(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Store(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<AppendError> for ApiError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::UnknownSession => ApiError::SessionNotFound(String::new()),
            AppendError::Conflict { index, seq } => ApiError::field(
                Code::SeqConflict,
                format!(
                    "seq {seq} is already stored with different content; the batch was not stored"
                ),
                format!("events[{index}].seq"),
            ),
            AppendError::SeqsExhausted => {
                ApiError::invalid(Code::SeqsExhausted, "the session's server seqs are used up")
            }
            AppendError::Store(e) => ApiError::Store(e),
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        let message = e.to_string();
        let line = |n: usize| format!("line {n}");
        match e {
            ImportError::Line { line: n, error } => {
                ApiError::field(Code::of_field(error.kind), message, line(n))
            }
            ImportError::Json { line: n } => ApiError::field(Code::InvalidJson, message, line(n)),
            ImportError::LineTooLong { line: n } => {
                ApiError::field(Code::LineTooLong, message, line(n))
            }
            // A file that contradicts itself is a bad file (400), not a clash with what is stored (409).
            ImportError::Conflict { line: n, .. } => {
                ApiError::field(Code::SeqConflict, message, line(n))
                    .with_status(StatusCode::BAD_REQUEST)
            }
            ImportError::Audio { line: n, .. } => {
                ApiError::field(Code::InvalidValue, message, line(n))
            }
            ImportError::Empty => ApiError::invalid(Code::EmptyImport, message),
            ImportError::Body(_) => ApiError::invalid(Code::InvalidBody, message),
            ImportError::Store(e) => ApiError::Store(e),
        }
    }
}

impl From<RecordError> for ApiError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Append(e) => e.into(),
            RecordError::Invalid(reason) => {
                ApiError::Internal(format!("recording a system event: {reason}"))
            }
        }
    }
}

/// The envelope, shared with the layers that answer before any handler runs.
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

/// The envelope of a [`Code`] at its own status.
pub fn envelope_of(code: Code, message: &str) -> Response {
    envelope(code.status(), code.as_str(), message, None)
}

fn retry_after(res: &mut Response, secs: Option<&str>) {
    if let Some(v) = secs.and_then(|v| HeaderValue::from_str(v).ok()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Invalid {
                status,
                code,
                message,
                param,
            } => envelope(status, code.as_str(), &message, param.as_deref()),
            ApiError::SessionNotFound(id) => envelope(
                StatusCode::NOT_FOUND,
                Code::SessionNotFound.as_str(),
                &if id.is_empty() {
                    "no such session".to_owned()
                } else {
                    format!("no session with id `{id}`")
                },
                Some("id"),
            ),
            ApiError::Upstream { public, session } => {
                let PublicError {
                    status,
                    body,
                    retry_after: wait,
                } = *public;
                let mut res = (status, Json(body)).into_response();
                retry_after(&mut res, wait.as_deref());
                if let Some(v) = session.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
                    res.headers_mut().insert(SESSION_ID_HEADER, v);
                }
                res
            }
            ApiError::RateLimited { retry_after_secs } => {
                let mut res = envelope_of(
                    Code::RateLimitExceeded,
                    &format!(
                        "too many requests from this address to mint keys or start calls; try again in \
                         {retry_after_secs} s"
                    ),
                );
                retry_after(&mut res, Some(&retry_after_secs.to_string()));
                res
            }
            ApiError::NotStarted(e) => envelope_of(Code::UpstreamUnavailable, &e.to_string()),
            ApiError::Store(e) => internal(&e.to_string()),
            ApiError::Internal(reason) => internal(&reason),
        }
    }
}

fn internal(cause: &str) -> Response {
    tracing::error!(error = %cause, "internal error");
    envelope_of(
        Code::InternalError,
        "the server could not complete the request",
    )
}

/// The error page: one template for every page that fails, a denied access included.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: &'static str,
    status: StatusCode,
    message: &'a str,
}

pub fn error_page(status: StatusCode, message: &str) -> Response {
    let page = ErrorPage {
        nav: "",
        status,
        message,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => status.into_response(),
    }
}

/// An error of a page handler: the same error as the API's, shown as the error page.
#[derive(Debug)]
pub struct PageError(pub ApiError);

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        match self.0 {
            ApiError::SessionNotFound(_) => error_page(status, "There is no such session."),
            ApiError::Store(e) => {
                tracing::error!(error = %e, "a page could not read the store");
                error_page(status, "The page could not be read.")
            }
            ApiError::Internal(reason) => {
                tracing::error!(%reason, "a page failed");
                error_page(status, "The page could not be shown.")
            }
            other => error_page(status, &other.to_string()),
        }
    }
}
