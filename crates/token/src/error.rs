//! The crate's error type, and how each error should be shown to the console's own clients.

use std::time::Duration;

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to the upstream API.
///
/// No variant holds a key: upstream messages are scrubbed of key-like words when the error is built
/// (the API echoes a masked key in "Incorrect API key provided: sk-…"), and parse failures keep no
/// quoted values (an unparsable client-secret body may contain the ephemeral key).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not connect to the Realtime API at {url}")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("the Realtime API did not answer {url} within {timeout:?}")]
    Timeout { url: String, timeout: Duration },

    #[error("the request to {url} failed")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("the Realtime API answered {status} with an unexpected response: {reason}")]
    InvalidResponse { status: StatusCode, reason: String },

    #[error("the Realtime API answered {status}: {}", .error.message)]
    Upstream {
        status: StatusCode,
        error: ApiError,
        /// The `Retry-After` header as sent (seconds or an HTTP date), so a 429 can pass it on.
        retry_after: Option<String>,
    },

    #[error("{reason}")]
    InvalidInput { reason: String, param: &'static str },

    #[error("invalid configuration: {0}")]
    Config(&'static str),

    #[error("could not build the HTTP client")]
    Build(#[source] reqwest::Error),
}

/// The body of the API's error envelope, `{"error": {...}}` (PROTOCOL §4.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub param: Option<String>,
}

/// `{"error": {...}}`, as the API sends it and as the console answers its own clients.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ApiError,
}

/// What the console should answer its own client when an upstream call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicError {
    pub status: StatusCode,
    pub body: ErrorEnvelope,
    /// Set on 429 when upstream sent one; the console should copy it to its `Retry-After` header.
    pub retry_after: Option<String>,
}

impl Error {
    /// The upstream HTTP status, when upstream answered at all.
    pub fn upstream_status(&self) -> Option<StatusCode> {
        match self {
            Error::Upstream { status, .. } | Error::InvalidResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How the console should report this error: 4xx caused by the request pass through with the
    /// upstream envelope, a rejected server key becomes a 502 that names no key, 429 keeps
    /// `Retry-After`, upstream failures are 502 and a timeout is 504. 5xx bodies say nothing internal.
    pub fn to_public(&self) -> PublicError {
        let (status, error, retry_after) = match self {
            Error::Upstream { status, error, .. }
                if matches!(status.as_u16(), 400 | 404 | 409 | 422) =>
            {
                (*status, error.clone(), None)
            }
            Error::Upstream { status, .. } if matches!(status.as_u16(), 401 | 403) => (
                StatusCode::BAD_GATEWAY,
                api_error(
                    "the server's OpenAI API key was rejected",
                    "upstream_error",
                    Some("upstream_auth_failed"),
                ),
                None,
            ),
            Error::Upstream {
                status,
                error,
                retry_after,
            } if *status == StatusCode::TOO_MANY_REQUESTS => (
                StatusCode::TOO_MANY_REQUESTS,
                ApiError {
                    param: None,
                    ..error.clone()
                },
                retry_after.clone(),
            ),
            Error::Timeout { .. } => (
                StatusCode::GATEWAY_TIMEOUT,
                api_error(
                    "the OpenAI Realtime API did not answer in time",
                    "upstream_error",
                    Some("upstream_timeout"),
                ),
                None,
            ),
            Error::InvalidInput { reason, param } => (
                StatusCode::BAD_REQUEST,
                ApiError {
                    param: Some((*param).to_owned()),
                    ..api_error(reason, "invalid_request_error", Some("invalid_value"))
                },
                None,
            ),
            Error::Config(_) | Error::Build(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                api_error("internal error", "server_error", None),
                None,
            ),
            Error::Connect { .. } => (
                StatusCode::BAD_GATEWAY,
                api_error(
                    "could not reach the OpenAI Realtime API",
                    "upstream_error",
                    Some("upstream_unreachable"),
                ),
                None,
            ),
            Error::Upstream { .. } | Error::InvalidResponse { .. } | Error::Request { .. } => (
                StatusCode::BAD_GATEWAY,
                api_error(
                    "the OpenAI Realtime API failed",
                    "upstream_error",
                    Some("upstream_failed"),
                ),
                None,
            ),
        };
        PublicError {
            status,
            body: ErrorEnvelope { error },
            retry_after,
        }
    }
}

fn api_error(message: &str, kind: &str, code: Option<&str>) -> ApiError {
    ApiError {
        message: message.to_owned(),
        kind: kind.to_owned(),
        code: code.map(str::to_owned),
        param: None,
    }
}

/// Replaces every word that looks like an API key (and the given exact secret) with `[redacted]`.
///
/// Upstream 401 messages echo a masked form of the key they were given; even masked, it does not
/// belong in the console's logs or responses.
pub(crate) fn scrub(text: &str, secret: &str) -> String {
    let text = if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, "[redacted]")
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(first) = rest.chars().next() {
        let in_word = is_key_char(first);
        let end = rest
            .find(|c: char| is_key_char(c) != in_word)
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(end);
        if in_word && looks_like_key(run) {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        rest = tail;
    }
    out
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*' | '.')
}

fn looks_like_key(word: &str) -> bool {
    ["sk-", "ek_", "sess_key", "rk-"]
        .iter()
        .any(|p| word.starts_with(p))
}

/// Removes quoted values from a serde_json message: it quotes the offending string verbatim
/// (`invalid type: string "ek_…"`), while field names, which are worth keeping, are in backticks.
pub(crate) fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        if c == '"' {
            if quoted {
                out.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_masks_key_like_words_and_the_secret() {
        let s = scrub(
            "Incorrect API key provided: sk-canar************1234. You can find yours at x.",
            "topsecret",
        );
        assert_eq!(
            s,
            "Incorrect API key provided: [redacted] You can find yours at x."
        );
        assert_eq!(
            scrub("key topsecret here", "topsecret"),
            "key [redacted] here"
        );
        assert_eq!(scrub("value ek_abc, ok", ""), "value [redacted], ok");
        assert_eq!(scrub("plain words stay", "x-not-there"), "plain words stay");
    }

    #[test]
    fn quoted_values_are_dropped() {
        assert_eq!(
            without_quoted_values("invalid type: string \"ek_123\", expected u64 at `value`"),
            "invalid type: string \"…\", expected u64 at `value`"
        );
    }
}
