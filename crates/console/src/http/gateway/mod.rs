//! `/v1`: the console as a drop-in OpenAI base URL. Any SDK pointed at `http://127.0.0.1:3000/v1` works
//! unchanged; the console relays to the API (or its built-in emulator) and records every session in the
//! library, like a console-page session.
//!
//! Which key goes upstream ([`credential`]):
//! * none, or the access secret: the server's own key, under the rules of `/api/rt/*` (loopback or the access
//!   secret, the same rate limit, `Origin` checks);
//! * a client's own `sk-` or `ek_` key: passed through, never stored, logged or echoed;
//! * with the built-in emulator as upstream, any standard key works (as against a standalone emulator), unless
//!   an access secret is set: then only the secret or an `ek_` key the emulator minted.

mod audio;
mod capture;
mod record;
mod rest;
mod ws;

pub use capture::Taps;
pub(crate) use capture::{CaptureKey, capture};
pub use rest::Mints;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use realtime_token::Credential;

use super::error::{ApiError, Code};
use crate::AppState;

/// A browser's way to send its key on a WebSocket: `openai-insecure-api-key.<key>` (PROTOCOL §15.2).
pub(crate) const KEY_PROTOCOL: &str = "openai-insecure-api-key.";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/realtime", get(ws::connect))
        .route("/v1/realtime/client_secrets", post(rest::client_secrets))
        .route("/v1/realtime/calls", post(rest::calls))
        .route("/v1/realtime/calls/{id}/{action}", post(rest::call_action))
}

/// The key a client presented: `Authorization: Bearer`, or else the browsers' WebSocket subprotocol.
pub(crate) fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty());
    bearer.or_else(|| {
        offered_protocols(headers)
            .find_map(|p| p.strip_prefix(KEY_PROTOCOL).filter(|k| !k.is_empty()))
    })
}

/// The subprotocols a WebSocket client offered, in order.
pub(crate) fn offered_protocols(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// Which key a `/v1` request goes upstream with. The server's key spends one request of the caller's
/// `/api/rt` budget (429 past it).
fn credential<'a>(
    state: &AppState,
    headers: &'a HeaderMap,
    peer: Option<&ConnectInfo<SocketAddr>>,
) -> Result<Credential<'a>, ApiError> {
    let presented = presented_key(headers);
    let secret = state.settings.access_secret.as_ref();
    let server = match presented {
        None => true,
        Some(key) if secret.is_some_and(|s| s.is_secret(key)) => true,
        Some(key) if state.upstream.is_emulator() && !key.starts_with("ek_") => {
            if secret.is_some() {
                return Err(ApiError::invalid(
                    Code::InvalidApiKey,
                    "this console's built-in emulator takes its access secret, or an `ek_` key it minted",
                ));
            }
            true
        }
        Some(_) => false,
    };
    if !server {
        return Ok(Credential::Client(presented.unwrap_or_default()));
    }
    let ip = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    state
        .rt_limit
        .check(ip)
        .map_err(|retry_after_secs| ApiError::RateLimited {
            retry_after_secs: retry_after_secs.max(1),
        })?;
    Ok(Credential::Server)
}

/// The client's `User-Agent`, as it sent it.
fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}
