//! Every upstream failure of `/api/rt/*`: how it reaches the client, and that it became a `system`
//! event of the console session it happened in.

use std::time::Duration;

use realtime_testkit::console::*;
use serde_json::{Value, json};

/// An upstream answer and what the client must see: status, error code, whether upstream's message and
/// param are kept, and the `Retry-After` header.
struct Case {
    name: &'static str,
    reply: Reply,
    status: u16,
    code: &'static str,
    retry_after: Option<&'static str>,
}

fn cases() -> Vec<Case> {
    let key_echo = format!("Incorrect API key provided: {CANARY_KEY}.");
    vec![
        Case {
            name: "400",
            reply: Reply::error(400, "invalid_value", "Invalid value: 'session.x'.")
                .with_param("session.audio.output.voice"),
            status: 400,
            code: "invalid_value",
            retry_after: None,
        },
        Case {
            name: "401",
            reply: Reply::error(401, "invalid_api_key", &key_echo),
            status: 502,
            code: "upstream_auth_failed",
            retry_after: None,
        },
        Case {
            name: "403",
            reply: Reply::error(403, "unsupported_country_region_territory", "Forbidden."),
            status: 502,
            code: "upstream_auth_failed",
            retry_after: None,
        },
        Case {
            name: "429",
            reply: Reply::error(429, "rate_limit_exceeded", "Slow down.").with_retry_after("7"),
            status: 429,
            code: "rate_limit_exceeded",
            retry_after: Some("7"),
        },
        Case {
            name: "500",
            reply: Reply::error(500, "server_error", &format!("boom {CANARY_KEY}")),
            status: 502,
            code: "upstream_failed",
            retry_after: None,
        },
        Case {
            name: "503 without an envelope",
            reply: Reply::Raw {
                status: 503,
                headers: vec![("content-type".into(), "text/html".into())],
                body: b"<html>down</html>".to_vec(),
            },
            status: 502,
            code: "upstream_failed",
            retry_after: None,
        },
        Case {
            name: "timeout",
            // The console's upstream timeout in these tests is 500 ms.
            reply: Reply::Success.delayed(Duration::from_secs(5)),
            status: 504,
            code: "upstream_timeout",
            retry_after: None,
        },
    ]
}

/// Checks the answer and the recorded event, and returns the console session id.
async fn check(app: &ConsoleApp, case: &Case, res: reqwest::Response, operation: &str) -> String {
    let name = format!("{operation} {}", case.name);
    assert_eq!(res.status().as_u16(), case.status, "{name}");
    assert_eq!(res.headers()["cache-control"], "no-store", "{name}");
    assert_eq!(
        res.headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        case.retry_after,
        "{name}"
    );
    let sid = session_id_of(&res);
    let text = res.text().await.unwrap();
    assert!(!text.contains(CANARY_KEY), "{name}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let (code, param) = code_and_param(&body);
    assert_eq!(code, case.code, "{name}: {body}");
    if case.status == 400 {
        assert_eq!(body["error"]["message"], "Invalid value: 'session.x'.");
        assert_eq!(param.as_deref(), Some("session.audio.output.voice"));
    }
    if case.name == "401" {
        assert_eq!(
            body["error"]["message"],
            "the server's OpenAI API key was rejected"
        );
    }

    let events = app.stored(&sid).await;
    let e = events
        .iter()
        .find(|e| e["type"] == "error")
        .unwrap_or_else(|| panic!("{name}: no error event in {events:?}"));
    assert_eq!(e["direction"], "system", "{name}");
    assert_eq!(e["event"]["operation"], operation, "{name}");
    assert_eq!(e["event"]["status"], case.status, "{name}");
    assert_eq!(e["event"]["error"]["code"], case.code, "{name}");
    assert!(!format!("{events:?}").contains(CANARY_KEY), "{name}");
    sid
}

#[tokio::test]
async fn every_mint_failure_is_mapped_and_recorded() {
    let upstream = RecordingUpstream::start().await;
    let app = ConsoleApp::with_upstream(&upstream).await;
    for case in cases() {
        upstream.set_reply(Route::ClientSecrets, case.reply.clone());
        let res = app.token(json!({})).await;
        let sid = check(&app, &case, res, "client_secrets").await;
        let session = app.session(&sid).await.1;
        assert_eq!(session["flow"], "ephemeral");
        assert!(session["ended_at"].is_i64(), "a failed session is over");
        assert_eq!(session["stats"]["errors"], 1);
    }
}

#[tokio::test]
async fn every_call_failure_is_mapped_and_recorded() {
    let upstream = RecordingUpstream::start().await;
    let app = ConsoleApp::with_upstream(&upstream).await;
    for case in cases() {
        upstream.set_reply(Route::Calls, case.reply.clone());
        let res = app.call_raw(OFFER).await;
        let sid = check(&app, &case, res, "calls").await;
        let session = app.session(&sid).await.1;
        assert_eq!(session["flow"], "unified");
        assert_eq!(session["call_id"], Value::Null);
        assert!(session["ended_at"].is_i64());
    }
}

#[tokio::test]
async fn every_hangup_failure_is_mapped_and_recorded() {
    let upstream = RecordingUpstream::start().await;
    let app = ConsoleApp::with_upstream(&upstream).await;
    for case in cases() {
        upstream.set_reply(Route::Hangup, Reply::Success);
        let res = app.call_raw(OFFER).await;
        assert_eq!(res.status(), 201);
        let sid = session_id_of(&res);
        upstream.set_reply(Route::Hangup, case.reply.clone());
        let res = app.hangup(&sid).await;
        check(&app, &case, res, "hangup").await;
        let session = app.session(&sid).await.1;
        assert_eq!(
            session["ended_at"],
            Value::Null,
            "a failed hangup leaves the session open"
        );
    }
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_502() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = ConsoleApp::start_with(|c| {
        c.openai_api_key = Some(realtime_token::ApiKey::new(CANARY_KEY));
        c.openai_base_url = format!("http://127.0.0.1:{port}/v1");
    })
    .await;
    let res = app.token(json!({})).await;
    assert_eq!(res.status(), 502);
    let sid = session_id_of(&res);
    let body: Value = res.json().await.unwrap();
    assert_eq!(code_and_param(&body).0, "upstream_unreachable");
    let events = app.stored(&sid).await;
    assert_eq!(events[0]["type"], "error");
    assert_eq!(events[0]["event"]["upstream_status"], Value::Null);
}
