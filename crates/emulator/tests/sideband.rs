//! Sideband sockets (`GET /v1/realtime?call_id=rtc_…`, PROTOCOL §15.4) attached to real WebRTC calls: a
//! str0m peer holds the call (its `oai-events` channel is what the user's app sees), a tokio-tungstenite
//! client is the server's sideband, and every server event either receives is checked against its schema.

mod common;

use std::time::Duration;

use common::call::{types, user_text};
use realtime_emulator::{EmulatorConfig, Pace};
use realtime_testkit::emulator::{EmulatorApp, KEY, expect_error};
use realtime_testkit::peer::{Heard, PeerCall};
use realtime_testkit::ws::{Auth, Closed, WsClient};
use serde_json::{Value, json};

/// Everything at once, and short speech, so the playback events come soon.
fn config() -> EmulatorConfig {
    EmulatorConfig {
        pace: Pace::Instant,
        audio_per_char: Duration::from_millis(1),
        ..EmulatorConfig::default()
    }
}

fn sideband_url(app: &EmulatorApp, call_id: &str) -> String {
    app.ws_url(&format!("?call_id={call_id}"))
}

async fn attach(app: &EmulatorApp, call_id: &str) -> WsClient {
    WsClient::connect(&sideband_url(app, call_id), Auth::Bearer(KEY)).await
}

/// A sideband handshake the emulator refuses before any upgrade: what a WebSocket client sees (the
/// status), and the API's error envelope in the body, which is returned (checked against its schema).
async fn refused(app: &EmulatorApp, call_id: &str, key: &str, status: u16, code: &str) -> Value {
    assert_eq!(
        WsClient::refused(&sideband_url(app, call_id), Auth::Bearer(key)).await,
        status
    );
    let res = app
        .client
        .get(format!("{}/realtime?call_id={call_id}", app.base))
        .bearer_auth(key)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    expect_error(res, status, Some(code)).await
}

/// The server events of a response to the end of its playback, as the call's channel carries them.
async fn until_playback_ends(ws: &mut WsClient) -> Vec<Value> {
    ws.until("output_audio_buffer.stopped").await
}

#[tokio::test]
async fn a_sideband_hears_the_call_from_the_moment_it_attaches() {
    let app = EmulatorApp::start(config()).await;
    let (mut call, _) = PeerCall::start(&app).await;
    // History the sideband must not be sent: a whole turn before it attaches.
    call.send(&user_text("before the sideband")).await;
    call.send(&json!({"type": "response.create"})).await;
    call.until("output_audio_buffer.stopped").await;

    let mut sideband = attach(&app, &call.call_id).await;
    call.send(&user_text("after the sideband")).await;
    let added = sideband.expect("conversation.item.added").await;
    assert_eq!(
        added["item"]["content"][0]["text"], "after the sideband",
        "the first event a sideband gets is the first after it attached: no session.created, no replay"
    );
    assert_eq!(
        call.expect("conversation.item.added").await["item"],
        added["item"]
    );

    // The call's own response is the sideband's to watch, as the call's channel carries it: playback
    // events, and no audio deltas (the audio rides the call's track).
    call.send(&json!({"type": "response.create"})).await;
    let watched = until_playback_ends(&mut sideband).await;
    let t = types(&watched);
    assert!(t.contains(&"output_audio_buffer.started"), "{t:?}");
    assert!(t.contains(&"response.done"), "{t:?}");
    assert!(!t.contains(&"response.output_audio.delta"), "{t:?}");
    let heard = call.until("output_audio_buffer.stopped").await;
    assert_eq!(
        types(&heard),
        t,
        "the sideband sees what the call's channel carries"
    );
}

#[tokio::test]
async fn a_sidebands_client_events_act_on_the_call() {
    let app = EmulatorApp::start(config()).await;
    let (mut call, _) = PeerCall::start(&app).await;
    let mut sideband = attach(&app, &call.call_id).await;

    sideband
        .send(
            &json!({"type": "session.update", "session": {"type": "realtime",
            "instructions": "Speak like a pirate.", "audio": {"output": {"voice": "marin"}}}}),
        )
        .await;
    let updated = call.expect("session.updated").await;
    assert_eq!(updated["session"]["instructions"], "Speak like a pirate.");
    assert_eq!(updated["session"]["audio"]["output"]["voice"], "marin");
    assert_eq!(
        sideband.expect("session.updated").await["session"],
        updated["session"]
    );

    sideband.send(&user_text("hello from the server")).await;
    sideband.send(&json!({"type": "response.create"})).await;
    let heard = call.until("output_audio_buffer.stopped").await;
    let done = heard.iter().find(|e| e["type"] == "response.done").unwrap();
    assert_eq!(done["response"]["status"], "completed");
    let transcript = done["response"]["output"][0]["content"][0]["transcript"]
        .as_str()
        .unwrap();
    assert!(
        transcript.contains("hello from the server"),
        "the call hears the answer to what the sideband said: {transcript}"
    );
    let watched = until_playback_ends(&mut sideband).await;
    assert_eq!(types(&watched), types(&heard));
}

#[tokio::test]
async fn a_sideband_cancels_the_calls_response() {
    // Realistic pace: the answer takes its time, so the cancel lands in the middle of it.
    let app = EmulatorApp::start(EmulatorConfig {
        pace: Pace::Realistic,
        ..config()
    })
    .await;
    let (mut call, _) = PeerCall::start(&app).await;
    let mut sideband = attach(&app, &call.call_id).await;
    let words = "one two three four five six seven eight nine ten ".repeat(10);
    call.send(&user_text(&words)).await;
    call.send(&json!({"type": "response.create"})).await;
    let created = sideband.until("response.created").await;
    let response_id = created.last().unwrap()["response"]["id"].clone();

    sideband
        .send(&json!({"type": "response.cancel", "response_id": response_id}))
        .await;
    let heard = call.until("response.done").await;
    let done = heard.last().unwrap();
    assert_eq!(done["response"]["status"], "cancelled", "{done:#}");
    assert_eq!(
        done["response"]["status_details"]["reason"],
        "client_cancelled"
    );
    let watched = sideband.until("response.done").await;
    assert_eq!(watched.last().unwrap()["response"]["status"], "cancelled");
}

#[tokio::test]
async fn an_error_goes_to_the_peer_whose_event_caused_it() {
    let app = EmulatorApp::start(config()).await;
    let (mut call, _) = PeerCall::start(&app).await;
    let mut sideband = attach(&app, &call.call_id).await;

    let e = sideband
        .expect_error(&json!({"type": "response.bogus", "event_id": "sb-1"}))
        .await;
    assert_eq!(e["code"], "invalid_value");
    assert_eq!(e["event_id"], "sb-1");
    let e = sideband
        .expect_error(
            &json!({"type": "conversation.item.delete", "event_id": "sb-2",
            "item_id": "item_nope"}),
        )
        .await;
    assert_eq!(e["event_id"], "sb-2");

    let e = {
        call.send(
            &json!({"type": "conversation.item.retrieve", "event_id": "call-1",
            "item_id": "item_nope"}),
        )
        .await;
        call.expect("error").await["error"].clone()
    };
    assert_eq!(e["event_id"], "call-1");

    // Neither heard the other's errors: the next thing both hear is this item.
    call.send(&user_text("still here")).await;
    assert_eq!(
        call.expect("conversation.item.added").await["item"]["content"][0]["text"],
        "still here"
    );
    assert_eq!(
        sideband.expect("conversation.item.added").await["item"]["content"][0]["text"],
        "still here"
    );
}

#[tokio::test]
async fn several_sidebands_attach_up_to_the_limit() {
    let app = EmulatorApp::start(EmulatorConfig {
        max_sidebands_per_call: 2,
        ..config()
    })
    .await;
    let (mut call, _) = PeerCall::start(&app).await;
    let mut first = attach(&app, &call.call_id).await;
    let mut second = attach(&app, &call.call_id).await;
    let e = refused(&app, &call.call_id, KEY, 429, "sideband_limit_reached").await;
    assert!(e["message"].as_str().unwrap().contains('2'), "{e}");

    first.send(&user_text("from the first")).await;
    first.send(&json!({"type": "response.create"})).await;
    let a = first.until("response.done").await;
    let b = second.until("response.done").await;
    let c = call.until("response.done").await;
    assert_eq!(types(&a), types(&b));
    assert_eq!(types(&a), types(&c));
    assert_eq!(a.last().unwrap()["response"], c.last().unwrap()["response"]);
}

#[tokio::test]
async fn unknown_and_ended_calls_are_refused_with_404_before_the_upgrade() {
    let app = EmulatorApp::start(config()).await;
    let e = refused(&app, "rtc_u1_0123456789abcdef", KEY, 404, "call_not_found").await;
    assert_eq!(e["param"], "call_id");

    let (call, _) = PeerCall::start(&app).await;
    assert_eq!(app.hangup(KEY, &call.call_id).await.status(), 200);
    refused(&app, &call.call_id, KEY, 404, "call_not_found").await;
}

#[tokio::test]
async fn keys_a_sideband_cannot_use_are_refused() {
    let app = EmulatorApp::start(config()).await;
    let (mut call, _) = PeerCall::start(&app).await;

    let ek = app.ephemeral_key().await;
    let e = refused(&app, &call.call_id, &ek, 403, "ephemeral_key_not_allowed").await;
    assert!(e["message"].as_str().unwrap().contains("standard"), "{e}");

    // A wrong standard key is refused as on any socket: after the 101, with an `error` and 3000.
    let mut wrong =
        WsClient::connect(&sideband_url(&app, &call.call_id), Auth::Bearer("nope")).await;
    let (events, closed) = wrong.closed().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["error"]["code"], "invalid_api_key");
    assert_eq!(
        closed,
        Closed::Frame(3000, "invalid_request_error.invalid_api_key".into())
    );

    // The call heard none of it.
    call.send(&user_text("unbothered")).await;
    call.expect("conversation.item.added").await;
}

#[tokio::test]
async fn the_call_ending_closes_each_sideband_with_1000() {
    let app = EmulatorApp::start(config()).await;

    // Hangup.
    let (mut call, _) = PeerCall::start(&app).await;
    let mut first = attach(&app, &call.call_id).await;
    let mut second = attach(&app, &call.call_id).await;
    assert_eq!(app.hangup(KEY, &call.call_id).await.status(), 200);
    assert_eq!(first.closed().await.1, Closed::Frame(1000, String::new()));
    assert_eq!(second.closed().await.1, Closed::Frame(1000, String::new()));
    call.closed().await;

    // The peer goes away.
    let (mut call, _) = PeerCall::start(&app).await;
    let mut sideband = attach(&app, &call.call_id).await;
    call.leave().await;
    assert!(matches!(call.next().await, Heard::Closed));
    assert_eq!(
        sideband.closed().await.1,
        Closed::Frame(1000, String::new())
    );
    // And the call is gone for new sidebands.
    refused(&app, &call.call_id, KEY, 404, "call_not_found").await;
}

#[tokio::test]
async fn a_sideband_leaving_changes_nothing_for_the_call() {
    let app = EmulatorApp::start(config()).await;
    let (mut call, _) = PeerCall::start(&app).await;
    let sideband = attach(&app, &call.call_id).await;
    assert_eq!(sideband.close().await, Closed::Frame(1000, String::new()));
    call.send(&user_text("carry on")).await;
    call.send(&json!({"type": "response.create"})).await;
    let heard = call.until("response.done").await;
    assert_eq!(heard.last().unwrap()["response"]["status"], "completed");
}

#[tokio::test]
async fn session_created_greets_a_sideband_only_when_configured() {
    let app = EmulatorApp::start(EmulatorConfig {
        sideband_session_created: true,
        ..config()
    })
    .await;
    let (mut call, created) = PeerCall::start(&app).await;
    let mut sideband = attach(&app, &call.call_id).await;
    let greeted = sideband.expect("session.created").await;
    assert_eq!(greeted["session"]["id"], created["session"]["id"]);
    assert_eq!(greeted["session"]["model"], created["session"]["model"]);

    // The call itself is not greeted again.
    call.send(&user_text("once")).await;
    call.expect("conversation.item.added").await;
    sideband.expect("conversation.item.added").await;
}

#[tokio::test]
async fn sidebands_are_served_under_the_consoles_mount_too() {
    let app = EmulatorApp::mounted_at(config(), "/emulator/v1").await;
    let (mut call, _) = PeerCall::start(&app).await;
    let mut sideband = attach(&app, &call.call_id).await;
    sideband.send(&json!({"type": "response.create"})).await;
    let heard = call.until("response.done").await;
    assert_eq!(heard.last().unwrap()["response"]["status"], "completed");
    sideband.until("response.done").await;
    refused(&app, "rtc_unknown", KEY, 404, "call_not_found").await;
}
