//! Conformance cases for what differs over WebSocket, on the engine itself (virtual clock): audio in the
//! events, at real time on the realistic pace; no `output_audio_buffer.*`; barge-in without a buffer to
//! clear; `output_audio_buffer.clear` unknown.

use std::time::Duration;

use realtime_emulator::audio::Format;
use realtime_emulator::engine::{EngineSettings, Transport};
use serde_json::json;

use crate::common::audio::{appends, audio_bytes, tone};
use crate::common::call::{
    TestCall, instant, realistic, text_in_audio_out_over_websocket, types, user_text,
};

const AUDIO_DELTA: &str = "response.output_audio.delta";
const TRANSCRIPT_DELTA: &str = "response.output_audio_transcript.delta";

fn spoken(settings: EngineSettings) -> EngineSettings {
    EngineSettings {
        audio_per_char: Duration::from_millis(60),
        ..settings
    }
}

pub fn websocket_answers_carry_the_voice_in_audio_deltas() {
    let (mut call, _) = TestCall::open_over(Transport::WebSocket, spoken(instant()));
    call.send(user_text("hello emulator"));
    call.send(json!({"type": "response.create"}));
    let events = call.until("response.done");
    let t = types(&events);
    let skeleton: Vec<_> = t
        .iter()
        .filter(|x| **x != AUDIO_DELTA && **x != TRANSCRIPT_DELTA)
        .copied()
        .collect();
    assert_eq!(skeleton, text_in_audio_out_over_websocket());
    let done = events.last().unwrap();
    let transcript = done["response"]["output"][0]["content"][0]["transcript"]
        .as_str()
        .unwrap();
    // 60 ms of 24 kHz PCM16 per character, in 100 ms deltas (the last one shorter).
    let bytes = audio_bytes(&events);
    assert_eq!(bytes.len(), transcript.chars().count() * 60 * 24 * 2);
    let deltas: Vec<_> = events.iter().filter(|e| e["type"] == AUDIO_DELTA).collect();
    assert_eq!(
        deltas.len(),
        (transcript.chars().count() * 60).div_ceil(100)
    );
    assert!(
        deltas[..deltas.len() - 1]
            .iter()
            .all(|d| d["delta"].as_str().unwrap().len() == 6400),
        "100 ms of PCM16 is 4800 bytes, 6400 base64 characters"
    );
    let voice = Format::Pcm.decode(&bytes);
    assert!(voice.iter().any(|s| s.abs() > 3000), "the voice is audible");
    // The transcript is interleaved with the audio: each word just before the chunk it starts in.
    let first = |ty: &str| t.iter().position(|x| *x == ty).unwrap();
    let last = |ty: &str| t.iter().rposition(|x| *x == ty).unwrap();
    assert!(first(TRANSCRIPT_DELTA) < first(AUDIO_DELTA));
    assert!(last(TRANSCRIPT_DELTA) > first(AUDIO_DELTA));
    assert!(last(TRANSCRIPT_DELTA) < last(AUDIO_DELTA));
    let streamed: String = events
        .iter()
        .filter(|e| e["type"] == TRANSCRIPT_DELTA)
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(streamed, transcript);
    assert!(t.iter().all(|x| !x.starts_with("output_audio_buffer")));
    assert!(call.audio.is_empty(), "no track to play: {:?}", call.audio);
    // A second answer in G.711 μ-law: 8 kHz, one byte a sample.
    call.send(json!({"type": "response.create", "response": {"audio": {"output": {"format": {"type": "audio/pcmu"}}}}}));
    let events = call.until("response.done");
    let transcript = events.last().unwrap()["response"]["output"][0]["content"][0]["transcript"]
        .as_str()
        .unwrap()
        .chars()
        .count();
    assert_eq!(audio_bytes(&events).len(), transcript * 60 * 8);
}

pub fn websocket_audio_leaves_at_real_time_on_the_realistic_pace() {
    let (mut call, _) = TestCall::open_over(Transport::WebSocket, spoken(realistic()));
    call.send(user_text("hi"));
    call.send(json!({"type": "response.create"}));
    let mut audio_at = vec![];
    loop {
        let e = call.event();
        if e["type"] == AUDIO_DELTA {
            audio_at.push(call.elapsed_ms());
        }
        if e["type"] == "response.done" {
            break;
        }
    }
    // After 300 ms of thinking, one 100 ms chunk every 100 ms; the response ends with its last chunk.
    let expected: Vec<u128> = (0..audio_at.len() as u128).map(|k| 300 + 100 * k).collect();
    assert_eq!(audio_at, expected);
    assert!(audio_at.len() > 20, "{} chunks", audio_at.len());
    assert_eq!(call.elapsed_ms(), *audio_at.last().unwrap());
    call.advance_ms(10_000);
    assert!(call.pending().is_empty(), "no output_audio_buffer.stopped");
}

/// A driver that wakes late (here every timer fires 5 ms after it was due) keeps the audio on its
/// schedule: each chunk is due 100 ms after the previous one was due, not after it was sent, so the
/// lateness of one wake-up never adds up over an answer.
pub fn websocket_audio_keeps_its_schedule_when_the_driver_wakes_late() {
    let (mut call, _) = TestCall::open_over(Transport::WebSocket, spoken(realistic()));
    call.send(user_text("hi"));
    call.send(json!({"type": "response.create"}));
    let mut audio_at = vec![];
    'answer: while call.call.fire_late(Duration::from_millis(5)) {
        for e in call.pending_events() {
            if e["type"] == AUDIO_DELTA {
                audio_at.push(call.elapsed_ms());
            }
            if e["type"] == "response.done" {
                break 'answer;
            }
        }
    }
    assert!(audio_at.len() > 20, "{} chunks", audio_at.len());
    for (k, at) in audio_at.iter().enumerate() {
        let due = 300 + 100 * k as u128;
        assert!(
            (due..=due + 5).contains(at),
            "chunk {k} due at {due} ms went at {at} ms: {audio_at:?}"
        );
    }
}

pub fn websocket_barge_in_cancels_and_the_client_truncates() {
    let (mut call, _) = TestCall::open_over(Transport::WebSocket, spoken(realistic()));
    call.send(user_text("tell me a long story about the sea"));
    call.send(json!({"type": "response.create"}));
    // 250 ms into the audio: three chunks (300 ms) out, and the words that start in them.
    call.advance_ms(550);
    let events = call.pending_events();
    let item_id = events
        .iter()
        .find(|e| e["type"] == "response.output_item.added")
        .map(|e| e["item"]["id"].as_str().unwrap().to_owned())
        .unwrap();
    assert_eq!(audio_bytes(&events).len(), 300 * 48);
    for append in appends(&tone(100, 24_000), Format::Pcm, 20) {
        call.send(append);
    }
    let events = call.pending_events();
    assert_eq!(
        types(&events),
        ["input_audio_buffer.speech_started", "response.done"]
    );
    let done = &events[1];
    assert_eq!(done["response"]["status"], "cancelled");
    assert_eq!(
        done["response"]["status_details"]["reason"],
        "turn_detected"
    );
    assert_eq!(
        done["response"]["output"][0]["content"][0]["transcript"],
        "You said "
    );
    // The client heard 200 ms: three characters at 60 ms each.
    call.send(json!({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": 200}));
    assert_eq!(
        call.expect("conversation.item.truncated")["audio_end_ms"],
        200
    );
    call.send(json!({"type": "conversation.item.retrieve", "item_id": item_id}));
    let item = call.expect("conversation.item.retrieved");
    assert_eq!(item["item"]["content"][0]["transcript"], "You");
}

pub fn websocket_refuses_output_audio_buffer_clear_as_an_unknown_type() {
    let (mut call, _) = TestCall::open_over(Transport::WebSocket, instant());
    let e = call.expect_error(json!({"type": "output_audio_buffer.clear", "event_id": "w1"}));
    assert_eq!(
        (
            e["code"].as_str(),
            e["param"].as_str(),
            e["event_id"].as_str()
        ),
        (Some("invalid_value"), Some("type"), Some("w1"))
    );
    let message = e["message"].as_str().unwrap();
    assert!(
        message.starts_with("Invalid value: 'output_audio_buffer.clear'. Supported values are:"),
        "{message}"
    );
    assert!(message.contains("'input_audio_buffer.append'"), "{message}");
    assert_eq!(message.matches("output_audio_buffer.clear").count(), 1);
}
