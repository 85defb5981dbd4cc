//! Reading request bodies ourselves, so that a malformed or oversized body gets the same error envelope as
//! every other mistake (axum's own rejections answer in plain text).

use axum::body::Body;
use axum::http::StatusCode;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::error::{ApiError, Result};

pub async fn read_body(body: Body, limit: usize) -> Result<Bytes> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|e| body_error(&e, limit))
}

/// Why a body could not be read: too large (413), too slow (408: nothing came for `BODY_TIMEOUT_SECS`), or
/// cut off (400).
pub fn body_error(e: &(dyn std::error::Error + 'static), limit: usize) -> ApiError {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                format!("the request body may be at most {limit} bytes"),
            );
        }
        if c.is::<tower_http::timeout::TimeoutError>() {
            return body_timed_out();
        }
        cause = c.source();
    }
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_body",
        "the request body could not be read",
    )
}

pub fn body_timed_out() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        "the request body stopped arriving; send it without long pauses",
    )
}

/// Whether a body-stream error is the body timeout's.
pub fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| json_error(&e))
}

/// Like [`parse_json`], but an empty (or blank) body means "all defaults": the bodies of
/// `POST /api/sessions` and `POST /api/rt/token` are optional.
pub fn parse_json_or_default<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_json(bytes)
    }
}

pub fn json_error(e: &serde_json::Error) -> ApiError {
    let msg = e.to_string();
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return ApiError::bad_request(
            "unknown_parameter",
            format!("unknown parameter `{field}`"),
            field,
        );
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return ApiError::bad_request(
            "missing_required_parameter",
            format!("missing `{field}`"),
            field,
        );
    }
    let code = if e.is_data() {
        "invalid_value"
    } else {
        "invalid_json"
    };
    ApiError::new(
        StatusCode::BAD_REQUEST,
        code,
        format!("the body is not valid: {msg}"),
    )
}
