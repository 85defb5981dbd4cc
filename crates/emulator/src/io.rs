//! The seam between the event engine and a transport: the engine speaks JSON events and audio commands,
//! the transport (WebRTC, see `rtc`) moves them over the wire. Neither side knows the other's internals.

use std::time::Duration;
use tokio::sync::mpsc;

/// What a transport tells the engine of one call.
#[derive(Debug)]
pub enum ToEngine {
    /// The `oai-events` data channel is open; the engine answers with `session.created`.
    ChannelOpen,
    /// One text message received on the data channel (not yet parsed: malformed JSON is the engine's to report).
    ClientMessage(String),
    /// One received RTP audio packet: its level in -dBov (RFC 6464: 0 loudest, 127 silence) and the audio
    /// duration it carries (usually 20 ms).
    InputLevel { dbov: u8, duration: Duration },
    /// The peer connection closed or failed.
    Closed,
}

/// What the engine asks a transport to do.
#[derive(Debug)]
pub enum FromEngine {
    /// Send one JSON text message on the data channel.
    Send(String),
    /// Send an audible track for this long (replaces whatever is playing).
    PlayAudio { duration: Duration },
    /// Stop sending audio now (barge-in, cancel, `output_audio_buffer.clear`).
    StopAudio,
    /// Close the peer connection (hangup, expiry, a scripted drop).
    Close,
}

/// The transport's ends of one call's channels.
#[derive(Debug)]
pub struct TransportIo {
    pub to_engine: mpsc::Sender<ToEngine>,
    pub from_engine: mpsc::Receiver<FromEngine>,
}
