//! `POST /realtime/calls` (raw SDP with an ephemeral key, or multipart `sdp` + `session` with a standard
//! key), `POST /realtime/calls/{call_id}/hangup`, and the SIP call-control endpoints `accept`, `reject` and
//! `refer` (PROTOCOL §15.7) for the incoming SIP calls injected with `POST /emulator/sip/calls` (`sip`).

use axum::Router;
use axum::extract::multipart::Multipart;
use axum::extract::{FromRequest, OriginalUri, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Map, Value};

use super::auth::{self, Caller};
use super::error::{ApiError, Result};
use super::sip::object_body;
use super::{AppState, CallState};
use crate::engine::{self, Transport};
use crate::ids;
use crate::params::{ParamError, integer_in, only_keys, string};
use crate::rtc::{self, RtcError};
use crate::session::{Merge, Session};
use crate::sip;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/realtime/calls", post(create_call))
        .route("/realtime/calls/{call_id}/hangup", post(hangup))
        .route("/realtime/calls/{call_id}/accept", post(accept))
        .route("/realtime/calls/{call_id}/reject", post(reject))
        .route("/realtime/calls/{call_id}/refer", post(refer))
}

/// The offer and optional session patch, whichever form the body came in.
struct CallRequest {
    sdp: String,
    session: Option<Value>,
}

async fn read_body(state: &AppState, req: Request) -> Result<CallRequest> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let mut form = Multipart::from_request(req, state).await.map_err(|e| {
            ParamError::invalid_value("body", format!("Invalid multipart body: {e}"))
        })?;
        let (mut sdp, mut session) = (None, None);
        while let Some(field) = form.next_field().await.map_err(|e| {
            ParamError::invalid_value("body", format!("Invalid multipart body: {e}"))
        })? {
            let name = field.name().unwrap_or("").to_owned();
            let text = field.text().await.map_err(|e| {
                ParamError::invalid_value(&name, format!("Unreadable '{name}' part: {e}"))
            })?;
            match name.as_str() {
                "sdp" => sdp = Some(text),
                "session" => {
                    let v: Value =
                        serde_json::from_str(&text).map_err(|_| ApiError::InvalidJson)?;
                    session = Some(v);
                }
                other => return Err(ParamError::unknown(other).into()),
            }
        }
        let sdp = sdp.ok_or_else(|| ParamError::missing("sdp"))?;
        return Ok(CallRequest { sdp, session });
    }
    if content_type.starts_with("application/sdp")
        || content_type.starts_with("text/plain")
        || content_type.is_empty()
    {
        let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
            .await
            .map_err(|_| ApiError::InvalidOffer("The SDP offer could not be read.".into()))?;
        let sdp = String::from_utf8(bytes.to_vec())
            .map_err(|_| ApiError::InvalidOffer("Invalid SDP offer: not UTF-8 text.".into()))?;
        return Ok(CallRequest { sdp, session: None });
    }
    Err(ParamError::new(
        "unsupported_content_type",
        format!("Unsupported Content-Type '{content_type}'. Send application/sdp or multipart/form-data."),
        None,
    )
    .into())
}

/// Cheap checks before the transport parses the offer, with the real API's messages.
pub fn precheck_offer(sdp: &str) -> Result<(), ApiError> {
    let sdp = sdp.trim_start();
    if !sdp.starts_with("v=0") || !sdp.lines().any(|l| l.starts_with("m=")) {
        return Err(ApiError::InvalidOffer(
            "Invalid SDP offer. Please try again with a WHIP-compliant offer.".into(),
        ));
    }
    if !sdp.lines().any(|l| l.starts_with("m=audio")) {
        return Err(ApiError::InvalidOffer(
            "Invalid SDP offer. Offer did not have an audio media section.".into(),
        ));
    }
    Ok(())
}

async fn create_call(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    req: Request,
) -> Result<Response> {
    let caller = auth::caller(&state, req.headers())?;
    AppState::injected(&state.0.faults.call, &state.0.call_failures)?;
    // An ephemeral key holds a bounded number of calls open at once; its slot is taken now, before the
    // answer, so a burst of offers with one key cannot all pass.
    let slot = match &caller {
        Caller::Ephemeral { key, .. } => Some(state.reserve_call(key)?),
        Caller::Standard => None,
    };
    let body = read_body(&state, req).await?;
    let session = match (caller, &body.session) {
        (Caller::Ephemeral { session, .. }, None) => session.with_new_id(),
        (Caller::Ephemeral { session, .. }, Some(patch)) => {
            session
                .with_new_id()
                .merged(patch, "session", Merge::Create)?
        }
        (Caller::Standard, patch) => Session::create(patch.as_ref(), "session")?,
    };
    precheck_offer(&body.sdp)?;
    if let Some(delay) = state.0.faults.answer_delay {
        tokio::time::sleep(delay).await;
    }
    let (handle, io) = engine::start(session, state.0.settings.clone(), Transport::WebRtc);
    let answer = match rtc::answer_offer(&body.sdp, state.config().rtc_options(), io).await {
        Ok(answer) => answer,
        Err(RtcError::InvalidOffer(msg)) => {
            return Err(ApiError::InvalidOffer(format!("Invalid SDP offer. {msg}")));
        }
        Err(RtcError::Io(e)) => {
            tracing::error!(error = %e, "could not set up the WebRTC call");
            return Err(ApiError::Internal);
        }
    };
    let call_id = ids::call_id();
    state.register_call(call_id.clone(), handle, slot);
    let location = format!("{}/{call_id}", uri.path().trim_end_matches('/'));
    tracing::info!(%call_id, "call started");
    let mut res = (StatusCode::CREATED, answer).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/sdp"),
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, v);
    }
    Ok(res)
}

async fn hangup(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(call_id): Path<String>,
) -> Result<StatusCode> {
    auth::standard(&state, &headers)?;
    // A SIP call hung up while ringing is simply gone, as if rejected.
    if state.stop_ringing(&call_id) {
        tracing::info!(%call_id, "ringing SIP call hung up");
        return Ok(StatusCode::OK);
    }
    let handle = state
        .take_call(&call_id)
        .ok_or(ApiError::CallNotFound(call_id.clone()))?;
    handle.hangup().await;
    tracing::info!(%call_id, "call hung up");
    Ok(StatusCode::OK)
}

/// The turn-detection settings a SIP session may not set (PROTOCOL §15.7: the phone line's own are used).
const SIP_FIXED_TURN_DETECTION: &[&str] =
    &["threshold", "prefix_padding_ms", "silence_duration_ms"];

/// `accept`'s body: a `RealtimeSessionCreateRequestGA` with `type: "realtime"`, checked as every session is,
/// and without the turn-detection settings SIP sessions refuse.
fn sip_session(body: Option<&Map<String, Value>>) -> Result<Session> {
    let body = body.ok_or_else(|| ParamError::missing("type"))?;
    match body.get("type") {
        None => return Err(ParamError::missing("type").into()),
        Some(Value::String(t)) if t == "realtime" => {}
        Some(Value::String(t)) => {
            return Err(ParamError::invalid_choice("type", t, &["realtime"]).into());
        }
        Some(other) => return Err(ParamError::invalid_type("type", "a string", other).into()),
    }
    if let Some(td) = body
        .get("audio")
        .and_then(|a| a.get("input"))
        .and_then(|i| i.get("turn_detection"))
        .and_then(Value::as_object)
        && let Some(key) = SIP_FIXED_TURN_DETECTION
            .iter()
            .find(|k| td.contains_key(**k))
    {
        return Err(ParamError::new(
            "unsupported_for_sip",
            format!(
                "'{key}' cannot be set on a SIP call's turn detection: the phone line's is used."
            ),
            Some(&format!("audio.input.turn_detection.{key}")),
        )
        .into());
    }
    Ok(Session::create(Some(&Value::Object(body.clone())), "")?)
}

/// Answers a ringing SIP call: its engine starts with the body's session, and sidebands may attach.
async fn accept(
    State(state): State<AppState>,
    Path(call_id): Path<String>,
    req: Request,
) -> Result<StatusCode> {
    auth::standard(&state, req.headers())?;
    sip_call_ringing(&state, &call_id, "accepted")?;
    let session = sip_session(object_body(req).await?.as_ref())?;
    let settings = state.0.settings.clone();
    let answered = state.answer(&call_id, || {
        let (handle, io) = engine::start(session, settings, Transport::WebRtc);
        sip::phone_line(io);
        handle
    });
    if !answered {
        // Another accept, a reject or the ring timeout got there while the body was read.
        sip_call_ringing(&state, &call_id, "accepted")?;
    }
    tracing::info!(%call_id, "SIP call accepted");
    Ok(StatusCode::OK)
}

/// Declines a ringing SIP call (SIP 603 unless `status_code` says otherwise): it is gone.
async fn reject(
    State(state): State<AppState>,
    Path(call_id): Path<String>,
    req: Request,
) -> Result<StatusCode> {
    auth::standard(&state, req.headers())?;
    sip_call_ringing(&state, &call_id, "rejected")?;
    let status = match object_body(req).await? {
        None => 603,
        Some(body) => {
            only_keys(&body, &["status_code"], "")?;
            match body.get("status_code") {
                None => 603,
                Some(v) => integer_in(v, "status_code", 400, 699)?,
            }
        }
    };
    if !state.stop_ringing(&call_id) {
        sip_call_ringing(&state, &call_id, "rejected")?;
    }
    tracing::info!(%call_id, status, "SIP call rejected");
    Ok(StatusCode::OK)
}

/// Transfers an accepted SIP call to `target_uri`: for the emulator, which has no phone network, the call
/// ends there (its sidebands close with 1000).
async fn refer(
    State(state): State<AppState>,
    Path(call_id): Path<String>,
    req: Request,
) -> Result<StatusCode> {
    auth::standard(&state, req.headers())?;
    let handle = match state.call_state(&call_id) {
        CallState::Sip(handle) => handle,
        CallState::Ringing => {
            return Err(ApiError::CallNotAccepted {
                call_id,
                action: "referred",
            });
        }
        CallState::WebRtc => {
            return Err(ApiError::NotSipCall {
                call_id,
                action: "referred",
            });
        }
        CallState::Gone => return Err(ApiError::CallNotFound(call_id)),
    };
    let body = object_body(req).await?.unwrap_or_default();
    only_keys(&body, &["target_uri"], "")?;
    let target = body
        .get("target_uri")
        .ok_or_else(|| ParamError::missing("target_uri"))?;
    let target = string(target, "target_uri")?;
    if !["tel:", "sip:", "sips:"]
        .iter()
        .any(|s| target.starts_with(s))
        || target.len() < 5
    {
        return Err(ParamError::invalid_value(
            "target_uri",
            format!("Invalid 'target_uri': '{target}'. Expected a tel: or sip: URI, e.g. 'tel:+14155550123'."),
        )
        .into());
    }
    if state.take_call(&call_id).is_none() {
        return Err(ApiError::CallNotFound(call_id));
    }
    handle.hangup().await;
    tracing::info!(%call_id, %target, "SIP call referred");
    Ok(StatusCode::OK)
}

/// Ok when `call_id` is a ringing SIP call; otherwise why `action` cannot be done to it.
fn sip_call_ringing(state: &AppState, call_id: &str, action: &'static str) -> Result<()> {
    let call_id = call_id.to_owned();
    match state.call_state(&call_id) {
        CallState::Ringing => Ok(()),
        CallState::Sip(_) => Err(ApiError::CallAlreadyAccepted { call_id, action }),
        // What the real API answers for a WebRTC call is not documented (PROTOCOL §15.7).
        CallState::WebRtc => Err(ApiError::NotSipCall { call_id, action }),
        CallState::Gone => Err(ApiError::CallNotFound(call_id)),
    }
}
