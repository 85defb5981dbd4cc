//! Who is calling: a standard key (`sk-…`, or the configured one) or an ephemeral key minted here.

use axum::http::{HeaderMap, header};

use super::AppState;
use super::error::{ApiError, Result, redact};
use crate::session::Session;

pub enum Caller {
    Standard,
    /// An unexpired ephemeral key and the session it was minted with.
    Ephemeral {
        key: String,
        session: Session,
    },
}

pub fn bearer(headers: &HeaderMap) -> Result<&str> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::MissingApiKey)?;
    value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or(ApiError::MissingApiKey)
}

pub fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller> {
    caller_with_key(state, bearer(headers)?)
}

/// Who holds `key`, however it was presented (a header, or a WebSocket subprotocol).
pub fn caller_with_key(state: &AppState, key: &str) -> Result<Caller> {
    if key.starts_with("ek_") {
        return state
            .ephemeral_session(key)
            .map(|session| Caller::Ephemeral {
                key: key.to_owned(),
                session,
            })
            .ok_or_else(|| ApiError::InvalidApiKey { shown: redact(key) });
    }
    let ok = match &state.config().api_key {
        Some(expected) => key == expected,
        None => key.starts_with("sk-") && key.len() > 3,
    };
    if ok {
        Ok(Caller::Standard)
    } else {
        Err(ApiError::InvalidApiKey { shown: redact(key) })
    }
}

/// Endpoints for servers only (minting, hangup) refuse ephemeral keys.
pub fn standard(state: &AppState, headers: &HeaderMap) -> Result<()> {
    let key = bearer(headers)?;
    match caller(state, headers)? {
        Caller::Standard => Ok(()),
        Caller::Ephemeral { .. } => Err(ApiError::InvalidApiKey { shown: redact(key) }),
    }
}
