//! Reading request bodies ourselves, so that a malformed or oversized body gets the same error envelope as
//! every other mistake (axum's own rejections answer in plain text).

use axum::body::Body;
use axum::http::StatusCode;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::error::{ApiError, Result};

pub async fn read_body(body: Body, limit: usize) -> Result<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!("the request body may be at most {limit} bytes"),
        )
    })
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
