//! How `/api/rt/*` fails: the console's own 4xx, an upstream failure mapped by
//! [`realtime_token::Error::to_public`], the rate limit, or an emulator that is not listening yet.

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use realtime_store::{AppendError, SessionId};
use realtime_token::PublicError;

use super::super::error::{ApiError, envelope};
use super::record::RecordError;
use crate::upstream::NotStarted;

pub const SESSION_ID_HEADER: HeaderName = HeaderName::from_static("x-console-session-id");

#[derive(Debug, thiserror::Error)]
pub enum RtError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The upstream refused or failed; `session` is the console session the failure was recorded in.
    #[error("the upstream failed with {}", .public.status)]
    Upstream {
        public: PublicError,
        session: Option<SessionId>,
    },
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error(transparent)]
    NotStarted(#[from] NotStarted),
}

impl From<realtime_store::Error> for RtError {
    fn from(e: realtime_store::Error) -> Self {
        RtError::Api(e.into())
    }
}

impl From<AppendError> for RtError {
    fn from(e: AppendError) -> Self {
        RtError::Api(e.into())
    }
}

impl From<RecordError> for RtError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Append(e) => e.into(),
            RecordError::Invalid(reason) => {
                tracing::error!(%reason, "recording a system event");
                RtError::Api(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "the server could not complete the request",
                ))
            }
        }
    }
}

impl IntoResponse for RtError {
    fn into_response(self) -> Response {
        match self {
            RtError::Api(e) => e.into_response(),
            RtError::Upstream { public, session } => {
                let mut res = (public.status, Json(public.body)).into_response();
                let h = res.headers_mut();
                if let Some(v) = public
                    .retry_after
                    .and_then(|v| HeaderValue::from_str(&v).ok())
                {
                    h.insert(header::RETRY_AFTER, v);
                }
                if let Some(v) = session.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
                    h.insert(SESSION_ID_HEADER, v);
                }
                res
            }
            RtError::RateLimited { retry_after_secs } => {
                let mut res = envelope(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_exceeded",
                    &format!(
                        "too many requests from this address to mint keys or start calls; try again in \
                         {retry_after_secs} s"
                    ),
                    None,
                );
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                res
            }
            RtError::NotStarted(e) => envelope(
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream_unavailable",
                &e.to_string(),
                None,
            ),
        }
    }
}
