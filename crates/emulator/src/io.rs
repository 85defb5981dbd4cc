//! The seam between the event engine and a transport: the engine speaks JSON events and audio commands,
//! the transport (WebRTC, see `rtc`; WebSocket, see `ws`) moves them over the wire. Neither side knows the
//! other's internals. One engine has one transport (the call's), and any number of sideband sockets
//! (`GET /realtime?call_id=…`) attached to it later: each is one more reader of the call's server events
//! and one more writer of client events, through the same two message types.

use std::time::Duration;
use tokio::sync::mpsc;

/// Which kind of transport carries a session. What differs is how audio travels; the events are the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Transport {
    /// Audio on RTP tracks: the engine says `PlayAudio` / `StopAudio` and emits `output_audio_buffer.*`,
    /// input arrives as packet levels, and the server cuts what the user did not hear. An accepted SIP call
    /// runs as one too, on a line that carries no audio (`sip::phone_line`).
    #[default]
    WebRtc,
    /// Audio as base64 in JSON: `response.output_audio.delta` out, `input_audio_buffer.append` in, voice
    /// activity measured from the appended samples; the client owns playback (and truncates).
    WebSocket,
}

/// What a transport tells the engine of one session.
#[derive(Debug)]
pub enum ToEngine {
    /// The `oai-events` data channel (or the WebSocket) is open; the engine answers with `session.created`.
    ChannelOpen,
    /// One text message received (not yet parsed: malformed JSON is the engine's to report).
    ClientMessage(String),
    /// One binary message received: the API takes text only and says so with an `error`.
    BinaryMessage,
    /// One received RTP audio packet: its level in -dBov (RFC 6464: 0 loudest, 127 silence) and the audio
    /// duration it carries (usually 20 ms).
    InputLevel { dbov: u8, duration: Duration },
    /// The peer connection (or the socket) closed or failed.
    Closed,
}

/// What the engine asks a transport to do.
#[derive(Debug)]
pub enum FromEngine {
    /// Send one JSON text message.
    Send(String),
    /// Send an audible track for this long (replaces whatever is playing). WebRTC only.
    PlayAudio { duration: Duration },
    /// Stop sending audio now (barge-in, cancel, `output_audio_buffer.clear`). WebRTC only.
    StopAudio,
    /// End the session, for this reason (a WebSocket says it with its close code).
    Close(CloseReason),
}

/// Why the engine ends a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// `POST /realtime/calls/{id}/hangup`.
    Hangup,
    /// The session reached its maximum duration; the `error` event sent before says so in these words.
    Expired(String),
    /// A scripted `drop` or the `close_after_events` fault: the connection is cut, not closed politely.
    Dropped,
    /// Told to a sideband socket: the call it is attached to has ended, whatever the reason.
    CallEnded,
}

/// The transport's ends of one session's channels.
#[derive(Debug)]
pub struct TransportIo {
    pub to_engine: mpsc::Sender<ToEngine>,
    pub from_engine: mpsc::Receiver<FromEngine>,
}
