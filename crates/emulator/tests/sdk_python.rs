//! The official Python SDK (`openai`, pinned in tests/clients/python/requirements.txt) against the emulator,
//! unchanged: only its `base_url` points here. Needs the test venv that `just test` makes.

use realtime_emulator::EmulatorConfig;
use realtime_testkit::clients::python;
use realtime_testkit::emulator::EmulatorApp;
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
