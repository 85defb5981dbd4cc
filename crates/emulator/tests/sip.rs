//! Incoming SIP calls end to end (PROTOCOL §15.7): a call is injected with the emulator-only
//! `POST /v1/emulator/sip/calls`, its signed `realtime.call.incoming` webhook reaches a real HTTP receiver
//! here (which checks the signature itself), and the call-control endpoints `accept`, `reject`, `refer` and
//! `hangup` drive it, with a sideband socket watching. Every server event a socket receives is checked
//! against its schema.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use realtime_emulator::sip::WebhookSecret;
use realtime_emulator::{EmulatorConfig, Pace};
use realtime_testkit::emulator::{EmulatorApp, KEY, expect_error};
use realtime_testkit::ws::{Auth, Closed, WsClient};
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc};

/// `whsec_` + base64 of the key the receiver checks with.
const SECRET: &str = "whsec_c2lwLXRlc3Qtc2lnbmluZy1rZXk=";
const SIGNING_KEY: &[u8] = b"sip-test-signing-key";

/// A guard against hangs, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(20);

/// One webhook delivery as the receiver got it.
struct Delivery {
    headers: HeaderMap,
    body: String,
}

/// A real HTTP webhook receiver on 127.0.0.1:0: keeps what it is sent, answers with `status`.
struct Receiver {
    url: String,
    status: Arc<AtomicU16>,
    got: Mutex<mpsc::UnboundedReceiver<Delivery>>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Hook {
    tx: mpsc::UnboundedSender<Delivery>,
    status: Arc<AtomicU16>,
}

async fn hook(State(hook): State<Hook>, headers: HeaderMap, body: String) -> StatusCode {
    let _ = hook.tx.send(Delivery { headers, body });
    StatusCode::from_u16(hook.status.load(Ordering::Relaxed)).unwrap()
}

impl Receiver {
    async fn start() -> Receiver {
        let (tx, rx) = mpsc::unbounded_channel();
        let status = Arc::new(AtomicU16::new(200));
        let app = Router::new().route("/hook", post(hook)).with_state(Hook {
            tx,
            status: status.clone(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            url,
            status,
            got: Mutex::new(rx),
            server,
        }
    }

    async fn next(&self) -> Delivery {
        tokio::time::timeout(PATIENCE, self.got.lock().await.recv())
            .await
            .expect("no webhook delivery")
            .expect("the receiver stopped")
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn config(webhook: Option<&str>) -> EmulatorConfig {
    EmulatorConfig {
        pace: Pace::Instant,
        audio_per_char: Duration::from_millis(1),
        sip_webhook: webhook.map(str::to_owned),
        sip_webhook_secret: Some(WebhookSecret::parse(SECRET).unwrap()),
        ..EmulatorConfig::default()
    }
}

fn header<'a>(d: &'a Delivery, name: &str) -> &'a str {
    d.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// Checks the delivery's signature as a receiver must, with the key decoded here, and returns its event.
fn verified(d: &Delivery) -> Value {
    let (id, timestamp) = (header(d, "webhook-id"), header(d, "webhook-timestamp"));
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SIGNING_KEY).unwrap();
    mac.update(format!("{id}.{timestamp}.{}", d.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert!(
        header(d, "webhook-signature")
            .split(' ')
            .any(|s| s == expected),
        "the signature does not match the body"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let ts: i64 = timestamp.parse().unwrap();
    assert!((ts - now).abs() <= 300, "outside the SDKs' replay window");
    serde_json::from_str(&d.body).unwrap()
}

/// Injects a call whose webhook the receiver gets; the call id and the verified event.
async fn ring(app: &EmulatorApp, receiver: &Receiver) -> (String, Value) {
    let res = app.inject_sip_call(KEY, &json!({})).await;
    assert_eq!(res.status(), 201);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(
        answer["webhook"],
        json!({"url": receiver.url, "status": 200, "error": null})
    );
    let event = verified(&receiver.next().await);
    assert_eq!(event, answer["event"]);
    (answer["call_id"].as_str().unwrap().to_owned(), event)
}

async fn accept(app: &EmulatorApp, call_id: &str) {
    let body =
        json!({"type": "realtime", "model": "gpt-realtime", "instructions": "Answer the phone."});
    let res = app.call_control(KEY, call_id, "accept", &body).await;
    assert_eq!(res.status(), 200);
}

async fn attach(app: &EmulatorApp, call_id: &str) -> WsClient {
    WsClient::connect(
        &app.ws_url(&format!("?call_id={call_id}")),
        Auth::Bearer(KEY),
    )
    .await
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn an_injected_call_rings_with_a_signed_webhook_and_is_served_once_accepted() {
    let receiver = Receiver::start().await;
    let app = EmulatorApp::start(config(Some(&receiver.url))).await;
    let res = app
        .inject_sip_call(
            KEY,
            &json!({"from": "sip:+15550001111@carrier.example", "to": "sip:+18005551212@pbx.example"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let answer: Value = res.json().await.unwrap();
    let call_id = answer["call_id"].as_str().unwrap().to_owned();
    let hex = call_id.strip_prefix("rtc_").unwrap();
    assert!(hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(answer["webhook"]["status"], 200);

    let delivery = receiver.next().await;
    assert_eq!(
        header(&delivery, "user-agent"),
        "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)"
    );
    assert_eq!(header(&delivery, "content-type"), "application/json");
    assert!(header(&delivery, "webhook-id").starts_with("wh_"));
    let event = verified(&delivery);
    assert_eq!(event["object"], "event");
    assert_eq!(event["type"], "realtime.call.incoming");
    assert!(event["id"].as_str().unwrap().starts_with("evt_"));
    assert!(event["created_at"].is_i64());
    assert_eq!(event["data"]["call_id"], call_id.as_str());
    let sip_headers = event["data"]["sip_headers"].as_array().unwrap();
    assert_eq!(
        sip_headers[..2],
        [
            json!({"name": "From", "value": "sip:+15550001111@carrier.example"}),
            json!({"name": "To", "value": "sip:+18005551212@pbx.example"}),
        ]
    );
    assert_eq!(sip_headers[2]["name"], "Call-ID");

    // Ringing is not answered: no sideband yet.
    let url = app.ws_url(&format!("?call_id={call_id}"));
    assert_eq!(WsClient::refused(&url, Auth::Bearer(KEY)).await, 404);

    accept(&app, &call_id).await;
    let mut sideband = attach(&app, &call_id).await;
    sideband
        .send(&json!({"type": "session.update", "session": {"type": "realtime"}}))
        .await;
    let updated = sideband.expect("session.updated").await;
    assert_eq!(updated["session"]["instructions"], "Answer the phone.");
    assert_eq!(updated["session"]["model"], "gpt-realtime");

    // The model speaks first, as a SIP app asks it to; the audio rides the phone line.
    sideband.send(&json!({"type": "response.create"})).await;
    let turn = sideband.until("output_audio_buffer.stopped").await;
    let seen = types(&turn);
    assert!(seen.contains(&"response.done"), "{seen:?}");
    assert!(seen.contains(&"output_audio_buffer.started"), "{seen:?}");
    assert!(!seen.contains(&"response.output_audio.delta"), "{seen:?}");

    assert_eq!(app.sip_dtmf(KEY, &call_id, "5").await.status(), 200);
    let dtmf = sideband
        .expect("input_audio_buffer.dtmf_event_received")
        .await;
    assert_eq!(dtmf["event"], "5");
    assert!(dtmf["received_at"].as_i64().unwrap() >= event["created_at"].as_i64().unwrap());

    assert_eq!(app.hangup(KEY, &call_id).await.status(), 200);
    let (_, closed) = sideband.closed().await;
    assert_eq!(closed, Closed::Frame(1000, String::new()));
    expect_error(app.hangup(KEY, &call_id).await, 404, Some("call_not_found")).await;
    let body = json!({"type": "realtime"});
    let res = app.call_control(KEY, &call_id, "accept", &body).await;
    expect_error(res, 404, Some("call_not_found")).await;
    expect_error(
        app.sip_dtmf(KEY, &call_id, "5").await,
        404,
        Some("call_not_found"),
    )
    .await;
}

#[tokio::test]
async fn a_rejected_call_is_gone() {
    let receiver = Receiver::start().await;
    let app = EmulatorApp::start(config(Some(&receiver.url))).await;
    let (call_id, _) = ring(&app, &receiver).await;
    for (body, code) in [
        (
            json!({"status_code": 486, "reason": "busy"}),
            "unknown_parameter",
        ),
        (json!({"status_code": 200}), "integer_below_min_value"),
        (json!({"status_code": 700}), "integer_above_max_value"),
        (json!({"status_code": "486"}), "invalid_type"),
    ] {
        let res = app.call_control(KEY, &call_id, "reject", &body).await;
        expect_error(res, 400, Some(code)).await;
    }
    let res = app
        .call_control(KEY, &call_id, "reject", &json!({"status_code": 486}))
        .await;
    assert_eq!(res.status(), 200);
    for action in ["reject", "accept", "refer"] {
        let res = app
            .call_control(KEY, &call_id, action, &json!({"type": "realtime"}))
            .await;
        expect_error(res, 404, Some("call_not_found")).await;
    }

    // Without a body, the default decline.
    let (call_id, _) = ring(&app, &receiver).await;
    let res = app
        .client
        .post(format!("{}/realtime/calls/{call_id}/reject", app.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    expect_error(app.hangup(KEY, &call_id).await, 404, Some("call_not_found")).await;
}

#[tokio::test]
async fn a_referred_call_ends_and_its_sidebands_close() {
    let receiver = Receiver::start().await;
    let app = EmulatorApp::start(config(Some(&receiver.url))).await;
    let (call_id, _) = ring(&app, &receiver).await;
    let target = json!({"target_uri": "tel:+14155550123"});
    let res = app.call_control(KEY, &call_id, "refer", &target).await;
    expect_error(res, 400, Some("call_not_accepted")).await;
    expect_error(
        app.sip_dtmf(KEY, &call_id, "1").await,
        400,
        Some("call_not_accepted"),
    )
    .await;

    accept(&app, &call_id).await;
    let mut sideband = attach(&app, &call_id).await;
    for (body, code) in [
        (json!({}), "missing_required_parameter"),
        (
            json!({"target_uri": "https://example.com"}),
            "invalid_value",
        ),
        (json!({"target_uri": 14155550123_u64}), "invalid_type"),
        (
            json!({"target_uri": "tel:+14155550123", "extra": 1}),
            "unknown_parameter",
        ),
    ] {
        let res = app.call_control(KEY, &call_id, "refer", &body).await;
        expect_error(res, 400, Some(code)).await;
    }
    for digit in ["55", "x", ""] {
        let res = app.sip_dtmf(KEY, &call_id, digit).await;
        expect_error(res, 400, Some("invalid_value")).await;
    }
    // The refused requests changed nothing: the call still answers its sideband.
    assert_eq!(app.sip_dtmf(KEY, &call_id, "#").await.status(), 200);
    let dtmf = sideband
        .expect("input_audio_buffer.dtmf_event_received")
        .await;
    assert_eq!(dtmf["event"], "#");

    let sip = json!({"target_uri": "sip:agent@pbx.example"});
    assert_eq!(
        app.call_control(KEY, &call_id, "refer", &sip)
            .await
            .status(),
        200
    );
    let (_, closed) = sideband.closed().await;
    assert_eq!(closed, Closed::Frame(1000, String::new()));
    let res = app.call_control(KEY, &call_id, "refer", &target).await;
    expect_error(res, 404, Some("call_not_found")).await;
}

#[tokio::test]
async fn bad_accept_bodies_are_refused_and_leave_the_call_ringing() {
    let receiver = Receiver::start().await;
    let app = EmulatorApp::start(config(Some(&receiver.url))).await;
    let (call_id, _) = ring(&app, &receiver).await;
    let vad = |key: &str| json!({"type": "realtime", "audio": {"input": {"turn_detection": {"type": "server_vad", key: 1}}}});
    for (body, code, param) in [
        (json!({}), Some("missing_required_parameter"), Some("type")),
        (
            json!({"type": "transcription"}),
            Some("invalid_value"),
            Some("type"),
        ),
        (
            json!({"type": "realtime", "voices": "alloy"}),
            Some("unknown_parameter"),
            Some("voices"),
        ),
        (
            json!({"type": "realtime", "instructions": 5}),
            Some("invalid_type"),
            Some("instructions"),
        ),
        (json!(["realtime"]), Some("invalid_type"), Some("body")),
        (
            vad("threshold"),
            Some("unsupported_for_sip"),
            Some("audio.input.turn_detection.threshold"),
        ),
        (
            vad("prefix_padding_ms"),
            Some("unsupported_for_sip"),
            Some("audio.input.turn_detection.prefix_padding_ms"),
        ),
        (
            vad("silence_duration_ms"),
            Some("unsupported_for_sip"),
            Some("audio.input.turn_detection.silence_duration_ms"),
        ),
    ] {
        let res = app.call_control(KEY, &call_id, "accept", &body).await;
        let error = expect_error(res, 400, code).await;
        assert_eq!(error["param"].as_str(), param, "{body}: {error}");
    }
    let res = app
        .client
        .post(format!("{}/realtime/calls/{call_id}/accept", app.base))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(res, 400, None).await;

    // Still ringing: a good body is accepted, and only once.
    let body = json!({"type": "realtime", "audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}});
    assert_eq!(
        app.call_control(KEY, &call_id, "accept", &body)
            .await
            .status(),
        200
    );
    let res = app.call_control(KEY, &call_id, "accept", &body).await;
    expect_error(res, 400, Some("call_already_accepted")).await;
    let res = app.call_control(KEY, &call_id, "reject", &json!({})).await;
    expect_error(res, 400, Some("call_already_accepted")).await;
    let mut sideband = attach(&app, &call_id).await;
    sideband
        .send(&json!({"type": "session.update", "session": {"type": "realtime"}}))
        .await;
    let updated = sideband.expect("session.updated").await;
    assert_eq!(
        updated["session"]["audio"]["input"]["turn_detection"]["type"],
        "semantic_vad"
    );
    assert_eq!(app.hangup(KEY, &call_id).await.status(), 200);
    assert_eq!(
        sideband.closed().await.1,
        Closed::Frame(1000, String::new())
    );
}

#[tokio::test]
async fn a_call_not_answered_in_time_is_gone() {
    let receiver = Receiver::start().await;
    let app = EmulatorApp::start(EmulatorConfig {
        sip_accept_timeout: Duration::ZERO,
        ..config(Some(&receiver.url))
    })
    .await;
    let (call_id, _) = ring(&app, &receiver).await;
    let res = app
        .call_control(KEY, &call_id, "accept", &json!({"type": "realtime"}))
        .await;
    expect_error(res, 404, Some("call_not_found")).await;
}

#[tokio::test]
async fn a_ringing_call_hung_up_is_gone() {
    let receiver = Receiver::start().await;
    let app = EmulatorApp::start(config(Some(&receiver.url))).await;
    let (call_id, _) = ring(&app, &receiver).await;
    assert_eq!(app.hangup(KEY, &call_id).await.status(), 200);
    let res = app
        .call_control(KEY, &call_id, "accept", &json!({"type": "realtime"}))
        .await;
    expect_error(res, 404, Some("call_not_found")).await;
}

#[tokio::test]
async fn the_injection_reports_a_failed_delivery_and_refuses_bad_requests() {
    let receiver = Receiver::start().await;
    // No webhook configured: one must be named.
    let app = EmulatorApp::start(config(None)).await;
    let res = app.inject_sip_call(KEY, &json!({})).await;
    let error = expect_error(res, 400, Some("sip_webhook_not_configured")).await;
    assert_eq!(error["param"], "webhook_url");
    for (body, code) in [
        (
            json!({"webhook_url": "ftp://example.com/hook"}),
            "invalid_value",
        ),
        (
            json!({"webhook_url": receiver.url, "form": "sip:a@b"}),
            "unknown_parameter",
        ),
        (
            json!({"webhook_url": receiver.url, "from": 5}),
            "invalid_type",
        ),
    ] {
        expect_error(app.inject_sip_call(KEY, &body).await, 400, Some(code)).await;
    }
    let res = app
        .client
        .post(format!("{}/emulator/sip/calls", app.base))
        .send()
        .await
        .unwrap();
    expect_error(res, 401, None).await;

    // A receiver that fails: the call rings anyway, and the answer says how the delivery went.
    receiver.status.store(503, Ordering::Relaxed);
    let body = json!({"webhook_url": receiver.url});
    let answer: Value = app.inject_sip_call(KEY, &body).await.json().await.unwrap();
    assert_eq!(answer["webhook"]["status"], 503);
    verified(&receiver.next().await);
    accept(&app, answer["call_id"].as_str().unwrap()).await;

    // Nobody listening.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let answer: Value = app
        .inject_sip_call(KEY, &json!({"webhook_url": url}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["webhook"]["status"], Value::Null);
    assert!(!answer["webhook"]["error"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn webrtc_calls_are_still_not_sip_calls() {
    let app = EmulatorApp::start(config(None)).await;
    let call_id = &app.offered_call().await;
    for (action, body) in [
        ("accept", json!({"type": "realtime"})),
        ("reject", json!({})),
        ("refer", json!({"target_uri": "tel:+14155550123"})),
    ] {
        let res = app.call_control(KEY, call_id, action, &body).await;
        expect_error(res, 400, Some("not_sip_call")).await;
    }
    expect_error(
        app.sip_dtmf(KEY, call_id, "5").await,
        400,
        Some("not_sip_call"),
    )
    .await;
    assert_eq!(app.hangup(KEY, call_id).await.status(), 200);
}
