//! Conformance of the event engine: every client event type gets its documented reply or a documented
//! error, and every server event emitted validates against its own schema definition.

mod common;
#[path = "conformance/items.rs"]
mod items;
#[path = "conformance/midway.rs"]
mod midway;
#[path = "conformance/transcription.rs"]
mod transcription;
#[path = "conformance/transport.rs"]
mod transport;
#[path = "conformance/turns.rs"]
mod turns;
#[path = "conformance/ws.rs"]
mod ws;
#[path = "conformance/ws_audio.rs"]
mod ws_audio;

use items::*;
use midway::*;
use transcription::*;
use transport::*;
use turns::*;
use ws::*;
use ws_audio::*;

use std::time::Duration;

use common::call::{Out, TEXT_IN_AUDIO_OUT, TestCall, instant, types, user_text};
use realtime_emulator::engine::EngineSettings;
use realtime_emulator::io::ToEngine;
use realtime_testkit::schema::schemas;
use serde_json::{Value, json};

const WEATHER_TOOL: &str = r#"{"type": "function", "name": "get_weather", "description": "Current weather",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"},
    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["location", "unit"]}}"#;

fn session_update_merges_and_rejects_bad_updates() {
    let (mut call, created) = TestCall::open(instant());
    assert_eq!(created["session"]["audio"]["output"]["voice"], "alloy");
    call.send(
        json!({"type": "session.update", "event_id": "c1", "session": {"type": "realtime",
        "instructions": "Be brief.", "audio": {"output": {"voice": "marin"}}}}),
    );
    let updated = call.expect("session.updated");
    assert_eq!(updated["session"]["instructions"], "Be brief.");
    assert_eq!(updated["session"]["audio"]["output"]["voice"], "marin");
    assert_eq!(
        updated["session"]["audio"]["input"]["turn_detection"]["type"],
        "server_vad"
    );

    let e = call.expect_error(
        json!({"type": "session.update", "event_id": "c2", "session": {"instructions": "x"}}),
    );
    assert_eq!(
        (
            e["code"].as_str(),
            e["param"].as_str(),
            e["event_id"].as_str()
        ),
        (
            Some("missing_required_parameter"),
            Some("session.type"),
            Some("c2")
        )
    );
    let e = call.expect_error(json!({"type": "session.update", "event_id": "c3", "session": {"type": "realtime", "modalities": ["text"]}}));
    assert_eq!(
        (e["code"].as_str(), e["param"].as_str()),
        (Some("unknown_parameter"), Some("session.modalities"))
    );
    let e = call
        .expect_error(json!({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {"format": "pcm16"}}}}));
    assert_eq!(e["code"], "invalid_type");
    let e = call
        .expect_error(json!({"type": "session.update", "session": {"type": "realtime", "audio": {"output": {"voice": "robot"}}}}));
    assert_eq!(
        (e["code"].as_str(), e["param"].as_str()),
        (Some("invalid_value"), Some("session.audio.output.voice"))
    );
    let e = call.expect_error(json!({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["audio", "text"]}}));
    assert_eq!(e["code"], "invalid_value");

    // A rejected update leaves the session as it was.
    call.send(json!({"type": "session.update", "session": {"type": "realtime"}}));
    let s = call.expect("session.updated");
    assert_eq!(s["session"]["audio"]["output"]["voice"], "marin");
}

fn text_in_audio_out_follows_the_documented_order() {
    let (mut call, _) = TestCall::open(instant());
    call.send(user_text("hello emulator"));
    call.send(json!({"type": "response.create"}));
    let events = call.until("output_audio_buffer.stopped");
    let mut t = types(&events);
    t.dedup();
    assert_eq!(t, TEXT_IN_AUDIO_OUT);
    let done = events
        .iter()
        .find(|e| e["type"] == "response.done")
        .unwrap();
    let transcript = done["response"]["output"][0]["content"][0]["transcript"]
        .as_str()
        .unwrap();
    assert!(transcript.contains("hello emulator"), "{transcript}");
    let usage = &done["response"]["usage"];
    assert_eq!(
        usage["output_token_details"]["text_tokens"],
        (transcript.chars().count() as u64).div_ceil(4)
    );
    assert!(
        usage["output_token_details"]["audio_tokens"]
            .as_u64()
            .is_some()
    );
    assert_eq!(done["response"]["status"], "completed");
    assert!(
        matches!(call.audio.first(), Some(Out::Play(d)) if *d == Duration::from_millis(transcript.chars().count() as u64))
    );
}

fn text_modality_streams_text_without_audio() {
    let (mut call, _) = TestCall::open(instant());
    call.send(json!({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}}));
    call.expect("session.updated");
    call.send(user_text("write it"));
    call.send(json!({"type": "response.create"}));
    let events = call.until("response.done");
    let t = types(&events);
    assert!(t.contains(&"response.output_text.delta") && t.contains(&"response.output_text.done"));
    assert!(!t.iter().any(|x| x.starts_with("output_audio_buffer")));
    let deltas: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    let done = events
        .iter()
        .find(|e| e["type"] == "response.output_text.done")
        .unwrap();
    assert_eq!(done["text"], deltas.as_str());
    assert!(call.audio.is_empty());
}

fn response_overrides_are_honoured() {
    let (mut call, _) = TestCall::open(instant());
    call.send(user_text("in the conversation"));
    call.until("conversation.item.done");
    let item_id = {
        call.send(json!({"type": "conversation.item.create", "item": {"id": "item_ref1", "type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "referenced"}]}}));
        call.until("conversation.item.done");
        "item_ref1"
    };
    call.send(json!({"type": "response.create", "response": {
        "conversation": "none", "output_modalities": ["text"], "instructions": "Summarise.",
        "metadata": {"purpose": "summary"},
        "input": [{"type": "item_reference", "id": item_id},
                  {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Summarize please"}]}]}}));
    let events = call.until("response.done");
    assert!(
        !types(&events).contains(&"conversation.item.added"),
        "out-of-band output must stay out of the conversation"
    );
    let done = events.last().unwrap();
    assert_eq!(done["response"]["metadata"]["purpose"], "summary");
    assert_eq!(done["response"]["output_modalities"], json!(["text"]));
    assert!(done["response"].get("conversation_id").is_none());
    assert!(
        done["response"]["output"][0]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Summarize please")
    );

    let e = call.expect_error(
        json!({"type": "response.create", "event_id": "r1", "response": {"modalities": ["text"]}}),
    );
    assert_eq!(
        (
            e["code"].as_str(),
            e["param"].as_str(),
            e["event_id"].as_str()
        ),
        (
            Some("unknown_parameter"),
            Some("response.modalities"),
            Some("r1")
        )
    );
    let e = call
        .expect_error(json!({"type": "response.create", "response": {"input": [{"type": "item_reference", "id": "nope"}]}}));
    assert_eq!(e["code"], "item_not_found");

    // max_output_tokens cuts the answer short.
    call.send(json!({"type": "response.create", "response": {"max_output_tokens": 2, "output_modalities": ["text"]}}));
    let done = call.until("response.done").pop().unwrap();
    assert_eq!(done["response"]["status"], "incomplete");
    assert_eq!(
        done["response"]["status_details"]["reason"],
        "max_output_tokens"
    );
}

fn tools_are_called_with_schema_valid_arguments() {
    let tool: Value = serde_json::from_str(WEATHER_TOOL).unwrap();
    let (mut call, _) = TestCall::open(instant());
    call.send(json!({"type": "session.update", "session": {"type": "realtime", "tools": [tool], "output_modalities": ["text"]}}));
    call.expect("session.updated");
    call.send(user_text("Please get weather for Paris"));
    call.send(json!({"type": "response.create"}));
    let events = call.until("response.done");
    let t = types(&events);
    assert!(t.contains(&"response.function_call_arguments.delta"));
    let args_done = events
        .iter()
        .find(|e| e["type"] == "response.function_call_arguments.done")
        .unwrap();
    assert_eq!(args_done["name"], "get_weather");
    let args: Value = serde_json::from_str(args_done["arguments"].as_str().unwrap()).unwrap();
    let validator = jsonschema::validator_for(&tool["parameters"]).unwrap();
    assert!(
        validator.is_valid(&args),
        "arguments {args} do not match the tool's parameters"
    );
    let call_id = args_done["call_id"].as_str().unwrap().to_owned();
    let item = &events.last().unwrap()["response"]["output"][0];
    assert_eq!(item["type"], "function_call");

    call.send(json!({"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": call_id, "output": "{\"temp_c\":21}"}}));
    call.until("conversation.item.done");
    call.send(json!({"type": "response.create"}));
    let done = call.until("response.done").pop().unwrap();
    let text = done["response"]["output"][0]["content"][0]["text"]
        .as_str()
        .unwrap();
    assert!(text.contains("{\"temp_c\":21}"), "{text}");

    // Per-response tools, forced by tool_choice.
    call.send(json!({"type": "response.create", "response": {"tools": [{"type": "function", "name": "end_call", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "name": "end_call"}}}));
    let done = call.until("response.done").pop().unwrap();
    assert_eq!(done["response"]["output"][0]["name"], "end_call");
}

fn malformed_messages_get_errors_and_the_session_stays_up() {
    let (mut call, _) = TestCall::open(instant());
    call.send_raw("{not json");
    assert_eq!(call.expect("error")["error"]["code"], "invalid_json");
    call.send_raw("[1,2]");
    assert_eq!(call.expect("error")["error"]["code"], "invalid_event");
    call.send_raw(r#"{"event_id":"m1"}"#);
    let e = call.expect("error");
    assert_eq!(
        (e["error"]["code"].as_str(), e["error"]["event_id"].as_str()),
        (Some("invalid_event"), Some("m1"))
    );
    let e = call.expect_error(json!({"type": "scooby.dooby.doo", "event_id": "m2"}));
    assert_eq!(
        (
            e["code"].as_str(),
            e["param"].as_str(),
            e["event_id"].as_str()
        ),
        (Some("invalid_value"), Some("type"), Some("m2"))
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid value: 'scooby.dooby.doo'. Supported values are:")
    );
    let e = call.expect_error(json!({"type": "response.cancel", "foo": 1}));
    assert_eq!(
        (e["code"].as_str(), e["param"].as_str()),
        (Some("unknown_parameter"), Some("foo"))
    );
    let e = call.expect_error(json!({"type": 42}));
    assert_eq!(e["code"], "invalid_type");
    call.send(json!({"type": "input_audio_buffer.clear"}));
    call.expect("input_audio_buffer.cleared");
}

fn sessions_end_on_expiry_hangup_and_close() {
    let settings = EngineSettings {
        max_session: Duration::from_millis(300),
        ..instant()
    };
    let (mut call, _) = TestCall::open(settings);
    call.advance_ms(299);
    assert!(call.pending().is_empty());
    let events = call.until_close();
    let e = events.last().expect("an error before the close");
    assert_eq!(e["error"]["code"], "session_expired");
    assert_eq!(call.elapsed_ms(), 300);

    let (mut call, _) = TestCall::open(instant());
    assert!(call.call.hangup());
    assert!(call.until_close().is_empty());

    let (mut call, _) = TestCall::open(instant());
    call.call.input(ToEngine::Closed);
    let end = call.call.next_output();
    assert!(end.is_none(), "the engine stops when the transport closes");
}

/// A SIP call's keypad (PROTOCOL §8.2): each key reaches everyone, stamped with when it arrived.
fn dtmf_keys_reach_every_peer_stamped_with_their_arrival() {
    let (mut call, created) = TestCall::open(instant());
    call.call.attach(1);
    let start = created["session"]["expires_at"].as_i64().unwrap() - 3600;
    call.advance_ms(90_000);
    call.call.dtmf("5");
    let heard = call.expect("input_audio_buffer.dtmf_event_received");
    assert_eq!(heard["event"], "5");
    let received_at = heard["received_at"].as_i64().unwrap();
    assert!(
        (start + 89..=start + 91).contains(&received_at),
        "90 s into the call: {received_at} vs a start at {start}"
    );
    let sideband: Vec<Value> = call
        .call
        .sideband_output(1)
        .iter()
        .map(|t| serde_json::from_str(t).unwrap())
        .collect();
    assert_eq!(sideband, [heard]);
    assert!(call.call.hangup());
    call.until_close();
    call.call.dtmf("6");
    assert!(
        call.call.sideband_output(1).is_empty(),
        "nothing after the end"
    );
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                super::$name();
            }
        )*

        /// Runs every case again in one process, then reports which server event types were emitted
        /// (all of them validated against their own schema definition).
        #[test]
        fn emitted_server_event_types_are_schema_valid() {
            $( super::$name(); )*
            let emitted = schemas().seen();
            let all = schemas().server_types();
            let missing: Vec<_> = all.difference(&emitted).collect();
            println!("server event types emitted and schema-valid: {} of {}", emitted.len(), all.len());
            println!("emitted: {emitted:?}");
            println!("not emitted here: {missing:?}");
            assert!(emitted.len() >= 35, "only {} event types emitted", emitted.len());
        }
    };
}

mod each {
    use super::schemas;

    conformance!(
        session_update_merges_and_rejects_bad_updates,
        dtmf_keys_reach_every_peer_stamped_with_their_arrival,
        text_in_audio_out_follows_the_documented_order,
        text_modality_streams_text_without_audio,
        response_overrides_are_honoured,
        tools_are_called_with_schema_valid_arguments,
        conversation_items_create_retrieve_truncate_delete,
        one_active_response_and_cancel,
        session_update_mid_response_applies_to_the_next_response,
        truncate_mid_playback_cuts_the_transcript_at_what_was_heard,
        input_audio_buffer_append_commit_clear,
        output_audio_buffer_clear_stops_playback,
        malformed_messages_get_errors_and_the_session_stays_up,
        sessions_end_on_expiry_hangup_and_close,
        server_vad_turn_with_transcription,
        barge_in_cancels_the_response_and_clears_audio,
        semantic_vad_without_auto_response,
        manual_turns_fill_the_buffer_from_the_track,
        idle_timeout_prompts_a_response,
        diarized_and_failed_transcriptions,
        transcription_turn_from_the_track_ends_in_a_transcript_not_a_response,
        ws_intent_socket_opens_a_transcription_session,
        ws_transcription_vad_turn_from_appended_audio,
        ws_transcription_manual_commit_with_whisper,
        ws_ephemeral_keys_minted_for_transcription_open_transcription_sessions,
        websocket_answers_carry_the_voice_in_audio_deltas,
        websocket_audio_leaves_at_real_time_on_the_realistic_pace,
        websocket_audio_keeps_its_schedule_when_the_driver_wakes_late,
        websocket_barge_in_cancels_and_the_client_truncates,
        websocket_refuses_output_audio_buffer_clear_as_an_unknown_type,
        ws_session_answers_events_sent_before_session_created_in_order,
        ws_ephemeral_keys_open_their_session_by_header_or_subprotocol,
        ws_refused_sockets_get_one_error_and_the_api_close_code,
        ws_bad_frames_get_errors_and_the_session_stays_up,
        ws_voice_activity_is_measured_in_the_appended_audio,
        ws_manual_commit_in_g711,
        ws_truncate_cuts_the_transcript_to_the_audio_heard,
        ws_pings_expiry_and_drops_close_as_the_api_does,
        ws_and_webrtc_tell_the_same_story_but_for_the_audio,
    );
}
