//! WebRTC transport of the emulator (str0m): one UDP socket and one task per call.
//!
//! The browser creates the `oai-events` data channel and sends its microphone; the emulator answers with a
//! single host candidate on a fresh UDP socket, relays the channel's text messages to the engine, sends a
//! voice-like Opus track while the engine says so, and reports the level of the received audio.
//!
//! Audio out: 20 ms Opus frames (48 kHz mono) encoded live by `opus-pure`, a pure-Rust Opus codec: a
//! synthetic voice during `PlayAudio`, encoded silence otherwise so the browser's track keeps its clock.
//!
//! Audio in: each received packet becomes `ToEngine::InputLevel`. The level is the RFC 6464
//! `ssrc-audio-level` header extension that Chromium sends (str0m keeps it in the answer); a peer that did
//! not negotiate it gets its packets decoded and their RMS measured instead, on the same -dBov scale.

mod audio;
mod call;
#[cfg(test)]
mod loopback_tests;

use std::net::{IpAddr, SocketAddr};
use std::sync::Once;
use std::time::Instant;

use str0m::change::SdpOffer;
use str0m::rtp::Extension;
use str0m::{Candidate, RtcConfig};
use tokio::net::UdpSocket;

use crate::io::TransportIo;

/// Largest data-channel message the emulator accepts, advertised as `a=max-message-size`. The real service
/// advertises none, which RFC 8841 reads as 64 KiB, so browsers see the same limit here.
const MAX_MESSAGE_SIZE: u32 = 64 * 1024;

/// How much data-channel data may wait for the browser's acknowledgement; a larger message is dropped
/// (with a warning) rather than blocking the messages behind it.
const MAX_BUFFERED: usize = 1024 * 1024;

/// Why an offer could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum RtcError {
    /// The SDP could not be parsed, or it offers no audio: maps to 400 `invalid_offer`.
    #[error("invalid offer: {0}")]
    InvalidOffer(String),
    /// Binding the call's UDP socket failed.
    #[error("could not set up the call: {0}")]
    Io(#[from] std::io::Error),
}

/// How the emulator answers offers.
#[derive(Clone, Copy, Debug)]
pub struct RtcOptions {
    /// Address the call's UDP socket binds and advertises as its one ICE host candidate.
    pub host: IpAddr,
    /// Keep RFC 6464 `ssrc-audio-level` in the answer when offered (the real service does). Off, the browser
    /// sends no level, and the emulator decodes its Opus to measure the voice.
    pub audio_level: bool,
}

impl RtcOptions {
    pub fn on(host: IpAddr) -> Self {
        Self {
            host,
            audio_level: true,
        }
    }
}

/// Accepts `offer_sdp`, binds a UDP socket on `options.host`, spawns the call's task (which drives `io` until
/// the peer closes or the engine sends `FromEngine::Close`) and returns the SDP answer.
pub async fn answer_offer(
    offer_sdp: &str,
    options: RtcOptions,
    io: TransportIo,
) -> Result<String, RtcError> {
    let offer = parse_offer(offer_sdp)?;
    install_crypto();
    let speaker = audio::Speaker::new()
        .map_err(|e| std::io::Error::other(format!("could not create the Opus encoder: {e}")))?;

    let socket = UdpSocket::bind(SocketAddr::new(options.host, 0)).await?;
    let local = socket.local_addr()?;
    let mut config = RtcConfig::new()
        .clear_codecs()
        .enable_opus(true, false)
        .set_sctp_max_message_size(MAX_MESSAGE_SIZE)
        .set_sctp_max_buffered_amount(MAX_BUFFERED);
    if !options.audio_level {
        // The audio extensions of str0m's standard map (Chromium's ids), without RFC 6464.
        config = config
            .clear_extension_map()
            .set_extension(2, Extension::AbsoluteSendTime)
            .set_extension(3, Extension::TransportSequenceNumber)
            .set_extension(4, Extension::RtpMid);
    }
    let mut rtc = config.build(Instant::now());
    let candidate = Candidate::host(local, "udp").map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{local} is no usable host candidate: {e}"),
        )
    })?;
    rtc.add_local_candidate(candidate);
    let answer = rtc
        .sdp_api()
        .accept_offer(offer)
        .map_err(|e| RtcError::InvalidOffer(e.to_string()))?;

    tokio::spawn(call::run(rtc, socket, speaker, io));
    Ok(answer.to_sdp_string())
}

/// Parses the offer and checks that it has an audio section, as the real service requires.
fn parse_offer(sdp: &str) -> Result<SdpOffer, RtcError> {
    let offer = SdpOffer::from_sdp_string(sdp)
        .map_err(|e| RtcError::InvalidOffer(format!("unparsable SDP: {e}")))?;
    // str0m keeps its media lines private, so look at the text it just accepted.
    if !sdp
        .lines()
        .any(|line| line.trim_start().starts_with("m=audio "))
    {
        return Err(RtcError::InvalidOffer(
            "Offer did not have an audio media section.".into(),
        ));
    }
    Ok(offer)
}

/// str0m is built without a default crypto backend: install aws-lc-rs once per process.
fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| str0m::crypto::from_feature_flags().install_process_default());
}

/// An offer as Chromium makes it (trimmed): audio with the RFC 6464 extension, plus the data channel. For tests
/// of clients that need an offer the emulator accepts.
pub const CHROMIUM_OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0 1\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS 3f0d\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:Ay9B\r\n\
a=ice-pwd:1T2vmhNKBxlkgvCjWvJ3Ddm8\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 6B:8B:5D:EA:59:04:20:23:29:C8:87:1C:CC:87:32:BE:DD:8C:66:A5:8E:50:55:56:7D:0E:E0:D7:59:3C:14:AB\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n\
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
a=sendrecv\r\n\
a=msid:3f0d 6c1b\r\n\
a=rtcp-mux\r\n\
a=rtcp-rsize\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtcp-fb:111 transport-cc\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:63 red/48000/2\r\n\
a=fmtp:63 111/111\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:13 CN/8000\r\n\
a=rtpmap:110 telephone-event/48000\r\n\
a=rtpmap:126 telephone-event/8000\r\n\
a=ssrc:1001 cname:abcd\r\n\
a=ssrc:1001 msid:3f0d 6c1b\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
c=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:Ay9B\r\n\
a=ice-pwd:1T2vmhNKBxlkgvCjWvJ3Ddm8\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 6B:8B:5D:EA:59:04:20:23:29:C8:87:1C:CC:87:32:BE:DD:8C:66:A5:8E:50:55:56:7D:0E:E0:D7:59:3C:14:AB\r\n\
a=setup:actpass\r\n\
a=mid:1\r\n\
a=sctp-port:5000\r\n\
a=max-message-size:262144\r\n";

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    fn localhost() -> RtcOptions {
        RtcOptions::on("127.0.0.1".parse().unwrap())
    }

    use crate::io::{FromEngine, ToEngine};

    fn io() -> (
        TransportIo,
        mpsc::Receiver<ToEngine>,
        mpsc::Sender<FromEngine>,
    ) {
        let (to_engine, engine_rx) = mpsc::channel(64);
        let (engine_tx, from_engine) = mpsc::channel(64);
        (
            TransportIo {
                to_engine,
                from_engine,
            },
            engine_rx,
            engine_tx,
        )
    }

    #[tokio::test]
    async fn answers_a_chromium_offer_with_opus_the_audio_level_extension_and_one_host_candidate() {
        let (io, _rx, _tx) = io();
        let answer = answer_offer(CHROMIUM_OFFER, localhost(), io).await.unwrap();
        assert!(answer.contains("m=audio"), "{answer}");
        assert!(answer.contains("opus/48000/2"), "{answer}");
        assert!(
            answer.contains("urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
            "{answer}"
        );
        assert!(answer.contains("webrtc-datachannel"), "{answer}");
        assert!(answer.contains("a=max-message-size:65536"), "{answer}");
        let candidates: Vec<_> = answer
            .lines()
            .filter(|l| l.starts_with("a=candidate:"))
            .collect();
        assert_eq!(candidates.len(), 1, "{answer}");
        assert!(
            candidates[0].contains("127.0.0.1") && candidates[0].contains("typ host"),
            "{answer}"
        );
    }

    #[tokio::test]
    async fn without_audio_level_the_answer_leaves_rfc_6464_out() {
        let (io, _rx, _tx) = io();
        let options = RtcOptions {
            audio_level: false,
            ..localhost()
        };
        let answer = answer_offer(CHROMIUM_OFFER, options, io).await.unwrap();
        assert!(answer.contains("opus/48000/2"), "{answer}");
        assert!(!answer.contains("ssrc-audio-level"), "{answer}");
        assert!(answer.contains("transport-wide-cc"), "{answer}");
    }

    #[tokio::test]
    async fn rejects_garbage_and_offers_without_audio() {
        let host = localhost();
        let err = answer_offer("hello", host, io().0).await.unwrap_err();
        assert!(
            matches!(&err, RtcError::InvalidOffer(m) if m.contains("unparsable")),
            "{err}"
        );

        let start = CHROMIUM_OFFER.find("m=audio").unwrap();
        let end = CHROMIUM_OFFER.find("m=application").unwrap();
        let data_only = format!("{}{}", &CHROMIUM_OFFER[..start], &CHROMIUM_OFFER[end..])
            .replace("BUNDLE 0 1", "BUNDLE 1");
        let err = answer_offer(&data_only, host, io().0).await.unwrap_err();
        assert!(
            matches!(&err, RtcError::InvalidOffer(m) if m.contains("audio media section")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_call_ends_and_says_so_when_the_engine_lets_go() {
        let (io, mut rx, tx) = io();
        answer_offer(CHROMIUM_OFFER, localhost(), io).await.unwrap();
        drop(tx);
        let last = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
            .await
            .unwrap();
        assert!(matches!(last, Some(ToEngine::Closed)), "{last:?}");
        assert!(rx.recv().await.is_none(), "the task is gone");
    }
}
