//! Conformance cases that land a client event at an exact moment of a response, on the virtual clock and
//! at the pace users get: the answer to "a long answer please" is 12 words, and its item, content part,
//! audio and first delta come after 300 ms of thinking, then one delta every 40 ms (the last at 740 ms).

use std::time::Duration;

use realtime_emulator::engine::EngineSettings;
use serde_json::{Value, json};

use crate::common::call::{Out, TestCall, realistic, types, user_text};

const ANSWER: &str = "You said \"a long answer please\". This is the emulated model answering.";
const TRANSCRIPT_DELTA: &str = "response.output_audio_transcript.delta";

/// The transcript the deltas among `events` spell.
fn streamed(events: &[Value]) -> String {
    events
        .iter()
        .filter(|e| e["type"] == TRANSCRIPT_DELTA)
        .map(|e| e["delta"].as_str().unwrap())
        .collect()
}

/// A call whose response to "a long answer please" has just been created (at 0 ms).
fn asked(settings: EngineSettings) -> (TestCall, Vec<Value>) {
    let (mut call, _) = TestCall::open(settings);
    call.send(user_text("a long answer please"));
    call.send(json!({"type": "response.create", "event_id": "first"}));
    let created = call.until("rate_limits.updated");
    (call, created)
}

pub fn one_active_response_and_cancel() {
    let (mut call, _) = TestCall::open(realistic());
    call.send(user_text("a long answer please"));
    call.send(json!({"type": "response.create", "event_id": "first"}));
    call.send(json!({"type": "response.create", "event_id": "second"}));
    let events = call.until("error");
    let created = events
        .iter()
        .find(|e| e["type"] == "response.created")
        .expect("first response created");
    let e = &events.last().unwrap()["error"];
    assert_eq!(
        (e["code"].as_str(), e["event_id"].as_str()),
        (
            Some("conversation_already_has_active_response"),
            Some("second")
        )
    );

    // In the middle of the answer: three deltas out, nine to come.
    call.advance_ms(380);
    let so_far = call.pending_events();
    assert_eq!(
        types(&so_far),
        [
            "response.output_item.added",
            "conversation.item.added",
            "response.content_part.added",
            "output_audio_buffer.started",
            TRANSCRIPT_DELTA,
            TRANSCRIPT_DELTA,
            TRANSCRIPT_DELTA,
        ]
    );
    assert_eq!(streamed(&so_far), "You said \"a ");
    let e = call.expect_error(json!({"type": "response.create", "event_id": "third"}));
    assert_eq!(
        (e["code"].as_str(), e["event_id"].as_str()),
        (
            Some("conversation_already_has_active_response"),
            Some("third")
        )
    );

    call.send(json!({"type": "response.cancel", "event_id": "cancel1"}));
    let after = call.pending_events();
    assert_eq!(
        types(&after),
        ["response.done", "output_audio_buffer.stopped"]
    );
    let done = &after[0];
    assert_eq!(done["response"]["id"], created["response"]["id"]);
    assert_eq!(done["response"]["status"], "cancelled");
    assert_eq!(
        done["response"]["status_details"]["reason"],
        "client_cancelled"
    );
    let item = &done["response"]["output"][0];
    assert_eq!(item["status"], "incomplete");
    assert_eq!(item["content"][0]["transcript"], "You said \"a ");
    assert!(
        matches!(call.audio.as_slice(), [Out::Play(_), Out::Stop]),
        "{:?}",
        call.audio
    );
    // Nothing of the cancelled answer follows, however long one waits.
    call.advance_ms(10_000);
    assert!(call.pending().is_empty());

    let e = call.expect_error(json!({"type": "response.cancel", "event_id": "cancel2"}));
    assert_eq!(
        (e["code"].as_str(), e["event_id"].as_str()),
        (Some("response_cancel_not_active"), Some("cancel2"))
    );
}

pub fn session_update_mid_response_applies_to_the_next_response() {
    let (mut call, _) = asked(realistic());
    call.advance_ms(340);
    let before = call.pending_events();
    assert_eq!(streamed(&before), "You said ");
    call.send(
        json!({"type": "session.update", "session": {"type": "realtime",
        "output_modalities": ["text"], "audio": {"output": {"voice": "marin"}}}}),
    );
    let updated = call.pending_events();
    assert_eq!(types(&updated), ["session.updated"], "answered at once");
    assert_eq!(updated[0]["session"]["output_modalities"], json!(["text"]));

    // The response in flight keeps what it was created with: audio, in the old voice.
    let rest = call.until("response.done");
    assert_eq!(call.elapsed_ms(), 740);
    assert!(
        types(&rest)
            .iter()
            .all(|t| !t.starts_with("response.output_text"))
    );
    assert_eq!(
        format!("You said {}", streamed(&rest)),
        ANSWER,
        "the stream goes on where it was"
    );
    let done = rest.last().unwrap();
    assert_eq!(done["response"]["status"], "completed");
    assert_eq!(done["response"]["output_modalities"], json!(["audio"]));
    assert_eq!(done["response"]["audio"]["output"]["voice"], "alloy");

    call.until("output_audio_buffer.stopped");
    call.send(json!({"type": "response.create"}));
    let next = call.until("response.done");
    assert!(types(&next).contains(&"response.output_text.delta"));
    assert_eq!(
        next.last().unwrap()["response"]["output_modalities"],
        json!(["text"])
    );
}

pub fn truncate_mid_playback_cuts_the_transcript_at_what_was_heard() {
    let settings = EngineSettings {
        audio_per_char: Duration::from_millis(60),
        ..realistic()
    };
    let (mut call, _) = asked(settings);
    let done = call.until("response.done").pop().unwrap();
    let item_id = done["response"]["output"][0]["id"].as_str().unwrap();
    assert_eq!(
        done["response"]["output"][0]["content"][0]["transcript"],
        ANSWER
    );
    // Playback started at 300 ms; at 1500 ms the user has heard 1200 ms: 20 characters.
    assert_eq!(call.elapsed_ms(), 740);
    call.advance_ms(760);
    assert!(call.pending().is_empty(), "the audio is still playing");
    call.send(
        json!({"type": "conversation.item.truncate", "item_id": item_id,
        "content_index": 0, "audio_end_ms": 1200}),
    );
    let truncated = call.expect("conversation.item.truncated");
    assert_eq!(truncated["audio_end_ms"], 1200);
    call.send(json!({"type": "conversation.item.retrieve", "item_id": item_id}));
    let item = call.expect("conversation.item.retrieved");
    let heard: String = ANSWER.chars().take(20).collect();
    assert_eq!(item["item"]["content"][0]["transcript"], heard.as_str());
}
