//! Drives one call's engine as a transport would, on a virtual clock (`engine::testing::VirtualCall`),
//! validating every server event against the schema on the way. Time moves only when a test waits for
//! an event that is not out yet (to the engine's next timer) or calls `advance`.

use std::time::Duration;

use realtime_emulator::Pace;
use realtime_emulator::engine::EngineSettings;
use realtime_emulator::engine::testing::VirtualCall;
use realtime_emulator::io::{FromEngine, ToEngine, Transport};
use realtime_emulator::session::Session;
use serde_json::{Value, json};

use realtime_testkit::schema::schemas;

#[derive(Debug)]
pub enum Out {
    Event(Value),
    Play(Duration),
    Stop,
    Close,
}

impl Out {
    /// One message of the engine, its event parsed and validated against the schema.
    pub fn from_engine(msg: FromEngine) -> Out {
        match msg {
            FromEngine::Send(text) => {
                let v: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("server sent invalid JSON ({e}): {text}"));
                schemas().check_server_event(&v);
                Out::Event(v)
            }
            FromEngine::PlayAudio { duration } => Out::Play(duration),
            FromEngine::StopAudio => Out::Stop,
            FromEngine::Close(_) => Out::Close,
        }
    }
}

pub struct TestCall {
    pub call: VirtualCall,
    /// Audio commands seen while waiting for events.
    pub audio: Vec<Out>,
}

pub fn instant() -> EngineSettings {
    EngineSettings {
        pace: Pace::Instant,
        audio_per_char: Duration::from_millis(1),
        ..EngineSettings::default()
    }
}

/// The pace users get (300 ms think, 40 ms between deltas), on the virtual clock.
pub fn realistic() -> EngineSettings {
    EngineSettings {
        pace: Pace::Realistic,
        ..instant()
    }
}

impl TestCall {
    /// Starts a WebRTC call's engine, opens the channel and checks the first event is `session.created`.
    pub fn open(settings: EngineSettings) -> (TestCall, Value) {
        Self::open_over(Transport::WebRtc, settings)
    }

    /// The same over another transport.
    pub fn open_over(transport: Transport, settings: EngineSettings) -> (TestCall, Value) {
        Self::open_session(Session::default(), transport, settings)
    }

    /// The same with another session (a transcription session, say).
    pub fn open_session(
        session: Session,
        transport: Transport,
        settings: EngineSettings,
    ) -> (TestCall, Value) {
        let mut call = TestCall {
            call: VirtualCall::start(session, settings, transport),
            audio: vec![],
        };
        call.call.input(ToEngine::ChannelOpen);
        let created = call.expect("session.created");
        (call, created)
    }

    pub fn send(&mut self, event: Value) {
        self.send_raw(&event.to_string());
    }

    pub fn send_raw(&mut self, text: &str) {
        self.call.input(ToEngine::ClientMessage(text.to_owned()));
    }

    /// Sends `count` input packets of `ms` milliseconds each at level `dbov`, all at the current virtual
    /// time (voice activity is timed by the packets' durations, not by the clock).
    pub fn level(&mut self, dbov: u8, ms: u64, count: usize) {
        for _ in 0..count {
            self.call.input(ToEngine::InputLevel {
                dbov,
                duration: Duration::from_millis(ms),
            });
        }
    }

    /// Moves the virtual clock forward, firing the engine's timers on the way.
    pub fn advance_ms(&mut self, ms: u64) {
        self.call.advance(Duration::from_millis(ms));
    }

    pub fn elapsed_ms(&self) -> u128 {
        self.call.elapsed().as_millis()
    }

    /// The next output of the engine, moving the clock to its next timers if nothing is out yet.
    pub fn next(&mut self) -> Out {
        let msg = self
            .call
            .next_output()
            .expect("the engine ended without closing the call");
        Out::from_engine(msg)
    }

    /// Everything out so far, without moving the clock: what a client has received at this instant.
    pub fn pending(&mut self) -> Vec<Out> {
        std::iter::from_fn(|| self.call.output())
            .map(Out::from_engine)
            .collect()
    }

    /// The server events out so far (audio commands kept in `audio`), without moving the clock.
    pub fn pending_events(&mut self) -> Vec<Value> {
        let mut events = vec![];
        for out in self.pending() {
            match out {
                Out::Event(v) => events.push(v),
                Out::Close => panic!("the engine closed the call"),
                other => self.audio.push(other),
            }
        }
        events
    }

    /// The next server event; audio commands are kept in `audio`, a close fails the test.
    pub fn event(&mut self) -> Value {
        loop {
            match self.next() {
                Out::Event(v) => return v,
                Out::Close => panic!("the engine closed the call"),
                other => self.audio.push(other),
            }
        }
    }

    /// The next event, which must be of type `ty`.
    pub fn expect(&mut self, ty: &str) -> Value {
        let e = self.event();
        assert_eq!(e["type"], ty, "expected {ty}, got {e:#}");
        e
    }

    /// Events up to and including the first of type `ty`.
    pub fn until(&mut self, ty: &str) -> Vec<Value> {
        let mut out = vec![];
        loop {
            let e = self.event();
            let done = e["type"] == ty;
            out.push(e);
            if done {
                return out;
            }
        }
    }

    /// Waits for the engine to close the call, returning the events sent before.
    pub fn until_close(&mut self) -> Vec<Value> {
        let mut out = vec![];
        loop {
            match self.next() {
                Out::Event(v) => out.push(v),
                Out::Close => return out,
                other => self.audio.push(other),
            }
        }
    }

    /// Sends an event expected to fail and returns the `error` event.
    pub fn expect_error(&mut self, event: Value) -> Value {
        self.send(event);
        let e = self.expect("error");
        e["error"].clone()
    }
}

pub fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("?"))
        .collect()
}

pub fn user_text(text: &str) -> Value {
    json!({"type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})
}

/// The server events of an audio answer to a user's text item, in their documented order with repeats
/// folded: the same on the virtual clock (conformance) as on the wall clock (driver).
pub const TEXT_IN_AUDIO_OUT: [&str; 16] = [
    "conversation.item.added",
    "conversation.item.done",
    "response.created",
    "rate_limits.updated",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "output_audio_buffer.started",
    "response.output_audio_transcript.delta",
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
    "output_audio_buffer.stopped",
];

/// The same answer over WebSocket without its deltas: no `output_audio_buffer.*` there (the voice is in
/// `response.output_audio.delta` events instead).
pub fn text_in_audio_out_over_websocket() -> Vec<&'static str> {
    TEXT_IN_AUDIO_OUT
        .into_iter()
        .filter(|t| !t.starts_with("output_audio_buffer.") && !t.ends_with(".delta"))
        .collect()
}
