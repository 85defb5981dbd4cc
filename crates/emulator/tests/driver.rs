//! The real-time driver of the engine (`engine::start`): the engine on the wall clock, over the channels a
//! transport uses. The conformance cases run the same engine on a virtual clock; these check what the
//! driver adds: it sleeps until the engine's deadlines, and it ends on a hangup or a closed transport.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::call::{Out, TEXT_IN_AUDIO_OUT, instant, realistic, types, user_text};
use realtime_emulator::engine::{self, EngineHandle, EngineSettings, Transport};
use realtime_emulator::io::{ToEngine, TransportIo};
use realtime_emulator::session::Session;
use serde_json::{Value, json};

/// A guard against hangs, not a timing assertion: nothing here should take this long.
const PATIENCE: Duration = Duration::from_secs(20);

struct LiveCall {
    handle: EngineHandle,
    io: TransportIo,
    audio: Vec<Out>,
}

impl LiveCall {
    async fn open(settings: EngineSettings) -> LiveCall {
        let (handle, io) = engine::start(Session::default(), Arc::new(settings), Transport::WebRtc);
        let mut call = LiveCall {
            handle,
            io,
            audio: vec![],
        };
        call.io.to_engine.send(ToEngine::ChannelOpen).await.unwrap();
        let created = call.until("session.created").await;
        assert_eq!(created.len(), 1, "session.created comes first");
        call
    }

    async fn send(&self, event: Value) {
        let msg = ToEngine::ClientMessage(event.to_string());
        self.io.to_engine.send(msg).await.unwrap();
    }

    /// The next output, or `None` once the engine task has ended.
    async fn next(&mut self) -> Option<Out> {
        let msg = tokio::time::timeout(PATIENCE, self.io.from_engine.recv())
            .await
            .expect("the engine said nothing for a long time")?;
        Some(Out::from_engine(msg))
    }

    async fn until(&mut self, ty: &str) -> Vec<Value> {
        let mut out = vec![];
        loop {
            match self.next().await.expect("the engine ended") {
                Out::Event(e) => {
                    let done = e["type"] == ty;
                    out.push(e);
                    if done {
                        return out;
                    }
                }
                Out::Close => panic!("the engine closed the call"),
                other => self.audio.push(other),
            }
        }
    }
}

#[tokio::test]
async fn a_realistic_response_streams_to_its_end_on_the_wall_clock() {
    let mut call = LiveCall::open(realistic()).await;
    call.send(user_text("hello driver")).await;
    call.send(json!({"type": "response.create"})).await;
    let events = call.until("output_audio_buffer.stopped").await;
    let mut t = types(&events);
    t.dedup();
    assert_eq!(t, TEXT_IN_AUDIO_OUT);
    let deltas = events
        .iter()
        .filter(|e| e["type"] == "response.output_audio_transcript.delta")
        .count();
    assert!(deltas > 1, "the answer streams in several paced deltas");
    assert!(matches!(call.audio.as_slice(), [Out::Play(_)]));
}

#[tokio::test]
async fn a_hangup_closes_the_call_and_ends_the_task() {
    let mut call = LiveCall::open(instant()).await;
    assert!(call.handle.hangup().await);
    assert!(matches!(call.next().await, Some(Out::Close)));
    assert!(call.next().await.is_none(), "the engine task ended");
}

#[tokio::test]
async fn the_engine_stops_when_the_transport_closes() {
    let mut call = LiveCall::open(instant()).await;
    call.io.to_engine.send(ToEngine::Closed).await.unwrap();
    assert!(
        call.next().await.is_none(),
        "nothing more, and the task ended"
    );
}
