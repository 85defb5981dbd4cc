//! Conformance cases for transcription-only sessions (PROTOCOL §15.6): `?intent=transcription` sockets and
//! ephemeral keys minted for them, their session object, what an update may change, turns from appended
//! audio (VAD or manual commit) that end in a transcript and never in a response.

use realtime_emulator::Scenario;
use realtime_emulator::audio::Format;
use realtime_emulator::engine::testing::transcribed_turn;
use realtime_emulator::engine::{EngineSettings, Transport};
use realtime_emulator::session::Session;
use realtime_testkit::emulator::{EmulatorApp, KEY};
use realtime_testkit::schema::assert_valid;
use realtime_testkit::ws::{Auth, Closed, WsClient};
use serde_json::{Value, json};

use crate::common::audio::{appends, silence, tone};
use crate::common::call::{TestCall, instant, types};
use crate::ws::{block_on, config};

const LOUD: u8 = 30;
const QUIET: u8 = 127;

async fn open_intent(app: &EmulatorApp) -> (WsClient, Value) {
    let mut ws = WsClient::connect(&app.ws_url("?intent=transcription"), Auth::Bearer(KEY)).await;
    let created = ws.expect("session.created").await;
    (ws, created)
}

fn update(input: Value) -> Value {
    json!({"type": "session.update", "session": {"type": "transcription", "audio": {"input": input}}})
}

/// Nothing else is on its way: the next event answers a `clear` sent now.
async fn nothing_more(ws: &mut WsClient) {
    ws.send(&json!({"type": "input_audio_buffer.clear"})).await;
    ws.expect("input_audio_buffer.cleared").await;
}

pub fn ws_intent_socket_opens_a_transcription_session() {
    block_on(async {
        let app = EmulatorApp::start(config()).await;
        let (mut ws, created) = open_intent(&app).await;
        let s = &created["session"];
        assert_valid("RealtimeTranscriptionSessionCreateResponseGA", s);
        assert_eq!(
            (&s["type"], &s["object"]),
            (
                &json!("transcription"),
                &json!("realtime.transcription_session")
            )
        );
        assert!(s["id"].as_str().unwrap().starts_with("sess_"), "{s}");
        assert!(s["expires_at"].as_i64().unwrap() > 0);
        assert_eq!(
            s["audio"]["input"]["format"],
            json!({"type": "audio/pcm", "rate": 24000})
        );
        assert_eq!(
            s["audio"]["input"]["turn_detection"],
            json!({"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200})
        );
        for absent in ["model", "instructions", "tools", "output_modalities"] {
            assert!(s.get(absent).is_none(), "{absent} in {s}");
        }
        assert!(s["audio"].get("output").is_none(), "{s}");

        ws.send(&update(
            json!({"transcription": {"model": "gpt-4o-transcribe", "language": "en"},
            "turn_detection": {"silence_duration_ms": 500}}),
        ))
        .await;
        let updated = ws.expect("session.updated").await;
        let input = &updated["session"]["audio"]["input"];
        assert_eq!(input["transcription"]["model"], "gpt-4o-transcribe");
        assert_eq!(input["turn_detection"]["silence_duration_ms"], 500);
        assert_eq!(input["turn_detection"]["threshold"], 0.5);
        assert_eq!(updated["session"]["id"], s["id"]);

        // Refused, each with one error, and the session stays as it was.
        let refusals = [
            (
                json!({"type": "session.update", "event_id": "u1", "session": {"type": "realtime", "instructions": "Hi."}}),
                "invalid_value",
                "session.type",
            ),
            (
                json!({"type": "transcription_session.update", "event_id": "u2", "session": {
                    "input_audio_format": "pcm16", "input_audio_transcription": {"model": "whisper-1"}}}),
                "invalid_value",
                "type",
            ),
            (
                json!({"type": "session.update", "event_id": "u3", "session": {"type": "transcription",
                    "input_audio_format": "pcm16"}}),
                "unknown_parameter",
                "session.input_audio_format",
            ),
            (
                json!({"type": "session.update", "event_id": "u4", "session": {"type": "transcription",
                    "audio": {"output": {"voice": "marin"}}}}),
                "unknown_parameter",
                "session.audio.output",
            ),
            (
                json!({"type": "response.create", "event_id": "u5"}),
                "invalid_value",
                "type",
            ),
        ];
        for (event, code, param) in refusals {
            let e = ws.expect_error(&event).await;
            assert_eq!(
                (
                    e["code"].as_str(),
                    e["param"].as_str(),
                    e["event_id"].as_str()
                ),
                (Some(code), Some(param), event["event_id"].as_str()),
                "{event}"
            );
        }
        ws.send(&json!({"type": "session.update", "session": {"type": "transcription"}}))
            .await;
        let again = ws.expect("session.updated").await;
        assert_eq!(again["session"], updated["session"]);
        assert_eq!(ws.close().await, Closed::Frame(1000, String::new()));
    });
}

pub fn ws_transcription_vad_turn_from_appended_audio() {
    block_on(async {
        let app = EmulatorApp::start(config()).await;
        let (mut ws, _) = open_intent(&app).await;
        ws.send(&update(
            json!({"transcription": {"model": "gpt-4o-transcribe"}}),
        ))
        .await;
        ws.expect("session.updated").await;
        let mut audio = silence(1000, 24_000);
        audio.extend(tone(500, 24_000));
        audio.extend(silence(1000, 24_000));
        for append in appends(&audio, Format::Pcm, 30) {
            ws.send(&append).await;
        }
        let events = ws
            .until("conversation.item.input_audio_transcription.completed")
            .await;
        assert_eq!(types(&events), transcribed_turn(3));
        let item_id = &events[0]["item_id"];
        assert_eq!(events[0]["audio_start_ms"], 700);
        assert_eq!(events[1]["audio_end_ms"], 1500);
        assert_eq!(events[2]["item_id"], *item_id);
        assert!(events[2]["previous_item_id"].is_null());
        let item = &events[4]["item"];
        assert_eq!(
            (&item["id"], &item["role"], &item["content"][0]["type"]),
            (item_id, &json!("user"), &json!("input_audio"))
        );
        let deltas: String = events[5..8]
            .iter()
            .map(|e| e["delta"].as_str().unwrap())
            .collect();
        let completed = &events[8];
        assert_eq!(completed["transcript"], "[speech 0.8 s]");
        assert_eq!(
            deltas, "[speech 0.8 s]",
            "the deltas add up to the transcript"
        );
        assert_eq!(
            (&completed["item_id"], &completed["content_index"]),
            (item_id, &json!(0))
        );
        assert_eq!(
            completed["usage"],
            json!({"type": "tokens", "input_tokens": 8, "output_tokens": 4, "total_tokens": 12,
                "input_token_details": {"text_tokens": 0, "audio_tokens": 8}})
        );
        // No response, no rate limits: the trailing silence is all there was.
        nothing_more(&mut ws).await;
        ws.send(&json!({"type": "conversation.item.retrieve", "item_id": item_id}))
            .await;
        let stored = ws.expect("conversation.item.retrieved").await;
        assert_eq!(stored["item"]["content"][0]["transcript"], "[speech 0.8 s]");
    });
}

pub fn ws_transcription_manual_commit_with_whisper() {
    block_on(async {
        let app = EmulatorApp::start(config()).await;
        let (mut ws, _) = open_intent(&app).await;
        ws.send(&update(json!({"format": {"type": "audio/pcmu"},
            "transcription": {"model": "whisper-1"}, "turn_detection": null})))
            .await;
        let updated = ws.expect("session.updated").await;
        assert!(updated["session"]["audio"]["input"]["turn_detection"].is_null());
        let mut previous = Value::Null;
        for ms in [600, 1400] {
            for append in appends(&tone(ms, 8_000), Format::Pcmu, 20) {
                ws.send(&append).await;
            }
            ws.send(&json!({"type": "input_audio_buffer.commit"})).await;
            let events = ws
                .until("conversation.item.input_audio_transcription.completed")
                .await;
            assert_eq!(types(&events), transcribed_turn(1)[2..].to_vec());
            let item_id = events[0]["item_id"].clone();
            assert_eq!(events[0]["previous_item_id"], previous);
            let said = format!("[speech {:.1} s]", ms as f64 / 1000.0);
            assert_eq!(
                events[3]["delta"],
                said.as_str(),
                "whisper-1: one delta a turn"
            );
            assert_eq!(events[4]["transcript"], said.as_str());
            assert_eq!(
                events[4]["usage"],
                json!({"type": "duration", "seconds": ms as f64 / 1000.0})
            );
            previous = item_id;
        }
        nothing_more(&mut ws).await;
        // An empty buffer cannot be committed, here as in a conversation.
        let e = ws
            .expect_error(&json!({"type": "input_audio_buffer.commit"}))
            .await;
        assert_eq!(e["code"], "input_audio_buffer_commit_empty");
    });
}

pub fn ws_ephemeral_keys_minted_for_transcription_open_transcription_sessions() {
    block_on(async {
        let app = EmulatorApp::start(config()).await;
        let minted = app
            .mint_ok(&json!({"session": {"type": "transcription", "audio": {"input": {
                "transcription": {"model": "gpt-4o-mini-transcribe"}, "noise_reduction": {"type": "near_field"}}}}}))
            .await;
        assert_eq!(minted["session"]["type"], "transcription");
        let ek = minted["value"].as_str().unwrap();
        // No intent: the secret's type, by header or by subprotocol.
        for auth in [Auth::Bearer(ek), Auth::Subprotocol(ek)] {
            let mut ws = WsClient::connect(&app.ws_url(""), auth).await;
            let created = ws.expect("session.created").await;
            let s = &created["session"];
            assert_eq!(s["type"], "transcription");
            assert_eq!(
                s["audio"]["input"]["transcription"]["model"],
                "gpt-4o-mini-transcribe"
            );
            assert_eq!(s["audio"]["input"]["noise_reduction"]["type"], "near_field");
            assert_ne!(s["id"], minted["session"]["id"]);
        }
        let mut ws =
            WsClient::connect(&app.ws_url("?intent=transcription"), Auth::Bearer(ek)).await;
        ws.expect("session.created").await;

        // An intent that contradicts the secret is refused, as an unknown intent is.
        let mut ws = WsClient::connect(&app.ws_url("?intent=realtime"), Auth::Bearer(ek)).await;
        let (events, closed) = ws.closed().await;
        assert_eq!(types(&events), ["error"]);
        assert_eq!(events[0]["error"]["code"], "invalid_value");
        assert_eq!(
            closed,
            Closed::Frame(4000, "invalid_request_error.invalid_value".into())
        );
        let conversation = app.ephemeral_key().await;
        let mut ws = WsClient::connect(
            &app.ws_url("?intent=transcription"),
            Auth::Bearer(&conversation),
        )
        .await;
        let (_, closed) = ws.closed().await;
        assert_eq!(
            closed,
            Closed::Frame(4000, "invalid_request_error.invalid_value".into())
        );
    });
}

/// The same turn on the virtual clock, from WebRTC packet levels: the exact sequence, and nothing after it
/// however long the call goes on.
pub fn transcription_turn_from_the_track_ends_in_a_transcript_not_a_response() {
    let session = Session::create(
        Some(&json!({"type": "transcription", "audio": {"input": {"transcription": {"model": "gpt-live-transcribe"}}}})),
        "session",
    )
    .unwrap();
    let scenario = Scenario::from_json(
        r#"{"rules": [{"match": {"turn": 2}, "transcription_error": {"type": "invalid_request_error",
            "code": "audio_unintelligible", "message": "Could not transcribe (scripted)."}}]}"#,
    )
    .unwrap();
    let settings = EngineSettings {
        scenario: Some(scenario),
        ..instant()
    };
    let (mut call, created) = TestCall::open_session(session, Transport::WebRtc, settings);
    assert_eq!(created["session"]["type"], "transcription");
    call.level(QUIET, 20, 20);
    call.level(LOUD, 20, 50);
    call.level(QUIET, 20, 15);
    let events = call.pending_events();
    assert_eq!(types(&events), transcribed_turn(3));
    let completed = events.last().unwrap();
    assert_eq!(completed["transcript"], "[speech 1.3 s]");
    assert_eq!(
        completed["usage"],
        json!({"type": "duration", "seconds": 1.3})
    );
    call.advance_ms(60_000);
    assert!(call.pending_events().is_empty());
    // A scenario's second turn fails to transcribe, as scripted; it is still committed.
    call.level(LOUD, 20, 25);
    call.level(QUIET, 20, 10);
    let events = call.pending_events();
    assert_eq!(
        types(&events)[2..],
        [
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
            "conversation.item.input_audio_transcription.failed",
        ]
    );
    assert_eq!(events[5]["error"]["code"], "audio_unintelligible");
    assert_eq!(events[2]["previous_item_id"], completed["item_id"]);
    assert!(
        call.audio.is_empty(),
        "a transcription session plays nothing"
    );
    let e = call.expect_error(json!({"type": "response.create"}));
    assert_eq!(e["code"], "invalid_value");
}
