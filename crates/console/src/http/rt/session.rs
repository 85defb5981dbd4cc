//! The unified interface: the browser posts its SDP offer here, the server forwards it upstream with its
//! own key (multipart `sdp` + `session`, PROTOCOL §3.2) and answers the SDP answer; and the hangup.

use axum::Json;
use axum::extract::multipart::Multipart;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use realtime_store::{Session, SessionPatch};
use realtime_token::CallId;
use serde_json::{Value, json};

use super::super::error::{ApiError, Code, Result, SESSION_ID_HEADER};
use super::super::extract::{Params, SessionPath, UserAgent, read_body};
use super::super::origin::RequestOrigin;
use super::limit::Admitted;
use super::{LabelQuery, Opened, When, failed, open_session, open_session_with, overrides, record};
use crate::AppState;

const CALL_ID_HEADER: HeaderName = HeaderName::from_static("x-call-id");
const NEXT_SEQ_HEADER: HeaderName = HeaderName::from_static("x-console-next-seq");

/// Real offers are a few KiB.
const MAX_SDP_BYTES: usize = 128 * 1024;
const MAX_SESSION_PART_BYTES: usize = 64 * 1024;

/// The offer and the optional session overrides, whichever form the body came in.
struct Offer {
    sdp: String,
    session: Option<Value>,
}

/// `POST /api/rt/session[?label=…]`: body `application/sdp`, or `multipart/form-data` with `sdp` and an
/// optional `session` (JSON overrides). Answers 201 `application/sdp` with the console session id, the
/// upstream call id and the browser's first seq in headers, and the upstream call's URL as `Location`
/// (clients take the call id from its last segment, as from the upstream's own answer).
pub async fn create(
    _: Admitted,
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    UserAgent(user_agent): UserAgent,
    Params(query): Params<LabelQuery>,
    req: Request,
) -> Result<Response> {
    let opened = || Opened {
        flow: "unified",
        label: query.label.clone().map(|l| l.0),
        user_agent: user_agent.clone(),
    };
    let offer = read_offer(&state, req).await?;
    let session = overrides::effective_session(&state.settings, offer.session.as_ref())?;
    let client = state.upstream.client()?;
    let answer = match client.create_call(&offer.sdp, Some(&session)).await {
        Ok(answer) => answer,
        Err(e) => {
            let sid = open_session(&state, opened(), &session).await?;
            return Err(failed(&state, sid, "calls", &e, When::Opening).await);
        }
    };
    let opening = json!({
        "type": "console.call",
        "upstream": state.upstream.name(),
        "call_id": answer.call_id,
        "session": session.to_json(),
    });
    let sid = open_session_with(
        &state,
        opened(),
        &session,
        Some(answer.call_id.to_string()),
        &opening,
    )
    .await?;
    super::super::gateway::capture(
        &state,
        sid,
        answer.call_id.clone(),
        super::super::gateway::CaptureKey::Server,
    );
    let mut res = (StatusCode::CREATED, answer.sdp).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/sdp"),
    );
    let sid_text = sid.to_string();
    for (name, value) in [
        (SESSION_ID_HEADER, sid_text.clone()),
        (CALL_ID_HEADER, answer.call_id.to_string()),
        (NEXT_SEQ_HEADER, record::FIRST_BROWSER_SEQ.to_string()),
        (
            header::LOCATION,
            format!(
                "{}/{}",
                state.upstream.calls_url(origin.as_deref()),
                answer.call_id
            ),
        ),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            h.insert(name, value);
        }
    }
    Ok(res)
}

async fn read_offer(state: &AppState, req: Request) -> Result<Offer> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let offer = if content_type.starts_with("multipart/form-data") {
        read_form(state, req).await?
    } else if content_type.starts_with("application/sdp") {
        let bytes = read_body(req.into_body(), MAX_SDP_BYTES).await?;
        Offer {
            sdp: sdp_text(bytes.to_vec())?,
            session: None,
        }
    } else {
        return Err(ApiError::invalid(
            Code::UnsupportedContentType,
            "send the SDP offer as `application/sdp`, or as `multipart/form-data` with an `sdp` part \
             and an optional `session` part",
        ));
    };
    if !offer.sdp.trim_start().starts_with("v=") {
        return Err(ApiError::field(
            Code::InvalidOffer,
            "the SDP offer must start with `v=0`",
            "sdp",
        ));
    }
    Ok(offer)
}

async fn read_form(state: &AppState, req: Request) -> Result<Offer> {
    let invalid = |e: axum::extract::multipart::MultipartError| {
        ApiError::field(
            Code::InvalidBody,
            format!("invalid multipart body: {}", e.body_text()),
            "body",
        )
    };
    let mut form = Multipart::from_request(req, state).await.map_err(|e| {
        ApiError::field(
            Code::InvalidBody,
            format!("invalid multipart body: {}", e.body_text()),
            "body",
        )
    })?;
    let (mut sdp, mut session) = (None, None);
    while let Some(field) = form.next_field().await.map_err(invalid)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "sdp" => {
                let bytes = field.bytes().await.map_err(invalid)?;
                if bytes.len() > MAX_SDP_BYTES {
                    return Err(too_large("sdp", MAX_SDP_BYTES));
                }
                sdp = Some(sdp_text(bytes.to_vec())?);
            }
            "session" => {
                let bytes = field.bytes().await.map_err(invalid)?;
                if bytes.len() > MAX_SESSION_PART_BYTES {
                    return Err(too_large("session", MAX_SESSION_PART_BYTES));
                }
                let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    ApiError::field(
                        Code::InvalidJson,
                        format!("the `session` part is not JSON: {e}"),
                        "session",
                    )
                })?;
                session = Some(value);
            }
            other => {
                return Err(ApiError::field(
                    Code::UnknownParameter,
                    format!("unknown part `{other}`; send `sdp` and optionally `session`"),
                    other,
                ));
            }
        }
    }
    let sdp = sdp.ok_or_else(|| {
        ApiError::field(
            Code::MissingRequiredParameter,
            "missing the `sdp` part",
            "sdp",
        )
    })?;
    Ok(Offer { sdp, session })
}

fn too_large(part: &str, limit: usize) -> ApiError {
    ApiError::invalid(
        Code::RequestTooLarge,
        format!("the `{part}` part may be at most {limit} bytes"),
    )
    .with_param(part)
}

fn sdp_text(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes)
        .map_err(|_| ApiError::field(Code::InvalidOffer, "the SDP offer is not UTF-8 text", "sdp"))
}

/// `POST /api/rt/session/{id}/hangup`: hangs up the session's upstream call and marks the session ended.
pub async fn hangup(
    State(state): State<AppState>,
    SessionPath(sid): SessionPath,
) -> Result<Json<Session>> {
    let session = state
        .store
        .get_session(sid)
        .await?
        .ok_or_else(|| ApiError::SessionNotFound(sid.to_string()))?;
    let call_id = session
        .call_id
        .as_deref()
        .and_then(|c| CallId::parse(c).ok())
        .ok_or_else(|| {
            ApiError::invalid(
                Code::NoCall,
                "this session has no upstream call to hang up; only sessions started through \
                 /api/rt/session have one",
            )
            .with_param("id")
        })?;
    let client = state.upstream.client()?;
    if let Err(e) = client.hangup(&call_id).await {
        return Err(failed(&state, sid, "hangup", &e, When::Later).await);
    }
    record::later(
        &state.store,
        sid,
        &json!({"type": "console.hangup", "call_id": call_id}),
    )
    .await?;
    let ended = SessionPatch {
        ended: true,
        ..SessionPatch::default()
    };
    let session = state
        .store
        .update_session(sid, ended)
        .await?
        .ok_or_else(|| ApiError::SessionNotFound(sid.to_string()))?;
    Ok(Json(session))
}
