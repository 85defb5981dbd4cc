//! `GET /realtime?model=…`: the WebSocket transport's handshake (PROTOCOL §15.1–15.4), and
//! `GET /realtime?call_id=rtc_…`: a sideband socket attached to a live WebRTC call or accepted SIP call.
//!
//! Credentials and the model are checked after the upgrade, as the real API does: a refused socket gets
//! its 101, one `error` event and a close (3000 for the key, 4000 for the model or the API shape). The
//! key comes from `Authorization: Bearer` or, for browsers, the `openai-insecure-api-key.<key>`
//! subprotocol; `realtime` is selected when offered, and no subprotocol is when none is.
//!
//! A sideband is refused before any upgrade when what it asks cannot be had at all: an unknown or ended
//! call (404, as the real API answers), an ephemeral key (403), a call with all its sidebands (429). A
//! missing or wrong key is refused after the 101, as on any socket.

use std::collections::HashMap;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::AppState;
use super::auth::{self, Caller};
use super::error::{ApiError, invalid_key_message};
use crate::engine::{self, AttachError, Transport};
use crate::session::{Kind, Session};
use crate::ws::{self, Refusal, code};

/// The subprotocol browsers and the SDKs offer, selected in the answer when offered.
const REALTIME_PROTOCOL: &str = "realtime";
/// A browser's way to send its key: `openai-insecure-api-key.<key>`.
const KEY_PROTOCOL: &str = "openai-insecure-api-key.";
/// The retired beta's subprotocol (the real API closes such sockets with 4000).
const BETA_PROTOCOL: &str = "openai-beta.realtime-v1";

pub fn router() -> Router<AppState> {
    Router::new().route("/realtime", get(connect))
}

async fn connect(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Some(call_id) = query.get("call_id") {
        return sideband(&state, call_id, &headers, upgrade).await;
    }
    let offered = offered_protocols(&headers);
    let upgrade = match upgrade {
        Ok(upgrade) => configured(upgrade, &offered),
        Err(rejection) => return ApiError::NotWebSocket(rejection.status()).into_response(),
    };
    let opened = open(&state, &query, &headers, &offered);
    let settings = state.0.settings.clone();
    let ping_every = state.config().ws_ping_interval;
    upgrade.on_upgrade(move |socket| async move {
        match opened {
            Ok(session) => {
                tracing::info!(session = ?session.get("id"), "websocket session started");
                let (handle, io) = engine::start(session, settings, Transport::WebSocket);
                ws::run(socket, io, ping_every).await;
                drop(handle);
            }
            Err(refusal) => ws::refuse(socket, refusal).await,
        }
    })
}

/// `?call_id=`: attaches the socket to that call's engine, as one more peer of the same session.
async fn sideband(
    state: &AppState,
    call_id: &str,
    headers: &HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let not_found = || ApiError::CallNotFound(call_id.to_owned()).into_response();
    let Some(call) = state.live_call(call_id) else {
        return not_found();
    };
    let offered = offered_protocols(headers);
    let key = presented_key(headers, &offered);
    if key.is_some_and(|k| k.starts_with("ek_")) {
        return ApiError::SidebandNeedsStandardKey.into_response();
    }
    let upgrade = match upgrade {
        Ok(upgrade) => configured(upgrade, &offered),
        Err(rejection) => return ApiError::NotWebSocket(rejection.status()).into_response(),
    };
    let checked = key
        .ok_or(ApiError::MissingApiKey)
        .and_then(|key| auth::caller_with_key(state, key));
    if let Err(e) = checked {
        let refusal = key_refusal(e);
        return upgrade.on_upgrade(move |socket| ws::refuse(socket, refusal));
    }
    let io = match call.attach().await {
        Ok(io) => io,
        Err(AttachError::Ended) => return not_found(),
        Err(AttachError::Full { limit }) => {
            return ApiError::TooManySidebands { limit }.into_response();
        }
    };
    let ping_every = state.config().ws_ping_interval;
    let call_id = call_id.to_owned();
    upgrade.on_upgrade(move |socket| async move {
        tracing::info!(%call_id, "sideband attached");
        ws::run(socket, io, ping_every).await;
    })
}

/// The upgrade with the socket's limits, selecting `realtime` when it was offered.
fn configured(upgrade: WebSocketUpgrade, offered: &[String]) -> WebSocketUpgrade {
    let upgrade = upgrade
        .max_message_size(ws::READ_LIMIT_BYTES)
        .max_frame_size(ws::READ_LIMIT_BYTES);
    if offered.iter().any(|p| p == REALTIME_PROTOCOL) {
        upgrade.protocols([REALTIME_PROTOCOL])
    } else {
        upgrade
    }
}

/// The key from `Authorization: Bearer`, or else from the browsers' subprotocol.
fn presented_key<'a>(headers: &'a HeaderMap, offered: &'a [String]) -> Option<&'a str> {
    auth::bearer(headers)
        .ok()
        .or_else(|| offered.iter().find_map(|p| p.strip_prefix(KEY_PROTOCOL)))
}

/// The subprotocols offered, in order.
fn offered_protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The session this socket opens, or why it is refused: the key first, then the API shape, then the model.
fn open(
    state: &AppState,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    offered: &[String],
) -> Result<Session, Refusal> {
    let caller = presented_key(headers, offered)
        .ok_or(ApiError::MissingApiKey)
        .and_then(|key| auth::caller_with_key(state, key))
        .map_err(key_refusal)?;
    let beta_header = headers
        .get("openai-beta")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("realtime=v1"));
    if beta_header || offered.iter().any(|p| p == BETA_PROTOCOL) {
        return Err(request_refusal(
            "beta_api_shape_disabled",
            "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API."
                .into(),
        ));
    }
    let intent = match query.get("intent").map(String::as_str) {
        None => None,
        Some("realtime") => Some(Kind::Realtime),
        Some("transcription") => Some(Kind::Transcription),
        Some(other) => {
            return Err(request_refusal(
                "invalid_value",
                format!(
                    "Invalid value: '{other}'. Supported values are: 'realtime' and 'transcription'."
                ),
            ));
        }
    };
    let model = query.get("model");
    if let Some(model) = model
        && !is_realtime_model(model)
    {
        return Err(request_refusal(
            "invalid_model",
            format!("Model \"{model}\" is not supported in realtime mode."),
        ));
    }
    match caller {
        // As over WebRTC, an ephemeral key opens the session it was minted with; a model in the URL is
        // checked but does not replace the secret's.
        // Without an intent the secret's type wins (PROTOCOL §15.1); an intent that contradicts it is
        // refused rather than guessed at (the real API's answer is not known, §15.10).
        Caller::Ephemeral { session, .. } => match intent {
            Some(kind) if kind != session.kind() => Err(request_refusal(
                "invalid_value",
                format!(
                    "This client secret is for a {} session, not '?intent={}'.",
                    session.kind().name(),
                    kind.name()
                ),
            )),
            _ => Ok(session.with_new_id()),
        },
        // A transcription socket has no model (a `?model=` beside the intent is checked, not applied).
        Caller::Standard if intent == Some(Kind::Transcription) => Ok(Session::for_transcription()),
        Caller::Standard => {
            let Some(model) = model else {
                return Err(request_refusal(
                    "missing_model",
                    "Missing required parameter: 'model'. Connect to /v1/realtime?model=gpt-realtime."
                        .into(),
                ));
            };
            let patch = json!({"type": "realtime", "model": model});
            Session::create(Some(&patch), "session")
                .map_err(|e| request_refusal("invalid_value", e.message))
        }
    }
}

/// Models a socket may name: the `gpt-realtime` family (`gpt-realtime`, `-mini`, `-1.5`, `-2.1`, dated
/// snapshots…) and the older `gpt-4o-realtime-…` / `gpt-4o-mini-realtime-…` ones. Lenient on purpose:
/// the scripted model answers them all alike, and a new release should not need a new emulator.
pub fn is_realtime_model(name: &str) -> bool {
    ["gpt-realtime", "gpt-4o-realtime", "gpt-4o-mini-realtime"]
        .iter()
        .any(|family| name.starts_with(family))
}

fn key_refusal(e: ApiError) -> Refusal {
    let (code, message) = match e {
        ApiError::InvalidApiKey { shown } => (Some("invalid_api_key"), invalid_key_message(&shown)),
        _ => (
            None,
            "Missing bearer or basic authentication in header".to_owned(),
        ),
    };
    Refusal {
        code,
        message,
        close_code: code::BAD_KEY,
    }
}

fn request_refusal(code: &'static str, message: String) -> Refusal {
    Refusal {
        code: Some(code),
        message,
        close_code: code::BAD_REQUEST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_realtime_families_are_known_and_others_are_not() {
        for m in [
            "gpt-realtime",
            "gpt-realtime-2.1",
            "gpt-realtime-mini-2025-10-06",
            "gpt-4o-realtime-preview",
            "gpt-4o-mini-realtime-preview-2024-12-17",
        ] {
            assert!(is_realtime_model(m), "{m}");
        }
        for m in ["gpt-4o", "whisper-1", "", "realtime", "gpt-4o-transcribe"] {
            assert!(!is_realtime_model(m), "{m}");
        }
    }

    #[test]
    fn subprotocols_are_read_in_order_from_every_header() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::SEC_WEBSOCKET_PROTOCOL,
            "realtime, openai-insecure-api-key.ek_1".parse().unwrap(),
        );
        headers.append(
            header::SEC_WEBSOCKET_PROTOCOL,
            "openai-agents-sdk.0.20".parse().unwrap(),
        );
        assert_eq!(
            offered_protocols(&headers),
            [
                "realtime",
                "openai-insecure-api-key.ek_1",
                "openai-agents-sdk.0.20"
            ]
        );
    }
}
