//! The GA session fields beyond voice and turns, on the engine's virtual clock: `audio.output.speed`
//! changes how long the voice lasts (both transports), `idle_timeout_ms` fires
//! `input_audio_buffer.timeout_triggered`, and a `prompt` reference is echoed in the session.

mod common;

use std::time::Duration;

use realtime_emulator::engine::{EngineSettings, Transport};
use serde_json::{Value, json};

use common::audio::audio_bytes;
use common::call::{Out, TestCall, instant, user_text};

fn spoken() -> EngineSettings {
    EngineSettings {
        audio_per_char: Duration::from_millis(60),
        ..instant()
    }
}

fn transcript(done: &Value) -> usize {
    done["response"]["output"][0]["content"][0]["transcript"]
        .as_str()
        .unwrap()
        .chars()
        .count()
}

fn set_speed(call: &mut TestCall, speed: f64) {
    call.send(
        json!({"type": "session.update", "session": {"type": "realtime",
        "audio": {"output": {"speed": speed}}}}),
    );
    let updated = call.until("session.updated").pop().unwrap();
    assert_eq!(updated["session"]["audio"]["output"]["speed"], speed);
}

#[test]
fn speed_changes_the_length_of_the_voice_over_websocket() {
    let (mut call, _) = TestCall::open_over(Transport::WebSocket, spoken());
    call.send(user_text("hello emulator"));
    for (speed, ms_per_char) in [(1.0, 60), (1.5, 40), (0.5, 120)] {
        set_speed(&mut call, speed);
        call.send(json!({"type": "response.create"}));
        let events = call.until("response.done");
        let chars = transcript(events.last().unwrap());
        // 24 kHz PCM16: 48 bytes a millisecond.
        assert_eq!(
            audio_bytes(&events).len(),
            chars * ms_per_char * 48,
            "at speed {speed}"
        );
    }
}

#[test]
fn speed_changes_the_length_of_the_voice_over_webrtc() {
    let (mut call, _) = TestCall::open(spoken());
    call.send(user_text("hello emulator"));
    for (speed, ms_per_char) in [(1.0, 60), (1.5, 40), (0.25, 240)] {
        set_speed(&mut call, speed);
        call.audio.clear();
        call.send(json!({"type": "response.create"}));
        let chars = transcript(call.until("response.done").last().unwrap());
        let played: Vec<_> = call
            .audio
            .iter()
            .filter_map(|o| match o {
                Out::Play(d) => Some(*d),
                _ => None,
            })
            .collect();
        assert_eq!(
            played,
            [Duration::from_millis((chars * ms_per_char) as u64)],
            "at speed {speed}"
        );
        call.until("output_audio_buffer.stopped");
    }
}

#[test]
fn speed_outside_the_schema_is_refused_naming_it() {
    let (mut call, _) = TestCall::open(instant());
    let e = call.expect_error(
        json!({"type": "session.update", "session": {"type": "realtime",
        "audio": {"output": {"speed": 2.0}}}}),
    );
    assert_eq!(
        (e["code"].as_str(), e["param"].as_str()),
        (
            Some("decimal_above_max_value"),
            Some("session.audio.output.speed")
        )
    );
}

#[test]
fn idle_timeout_fires_timeout_triggered_after_the_answer() {
    let (mut call, _) = TestCall::open(instant());
    call.send(json!({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"],
        "audio": {"input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 6000}}}}}));
    let updated = call.expect("session.updated");
    assert_eq!(
        updated["session"]["audio"]["input"]["turn_detection"]["idle_timeout_ms"],
        6000
    );
    call.send(user_text("hi"));
    call.send(json!({"type": "response.create"}));
    call.until("response.done");
    call.advance_ms(5_999);
    assert!(call.pending().is_empty(), "silence is not yet a timeout");
    let t = call.expect("input_audio_buffer.timeout_triggered");
    assert_eq!(call.elapsed_ms(), 6_000);
    assert!(t["item_id"].as_str().unwrap().starts_with("item_"));
    call.until("response.done");
}

#[test]
fn a_prompt_reference_is_echoed_in_the_session() {
    let (mut call, _) = TestCall::open(instant());
    let prompt = json!({"id": "pmpt_123", "version": "2", "variables": {"city": "Paris"}});
    call.send(
        json!({"type": "session.update", "session": {"type": "realtime", "prompt": prompt,
        "truncation": {"type": "retention_ratio", "retention_ratio": 0.5},
        "include": ["item.input_audio_transcription.logprobs"], "tracing": "auto"}}),
    );
    let s = call.expect("session.updated")["session"].clone();
    assert_eq!(s["prompt"], prompt);
    assert_eq!(s["truncation"]["retention_ratio"], 0.5);
    assert_eq!(s["include"][0], "item.input_audio_transcription.logprobs");
    assert_eq!(s["tracing"], "auto");
}

#[test]
fn a_truncation_cuts_the_transcript_at_the_speed_it_was_spoken() {
    let (mut call, _) = TestCall::open_over(Transport::WebSocket, spoken());
    set_speed(&mut call, 0.5);
    call.send(user_text("hello emulator"));
    call.send(json!({"type": "response.create"}));
    let done = call.until("response.done").pop().unwrap();
    let item = &done["response"]["output"][0];
    let transcript = item["content"][0]["transcript"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(transcript.chars().count() > 10, "{transcript}");
    // 120 ms a character at half speed: 1200 ms heard is 10 characters.
    call.send(
        json!({"type": "conversation.item.truncate", "item_id": item["id"],
        "content_index": 0, "audio_end_ms": 1200}),
    );
    call.expect("conversation.item.truncated");
    call.send(json!({"type": "conversation.item.retrieve", "item_id": item["id"]}));
    let got = call.expect("conversation.item.retrieved");
    let heard: String = transcript.chars().take(10).collect();
    assert_eq!(got["item"]["content"][0]["transcript"], heard.as_str());
}
