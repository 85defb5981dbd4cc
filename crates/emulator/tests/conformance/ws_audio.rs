//! Conformance cases for audio over real WebSockets (PROTOCOL §15.5): voice activity measured in the
//! appended audio, manual commits in G.711, truncation, and one scenario played over both transports.

use std::time::Duration;

use realtime_emulator::audio::Format;
use realtime_emulator::engine::{EngineSettings, Transport};
use realtime_testkit::emulator::EmulatorApp;
use serde_json::{Value, json};

use crate::WEATHER_TOOL;
use crate::common::audio::{appends, audio_bytes, silence, tone};
use crate::common::call::{TestCall, instant, types, user_text};
use crate::ws::{block_on, config, connect, transcript};

pub fn ws_voice_activity_is_measured_in_the_appended_audio() {
    block_on(async {
        let app = EmulatorApp::start(config()).await;
        let (mut ws, _) = connect(&app).await;
        let e = ws
            .expect_error(
                &json!({"type": "input_audio_buffer.append", "event_id": "a1", "audio": "@@@@"}),
            )
            .await;
        assert_eq!(
            (
                e["code"].as_str(),
                e["param"].as_str(),
                e["event_id"].as_str()
            ),
            (Some("invalid_value"), Some("audio"), Some("a1"))
        );
        let e = ws
            .expect_error(&json!({"type": "input_audio_buffer.append", "audio": "AAAA"}))
            .await;
        assert_eq!(
            (e["code"].as_str(), e["param"].as_str()),
            (Some("invalid_value"), Some("audio"))
        );
        // 1 s of silence, half a second of speech, then silence, in 30 ms pieces (frames are 20 ms).
        let mut audio = silence(1000, 24_000);
        audio.extend(tone(500, 24_000));
        audio.extend(silence(1000, 24_000));
        for append in appends(&audio, Format::Pcm, 30) {
            ws.send(&append).await;
        }
        let started = ws.expect("input_audio_buffer.speech_started").await;
        assert_eq!(
            started["audio_start_ms"], 700,
            "1000 ms less the 300 ms prefix padding"
        );
        let stopped = ws.expect("input_audio_buffer.speech_stopped").await;
        assert_eq!(stopped["audio_end_ms"], 1500, "where the speech ended");
        assert_eq!(stopped["item_id"], started["item_id"]);
        let committed = ws.expect("input_audio_buffer.committed").await;
        assert_eq!(committed["item_id"], started["item_id"]);
        let added = ws.expect("conversation.item.added").await;
        assert_eq!(added["item"]["content"][0]["type"], "input_audio");
        ws.expect("conversation.item.done").await;
        let done = ws.until("response.done").await.pop().unwrap();
        assert!(
            transcript(&done).contains("[speech 0.8 s]"),
            "{}",
            transcript(&done)
        );
        // The trailing silence started no new turn.
        ws.send(&json!({"type": "input_audio_buffer.clear"})).await;
        ws.expect("input_audio_buffer.cleared").await;
    });
}

pub fn ws_manual_commit_in_g711() {
    block_on(async {
        let app = EmulatorApp::start(config()).await;
        let (mut ws, _) = connect(&app).await;
        ws.send(
            &json!({"type": "session.update", "session": {"type": "realtime", "audio": {
            "input": {"format": {"type": "audio/pcmu"}, "turn_detection": null,
                      "transcription": {"model": "whisper-1"}},
            "output": {"format": {"type": "audio/pcma"}}}}}),
        )
        .await;
        ws.expect("session.updated").await;
        for append in appends(&tone(600, 8_000), Format::Pcmu, 20) {
            ws.send(&append).await;
        }
        ws.send(&json!({"type": "input_audio_buffer.commit"})).await;
        ws.expect("input_audio_buffer.committed").await;
        ws.expect("conversation.item.added").await;
        ws.expect("conversation.item.done").await;
        ws.expect("conversation.item.input_audio_transcription.delta")
            .await;
        let heard = ws
            .expect("conversation.item.input_audio_transcription.completed")
            .await;
        assert_eq!(heard["transcript"], "[speech 0.6 s]");
        ws.send(&json!({"type": "response.create"})).await;
        let events = ws.until("response.done").await;
        let said = transcript(events.last().unwrap());
        // A-law at 8 kHz: one byte a sample, 60 ms a character; the voice decodes audibly.
        let bytes = audio_bytes(&events);
        assert_eq!(bytes.len(), said.chars().count() * 60 * 8);
        let voice = Format::Pcma.decode(&bytes);
        assert!(voice.iter().any(|s| s.abs() > 3000));
    });
}

pub fn ws_truncate_cuts_the_transcript_to_the_audio_heard() {
    block_on(async {
        let app = EmulatorApp::start(config()).await;
        let (mut ws, _) = connect(&app).await;
        ws.send(&user_text("tell me something")).await;
        ws.send(&json!({"type": "response.create"})).await;
        let done = ws.until("response.done").await.pop().unwrap();
        let item_id = done["response"]["output"][0]["id"].clone();
        let said = transcript(&done);
        let truncate = |ms: Value| json!({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": ms});
        let e = ws.expect_error(&truncate(json!(1000.5))).await;
        assert_eq!(
            (
                e["code"].as_str(),
                e["param"].as_str(),
                e["message"].as_str()
            ),
            (
                Some("invalid_type"),
                Some("audio_end_ms"),
                Some(
                    "Invalid type for 'audio_end_ms': expected an integer, but got a decimal number instead."
                )
            )
        );
        let e = ws.expect_error(&truncate(json!(-5))).await;
        assert_eq!(
            (e["code"].as_str(), e["param"].as_str()),
            (Some("integer_below_min_value"), Some("audio_end_ms"))
        );
        // The client played one second: 16 characters of 60 ms.
        ws.send(&truncate(json!(1000))).await;
        assert_eq!(
            ws.expect("conversation.item.truncated").await["audio_end_ms"],
            1000
        );
        ws.send(&json!({"type": "conversation.item.retrieve", "item_id": item_id}))
            .await;
        let item = ws.expect("conversation.item.retrieved").await;
        let heard: String = said.chars().take(16).collect();
        assert_eq!(item["item"]["content"][0]["transcript"], heard.as_str());
    });
}

/// One scenario in steps (a client event, and the event that ends its answer): a spoken answer, then a tool
/// call, and the answer to its result. The last step needs the call's id, from the events before.
fn story(before: &[Value]) -> Option<(Value, &'static str)> {
    let tool: Value = serde_json::from_str(WEATHER_TOOL).unwrap();
    let answers = before
        .iter()
        .filter(|e| e["type"] == "response.done")
        .count();
    let items = before
        .iter()
        .filter(|e| e["type"] == "conversation.item.done")
        .count();
    let updated = before.iter().any(|e| e["type"] == "session.updated");
    Some(match (updated, items, answers) {
        (false, _, _) => (
            json!({"type": "session.update", "session": {"type": "realtime", "tools": [tool]}}),
            "session.updated",
        ),
        (true, 0, 0) => (user_text("hello there"), "conversation.item.done"),
        (true, 1, 0) | (true, 3, 1) | (true, 5, 2) => {
            (json!({"type": "response.create"}), "response.done")
        }
        (true, 2, 1) => (
            user_text("Please get weather for Paris"),
            "conversation.item.done",
        ),
        (true, 4, 2) => {
            let call_id = before
                .iter()
                .find(|e| e["type"] == "response.function_call_arguments.done")
                .map(|e| e["call_id"].clone())?;
            let output = json!({"type": "conversation.item.create", "item": {"type": "function_call_output",
                "call_id": call_id, "output": "{\"temp_c\":21}"}});
            (output, "conversation.item.done")
        }
        _ => return None,
    })
}

/// Counted without the events each transport alone has.
fn without(events: &[Value], transport_only: fn(&str) -> bool) -> Vec<String> {
    types(events)
        .into_iter()
        .filter(|t| !transport_only(t))
        .map(str::to_owned)
        .collect()
}

pub fn ws_and_webrtc_tell_the_same_story_but_for_the_audio() {
    let settings = EngineSettings {
        audio_per_char: Duration::from_millis(60),
        ..instant()
    };
    let mut rtc = TestCall::open_over(Transport::WebRtc, settings).0;
    let mut over_rtc: Vec<Value> = vec![];
    while let Some((event, until)) = story(&over_rtc) {
        rtc.send(event);
        let events = rtc.until(until);
        // The track plays on after response.done; its end is the WebRTC-only `stopped`.
        let playing = types(&events).contains(&"output_audio_buffer.started");
        over_rtc.extend(events);
        if playing {
            over_rtc.extend(rtc.until("output_audio_buffer.stopped"));
        }
    }
    let over_ws = block_on(async {
        let app = EmulatorApp::start(config()).await;
        let (mut ws, _) = connect(&app).await;
        let mut all: Vec<Value> = vec![];
        while let Some((event, until)) = story(&all) {
            ws.send(&event).await;
            all.extend(ws.until(until).await);
        }
        all
    });
    assert_eq!(
        types(&over_rtc)
            .iter()
            .filter(|t| **t == "response.done")
            .count(),
        3
    );
    assert!(
        types(&over_rtc)
            .iter()
            .any(|t| t.starts_with("output_audio_buffer."))
    );
    assert!(types(&over_ws).contains(&"response.output_audio.delta"));
    assert_eq!(
        without(&over_rtc, |t| t.starts_with("output_audio_buffer.")),
        without(&over_ws, |t| t == "response.output_audio.delta"),
    );
}
