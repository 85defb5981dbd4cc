//! The official Python SDK (`openai`, pinned in tests/clients/python/requirements.txt) against the emulator,
//! unchanged: only its `base_url` points here. Needs the test venv that `just test` makes. The realtime
//! scripts print every raw server event they received, and each is checked here against its schema.

mod common;

use std::time::Duration;

use common::call::types;
use realtime_emulator::{EmulatorConfig, Pace};
use realtime_testkit::clients::python;
use realtime_testkit::emulator::{EmulatorApp, KEY};
use realtime_testkit::peer::PeerCall;
use realtime_testkit::schema::schemas;
use serde_json::{Value, json};

/// Everything at once, and short speech.
fn instant() -> EmulatorConfig {
    EmulatorConfig {
        pace: Pace::Instant,
        audio_per_char: Duration::from_millis(1),
        ..EmulatorConfig::default()
    }
}

/// The raw server events a script received, each checked against its schema.
fn checked_events(got: &Value) -> Vec<Value> {
    let events = got["events"]
        .as_array()
        .expect("the script's events")
        .clone();
    assert!(!events.is_empty(), "{got}");
    for e in &events {
        schemas().check_server_event(e);
    }
    events
}

#[tokio::test]
async fn client_secrets_calls_and_hangup() {
    let app = EmulatorApp::start(EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let offer = dir.path().join("offer.sdp");
    std::fs::write(&offer, realtime_emulator::rtc::CHROMIUM_OFFER).unwrap();
    let got = python("rest.py", &[&app.base, offer.to_str().unwrap()]).await;
    assert_eq!(got["secret_prefix"], "ek_", "{got}");
    assert_eq!(got["instructions"], "Be brief.", "{got}");
    assert_eq!(got["voice"], "marin", "{got}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expires_at = got["expires_at"].as_i64().unwrap();
    assert!((now + 100..=now + 130).contains(&expires_at), "{got}");
    assert_eq!(got["status"], 201, "{got}");
    assert_eq!(got["content_type"], "application/sdp", "{got}");
    assert!(
        got["call_id"].as_str().unwrap().starts_with("rtc_"),
        "{got}"
    );
    assert_eq!(got["answer_starts"], "v=0\r", "{got}");
    assert_eq!(
        got["second_hangup"],
        json!({"status": 404, "code": "call_not_found"}),
        "the call is gone after the first hangup: {got}"
    );
}

#[tokio::test]
async fn sip_call_control_raises_not_found_or_bad_request_with_the_code() {
    let app = EmulatorApp::start(EmulatorConfig::default()).await;
    let call_id = &app.offered_call().await;

    let got = python("sip.py", &[&app.base, call_id]).await;
    for action in ["accept", "reject", "refer"] {
        assert_eq!(
            got["unknown"][action],
            json!({"error": "NotFoundError", "status": 404, "code": "call_not_found", "param": "call_id"}),
            "{action}: {got}"
        );
        assert_eq!(
            got["webrtc"][action],
            json!({"error": "BadRequestError", "status": 400, "code": "not_sip_call", "param": "call_id"}),
            "{action}: {got}"
        );
    }
    // The WebRTC call is still up: it hangs up once.
    assert_eq!(app.hangup(KEY, call_id).await.status(), 200);
}

#[tokio::test]
async fn incoming_sip_calls_verified_with_webhooks_unwrap_then_accepted_rejected_and_referred() {
    let secret = "whsec_cHl0aG9uLXNkay1zaXAtc2VjcmV0";
    let app = EmulatorApp::start(EmulatorConfig {
        sip_webhook_secret: Some(realtime_emulator::sip::WebhookSecret::parse(secret).unwrap()),
        ..instant()
    })
    .await;
    let got = python("sip_incoming.py", &[&app.base, secret]).await;
    assert!(
        got["unwrapped_call_id"]
            .as_str()
            .unwrap()
            .starts_with("rtc_"),
        "{got}"
    );
    assert_eq!(
        got["sip_headers"][0],
        json!({"name": "From", "value": "sip:+15550001111@carrier.example"}),
        "{got}"
    );
    // The SDK refuses what was not signed with the secret, or was signed too long ago.
    for (case, message) in [
        (
            "tampered",
            "The given webhook signature does not match the expected signature",
        ),
        ("old", "Webhook timestamp is too old"),
        (
            "wrong_secret",
            "The given webhook signature does not match the expected signature",
        ),
    ] {
        assert_eq!(
            got["refused_deliveries"][case],
            json!({"invalid_signature": message}),
            "{case}: {got}"
        );
    }
    let bad = |code: &str, param: &str| json!({"status": 400, "code": code, "param": param});
    let gone = json!({"status": 404, "code": "call_not_found", "param": "call_id"});
    assert_eq!(
        got["bad_accept"],
        bad(
            "unsupported_for_sip",
            "audio.input.turn_detection.silence_duration_ms"
        ),
        "{got}"
    );
    assert_eq!(
        got["second_accept"],
        bad("call_already_accepted", "call_id"),
        "{got}"
    );
    assert_eq!(got["instructions"], "Answer the phone.", "{got}");
    assert!(!got["transcript"].as_str().unwrap().is_empty(), "{got}");
    assert_eq!(got["dtmf"], "7", "{got}");
    assert_eq!(got["hangup_close"], 1000, "{got}");
    assert_eq!(got["after_hangup"], gone, "{got}");
    assert_eq!(
        got["bad_reject"],
        bad("integer_below_min_value", "status_code"),
        "{got}"
    );
    assert_eq!(got["after_reject"], gone, "{got}");
    assert_eq!(
        got["refer_ringing"],
        bad("call_not_accepted", "call_id"),
        "{got}"
    );
    assert_eq!(
        got["bad_refer"],
        bad("invalid_value", "target_uri"),
        "{got}"
    );
    assert_eq!(got["refer_close"], 1000, "{got}");
    assert_eq!(got["after_refer"], gone, "{got}");
    let events = checked_events(&got);
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "input_audio_buffer.dtmf_event_received"),
        "{got}"
    );
}

#[tokio::test]
async fn realtime_connect_text_turn_and_tool_round_trip() {
    let app = EmulatorApp::start(instant()).await;
    let got = python("realtime_ws.py", &[&app.base]).await;
    let events = checked_events(&got);
    assert_eq!(got["model"], "gpt-realtime");
    assert_eq!(got["modalities"], json!(["text"]));
    assert_eq!(got["tools"], json!(["get_weather"]));
    assert!(
        got["answer"].as_str().unwrap().contains("hello there"),
        "{}",
        got["answer"]
    );
    assert_eq!(got["deltas"], got["answer"], "the deltas make up the text");
    assert_eq!(got["call"]["type"], "function_call");
    assert_eq!(got["call"]["name"], "get_weather");
    assert!(got["call"]["arguments"]["location"].is_string(), "{got}");
    assert_eq!(got["call_status"], "completed");
    let final_answer = got["final"].as_str().unwrap();
    assert!(
        final_answer.contains("21") && final_answer.contains("clear"),
        "the answer quotes the tool's output: {final_answer}"
    );
    let t = types(&events);
    assert_eq!(t[0], "session.created");
    assert!(
        t.contains(&"response.function_call_arguments.done"),
        "{t:?}"
    );
    assert!(!t.contains(&"error"), "{t:?}");
}

#[tokio::test]
async fn realtime_connect_audio_turn_with_server_vad() {
    let app = EmulatorApp::start(instant()).await;
    let (lead, speech, trail) = (1000, 600, 1000);
    let got = python(
        "realtime_audio.py",
        &[
            &app.base,
            &lead.to_string(),
            &speech.to_string(),
            &trail.to_string(),
        ],
    )
    .await;
    let events = checked_events(&got);
    let t = types(&events);
    let at = |ty: &str| {
        t.iter()
            .position(|x| *x == ty)
            .unwrap_or_else(|| panic!("no {ty}: {t:?}"))
    };
    assert!(at("input_audio_buffer.speech_started") < at("input_audio_buffer.speech_stopped"));
    assert!(at("input_audio_buffer.speech_stopped") < at("input_audio_buffer.committed"));
    assert!(at("input_audio_buffer.committed") < at("response.created"));
    assert_eq!(got["same_item"], true, "{got}");
    assert_eq!(got["response_status"], "completed");
    assert!(
        got["answer"].as_str().is_some_and(|a| !a.is_empty()),
        "{got}"
    );

    // Positions in the appended audio: the speech began `lead` ms in (less the prefix padding) and
    // ended `speech` ms later, to within one 20 ms frame.
    let vad = &got["turn_detection"];
    assert_eq!(vad["type"], "server_vad");
    let padding = vad["prefix_padding_ms"].as_i64().unwrap();
    let start = got["audio_start_ms"].as_i64().unwrap();
    let end = got["audio_end_ms"].as_i64().unwrap();
    assert!(
        (start - (lead - padding)).abs() <= 20,
        "audio_start_ms {start}, padding {padding}"
    );
    assert!((end - (lead + speech)).abs() <= 20, "audio_end_ms {end}");
}

#[tokio::test]
async fn a_sideband_on_a_live_webrtc_call_makes_it_speak() {
    let app = EmulatorApp::start(instant()).await;
    let (mut call, created) = PeerCall::start(&app).await;
    let call_id = call.call_id.clone();
    let args = [app.base.as_str(), call_id.as_str()];
    let (got, heard) = tokio::join!(python("sideband.py", &args), async {
        let updated = call.expect("session.updated").await;
        let turn = call.until("output_audio_buffer.stopped").await;
        (updated, turn)
    });
    let events = checked_events(&got);
    let (updated, turn) = heard;

    // The call's data channel carries what the sideband asked for.
    assert_eq!(updated["session"]["instructions"], "Greet the caller.");
    assert_eq!(updated["session"]["id"], created["session"]["id"]);
    let done = turn.iter().find(|e| e["type"] == "response.done").unwrap();
    assert_eq!(done["response"]["id"], got["response_id"]);
    assert_eq!(done["response"]["metadata"], json!({"from": "sideband"}));
    assert_eq!(got["metadata"], json!({"from": "sideband"}));
    assert!(
        got["transcript"].as_str().is_some_and(|t| !t.is_empty()),
        "{got}"
    );

    // And the sideband saw the call's own event stream: no greeting, playback events, no audio deltas.
    let t = types(&events);
    assert_eq!(t[0], "session.updated", "{t:?}");
    assert!(!t.contains(&"session.created"), "{t:?}");
    assert!(t.contains(&"output_audio_buffer.started"), "{t:?}");
    assert!(!t.contains(&"response.output_audio.delta"), "{t:?}");
    assert_eq!(&t[1..], types(&turn), "the same events, in the same order");
}
