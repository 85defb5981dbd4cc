//! Conformance cases over real WebSockets: the emulator served on 127.0.0.1:0, a tokio-tungstenite client,
//! every server event checked against its schema. This file: the handshake, frames and how sessions end
//! (PROTOCOL §15.1–15.4, §15.8), with the helpers the audio cases (`ws_audio.rs`) share.

use std::future::Future;
use std::time::Duration;

use realtime_emulator::audio::Format;
use realtime_emulator::{EmulatorConfig, Pace, Scenario};
use realtime_testkit::emulator::{EmulatorApp, KEY};
use realtime_testkit::ws::{Auth, Closed, WsClient};
use serde_json::{Value, json};

use crate::WEATHER_TOOL;
use crate::common::audio::audio_bytes;
use crate::common::call::{text_in_audio_out_over_websocket, types, user_text};

/// Each case runs on its own runtime, so the conformance macro can call it like the engine's cases.
pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Instant pace with speech of realistic length: 60 ms per character, 100 ms per audio delta.
pub fn config() -> EmulatorConfig {
    EmulatorConfig {
        pace: Pace::Instant,
        ..EmulatorConfig::default()
    }
}

pub async fn connect(app: &EmulatorApp) -> (WsClient, Value) {
    let mut ws = WsClient::connect(&app.ws_url("?model=gpt-realtime"), Auth::Bearer(KEY)).await;
    let created = ws.expect("session.created").await;
    (ws, created)
}

pub fn transcript(done: &Value) -> String {
    let part = &done["response"]["output"][0]["content"][0];
    part["transcript"]
        .as_str()
        .or(part["text"].as_str())
        .unwrap()
        .to_owned()
}

pub fn ws_session_answers_events_sent_before_session_created_in_order() {
    block_on(async {
        let app = EmulatorApp::start(config()).await;
        let mut ws =
            WsClient::connect(&app.ws_url("?model=gpt-realtime-2.1"), Auth::Bearer(KEY)).await;
        assert_eq!(ws.protocol, None, "nothing offered, nothing selected");
        // As agents-js does: everything goes out as soon as the socket is open.
        ws.send(&json!({"type": "session.update", "event_id": "s1", "session": {"type": "realtime", "instructions": "Be brief."}}))
            .await;
        ws.send(&user_text("hello emulator")).await;
        ws.send(&json!({"type": "response.create"})).await;
        let created = ws.expect("session.created").await;
        assert_eq!(created["session"]["model"], "gpt-realtime-2.1");
        assert_eq!(
            created["session"]["audio"]["output"]["format"],
            json!({"type": "audio/pcm", "rate": 24000})
        );
        let updated = ws.expect("session.updated").await;
        assert_eq!(updated["session"]["instructions"], "Be brief.");
        let events = ws.until("response.done").await;
        let t = types(&events);
        assert!(t.contains(&"response.output_audio.delta"));
        let skeleton: Vec<_> = t
            .iter()
            .filter(|x| !x.ends_with(".delta"))
            .copied()
            .collect();
        assert_eq!(skeleton, text_in_audio_out_over_websocket());
        let said = transcript(events.last().unwrap());
        assert!(said.contains("hello emulator"), "{said}");
        // 60 ms of 24 kHz PCM16 per character.
        let pcm = Format::Pcm.decode(&audio_bytes(&events));
        assert_eq!(pcm.len(), said.chars().count() * 60 * 24);

        // A tool round trip.
        let tool: Value = serde_json::from_str(WEATHER_TOOL).unwrap();
        ws.send(
            &json!({"type": "session.update", "session": {"type": "realtime", "tools": [tool]}}),
        )
        .await;
        ws.expect("session.updated").await;
        ws.send(&user_text("Please get weather for Paris")).await;
        ws.send(&json!({"type": "response.create"})).await;
        let events = ws.until("response.done").await;
        let args = events
            .iter()
            .find(|e| e["type"] == "response.function_call_arguments.done")
            .expect("a function call");
        assert_eq!(args["name"], "get_weather");
        assert!(!types(&events).contains(&"response.output_audio.delta"));
        ws.send(
            &json!({"type": "conversation.item.create", "item": {"type": "function_call_output",
            "call_id": args["call_id"], "output": "{\"temp_c\":21}"}}),
        )
        .await;
        ws.until("conversation.item.done").await;
        ws.send(&json!({"type": "response.create"})).await;
        let done = ws.until("response.done").await.pop().unwrap();
        assert!(transcript(&done).contains("{\"temp_c\":21}"));
        assert_eq!(
            ws.close().await,
            Closed::Frame(1000, String::new()),
            "the server echoes the client's close"
        );
    });
}

pub fn ws_ephemeral_keys_open_their_session_by_header_or_subprotocol() {
    block_on(async {
        let app = EmulatorApp::start(config()).await;
        let minted = app
            .mint_ok(
                &json!({"session": {"type": "realtime", "instructions": "Speak like a pirate.",
                "audio": {"output": {"voice": "marin"}}}}),
            )
            .await;
        let ek = minted["value"].as_str().unwrap();
        // No model: the secret's session, model and all.
        let mut ws = WsClient::connect(&app.ws_url(""), Auth::Bearer(ek)).await;
        let created = ws.expect("session.created").await;
        assert_eq!(created["session"]["instructions"], "Speak like a pirate.");
        assert_eq!(created["session"]["audio"]["output"]["voice"], "marin");
        assert_ne!(
            created["session"]["id"], minted["session"]["id"],
            "each socket is its own session"
        );
        // A browser: the key in a subprotocol, `realtime` offered and selected.
        let mut ws =
            WsClient::connect(&app.ws_url("?model=gpt-realtime"), Auth::Subprotocol(ek)).await;
        assert_eq!(ws.protocol.as_deref(), Some("realtime"));
        let created = ws.expect("session.created").await;
        assert_eq!(created["session"]["audio"]["output"]["voice"], "marin");
        // agents-js in a browser adds its own marker; a standard key works the same way.
        let offered = format!("realtime, openai-insecure-api-key.{KEY}, openai-agents-sdk.0.20.0");
        let mut ws = WsClient::connect(
            &app.ws_url("?model=gpt-realtime"),
            Auth::Protocols(&offered),
        )
        .await;
        assert_eq!(ws.protocol.as_deref(), Some("realtime"));
        ws.expect("session.created").await;
    });
}

async fn refused(app: &EmulatorApp, query: &str, auth: Auth<'_>) -> (Value, Closed) {
    let mut ws = WsClient::connect(&app.ws_url(query), auth).await;
    let (events, closed) = ws.closed().await;
    assert_eq!(types(&events), ["error"], "{events:?}");
    assert!(events[0]["error"]["event_id"].is_null());
    (events[0]["error"].clone(), closed)
}

pub fn ws_refused_sockets_get_one_error_and_the_api_close_code() {
    block_on(async {
        let app = EmulatorApp::start(config()).await;
        let (e, closed) = refused(&app, "?model=gpt-realtime", Auth::Bearer("sk-")).await;
        assert_eq!(e["code"], "invalid_api_key");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .starts_with("Incorrect API key provided")
        );
        assert_eq!(
            closed,
            Closed::Frame(3000, "invalid_request_error.invalid_api_key".into())
        );
        let (e, closed) =
            refused(&app, "?model=gpt-realtime", Auth::Subprotocol("ek_unknown")).await;
        assert_eq!(e["code"], "invalid_api_key");
        assert_eq!(
            closed,
            Closed::Frame(3000, "invalid_request_error.invalid_api_key".into())
        );
        let (e, closed) = refused(&app, "?model=gpt-realtime", Auth::None).await;
        assert!(e["code"].is_null());
        assert_eq!(
            e["message"],
            "Missing bearer or basic authentication in header"
        );
        assert_eq!(closed, Closed::Frame(3000, "invalid_request_error".into()));

        let (e, closed) = refused(&app, "?model=gpt-4o", Auth::Bearer(KEY)).await;
        assert_eq!(e["code"], "invalid_model");
        assert_eq!(
            e["message"],
            "Model \"gpt-4o\" is not supported in realtime mode."
        );
        assert_eq!(
            closed,
            Closed::Frame(4000, "invalid_request_error.invalid_model".into())
        );
        let (e, closed) = refused(&app, "", Auth::Bearer(KEY)).await;
        assert_eq!(e["code"], "missing_model");
        assert_eq!(
            closed,
            Closed::Frame(4000, "invalid_request_error.missing_model".into())
        );
        let beta = format!("realtime, openai-beta.realtime-v1, openai-insecure-api-key.{KEY}");
        let (e, closed) = refused(&app, "?model=gpt-realtime", Auth::Protocols(&beta)).await;
        assert_eq!(e["code"], "beta_api_shape_disabled");
        assert_eq!(
            closed,
            Closed::Frame(4000, "invalid_request_error.beta_api_shape_disabled".into())
        );

        // Not an upgrade, or a sideband (none can attach yet): HTTP errors in the API's envelope.
        let plain = app
            .client
            .get(app.url("/v1/realtime?model=gpt-realtime"))
            .send()
            .await
            .unwrap();
        assert!(plain.status().is_client_error(), "{}", plain.status());
        let body: Value = plain.json().await.unwrap();
        realtime_testkit::schema::assert_valid("ErrorResponse", &body);
        let sideband = app
            .client
            .get(app.url("/v1/realtime?call_id=rtc_123"))
            .send()
            .await
            .unwrap();
        assert_eq!(sideband.status(), 404);
    });
}

pub fn ws_bad_frames_get_errors_and_the_session_stays_up() {
    block_on(async {
        let app = EmulatorApp::start(config()).await;
        let (mut ws, _) = connect(&app).await;
        ws.send_raw("{not json").await;
        assert_eq!(ws.expect("error").await["error"]["code"], "invalid_json");
        ws.send_binary(vec![1, 2, 3]).await;
        let e = ws.expect("error").await;
        assert_eq!(
            (e["error"]["code"].as_str(), e["error"]["message"].as_str()),
            (
                Some("invalid_event"),
                Some("Expected a text WebSocket message; binary frames are not supported.")
            )
        );
        // Frames over 1 MiB both ways: a 2 MiB message comes back in the item's events.
        let big = "word ".repeat(2 << 18);
        ws.send(&json!({"type": "conversation.item.create", "item": {"id": "item_big", "type": "message",
            "role": "user", "content": [{"type": "input_text", "text": big}]}}))
            .await;
        let added = ws.expect("conversation.item.added").await;
        assert_eq!(
            added["item"]["content"][0]["text"].as_str().map(str::len),
            Some(big.len())
        );
        ws.expect("conversation.item.done").await;
        ws.send(&json!({"type": "conversation.item.retrieve", "item_id": "item_big"}))
            .await;
        ws.expect("conversation.item.retrieved").await;
        // Beyond the emulator's 16 MiB, the socket closes with 1009.
        ws.send_raw(&" ".repeat(17 << 20)).await;
        let (events, closed) = ws.closed().await;
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(
            closed,
            Closed::Frame(1009, "message too big (over 16777216 bytes)".into())
        );
    });
}

pub fn ws_pings_expiry_and_drops_close_as_the_api_does() {
    block_on(async {
        let app = EmulatorApp::start(EmulatorConfig {
            ws_ping_interval: Duration::from_millis(50),
            max_session: Duration::from_secs(1),
            ..config()
        })
        .await;
        let (mut ws, _) = connect(&app).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        ws.send(&json!({"type": "input_audio_buffer.clear"})).await;
        ws.expect("input_audio_buffer.cleared").await;
        assert!(ws.pings > 0, "the server pings an idle session");
        let (events, closed) = ws.closed().await;
        assert_eq!(events.last().unwrap()["error"]["code"], "session_expired");
        assert!(matches!(closed, Closed::Frame(1001, _)), "{closed:?}");

        let dropping =
            Scenario::from_json(r#"{"rules": [{"match": {"text": "bye"}, "drop": true}]}"#)
                .unwrap();
        let app = EmulatorApp::start(EmulatorConfig {
            scenario: Some(dropping),
            ..config()
        })
        .await;
        let (mut ws, _) = connect(&app).await;
        ws.send(&user_text("bye")).await;
        ws.send(&json!({"type": "response.create"})).await;
        let (_, closed) = ws.closed().await;
        assert_eq!(
            closed,
            Closed::Abruptly,
            "a scripted drop cuts the connection"
        );
    });
}
