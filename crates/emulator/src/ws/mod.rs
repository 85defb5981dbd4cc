//! WebSocket transport of the emulator (PROTOCOL §15): one task per socket bridges its text frames to the
//! engine and the engine's events back, pings the client, and closes with the API's codes.
//!
//! The engine hears `ChannelOpen` before anything the client sends, so events a client sends before
//! `session.created` arrives wait in the socket and the channel, in order, and are answered after it.
//! Binary frames are the engine's to refuse (an `error`, the session stays up); a message larger than
//! [`MAX_MESSAGE_BYTES`] closes the socket with 1009. Pongs to the client's pings are tungstenite's.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use serde_json::json;
use tokio::sync::mpsc;

use crate::ids;
use crate::io::{CloseReason, FromEngine, ToEngine, TransportIo};

/// Largest client message a socket takes; a larger one closes it with 1009. The real limit is not
/// documented (PROTOCOL §15.10); 16 MiB is the hard limit measured on another OpenAI socket (§15.8).
/// Server messages have no limit.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// What the WebSocket layer reads of one message (or frame) at most. A message between the two limits is
/// read whole and refused politely (close 1009, the client's close answered); past this one the read
/// fails mid-frame and the connection can only be cut.
pub const READ_LIMIT_BYTES: usize = 4 * MAX_MESSAGE_BYTES;

/// How long a closing socket waits for the client's close frame before it lets go.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Close codes the API uses (§15.3).
pub mod code {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const TOO_BIG: u16 = 1009;
    /// The key was missing or wrong.
    pub const BAD_KEY: u16 = 3000;
    /// The model (or the API shape) cannot be served.
    pub const BAD_REQUEST: u16 = 4000;
}

/// A socket refused after its upgrade: one `error` event, then a close whose reason is
/// `"<error.type>[.<error.code>]"`, as the real API does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: Option<&'static str>,
    pub message: String,
    pub close_code: u16,
}

impl Refusal {
    fn event(&self) -> String {
        json!({"type": "error", "event_id": ids::event_id(), "error": {"type": "invalid_request_error",
            "code": self.code, "message": self.message, "param": null, "event_id": null}})
        .to_string()
    }

    fn reason(&self) -> String {
        match self.code {
            Some(code) => format!("invalid_request_error.{code}"),
            None => "invalid_request_error".to_owned(),
        }
    }
}

/// Says why the socket cannot be served, and closes it.
pub async fn refuse(mut socket: WebSocket, refusal: Refusal) {
    tracing::info!(code = refusal.close_code, reason = %refusal.reason(), "websocket refused");
    if socket
        .send(Message::Text(refusal.event().into()))
        .await
        .is_ok()
    {
        close(socket, refusal.close_code, refusal.reason()).await;
    }
}

/// Why a session's socket ended.
#[derive(Debug)]
enum End {
    /// The client sent its close frame (tungstenite echoes it).
    PeerClosed,
    /// The connection broke, or the client went without a close frame.
    Broken,
    Engine(CloseReason),
    EngineGone,
    /// A client message over [`MAX_MESSAGE_BYTES`], read whole (or not, past [`READ_LIMIT_BYTES`]).
    TooBig {
        read: bool,
    },
}

/// Runs one session's socket until either side ends it; the engine's last message from it is always
/// `ToEngine::Closed`.
pub async fn run(mut socket: WebSocket, io: TransportIo, ping_every: Duration) {
    let TransportIo {
        to_engine,
        mut from_engine,
    } = io;
    let end = if to_engine.send(ToEngine::ChannelOpen).await.is_err() {
        End::EngineGone
    } else {
        bridge(&mut socket, &to_engine, &mut from_engine, ping_every).await
    };
    tracing::info!(?end, "websocket session ended");
    match end {
        End::PeerClosed => {
            // Reading once more sends tungstenite's echo of the client's close frame.
            let _ = tokio::time::timeout(CLOSE_GRACE, socket.recv()).await;
        }
        End::Broken | End::Engine(CloseReason::Dropped) => {}
        End::Engine(CloseReason::Hangup | CloseReason::CallEnded) | End::EngineGone => {
            close(socket, code::NORMAL, String::new()).await;
        }
        End::Engine(CloseReason::Expired(message)) => {
            close(socket, code::GOING_AWAY, message).await;
        }
        End::TooBig { read } => {
            let reason = format!("message too big (over {MAX_MESSAGE_BYTES} bytes)");
            if read {
                close(socket, code::TOO_BIG, reason).await;
            } else {
                // The rest of the frame is still coming, and the socket can no longer read it: say why,
                // and let go (the client may see the connection reset instead).
                let frame = CloseFrame {
                    code: code::TOO_BIG,
                    reason: reason.into(),
                };
                let _ = socket.send(Message::Close(Some(frame))).await;
            }
        }
    }
    let _ = to_engine.send(ToEngine::Closed).await;
}

async fn bridge(
    socket: &mut WebSocket,
    to_engine: &mpsc::Sender<ToEngine>,
    from_engine: &mut mpsc::Receiver<FromEngine>,
    ping_every: Duration,
) -> End {
    let start = tokio::time::Instant::now() + ping_every;
    let mut ping = tokio::time::interval_at(start, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pings: u32 = 0;
    loop {
        // `recv` on both sides is cancel-safe: a frame half read stays in the socket for the next turn.
        tokio::select! {
            command = from_engine.recv() => match command {
                Some(FromEngine::Send(text)) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return End::Broken;
                    }
                }
                Some(FromEngine::Close(reason)) => return End::Engine(reason),
                // The client plays the audio it was sent: there is no track to start or stop.
                Some(FromEngine::PlayAudio { .. } | FromEngine::StopAudio) => {}
                None => return End::EngineGone,
            },
            frame = socket.recv() => {
                let message = match frame {
                    Some(Ok(Message::Text(text) )) if text.len() > MAX_MESSAGE_BYTES => {
                        return End::TooBig { read: true };
                    }
                    Some(Ok(Message::Binary(bytes))) if bytes.len() > MAX_MESSAGE_BYTES => {
                        return End::TooBig { read: true };
                    }
                    Some(Ok(Message::Text(text))) => ToEngine::ClientMessage(text.as_str().to_owned()),
                    Some(Ok(Message::Binary(_))) => ToEngine::BinaryMessage,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) => return End::PeerClosed,
                    Some(Err(e)) if too_big(&e) => return End::TooBig { read: false },
                    Some(Err(_)) | None => return End::Broken,
                };
                if to_engine.send(message).await.is_err() {
                    return End::EngineGone;
                }
            }
            _ = ping.tick() => {
                pings = pings.wrapping_add(1);
                let payload = pings.to_be_bytes().to_vec();
                if socket.send(Message::Ping(payload.into())).await.is_err() {
                    return End::Broken;
                }
            }
        }
    }
}

/// Whether a read failed on a message past [`READ_LIMIT_BYTES`].
fn too_big(e: &axum::Error) -> bool {
    tracing::debug!(error = %e, "websocket read error");
    let cause = std::error::Error::source(e);
    matches!(
        cause.and_then(|c| c.downcast_ref::<tungstenite::Error>()),
        Some(tungstenite::Error::Capacity(_))
    )
}

/// Sends a close frame and waits (briefly) for the client's, so the connection ends cleanly.
async fn close(mut socket: WebSocket, code: u16, reason: String) {
    // A close reason is at most 123 bytes.
    let mut reason = reason;
    while reason.len() > 123 {
        reason.pop();
    }
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if socket.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                return;
            }
        }
    })
    .await;
}
