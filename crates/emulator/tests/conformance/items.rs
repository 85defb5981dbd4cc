//! Conformance cases for conversation items and the input/output audio buffers.

use std::time::Duration;

use realtime_emulator::engine::EngineSettings;
use serde_json::json;

use crate::common::call::{Out, TestCall, instant, user_text};

pub fn conversation_items_create_retrieve_truncate_delete() {
    let (mut call, _) = TestCall::open(instant());
    call.send(json!({"type": "conversation.item.create", "item": {"id": "item_a", "type": "message", "role": "assistant",
        "content": [{"type": "output_audio", "transcript": "Hello there, how are you?"}]}}));
    let added = call.expect("conversation.item.added");
    assert!(added["previous_item_id"].is_null());
    call.expect("conversation.item.done");
    call.send(json!({"type": "conversation.item.create", "previous_item_id": "root", "item": {"id": "item_b", "type": "message",
        "role": "system", "content": [{"type": "input_text", "text": "first"}]}}));
    call.expect("conversation.item.added");
    call.expect("conversation.item.done");
    call.send(json!({"type": "conversation.item.create", "previous_item_id": "item_b", "item": {"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "second"}]}}));
    assert_eq!(
        call.expect("conversation.item.added")["previous_item_id"],
        "item_b"
    );
    call.expect("conversation.item.done");

    call.send(json!({"type": "conversation.item.retrieve", "item_id": "item_a"}));
    assert_eq!(
        call.expect("conversation.item.retrieved")["item"]["id"],
        "item_a"
    );
    call.send(json!({"type": "conversation.item.truncate", "item_id": "item_a", "content_index": 0, "audio_end_ms": 5}));
    let t = call.expect("conversation.item.truncated");
    assert_eq!(t["audio_end_ms"], 5);
    call.send(json!({"type": "conversation.item.retrieve", "item_id": "item_a"}));
    assert_eq!(
        call.expect("conversation.item.retrieved")["item"]["content"][0]["transcript"],
        "Hello"
    );

    let e = call.expect_error(json!({"type": "conversation.item.truncate", "item_id": "item_b", "content_index": 0, "audio_end_ms": 0}));
    assert_eq!(e["code"], "unsupported_content_type");
    let e = call.expect_error(json!({"type": "conversation.item.truncate", "item_id": "item_a", "content_index": 0, "audio_end_ms": 999999}));
    assert_eq!(e["code"], "invalid_value");
    let e = call.expect_error(json!({"type": "conversation.item.create", "previous_item_id": "missing", "item": {"type": "message", "role": "user", "content": []}}));
    assert_eq!(e["param"], "previous_item_id");
    let e = call.expect_error(json!({"type": "conversation.item.create", "item": {"id": "item_a", "type": "message", "role": "user", "content": []}}));
    assert_eq!(e["code"], "invalid_value");
    let e = call.expect_error(json!({"type": "conversation.item.create", "event_id": "x9"}));
    assert_eq!(
        (e["code"].as_str(), e["event_id"].as_str()),
        (Some("missing_required_parameter"), Some("x9"))
    );

    call.send(json!({"type": "conversation.item.delete", "item_id": "item_a"}));
    assert_eq!(
        call.expect("conversation.item.deleted")["item_id"],
        "item_a"
    );
    let e = call.expect_error(
        json!({"type": "conversation.item.retrieve", "event_id": "x10", "item_id": "item_a"}),
    );
    assert_eq!(
        (e["code"].as_str(), e["event_id"].as_str()),
        (Some("item_not_found"), Some("x10"))
    );
    let e = call.expect_error(json!({"type": "conversation.item.delete", "item_id": "item_a"}));
    assert_eq!(e["code"], "item_not_found");
}

pub fn input_audio_buffer_append_commit_clear() {
    let (mut call, _) = TestCall::open(instant());
    call.send(json!({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"turn_detection": null}}}}));
    let s = call.expect("session.updated");
    assert!(s["session"]["audio"]["input"]["turn_detection"].is_null());
    let e = call.expect_error(json!({"type": "input_audio_buffer.commit", "event_id": "k1"}));
    assert_eq!(
        (e["code"].as_str(), e["event_id"].as_str()),
        (Some("input_audio_buffer_commit_empty"), Some("k1"))
    );
    let e = call.expect_error(json!({"type": "input_audio_buffer.append"}));
    assert_eq!(e["code"], "missing_required_parameter");
    // 100 ms of 24 kHz PCM16 is 4800 bytes, 6400 base64 characters; appends are never acknowledged.
    call.send(json!({"type": "input_audio_buffer.append", "audio": "A".repeat(6400)}));
    call.send(json!({"type": "input_audio_buffer.commit"}));
    let committed = call.expect("input_audio_buffer.committed");
    let added = call.expect("conversation.item.added");
    assert_eq!(added["item"]["id"], committed["item_id"]);
    assert_eq!(added["item"]["content"][0]["type"], "input_audio");
    call.expect("conversation.item.done");
    let e = call.expect_error(json!({"type": "input_audio_buffer.append", "audio": "not base64!"}));
    assert_eq!(
        (e["code"].as_str(), e["param"].as_str()),
        (Some("invalid_value"), Some("audio"))
    );
    let e = call.expect_error(json!({"type": "input_audio_buffer.append", "audio": "AAAA"}));
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("two bytes per sample"),
        "{e}"
    );
    call.send(json!({"type": "input_audio_buffer.append", "audio": "AAAAAAAA"}));
    call.send(json!({"type": "input_audio_buffer.clear"}));
    call.expect("input_audio_buffer.cleared");
    let e = call.expect_error(json!({"type": "input_audio_buffer.commit"}));
    assert_eq!(e["code"], "input_audio_buffer_commit_empty");
}

pub fn output_audio_buffer_clear_stops_playback() {
    let settings = EngineSettings {
        audio_per_char: Duration::from_millis(500),
        ..instant()
    };
    let (mut call, _) = TestCall::open(settings);
    call.send(user_text("speak"));
    call.send(json!({"type": "response.create"}));
    let done = call.until("response.done").pop().unwrap();
    // One second into the audio (two characters of it), the client stops it.
    call.advance_ms(1_000);
    assert!(call.pending().is_empty(), "the audio is still playing");
    call.send(json!({"type": "output_audio_buffer.clear"}));
    let cleared = call.expect("output_audio_buffer.cleared");
    assert_eq!(cleared["response_id"], done["response"]["id"]);
    assert!(
        matches!(call.audio.as_slice(), [Out::Play(_), Out::Stop]),
        "{:?}",
        call.audio
    );
    // Over WebRTC the server cuts the transcript at what was played.
    let item_id = &done["response"]["output"][0]["id"];
    call.send(json!({"type": "conversation.item.retrieve", "item_id": item_id}));
    let item = call.expect("conversation.item.retrieved");
    assert_eq!(item["item"]["content"][0]["transcript"], "Yo");
    call.advance_ms(60_000);
    assert!(
        call.pending().is_empty(),
        "no output_audio_buffer.stopped after a clear"
    );
}
