//! The REST half of `/v1`: `POST /v1/realtime/client_secrets`, `POST /v1/realtime/calls` (an `ek_` key with
//! raw SDP, or a standard key with multipart `sdp` + `session`) and `POST /v1/realtime/calls/{id}/{action}`
//! (`hangup`, and the SIP call controls `accept`, `reject`, `refer`). Each request is relayed as it came and
//! answered with the upstream's status, headers and body, with one change: a call's `Location` names the
//! call on this gateway (`…/v1/realtime/calls/{id}`), so that a client that follows it stays recorded.
//!
//! A created call becomes a library session (`gateway_call`), with the session config the call was made with:
//! the multipart `session` part, or the session an `ek_` key was minted with through this gateway (the
//! gateway remembers that by the key's fingerprint, never the key). A mint is relayed, not a session of its
//! own: the call it leads to is.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::Extension;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use realtime_store::{NewSession, SessionPatch};
use realtime_token::{CallId, Credential, KeyFingerprint, RelayRequest, RelayResponse};
use serde_json::{Value, json};

use super::super::error::{ApiError, Code, SESSION_ID_HEADER};
use super::super::extract::read_body;
use super::super::origin::RequestOrigin;
use super::{credential, presented_key, user_agent};
use crate::AppState;

/// Offers, multipart forms and mint requests are a few KiB; tool schemas fit easily.
const MAX_BODY_BYTES: usize = 1 << 20;

/// Sessions minted through the gateway, by their key's fingerprint: what a later call with that key was made
/// with. The oldest are forgotten past [`Mints::MAX`].
#[derive(Default)]
pub struct Mints(Mutex<MintsInner>);

#[derive(Default)]
struct MintsInner {
    by_key: HashMap<String, Value>,
    order: VecDeque<String>,
}

impl Mints {
    const MAX: usize = 4096;

    fn remember(&self, key: &str, session: Value) {
        let id = KeyFingerprint::of(key).as_str().to_owned();
        let mut inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if inner.by_key.insert(id.clone(), session).is_none() {
            inner.order.push_back(id);
        }
        while inner.order.len() > Self::MAX {
            if let Some(old) = inner.order.pop_front() {
                inner.by_key.remove(&old);
            }
        }
    }

    fn session_of(&self, key: &str) -> Option<Value> {
        let inner = self.0.lock().unwrap_or_else(|e| e.into_inner());
        inner.by_key.get(KeyFingerprint::of(key).as_str()).cloned()
    }
}

type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

/// Relays `body` to `path` with the key the request presented (or the server's), answering the upstream's
/// answer or the error to send instead.
async fn relay(
    state: &AppState,
    peer: &Peer,
    path: &str,
    headers: &HeaderMap,
    query: Option<&str>,
    body: Bytes,
) -> Result<(RelayResponse, bool), Response> {
    let credential = credential(state, headers, peer.as_ref().map(|p| &p.0))
        .map_err(IntoResponse::into_response)?;
    let client = state
        .upstream
        .client()
        .map_err(|e| ApiError::from(e).into_response())?;
    let request = RelayRequest {
        method: Method::POST,
        path,
        query,
        headers,
        body,
        credential,
        extra: &state.upstream.relay_headers(),
    };
    let server_key = matches!(credential, Credential::Server);
    match client.relay(request).await {
        Ok(answer) => Ok((answer, server_key)),
        Err(e) => Err(super::ws::unreachable(&e)),
    }
}

/// The upstream's answer as it came: its status, its headers (in place of the ones a body brings) and body.
pub(super) fn respond(answer: RelayResponse) -> Response {
    let mut res = (answer.status, answer.body).into_response();
    let h = res.headers_mut();
    h.remove(header::CONTENT_TYPE);
    for (name, value) in &answer.headers {
        h.append(name, value.clone());
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn body_of(req: Request) -> Result<Bytes, Response> {
    read_body(req.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(IntoResponse::into_response)
}

/// `POST /v1/realtime/client_secrets`.
pub async fn client_secrets(State(state): State<AppState>, peer: Peer, req: Request) -> Response {
    let (headers, query) = (req.headers().clone(), req.uri().query().map(str::to_owned));
    let body = match body_of(req).await {
        Ok(body) => body,
        Err(res) => return res,
    };
    let answer = match relay(
        &state,
        &peer,
        "/realtime/client_secrets",
        &headers,
        query.as_deref(),
        body,
    )
    .await
    {
        Ok((answer, _)) => answer,
        Err(res) => return res,
    };
    if answer.status.is_success()
        && let Ok(minted) = serde_json::from_slice::<Value>(&answer.body)
        && let (Some(key), Some(session)) = (minted["value"].as_str(), minted.get("session"))
    {
        state.gateway_mints.remember(key, session.clone());
    }
    respond(answer)
}

/// `POST /v1/realtime/calls`.
pub async fn calls(
    State(state): State<AppState>,
    peer: Peer,
    RequestOrigin(origin): RequestOrigin,
    req: Request,
) -> Response {
    let (headers, query) = (req.headers().clone(), req.uri().query().map(str::to_owned));
    let body = match body_of(req).await {
        Ok(body) => body,
        Err(res) => return res,
    };
    let session_config = match presented_key(&headers) {
        Some(key) if key.starts_with("ek_") => state.gateway_mints.session_of(key),
        _ => session_part(&headers, body.clone()).await,
    };
    let (mut answer, server_key) = match relay(
        &state,
        &peer,
        "/realtime/calls",
        &headers,
        query.as_deref(),
        body,
    )
    .await
    {
        Ok(relayed) => relayed,
        Err(res) => return res,
    };
    let call_id = answer
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(CallId::from_location);
    let (Some(call_id), true) = (call_id, answer.status.is_success()) else {
        return respond(answer);
    };
    let gateway = format!(
        "{}/v1/realtime/calls/{call_id}",
        origin.as_deref().unwrap_or_default()
    );
    if let Ok(location) = HeaderValue::from_str(&gateway) {
        answer.headers.insert(header::LOCATION, location);
    }
    let opening = json!({
        "type": "console.gateway",
        "transport": "webrtc",
        "upstream": state.upstream.name(),
        "call_id": call_id.as_str(),
        "key": if server_key { "server" } else { "client" },
        "session": session_config,
    });
    let new = NewSession {
        flow: Some("gateway_call".to_owned()),
        model: session_config
            .as_ref()
            .and_then(|s| s["model"].as_str())
            .map(str::to_owned),
        config: session_config,
        call_id: Some(call_id.to_string()),
        user_agent: user_agent(&headers),
        ..NewSession::default()
    };
    let created = match super::super::rt::opening_event(&opening) {
        Ok(event) => state
            .store
            .create_session_with(new, vec![event])
            .await
            .map_err(ApiError::from),
        Err(e) => Err(ApiError::from(e)),
    };
    let mut res = respond(answer);
    match created {
        Ok(session) => {
            // The sideband goes up with the key the call was made with: the server's, or the client's
            // standard key (held for the call's length, in memory only). An `ek_` key cannot open one.
            let key = match presented_key(&headers) {
                Some(key) if !server_key && !key.starts_with("ek_") => {
                    super::CaptureKey::Client(key.to_owned().into())
                }
                _ => super::CaptureKey::Server,
            };
            super::capture(&state, session.id, call_id.clone(), key);
            if let Ok(value) = HeaderValue::from_str(&session.id.to_string()) {
                res.headers_mut().insert(SESSION_ID_HEADER, value);
            }
        }
        // The call is up: the client gets its answer even if the library could not record it.
        Err(e) => tracing::error!(error = %e, %call_id, "could not record a gateway call"),
    }
    res
}

/// The JSON `session` part of a multipart offer, when there is one.
async fn session_part(headers: &HeaderMap, body: Bytes) -> Option<Value> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let boundary = multer::parse_boundary(content_type).ok()?;
    let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("session") {
            let bytes = field.bytes().await.ok()?;
            return serde_json::from_slice(&bytes).ok();
        }
    }
    None
}

/// `POST /v1/realtime/calls/{id}/{action}`: `hangup`, `accept`, `reject` or `refer`.
pub async fn call_action(
    State(state): State<AppState>,
    peer: Peer,
    Path((call_id, action)): Path<(String, String)>,
    req: Request,
) -> Response {
    if !matches!(action.as_str(), "hangup" | "accept" | "reject" | "refer") {
        return super::super::pages::not_found(Method::POST, req.uri().clone()).await;
    }
    let Ok(call_id) = CallId::parse(&call_id) else {
        return ApiError::field(
            Code::InvalidValue,
            "a call id is `rtc_` followed by letters, digits, `_` or `-`",
            "call_id",
        )
        .into_response();
    };
    let (headers, query) = (req.headers().clone(), req.uri().query().map(str::to_owned));
    let body = match body_of(req).await {
        Ok(body) => body,
        Err(res) => return res,
    };
    let path = format!("/realtime/calls/{call_id}/{action}");
    let answer = match relay(&state, &peer, &path, &headers, query.as_deref(), body).await {
        Ok((answer, _)) => answer,
        Err(res) => return res,
    };
    if let Ok(Some(session)) = state.store.session_of_call(call_id.as_str()).await {
        let event = json!({
            "type": format!("console.{action}"),
            "call_id": call_id.as_str(),
            "status": answer.status.as_u16(),
        });
        if let Err(e) = super::super::rt::record_later(&state.store, session.id, &event).await {
            tracing::error!(error = %e, "could not record a call control");
        }
        if action == "hangup" && answer.status.is_success() {
            let ended = SessionPatch {
                ended: true,
                ..SessionPatch::default()
            };
            let _ = state.store.update_session(session.id, ended).await;
        }
    }
    respond(answer)
}
