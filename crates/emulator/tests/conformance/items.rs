//! Conformance cases for conversation items and the input/output audio buffers.

use std::time::Duration;

use realtime_emulator::engine::EngineSettings;
use serde_json::json;

use crate::common::call::{Out, TestCall, instant, user_text};

pub async fn conversation_items_create_retrieve_truncate_delete() {
    let (mut call, _) = TestCall::open(instant()).await;
    call.send(json!({"type": "conversation.item.create", "item": {"id": "item_a", "type": "message", "role": "assistant",
        "content": [{"type": "output_audio", "transcript": "Hello there, how are you?"}]}}))
        .await;
    let added = call.expect("conversation.item.added").await;
    assert!(added["previous_item_id"].is_null());
    call.expect("conversation.item.done").await;
    call.send(json!({"type": "conversation.item.create", "previous_item_id": "root", "item": {"id": "item_b", "type": "message",
        "role": "system", "content": [{"type": "input_text", "text": "first"}]}}))
        .await;
    call.expect("conversation.item.added").await;
    call.expect("conversation.item.done").await;
    call.send(json!({"type": "conversation.item.create", "previous_item_id": "item_b", "item": {"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "second"}]}}))
        .await;
    assert_eq!(
        call.expect("conversation.item.added").await["previous_item_id"],
        "item_b"
    );
    call.expect("conversation.item.done").await;

    call.send(json!({"type": "conversation.item.retrieve", "item_id": "item_a"}))
        .await;
    assert_eq!(
        call.expect("conversation.item.retrieved").await["item"]["id"],
        "item_a"
    );
    call.send(json!({"type": "conversation.item.truncate", "item_id": "item_a", "content_index": 0, "audio_end_ms": 5})).await;
    let t = call.expect("conversation.item.truncated").await;
    assert_eq!(t["audio_end_ms"], 5);
    call.send(json!({"type": "conversation.item.retrieve", "item_id": "item_a"}))
        .await;
    assert_eq!(
        call.expect("conversation.item.retrieved").await["item"]["content"][0]["transcript"],
        "Hello"
    );

    let e = call.expect_error(json!({"type": "conversation.item.truncate", "item_id": "item_b", "content_index": 0, "audio_end_ms": 0})).await;
    assert_eq!(e["code"], "unsupported_content_type");
    let e = call.expect_error(json!({"type": "conversation.item.truncate", "item_id": "item_a", "content_index": 0, "audio_end_ms": 999999})).await;
    assert_eq!(e["code"], "invalid_value");
    let e = call.expect_error(json!({"type": "conversation.item.create", "previous_item_id": "missing", "item": {"type": "message", "role": "user", "content": []}})).await;
    assert_eq!(e["param"], "previous_item_id");
    let e = call.expect_error(json!({"type": "conversation.item.create", "item": {"id": "item_a", "type": "message", "role": "user", "content": []}})).await;
    assert_eq!(e["code"], "invalid_value");
    let e = call
        .expect_error(json!({"type": "conversation.item.create", "event_id": "x9"}))
        .await;
    assert_eq!(
        (e["code"].as_str(), e["event_id"].as_str()),
        (Some("missing_required_parameter"), Some("x9"))
    );

    call.send(json!({"type": "conversation.item.delete", "item_id": "item_a"}))
        .await;
    assert_eq!(
        call.expect("conversation.item.deleted").await["item_id"],
        "item_a"
    );
    let e = call
        .expect_error(
            json!({"type": "conversation.item.retrieve", "event_id": "x10", "item_id": "item_a"}),
        )
        .await;
    assert_eq!(
        (e["code"].as_str(), e["event_id"].as_str()),
        (Some("item_not_found"), Some("x10"))
    );
    let e = call
        .expect_error(json!({"type": "conversation.item.delete", "item_id": "item_a"}))
        .await;
    assert_eq!(e["code"], "item_not_found");
}

pub async fn input_audio_buffer_append_commit_clear() {
    let (mut call, _) = TestCall::open(instant()).await;
    call.send(json!({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"turn_detection": null}}}})).await;
    let s = call.expect("session.updated").await;
    assert!(s["session"]["audio"]["input"]["turn_detection"].is_null());
    let e = call
        .expect_error(json!({"type": "input_audio_buffer.commit", "event_id": "k1"}))
        .await;
    assert_eq!(
        (e["code"].as_str(), e["event_id"].as_str()),
        (Some("input_audio_buffer_commit_empty"), Some("k1"))
    );
    let e = call
        .expect_error(json!({"type": "input_audio_buffer.append"}))
        .await;
    assert_eq!(e["code"], "missing_required_parameter");
    // 100 ms of 24 kHz PCM16 is 4800 bytes, 6400 base64 characters; appends are never acknowledged.
    call.send(json!({"type": "input_audio_buffer.append", "audio": "A".repeat(6400)}))
        .await;
    call.send(json!({"type": "input_audio_buffer.commit"}))
        .await;
    let committed = call.expect("input_audio_buffer.committed").await;
    let added = call.expect("conversation.item.added").await;
    assert_eq!(added["item"]["id"], committed["item_id"]);
    assert_eq!(added["item"]["content"][0]["type"], "input_audio");
    call.expect("conversation.item.done").await;
    call.send(json!({"type": "input_audio_buffer.append", "audio": "AAAA"}))
        .await;
    call.send(json!({"type": "input_audio_buffer.clear"})).await;
    call.expect("input_audio_buffer.cleared").await;
    let e = call
        .expect_error(json!({"type": "input_audio_buffer.commit"}))
        .await;
    assert_eq!(e["code"], "input_audio_buffer_commit_empty");
}

pub async fn output_audio_buffer_clear_stops_playback() {
    let settings = EngineSettings {
        audio_per_char: Duration::from_millis(500),
        ..instant()
    };
    let (mut call, _) = TestCall::open(settings).await;
    call.send(user_text("speak")).await;
    call.send(json!({"type": "response.create"})).await;
    let done = call.until("response.done").await.pop().unwrap();
    call.send(json!({"type": "output_audio_buffer.clear"}))
        .await;
    let cleared = call.expect("output_audio_buffer.cleared").await;
    assert_eq!(cleared["response_id"], done["response"]["id"]);
    assert!(
        matches!(call.audio.as_slice(), [Out::Play(_), Out::Stop]),
        "{:?}",
        call.audio
    );
}
