//! Drives one call's engine through the `io` channels, as a transport would, validating every server
//! event against the schema on the way.

use std::sync::Arc;
use std::time::Duration;

use realtime_emulator::Pace;
use realtime_emulator::engine::{self, EngineHandle, EngineSettings};
use realtime_emulator::io::{FromEngine, ToEngine, TransportIo};
use realtime_emulator::session::Session;
use serde_json::{Value, json};

use super::schema::schemas;

/// A guard against hangs, not a timing assertion: nothing in these tests should take this long.
const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Debug)]
pub enum Out {
    Event(Value),
    Play(Duration),
    Stop,
    Close,
}

pub struct TestCall {
    pub io: TransportIo,
    pub handle: EngineHandle,
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

impl TestCall {
    /// Starts an engine, opens the channel and checks the first event is `session.created`.
    pub async fn open(settings: EngineSettings) -> (TestCall, Value) {
        Self::open_with(Session::default(), settings).await
    }

    pub async fn open_with(session: Session, settings: EngineSettings) -> (TestCall, Value) {
        let (handle, io) = engine::start(session, Arc::new(settings));
        let mut call = TestCall {
            io,
            handle,
            audio: vec![],
        };
        call.io.to_engine.send(ToEngine::ChannelOpen).await.unwrap();
        let created = call.expect("session.created").await;
        (call, created)
    }

    pub async fn send(&self, event: Value) {
        self.send_raw(&event.to_string()).await;
    }

    pub async fn send_raw(&self, text: &str) {
        self.io
            .to_engine
            .send(ToEngine::ClientMessage(text.to_owned()))
            .await
            .unwrap();
    }

    /// Sends `count` input packets of `ms` milliseconds each at level `dbov`.
    pub async fn level(&self, dbov: u8, ms: u64, count: usize) {
        for _ in 0..count {
            let msg = ToEngine::InputLevel {
                dbov,
                duration: Duration::from_millis(ms),
            };
            self.io.to_engine.send(msg).await.unwrap();
        }
    }

    /// The next output of the engine, events validated against the schema.
    pub async fn next(&mut self) -> Out {
        let msg = tokio::time::timeout(PATIENCE, self.io.from_engine.recv())
            .await
            .expect("the engine said nothing for a long time")
            .expect("the engine ended without closing the call");
        match msg {
            FromEngine::Send(text) => {
                let v: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("server sent invalid JSON ({e}): {text}"));
                schemas().check_server_event(&v);
                Out::Event(v)
            }
            FromEngine::PlayAudio { duration } => Out::Play(duration),
            FromEngine::StopAudio => Out::Stop,
            FromEngine::Close => Out::Close,
        }
    }

    /// The next server event; audio commands are kept in `audio`, a close fails the test.
    pub async fn event(&mut self) -> Value {
        loop {
            match self.next().await {
                Out::Event(v) => return v,
                Out::Close => panic!("the engine closed the call"),
                other => self.audio.push(other),
            }
        }
    }

    /// The next event, which must be of type `ty`.
    pub async fn expect(&mut self, ty: &str) -> Value {
        let e = self.event().await;
        assert_eq!(e["type"], ty, "expected {ty}, got {e:#}");
        e
    }

    /// Events up to and including the first of type `ty`.
    pub async fn until(&mut self, ty: &str) -> Vec<Value> {
        let mut out = vec![];
        loop {
            let e = self.event().await;
            let done = e["type"] == ty;
            out.push(e);
            if done {
                return out;
            }
        }
    }

    /// Waits for the engine to close the call, returning the events sent before.
    pub async fn until_close(&mut self) -> Vec<Value> {
        let mut out = vec![];
        loop {
            match self.next().await {
                Out::Event(v) => out.push(v),
                Out::Close => return out,
                other => self.audio.push(other),
            }
        }
    }

    /// Sends an event expected to fail and returns the `error` event.
    pub async fn expect_error(&mut self, event: Value) -> Value {
        self.send(event).await;
        let e = self.expect("error").await;
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
