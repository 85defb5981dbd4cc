//! The HTTP edge's error type: every failure becomes the API's envelope
//! `{"error":{"message","type","code","param"}}` with the status a client SDK maps to its error classes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::params::ParamError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing API key")]
    MissingApiKey,
    #[error("incorrect API key")]
    InvalidApiKey { shown: String },
    #[error("{0}")]
    Param(#[from] ParamError),
    #[error("unparsable JSON body")]
    InvalidJson,
    #[error("invalid offer: {0}")]
    InvalidOffer(String),
    #[error("unknown call {0}")]
    CallNotFound(String),
    /// A SIP call-control endpoint (`accept`, `reject`, `refer`) named a WebRTC call.
    #[error("call {call_id} is not a SIP call")]
    NotSipCall {
        call_id: String,
        /// What was asked, as a participle: `accepted`, `rejected`, `referred`.
        action: &'static str,
    },
    /// `accept` or `reject` on a SIP call that was already accepted.
    #[error("call {call_id} was already accepted")]
    CallAlreadyAccepted {
        call_id: String,
        /// What was asked, as a participle: `accepted`, `rejected`.
        action: &'static str,
    },
    /// `refer` or a DTMF key on a SIP call still ringing.
    #[error("call {call_id} has not been accepted")]
    CallNotAccepted {
        call_id: String,
        /// What was asked, as a noun phrase: `referred`, `sent DTMF`.
        action: &'static str,
    },
    /// `POST /emulator/sip/calls` with a standard key: no webhook URL is configured or given.
    #[error("no SIP webhook configured")]
    NoSipWebhook,
    /// `GET /realtime` without a WebSocket upgrade.
    #[error("not a WebSocket upgrade")]
    NotWebSocket(StatusCode),
    /// An ephemeral key already holds its bound of open calls.
    #[error("too many open calls for one key")]
    TooManyCalls { limit: u32 },
    /// A sideband (`?call_id=`) was opened with an ephemeral key: it takes a standard key.
    #[error("ephemeral key on a sideband")]
    SidebandNeedsStandardKey,
    /// The call already has its bound of attached sidebands.
    #[error("too many sidebands on one call")]
    TooManySidebands { limit: u32 },
    /// No such path, or not with this method (405 then, so `Allow` is not a lie).
    #[error("no route {method} {path}")]
    UnknownRoute {
        method: String,
        path: String,
        status: StatusCode,
    },
    #[error("injected fault: HTTP {status}")]
    Injected {
        status: u16,
        retry_after: Option<u64>,
    },
    /// The cause is logged where it happens; the body says nothing internal.
    #[error("internal error")]
    Internal,
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// `sk-abc…wxyz` → `sk-abc***wxyz`, as OpenAI's messages show keys.
pub fn redact(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "***".into();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}***{tail}")
}

/// What a wrong key is told, over HTTP and over a WebSocket alike.
pub fn invalid_key_message(shown: &str) -> String {
    format!(
        "Incorrect API key provided: {shown}. The emulator accepts the key it was started with (or any sk-… key), \
         and ephemeral keys it minted that have not expired."
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, ty, code, message, param) = match self {
            ApiError::MissingApiKey => (
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                None,
                "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).".to_owned(),
                None,
            ),
            ApiError::InvalidApiKey { shown } => (
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                Some("invalid_api_key"),
                invalid_key_message(&shown),
                None,
            ),
            ApiError::Param(e) => (StatusCode::BAD_REQUEST, "invalid_request_error", Some(e.code), e.message, e.param),
            ApiError::InvalidJson => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                None,
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)".to_owned(),
                None,
            ),
            ApiError::InvalidOffer(message) => {
                (StatusCode::BAD_REQUEST, "invalid_request_error", Some("invalid_offer"), message, None)
            }
            ApiError::CallNotFound(id) => (
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("call_not_found"),
                format!("No active call with id '{id}'."),
                Some("call_id".to_owned()),
            ),
            ApiError::NotSipCall { call_id, action } => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("not_sip_call"),
                format!(
                    "Call '{call_id}' is a WebRTC call; only an incoming SIP call can be {action}. End a \
                     WebRTC call with POST /v1/realtime/calls/{call_id}/hangup."
                ),
                Some("call_id".to_owned()),
            ),
            ApiError::CallAlreadyAccepted { call_id, action } => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("call_already_accepted"),
                format!(
                    "Call '{call_id}' has already been accepted, so it cannot be {action}. Use refer or hangup \
                     to end it."
                ),
                Some("call_id".to_owned()),
            ),
            ApiError::CallNotAccepted { call_id, action } => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("call_not_accepted"),
                format!(
                    "Call '{call_id}' is still ringing, so it cannot be {action}. Accept it first \
                     (POST /v1/realtime/calls/{call_id}/accept), or reject it."
                ),
                Some("call_id".to_owned()),
            ),
            ApiError::NoSipWebhook => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("sip_webhook_not_configured"),
                "No SIP webhook to deliver realtime.call.incoming to: start the emulator with --sip-webhook \
                 URL, or give \"webhook_url\" in the body."
                    .to_owned(),
                Some("webhook_url".to_owned()),
            ),
            ApiError::NotWebSocket(status) => (
                status,
                "invalid_request_error",
                None,
                "This endpoint takes WebSocket connections only: connect a WebSocket client to \
                 ws(s)://…/v1/realtime?model=gpt-realtime."
                    .to_owned(),
                None,
            ),
            ApiError::TooManyCalls { limit } => (
                StatusCode::TOO_MANY_REQUESTS,
                "invalid_request_error",
                Some("call_limit_reached"),
                format!(
                    "This ephemeral key already has {limit} open call(s), the most one key may hold at once \
                     (the emulator's --max-calls-per-key). End a call, or mint a new key."
                ),
                None,
            ),
            ApiError::SidebandNeedsStandardKey => (
                StatusCode::FORBIDDEN,
                "invalid_request_error",
                Some("ephemeral_key_not_allowed"),
                "Sideband connections (?call_id=) take a standard API key (sk-…), not an ephemeral key (ek_…)."
                    .to_owned(),
                None,
            ),
            ApiError::TooManySidebands { limit } => (
                StatusCode::TOO_MANY_REQUESTS,
                "invalid_request_error",
                Some("sideband_limit_reached"),
                format!(
                    "This call already has {limit} sideband connection(s), the most one call may have at once \
                     (the emulator's --max-sidebands-per-call). Close one first."
                ),
                Some("call_id".to_owned()),
            ),
            ApiError::UnknownRoute {
                method,
                path,
                status,
            } => (
                status,
                "invalid_request_error",
                None,
                format!("Invalid URL ({method} {path})"),
                None,
            ),
            ApiError::Injected { status, retry_after } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let (ty, code, message) = match status.as_u16() {
                    401 => ("invalid_request_error", Some("invalid_api_key"), "Incorrect API key provided (injected fault)."),
                    429 => ("requests", Some("rate_limit_exceeded"), "Rate limit reached for requests (injected fault). Please try again later."),
                    _ => ("server_error", None, "The server had an error while processing your request. Sorry about that! (injected fault)"),
                };
                let body = json!({"error": {"message": message, "type": ty, "param": null, "code": code}});
                let mut res = (status, axum::Json(body)).into_response();
                if let Some(secs) = retry_after
                    && let Ok(v) = HeaderValue::from_str(&secs.to_string())
                {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return res;
            }
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                None,
                "The server had an error while processing your request.".to_owned(),
                None,
            ),
        };
        let body = json!({"error": {"message": message, "type": ty, "param": param, "code": code}});
        (status, axum::Json(body)).into_response()
    }
}
