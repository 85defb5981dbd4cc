//! Emulator-only endpoints (not part of the OpenAI API) that play the phone network's part for SIP calls
//! (PROTOCOL §15.7): `POST /emulator/sip/calls` rings a new incoming call and delivers its signed
//! `realtime.call.incoming` webhook; `POST /emulator/sip/calls/{call_id}/dtmf` presses a keypad key on an
//! accepted one. Both take a standard key.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::auth;
use super::error::{ApiError, Result};
use super::{AppState, CallState};
use crate::ids;
use crate::params::{ParamError, only_keys, string};
use crate::sip;

/// The keys of a telephone keypad (RFC 4733 events 0–15).
const DTMF_KEYS: &[&str] = &[
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "A", "B", "C", "D",
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/emulator/sip/calls", post(inject))
        .route("/emulator/sip/calls/{call_id}/dtmf", post(dtmf))
}

/// A JSON object body, or `None` when there is none (or only whitespace).
pub(super) async fn object_body(req: Request) -> Result<Option<Map<String, Value>>> {
    let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .map_err(|_| ApiError::InvalidJson)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(&bytes).map_err(|_| ApiError::InvalidJson)? {
        Value::Object(body) => Ok(Some(body)),
        other => Err(ParamError::invalid_type("body", "an object", &other).into()),
    }
}

fn optional_string(body: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    body.get(key)
        .map(|v| string(v, key).map(str::to_owned))
        .transpose()
        .map_err(Into::into)
}

/// `{"from"?, "to"?, "webhook_url"?}`: rings a call from `from` to `to` (SIP URIs, made up when absent) and
/// POSTs its webhook to `webhook_url` or else `--sip-webhook`, once. Answers 201 with the call id, the event
/// sent and how the delivery went; the call rings whatever the receiver answered.
async fn inject(State(state): State<AppState>, req: Request) -> Result<(StatusCode, Json<Value>)> {
    auth::standard(&state, req.headers())?;
    let body = object_body(req).await?.unwrap_or_default();
    only_keys(&body, &["from", "to", "webhook_url"], "")?;
    let from = optional_string(&body, "from")?
        .unwrap_or_else(|| "sip:+14155550100@sip.example.com".into());
    let to =
        optional_string(&body, "to")?.unwrap_or_else(|| "sip:+18005550199@sip.example.com".into());
    let url = optional_string(&body, "webhook_url")?
        .or_else(|| state.config().sip_webhook.clone())
        .ok_or(ApiError::NoSipWebhook)?;
    if reqwest::Url::parse(&url).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
        return Err(ParamError::invalid_value(
            "webhook_url",
            format!("Invalid 'webhook_url': '{url}'. Expected an http:// or https:// URL."),
        )
        .into());
    }
    let call_id = ids::sip_call_id();
    let headers = [
        ("From".to_owned(), from),
        ("To".to_owned(), to),
        ("Call-ID".to_owned(), uuid::Uuid::new_v4().to_string()),
    ];
    let now = state.config().clock.now_unix();
    let event = sip::incoming_event(&call_id, &headers, now);
    // Ringing before the webhook leaves: a receiver may accept from inside its handler.
    state.ring(call_id.clone());
    tracing::info!(%call_id, %url, "SIP call ringing");
    let secret = state.config().sip_webhook_secret.as_ref();
    let delivery = sip::deliver(&url, secret, &event, now).await;
    tracing::info!(%call_id, ?delivery, "SIP webhook delivered");
    let answer = json!({"call_id": call_id, "event": event, "webhook": delivery.to_json(&url)});
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `{"digit": "5"}`: the caller pressed that key; the call's sidebands get
/// `input_audio_buffer.dtmf_event_received`.
async fn dtmf(
    State(state): State<AppState>,
    Path(call_id): Path<String>,
    req: Request,
) -> Result<StatusCode> {
    auth::standard(&state, req.headers())?;
    let action = "sent DTMF";
    let handle = match state.call_state(&call_id) {
        CallState::Sip(handle) => handle,
        CallState::Ringing => return Err(ApiError::CallNotAccepted { call_id, action }),
        CallState::WebRtc => return Err(ApiError::NotSipCall { call_id, action }),
        CallState::Gone => return Err(ApiError::CallNotFound(call_id)),
    };
    let body = object_body(req).await?.unwrap_or_default();
    only_keys(&body, &["digit"], "")?;
    let digit = body
        .get("digit")
        .ok_or_else(|| ParamError::missing("digit"))?;
    let digit = string(digit, "digit")?;
    if !DTMF_KEYS.contains(&digit) {
        return Err(ParamError::invalid_choice("digit", digit, DTMF_KEYS).into());
    }
    if !handle.dtmf(digit).await {
        return Err(ApiError::CallNotFound(call_id));
    }
    Ok(StatusCode::OK)
}
