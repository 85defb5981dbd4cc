//! Conformance cases for audio input: VAD turns, transcription, barge-in, manual turns, idle timeout.

use std::time::Duration;

use realtime_emulator::Scenario;
use realtime_emulator::engine::EngineSettings;
use serde_json::json;

use crate::common::call::{Out, TestCall, instant, realistic, types, user_text};

const LOUD: u8 = 30;
const QUIET: u8 = 127;

pub fn server_vad_turn_with_transcription() {
    let (mut call, _) = TestCall::open(instant());
    call.send(
        json!({"type": "session.update", "session": {"type": "realtime",
        "audio": {"input": {"transcription": {"model": "whisper-1"}}}}}),
    );
    let s = call.expect("session.updated");
    assert_eq!(
        s["session"]["audio"]["input"]["transcription"]["model"],
        "whisper-1"
    );
    call.level(QUIET, 20, 20);
    call.level(LOUD, 20, 50);
    call.level(QUIET, 20, 15);
    let started = call.expect("input_audio_buffer.speech_started");
    assert_eq!(
        started["audio_start_ms"], 100,
        "400 ms of silence minus 300 ms of prefix padding"
    );
    let stopped = call.expect("input_audio_buffer.speech_stopped");
    assert_eq!(stopped["audio_end_ms"], 1400);
    let committed = call.expect("input_audio_buffer.committed");
    assert_eq!(committed["item_id"], started["item_id"]);
    let added = call.expect("conversation.item.added");
    assert_eq!(added["item"]["content"][0]["type"], "input_audio");
    call.expect("conversation.item.done");
    call.expect("conversation.item.input_audio_transcription.delta");
    let done = call.expect("conversation.item.input_audio_transcription.completed");
    assert_eq!(done["transcript"], "[speech 1.3 s]");
    let events = call.until("response.done");
    assert_eq!(types(&events)[0], "response.created");
    let transcript = events.last().unwrap()["response"]["output"][0]["content"][0]["transcript"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(transcript.contains("[speech 1.3 s]"), "{transcript}");
}

pub fn barge_in_cancels_the_response_and_clears_audio() {
    let settings = EngineSettings {
        audio_per_char: Duration::from_millis(200),
        ..realistic()
    };
    let (mut call, _) = TestCall::open(settings);
    call.send(user_text("tell me a long story about the sea"));
    call.send(json!({"type": "response.create"}));
    let started = call.until("output_audio_buffer.started").pop().unwrap();
    assert_eq!(call.elapsed_ms(), 300, "after the think time");
    // The user speaks in the middle of the answer: three deltas out, audio playing.
    call.advance_ms(80);
    let deltas = call.pending_events();
    let delta = "response.output_audio_transcript.delta";
    assert_eq!(types(&deltas), [delta, delta, delta]);
    call.level(LOUD, 20, 3);
    let events = call.pending_events();
    let t = types(&events);
    assert_eq!(
        t,
        [
            "input_audio_buffer.speech_started",
            "output_audio_buffer.cleared",
            "response.done"
        ]
    );
    let at = |ty: &str| {
        t.iter()
            .position(|x| *x == ty)
            .unwrap_or_else(|| panic!("no {ty} in {t:?}"))
    };
    assert!(at("input_audio_buffer.speech_started") < at("output_audio_buffer.cleared"));
    let cleared = &events[at("output_audio_buffer.cleared")];
    assert_eq!(cleared["response_id"], started["response_id"]);
    let done = events.last().unwrap();
    assert_eq!(done["response"]["status"], "cancelled");
    assert_eq!(
        done["response"]["status_details"]["reason"],
        "turn_detected"
    );
    assert_eq!(
        done["response"]["output"][0]["content"][0]["transcript"], "You said \"tell ",
        "what had been streamed"
    );
    assert!(
        matches!(call.audio.as_slice(), [Out::Play(_), Out::Stop]),
        "{:?}",
        call.audio
    );
    // The stored item keeps what was heard, not what was streamed ("You said \"tell "): the audio played
    // for less than 200 ms, the length of one character.
    let item_id = done["response"]["output"][0]["id"].clone();
    call.send(json!({"type": "conversation.item.retrieve", "item_id": item_id}));
    let stored = call.expect("conversation.item.retrieved");
    assert_eq!(stored["item"]["content"][0]["transcript"], "", "{stored}");
    call.advance_ms(10_000);
    assert!(call.pending().is_empty(), "nothing of the answer follows");
}

pub fn semantic_vad_without_auto_response() {
    let (mut call, _) = TestCall::open(instant());
    call.send(json!({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"turn_detection":
        {"type": "semantic_vad", "eagerness": "high", "create_response": false}}}}}));
    let s = call.expect("session.updated");
    assert_eq!(
        s["session"]["audio"]["input"]["turn_detection"]["eagerness"],
        "high"
    );
    call.level(LOUD, 20, 10);
    call.level(QUIET, 20, 20);
    call.expect("input_audio_buffer.speech_started");
    call.expect("input_audio_buffer.speech_stopped");
    call.expect("input_audio_buffer.committed");
    call.expect("conversation.item.added");
    call.expect("conversation.item.done");
    // No response was created: the next event is the reply to this clear.
    call.send(json!({"type": "input_audio_buffer.clear"}));
    call.expect("input_audio_buffer.cleared");
}

pub fn manual_turns_fill_the_buffer_from_the_track() {
    let (mut call, _) = TestCall::open(instant());
    call.send(json!({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"turn_detection": null}}}}));
    call.expect("session.updated");
    call.level(LOUD, 20, 25);
    call.send(json!({"type": "input_audio_buffer.commit"}));
    call.expect("input_audio_buffer.committed");
    call.expect("conversation.item.added");
    call.expect("conversation.item.done");
    call.send(json!({"type": "response.create", "response": {"output_modalities": ["text"]}}));
    let done = call.until("response.done").pop().unwrap();
    assert!(
        done["response"]["usage"]["input_token_details"]["audio_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

pub fn idle_timeout_prompts_a_response() {
    let (mut call, _) = TestCall::open(instant());
    call.send(json!({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"],
        "audio": {"input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 5000}}}}}));
    call.expect("session.updated");
    call.send(user_text("hi"));
    call.send(json!({"type": "response.create"}));
    call.until("response.done");
    call.advance_ms(4_999);
    assert!(call.pending().is_empty(), "silence is not yet a timeout");
    let t = call.expect("input_audio_buffer.timeout_triggered");
    assert_eq!(call.elapsed_ms(), 5_000);
    assert!(t["item_id"].as_str().unwrap().starts_with("item_"));
    let done = call.until("response.done").pop().unwrap();
    assert_eq!(
        done["response"]["output"][0]["content"][0]["text"],
        "Are you still there?"
    );
}

pub fn diarized_and_failed_transcriptions() {
    let s = Scenario::from_json(
        r#"{"rules": [{"match": {"turn": 2}, "transcription_error": {"type": "invalid_request_error",
            "code": "audio_unintelligible", "message": "The audio could not be transcribed (scripted)."}}]}"#,
    )
    .unwrap();
    let settings = EngineSettings {
        scenario: Some(s),
        ..instant()
    };
    let (mut call, _) = TestCall::open(settings);
    call.send(json!({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"],
        "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe-diarize"}}}}}));
    call.expect("session.updated");
    call.level(LOUD, 20, 25);
    call.level(QUIET, 20, 10);
    let events = call.until("response.done");
    let segment = events
        .iter()
        .find(|e| e["type"] == "conversation.item.input_audio_transcription.segment")
        .expect("a diarization segment");
    assert_eq!(segment["speaker"], "A");
    // The second turn's transcription fails as scripted; the turn still gets an answer.
    call.level(LOUD, 20, 25);
    call.level(QUIET, 20, 10);
    let events = call.until("response.done");
    let failed = events
        .iter()
        .find(|e| e["type"] == "conversation.item.input_audio_transcription.failed")
        .expect("a failed transcription");
    assert_eq!(failed["error"]["code"], "audio_unintelligible");
    assert!(!types(&events).contains(&"conversation.item.input_audio_transcription.completed"));
}
