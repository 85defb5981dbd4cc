//! The transport against a str0m peer over loopback, with the test playing the engine: fast, no browser.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::change::SdpAnswer;
use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::audio::{FRAME_SAMPLES, LevelMeter, SILENCE_DBOV, Speaker};
use super::{RtcOptions, answer_offer, install_crypto};
use crate::io::{FromEngine, ToEngine, TransportIo};

const PATIENCE: Duration = Duration::from_secs(10);

/// A WebRTC client like a browser's: one audio section and the `oai-events` channel, offered by it.
struct Client {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    events: VecDeque<Event>,
    mid: Mid,
    channel: ChannelId,
    rtp_time: u64,
}

/// The test's side of the engine seam.
struct Engine {
    rx: mpsc::Receiver<ToEngine>,
    tx: mpsc::Sender<FromEngine>,
}

impl Client {
    /// Connects to the transport; `audio_level_header` false leaves RFC 6464 out of the offer.
    async fn connect(audio_level_header: bool) -> (Client, Engine) {
        let (to_engine, rx) = mpsc::channel(256);
        let (tx, from_engine) = mpsc::channel(256);
        let io = TransportIo {
            to_engine,
            from_engine,
        };
        let client = Client::connect_to(audio_level_header, io).await;
        (client, Engine { rx, tx })
    }

    /// Connects to a transport whose engine is at the other end of `io`.
    async fn connect_to(audio_level_header: bool, io: TransportIo) -> Client {
        install_crypto();
        let mut config = RtcConfig::new().clear_codecs().enable_opus(true, false);
        if !audio_level_header {
            config = config.clear_extension_map();
        }
        let mut rtc = config.build(Instant::now());
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = socket.local_addr().unwrap();
        rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
        let mut change = rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let channel = change.add_channel("oai-events".into());
        let (offer, pending) = change.apply().unwrap();
        let answer = answer_offer(&offer.to_sdp_string(), RtcOptions::on(local.ip()), io)
            .await
            .unwrap();
        assert_eq!(
            answer.contains("ssrc-audio-level"),
            audio_level_header,
            "the answer mirrors the offer's RFC 6464:\n{answer}"
        );
        rtc.sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
            .unwrap();
        Client {
            rtc,
            socket,
            local,
            events: VecDeque::new(),
            mid,
            channel,
            rtp_time: 0,
        }
    }

    /// Drains str0m up to its next timeout (after every mutation): sends datagrams, queues events.
    async fn drain(&mut self) -> Instant {
        loop {
            match self.rtc.poll_output().unwrap() {
                Output::Timeout(at) => return at,
                Output::Transmit(t) => {
                    let _ = self.socket.send_to(&t.contents, t.destination).await;
                }
                Output::Event(e) => self.events.push_back(e),
            }
        }
    }

    /// Drains, then waits for one datagram or the timeout and feeds it in.
    async fn step(&mut self) {
        let queued = self.events.len();
        let timeout = self.drain().await;
        if self.events.len() > queued {
            return;
        }
        let mut buf = vec![0u8; 2048];
        let input = tokio::select! {
            received = self.socket.recv_from(&mut buf) => received.ok(),
            () = tokio::time::sleep_until(timeout.max(Instant::now()).into()) => None,
        };
        match input {
            Some((n, source)) => {
                let receive = Receive::new(Protocol::Udp, source, self.local, &buf[..n]).unwrap();
                let _ = self
                    .rtc
                    .handle_input(Input::Receive(Instant::now(), receive));
            }
            None => {
                let _ = self.rtc.handle_input(Input::Timeout(Instant::now()));
            }
        }
    }

    /// Runs the client until `pick` accepts one of its events.
    async fn until<T>(&mut self, mut pick: impl FnMut(Event) -> Option<T>) -> T {
        let deadline = Instant::now() + PATIENCE;
        loop {
            while let Some(event) = self.events.pop_front() {
                if let Some(found) = pick(event) {
                    return found;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the client waited {PATIENCE:?} in vain"
            );
            self.step().await;
        }
    }

    /// Runs the client until the engine hears something (the client's events stay queued).
    async fn until_engine_hears(&mut self, engine: &mut Engine) -> ToEngine {
        let deadline = Instant::now() + PATIENCE;
        loop {
            tokio::select! {
                message = engine.rx.recv() => return message.expect("the transport dropped the engine"),
                () = self.step() => {}
            }
            assert!(
                Instant::now() < deadline,
                "the engine waited {PATIENCE:?} in vain"
            );
        }
    }

    async fn send_text(&mut self, text: &str) {
        let mut channel = self.rtc.channel(self.channel).unwrap();
        assert!(channel.write(false, text.as_bytes()).unwrap());
        self.drain().await;
    }

    /// Sends one 20 ms Opus frame, optionally labelled with an RFC 6464 level.
    async fn send_audio(&mut self, frame: Vec<u8>, header_level: Option<i8>) {
        let mut writer = self.rtc.writer(self.mid).unwrap();
        let pt = writer
            .payload_params()
            .find(|p| p.spec().codec == Codec::Opus)
            .unwrap()
            .pt();
        if let Some(level) = header_level {
            writer = writer.audio_level(level, true);
        }
        let at = MediaTime::new(self.rtp_time, Frequency::FORTY_EIGHT_KHZ);
        self.rtp_time += FRAME_SAMPLES as u64;
        writer.write(pt, Instant::now(), at, frame).unwrap();
        self.drain().await;
    }

    /// The loudest level among the next `n` audio packets from the transport.
    async fn loudest_of(&mut self, n: usize) -> u8 {
        let mut meter = LevelMeter::default();
        let mut loudest = SILENCE_DBOV;
        for _ in 0..n {
            let payload = self
                .until(|e| match e {
                    Event::MediaData(d) => Some(d.data.to_vec()),
                    _ => None,
                })
                .await;
            loudest = loudest.min(meter.measure(None, &payload).0);
        }
        loudest
    }
}

/// Connects, and waits until both ends see the data channel open.
async fn open_call(audio_level_header: bool) -> (Client, Engine) {
    let (mut client, mut engine) = Client::connect(audio_level_header).await;
    let heard = client.until_engine_hears(&mut engine).await;
    assert!(matches!(heard, ToEngine::ChannelOpen), "{heard:?}");
    client
        .until(|e| {
            matches!(e, Event::ChannelOpen(_, ref label) if label == "oai-events").then_some(())
        })
        .await;
    (client, engine)
}

/// The next message for the engine that is not an input level.
async fn next_non_level(client: &mut Client, engine: &mut Engine) -> ToEngine {
    loop {
        match client.until_engine_hears(engine).await {
            ToEngine::InputLevel { .. } => continue,
            other => return other,
        }
    }
}

#[tokio::test]
async fn json_flows_both_ways_on_the_data_channel() {
    let (mut client, mut engine) = open_call(true).await;

    client.send_text(r#"{"type":"response.create"}"#).await;
    let heard = next_non_level(&mut client, &mut engine).await;
    assert!(
        matches!(&heard, ToEngine::ClientMessage(m) if m == r#"{"type":"response.create"}"#),
        "{heard:?}"
    );

    for n in 0..3 {
        engine
            .tx
            .send(FromEngine::Send(format!(r#"{{"n":{n}}}"#)))
            .await
            .unwrap();
    }
    let mut received = Vec::new();
    while received.len() < 3 {
        let text = client
            .until(|e| match e {
                Event::ChannelData(d) if !d.binary => Some(String::from_utf8(d.data).unwrap()),
                _ => None,
            })
            .await;
        received.push(text);
    }
    assert_eq!(received, [r#"{"n":0}"#, r#"{"n":1}"#, r#"{"n":2}"#]);
}

#[tokio::test]
async fn input_levels_come_from_the_rtp_header_extension() {
    let (mut client, mut engine) = open_call(true).await;
    client.send_audio(vec![0xF8, 0xFF, 0xFE], Some(-37)).await;
    let heard = client.until_engine_hears(&mut engine).await;
    assert!(
        matches!(heard, ToEngine::InputLevel { dbov: 37, duration } if duration == Duration::from_millis(20)),
        "{heard:?}"
    );
}

#[tokio::test]
async fn without_the_extension_input_levels_are_measured_from_the_decoded_audio() {
    let (mut client, mut engine) = open_call(false).await;
    let mut speaker = Speaker::new().unwrap();
    speaker.play(Duration::from_secs(1));
    let mut levels = Vec::new();
    for _ in 0..10 {
        client.send_audio(speaker.next_frame().unwrap(), None).await;
        if let ToEngine::InputLevel { dbov, .. } = client.until_engine_hears(&mut engine).await {
            levels.push(dbov);
        }
    }
    let loudest = levels.iter().min().copied().unwrap_or(SILENCE_DBOV);
    assert!(loudest < 40, "a voice is loud: {levels:?}");

    speaker.stop();
    let mut quiet = Vec::new();
    for _ in 0..5 {
        client.send_audio(speaker.next_frame().unwrap(), None).await;
        if let ToEngine::InputLevel { dbov, .. } = client.until_engine_hears(&mut engine).await {
            quiet.push(dbov);
        }
    }
    assert!(
        quiet.last().is_some_and(|&l| l > 90),
        "silence is quiet: {quiet:?}"
    );
}

#[tokio::test]
async fn the_track_is_silent_until_the_engine_plays_and_stops_at_once() {
    let (mut client, engine) = open_call(true).await;
    assert!(
        client.loudest_of(10).await > 90,
        "silence before anything plays"
    );

    engine
        .tx
        .send(FromEngine::PlayAudio {
            duration: Duration::from_secs(5),
        })
        .await
        .unwrap();
    // Frames already on their way are still silent: look a little further.
    assert!(
        client.loudest_of(25).await < 40,
        "the voice is audible while playing"
    );

    engine.tx.send(FromEngine::StopAudio).await.unwrap();
    // Frames sent before the stop are still arriving (more of them on a busy machine): skip those.
    let mut in_flight = 0;
    while client.loudest_of(1).await < 90 {
        in_flight += 1;
        assert!(
            in_flight < 50,
            "the voice went on for a second after StopAudio"
        );
    }
    assert!(client.loudest_of(10).await > 90, "and stays silent");
}

#[tokio::test]
async fn the_engine_closing_ends_the_call_after_its_last_words() {
    let (mut client, mut engine) = open_call(true).await;
    engine
        .tx
        .send(FromEngine::Send(r#"{"type":"error"}"#.into()))
        .await
        .unwrap();
    engine
        .tx
        .send(FromEngine::Close(crate::io::CloseReason::Hangup))
        .await
        .unwrap();
    let last_words = client
        .until(|e| match e {
            Event::ChannelData(d) => Some(String::from_utf8(d.data).unwrap()),
            _ => None,
        })
        .await;
    assert_eq!(last_words, r#"{"type":"error"}"#);
    let heard = next_non_level(&mut client, &mut engine).await;
    assert!(matches!(heard, ToEngine::Closed), "{heard:?}");
    client
        .until(|e| matches!(e, Event::Closed | Event::ChannelClose(_)).then_some(()))
        .await;
}

#[tokio::test]
async fn the_peer_closing_ends_the_call() {
    let (mut client, mut engine) = open_call(true).await;
    client.rtc.close().unwrap();
    client.drain().await;
    let heard = next_non_level(&mut client, &mut engine).await;
    assert!(matches!(heard, ToEngine::Closed), "{heard:?}");
    assert!(engine.rx.recv().await.is_none(), "the call's task is gone");
}

/// The next JSON event on the data channel, checked against its schema.
async fn next_event(client: &mut Client) -> serde_json::Value {
    let text = client
        .until(|e| match e {
            Event::ChannelData(d) if !d.binary => Some(String::from_utf8(d.data).unwrap()),
            _ => None,
        })
        .await;
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    realtime_testkit::schema::schemas().check_server_event(&v);
    v
}

/// A transcription session over WebRTC with the real engine: the track's levels make a turn, the data
/// channel carries its transcript, and no response follows.
#[tokio::test]
async fn a_transcription_call_transcribes_the_track() {
    let session = crate::session::Session::create(
        Some(&serde_json::json!({"type": "transcription",
            "audio": {"input": {"transcription": {"model": "whisper-1"}}}})),
        "session",
    )
    .unwrap();
    let settings = std::sync::Arc::new(crate::engine::EngineSettings::default());
    let (_handle, io) = crate::engine::start(session, settings, crate::io::Transport::WebRtc);
    let mut client = Client::connect_to(true, io).await;
    let mut said = Vec::new();
    let created = next_event(&mut client).await;
    assert_eq!(created["session"]["type"], "transcription");
    // Half a second of speech between silences, in 20 ms packets labelled with their level.
    for level in [-127; 10].into_iter().chain([-20; 25]).chain([-127; 15]) {
        client.send_audio(vec![0xF8, 0xFF, 0xFE], Some(level)).await;
    }
    loop {
        let event = next_event(&mut client).await;
        let ty = event["type"].as_str().unwrap().to_owned();
        said.push(ty.clone());
        if ty == "conversation.item.input_audio_transcription.completed" {
            assert_eq!(
                event["transcript"], "[speech 0.7 s]",
                "from the start (the 300 ms of padding reaches back past it) to the end of the speech"
            );
            break;
        }
    }
    assert_eq!(said, crate::engine::testing::transcribed_turn(1));
    // Nothing more is on its way: the next event answers a `clear` sent now.
    client
        .send_text(r#"{"type":"input_audio_buffer.clear"}"#)
        .await;
    assert_eq!(
        next_event(&mut client).await["type"],
        "input_audio_buffer.cleared"
    );
}
