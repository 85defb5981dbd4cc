//! `GET /v1/realtime?model=…` (and `?call_id=…`, a sideband): the WebSocket relay (PROTOCOL §15.9).
//!
//! * It dials upstream before it answers the client's upgrade: an upstream refusal (401, 404 for a call that
//!   is gone, 429) reaches the client with the same status and body, and no library session is made.
//! * Every text frame goes to the other side as it came, in order, then to the recording ([`Recorder`]).
//! * Close codes and reasons are copied both ways; a side that goes away without a close frame is recorded as
//!   1006 (1005 for a close frame without a code), and the other side gets a plain close.
//! * Pings are answered per hop (the WebSocket library does it on each side) and never forwarded.
//! * Either hop takes messages up to [`MAX_MESSAGE_BYTES`] (the API's 16 MiB), and reads at most
//!   [`READ_BUFFER_BYTES`] at once.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{self, CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use realtime_store::{Direction, NewSession, SessionId};
use realtime_token::tungstenite::protocol::CloseFrame as UpCloseFrame;
use realtime_token::tungstenite::protocol::frame::coding::CloseCode;
use realtime_token::tungstenite::{self, Message as UpMessage};
use realtime_token::{
    Credential, DialError, MAX_MESSAGE_BYTES, READ_BUFFER_BYTES, RealtimeSocket, RelayError,
};
use serde_json::json;

use super::super::error::{ApiError, Code, SESSION_ID_HEADER};
use super::capture::{self, Source};
use super::record::{Recorder, Summary};
use super::{KEY_PROTOCOL, credential, offered_protocols, user_agent};
use crate::AppState;

/// After one side has closed, how long the other may take to close too before the relay drops it.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

pub async fn connect(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return ApiError::invalid(
                Code::UpgradeRequired,
                format!(
                    "`/v1/realtime` is a WebSocket: connect with `ws://` and an upgrade request ({})",
                    rejection.body_text()
                ),
            )
            .into_response();
        }
    };
    let credential = match credential(&state, &headers, peer.as_ref().map(|p| &p.0)) {
        Ok(credential) => credential,
        Err(e) => return e.into_response(),
    };
    let client = match state.upstream.client() {
        Ok(client) => client,
        Err(e) => return ApiError::from(e).into_response(),
    };
    // The subprotocols go upstream without the one that carries the key (it goes as `Authorization`).
    let protocols: Vec<&str> = offered_protocols(&headers)
        .filter(|p| !p.starts_with(KEY_PROTOCOL))
        .collect();
    let protocols = HeaderValue::from_str(&protocols.join(", "))
        .ok()
        .filter(|_| !protocols.is_empty());
    let dialed = client
        .dial_realtime(
            uri.query(),
            &headers,
            protocols.as_ref(),
            credential,
            &state.upstream.relay_headers(),
        )
        .await;
    let upstream = match dialed {
        Ok(upstream) => upstream,
        Err(DialError::Rejected(refused)) => return super::rest::respond(refused),
        Err(DialError::Failed(e)) => return unreachable(&e),
    };
    let recording = if state.settings.gateway_recording {
        match open_recording(&state, &headers, &uri, credential).await {
            Ok(recording) => Some(recording),
            Err(e) => return e.into_response(),
        }
    } else {
        None
    };
    let mut upgrade = upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES);
    if let Some(selected) = upstream.protocol.clone() {
        upgrade = upgrade.protocols(selected.to_str().ok().map(str::to_owned));
    }
    let sid = recording.as_ref().map(Recording::session);
    let mut res = upgrade.on_upgrade(move |socket| async move {
        match recording {
            Some(Recording::Own(sid, recorder, task)) => {
                relay(socket, upstream, recorder).await;
                if let Ok(summary) = task.await {
                    tracing::info!(session = %sid, stored = summary.stored, lost = summary.lost, "relayed session ended");
                }
            }
            Some(Recording::Tapped(_, source)) => {
                relay(socket, upstream, source.recorder()).await;
                source.detach().await;
            }
            None => relay(socket, upstream, Recorder::off()).await,
        }
    });
    if let Some(value) = sid.and_then(|sid| HeaderValue::from_str(&sid.to_string()).ok()) {
        res.headers_mut().insert(SESSION_ID_HEADER, value);
    }
    res
}

/// Where a relayed WebSocket is recorded.
enum Recording {
    /// A session of its own (`gateway_ws`), numbered by its recorder.
    Own(SessionId, Recorder, tokio::task::JoinHandle<Summary>),
    /// A sideband: its call's session, through the call's tap (shared with server-side capture).
    Tapped(SessionId, Source),
}

impl Recording {
    fn session(&self) -> SessionId {
        match self {
            Recording::Own(sid, ..) | Recording::Tapped(sid, _) => *sid,
        }
    }
}

/// The library session of a relayed WebSocket and the recording into it: for `?call_id=`, the call's session
/// (one of its own, `sideband`, if the library has none), else a new `gateway_ws` session.
async fn open_recording(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    credential: Credential<'_>,
) -> Result<Recording, ApiError> {
    let query: serde_json::Map<String, serde_json::Value> = uri
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned().into()))
                .collect()
        })
        .unwrap_or_default();
    let call_id = query
        .get("call_id")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    if let Some(call_id) = &call_id
        && let Some(session) = state.store.session_of_call(call_id).await?
    {
        let source = capture::source(state, session.id);
        source.recorder().system(json!({
            "type": "console.sideband",
            "state": "attached",
            "call_id": call_id,
            "user_agent": user_agent(headers),
        }));
        return Ok(Recording::Tapped(session.id, source));
    }
    let flow = if call_id.is_some() {
        "sideband"
    } else {
        "gateway_ws"
    };
    let sideband = call_id.is_some();
    let opening = json!({
        "type": "console.gateway",
        "transport": "websocket",
        "upstream": state.upstream.name(),
        "query": query,
        "key": match credential {
            Credential::Server => "server",
            Credential::Client(_) => "client",
        },
    });
    let new = NewSession {
        flow: Some(flow.to_owned()),
        model: query
            .get("model")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        call_id,
        user_agent: user_agent(headers),
        ..NewSession::default()
    };
    let opening = super::super::rt::opening_event(&opening)?;
    let session = state.store.create_session_with(new, vec![opening]).await?;
    if sideband {
        return Ok(Recording::Tapped(
            session.id,
            capture::source(state, session.id),
        ));
    }
    let (recorder, recording) = Recorder::start(
        state.store.clone(),
        session.id,
        Some(super::super::rt::FIRST_BROWSER_SEQ),
    );
    Ok(Recording::Own(session.id, recorder, recording))
}

/// 502 (or 504 on a timeout) when the upstream could not be reached.
pub(super) fn unreachable(e: &RelayError) -> Response {
    tracing::warn!(error = %e, "the gateway could not reach the Realtime API");
    let (status, code) = match e {
        RelayError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout"),
        _ => (StatusCode::BAD_GATEWAY, "upstream_unreachable"),
    };
    super::super::error::envelope(status, code, &e.to_string(), None)
}

/// Pumps both ways until both sides have closed (or one is gone and the other had [`CLOSE_GRACE`]).
async fn relay(client: WebSocket, upstream: RealtimeSocket, recorder: Recorder) {
    let (mut to_client, mut from_client) = client.split();
    let (mut to_upstream, mut from_upstream) = upstream.socket.split();
    let up_recorder = recorder.clone();
    let client_side = async move {
        while let Some(message) = from_client.next().await {
            match message {
                Ok(Message::Text(text)) => {
                    let bytes = bytes::Bytes::from(text);
                    let Ok(out) = tungstenite::Utf8Bytes::try_from(bytes.clone()) else {
                        continue;
                    };
                    if to_upstream.send(UpMessage::Text(out)).await.is_err() {
                        // The upstream is gone: the frame was not relayed, and the upstream side records
                        // how it ended.
                        return;
                    }
                    recorder.frame(Direction::Client, bytes);
                }
                Ok(Message::Binary(data)) => {
                    let len = data.len();
                    let _ = to_upstream.send(UpMessage::Binary(data)).await;
                    recorder.system(json!({"type": "console.binary_frame", "direction": "client", "bytes": len}));
                }
                Ok(Message::Ping(_) | Message::Pong(_)) => {}
                Ok(Message::Close(frame)) => {
                    let (code, reason) = frame
                        .as_ref()
                        .map_or((1005, String::new()), |f| (f.code, f.reason.to_string()));
                    recorder.system(closed("client", code, &reason));
                    let _ = to_upstream
                        .send(UpMessage::Close(frame.map(up_close)))
                        .await;
                    return;
                }
                Err(_) => break,
            }
        }
        // Gone without a close frame.
        recorder.system(closed("client", 1006, ""));
        let _ = to_upstream.send(UpMessage::Close(None)).await;
    };
    let upstream_side = async move {
        while let Some(message) = from_upstream.next().await {
            match message {
                Ok(UpMessage::Text(text)) => {
                    let bytes = bytes::Bytes::from(text);
                    let Ok(out) = ws::Utf8Bytes::try_from(bytes.clone()) else {
                        continue;
                    };
                    if to_client.send(Message::Text(out)).await.is_err() {
                        // The client is gone: the frame was not relayed, and the client side records how
                        // it ended.
                        return;
                    }
                    up_recorder.frame(Direction::Server, bytes);
                }
                Ok(UpMessage::Binary(data)) => {
                    let len = data.len();
                    let _ = to_client.send(Message::Binary(data)).await;
                    up_recorder.system(json!({"type": "console.binary_frame", "direction": "server", "bytes": len}));
                }
                Ok(UpMessage::Close(frame)) => {
                    let (code, reason) = frame.as_ref().map_or((1005, String::new()), |f| {
                        (u16::from(f.code), f.reason.to_string())
                    });
                    up_recorder.system(closed("server", code, &reason));
                    let _ = to_client
                        .send(Message::Close(frame.map(client_close)))
                        .await;
                    return;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        up_recorder.system(closed("server", 1006, ""));
        let _ = to_client.send(Message::Close(None)).await;
    };
    let client_side = std::pin::pin!(client_side);
    let upstream_side = std::pin::pin!(upstream_side);
    match futures::future::select(client_side, upstream_side).await {
        futures::future::Either::Left(((), other)) => {
            let _ = tokio::time::timeout(CLOSE_GRACE, other).await;
        }
        futures::future::Either::Right(((), other)) => {
            let _ = tokio::time::timeout(CLOSE_GRACE, other).await;
        }
    }
}

fn closed(by: &str, code: u16, reason: &str) -> serde_json::Value {
    json!({"type": "console.closed", "by": by, "code": code, "reason": reason})
}

fn up_close(frame: CloseFrame) -> UpCloseFrame {
    UpCloseFrame {
        code: CloseCode::from(frame.code),
        reason: frame.reason.as_str().into(),
    }
}

fn client_close(frame: UpCloseFrame) -> CloseFrame {
    CloseFrame {
        code: u16::from(frame.code),
        reason: frame.reason.as_str().into(),
    }
}
