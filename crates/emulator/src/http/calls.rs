//! `POST /realtime/calls` (raw SDP with an ephemeral key, or multipart `sdp` + `session` with a standard
//! key), `POST /realtime/calls/{call_id}/hangup`, and the SIP call-control endpoints `accept`, `reject` and
//! `refer` (PROTOCOL §15.7).

use axum::Router;
use axum::extract::multipart::Multipart;
use axum::extract::{FromRequest, OriginalUri, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

use super::AppState;
use super::auth::{self, Caller};
use super::error::{ApiError, Result};
use crate::engine::{self, Transport};
use crate::ids;
use crate::params::ParamError;
use crate::rtc::{self, RtcError};
use crate::session::{Merge, Session};

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
    let handle = state
        .take_call(&call_id)
        .ok_or(ApiError::CallNotFound(call_id.clone()))?;
    handle.hangup().await;
    tracing::info!(%call_id, "call hung up");
    Ok(StatusCode::OK)
}

// The emulator places no SIP calls, so `accept`, `reject` and `refer` can only find a WebRTC call (400) or
// nothing (404). What the real API answers for a WebRTC call is not documented (PROTOCOL §15.7); the body is
// not read, since no call here could act on it.
async fn accept(state: State<AppState>, headers: HeaderMap, call_id: Path<String>) -> Result<()> {
    sip_control(state, headers, call_id, "accepted").await
}

async fn reject(state: State<AppState>, headers: HeaderMap, call_id: Path<String>) -> Result<()> {
    sip_control(state, headers, call_id, "rejected").await
}

async fn refer(state: State<AppState>, headers: HeaderMap, call_id: Path<String>) -> Result<()> {
    sip_control(state, headers, call_id, "referred").await
}

async fn sip_control(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(call_id): Path<String>,
    action: &'static str,
) -> Result<()> {
    auth::standard(&state, &headers)?;
    if state.has_call(&call_id) {
        return Err(ApiError::NotSipCall { call_id, action });
    }
    Err(ApiError::CallNotFound(call_id))
}
