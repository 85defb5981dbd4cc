//! The official Python SDK (`openai`, pinned in tests/clients/python/requirements.txt) against the emulator,
//! unchanged: only its `base_url` points here. Needs the test venv that `just test` makes.

use realtime_emulator::EmulatorConfig;
use realtime_testkit::clients::python;
use realtime_testkit::emulator::{EmulatorApp, KEY};
use serde_json::json;

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
    let ek = app.ephemeral_key().await;
    let res = app
        .call_sdp(&ek, realtime_emulator::rtc::CHROMIUM_OFFER)
        .await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let call_id = location.rsplit('/').next().unwrap();

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
