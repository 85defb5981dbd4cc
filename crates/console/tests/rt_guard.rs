//! What keeps `/api/rt/*` from being used by others: the cross-site refusal, the per-IP rate limit and the
//! access secret; and the built-in emulator standing in when no key is configured.

use realtime_console::config::AccessSecret;
use realtime_testkit::console::*;
use serde_json::{Value, json};

const SECRET: &str = "a-long-access-secret-0123456789";

#[tokio::test]
async fn cross_site_requests_cannot_mint_or_call() {
    let upstream = RecordingUpstream::start().await;
    let app = ConsoleApp::with_upstream(&upstream).await;
    let endpoints = [
        ("POST", "/api/rt/token"),
        ("GET", "/api/rt/token"),
        ("POST", "/api/rt/session"),
        (
            "POST",
            "/api/rt/session/0190a0a0-0000-7000-8000-000000000000/hangup",
        ),
    ];
    for (method, path) in endpoints {
        for (header, value) in [
            ("origin", "https://evil.example"),
            ("origin", "null"),
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-site", "same-site"),
        ] {
            let res = app
                .http
                .request(method.parse().unwrap(), app.url(path))
                .header(header, value)
                .header("content-type", "application/sdp")
                .body(OFFER)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 403, "{method} {path} with {header}: {value}");
            let body: Value = res.json().await.unwrap();
            assert_eq!(code_and_param(&body).0, "cross_origin_request");
        }
    }
    assert!(upstream.requests().is_empty());

    // The console's own page may.
    let res = app
        .http
        .get(app.url("/api/rt/token"))
        .header("origin", &app.base)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let upstream = RecordingUpstream::start().await;
    let app = ConsoleApp::with_upstream_and(&upstream, |c| {
        c.rt_rate_per_min = 10;
        c.rt_rate_burst = 5;
    })
    .await;
    for i in 0..5 {
        let res = if i % 2 == 0 {
            app.token(json!({})).await
        } else {
            app.call_raw(OFFER).await
        };
        assert!(res.status().is_success(), "request {i}: {}", res.status());
    }
    for res in [app.token(json!({})).await, app.call_raw(OFFER).await] {
        assert_eq!(res.status(), 429);
        let retry_after: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(code_and_param(&body).0, "rate_limit_exceeded");
    }
    assert_eq!(
        upstream.requests().len(),
        5,
        "refused requests cost nothing upstream"
    );
    // Other endpoints are not limited.
    let res = app.http.get(app.url("/api/sessions")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn with_an_access_secret_every_page_and_api_needs_it() {
    let upstream = RecordingUpstream::start().await;
    let app = ConsoleApp::with_upstream_and(&upstream, |c| {
        c.access_secret = Some(AccessSecret::new(SECRET));
    })
    .await;
    for path in ["/", "/sessions", "/api/sessions", "/api/rt/token", "/nope"] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 401, "{path}");
        let text = res.text().await.unwrap();
        assert!(text.contains("access"), "{path}: {text}");
    }
    let res = app.token(json!({})).await;
    assert_eq!(res.status(), 401);
    let wrong = app
        .get_as(
            "/api/sessions",
            Access::Bearer("a-long-access-secret-012345678X"),
        )
        .await;
    assert_eq!(wrong.status(), 401);
    assert!(upstream.requests().is_empty());

    // The secret as a bearer token.
    let res = app.token_as(Access::Bearer(SECRET)).await;
    assert_eq!(res.status(), 200);

    // Opening a page with ?access= once sets a cookie and drops the secret from the URL.
    let res = app
        .http
        .get(app.url(&format!("/sessions?access={SECRET}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/sessions");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("console_access="), "{cookie}");
    assert!(cookie.contains("HttpOnly"));
    assert!(
        !cookie.contains(SECRET),
        "the cookie holds a digest, not the secret"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    for path in ["/", "/sessions", "/api/sessions"] {
        let res = app.get_as(path, Access::Cookie(&pair)).await;
        assert_eq!(res.status(), 200, "{path}");
    }
    let res = app.token_as(Access::Cookie(&pair)).await;
    assert_eq!(res.status(), 200);

    let res = app
        .http
        .get(app.url("/?access=wrong-wrong-wrong-wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Health checks need no secret.
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn without_a_key_the_emulator_is_the_upstream() {
    let app = ConsoleApp::start_with(|_| {}).await;
    let res = app
        .token(json!({"session": {"instructions": "Emulated."}}))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(body["value"].as_str().unwrap().starts_with("ek_"), "{body}");
    assert_eq!(body["session"]["instructions"], "Emulated.");
    // Absolute, on the origin the request came to: the agents SDK does `new URL(calls_url)`.
    assert_eq!(
        body["console"]["calls_url"],
        app.url("/emulator/v1/realtime/calls")
    );
    let sid = body["console"]["session_id"].as_str().unwrap();
    let events = app.stored(sid).await;
    assert_eq!(events[0]["event"]["upstream"], "emulator");

    // Same origin: pages need no other connect-src.
    let res = app.http.get(app.url("/")).send().await.unwrap();
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("connect-src 'self';"), "{csp}");

    // The emulator's own endpoints check their own keys, whatever the origin (pages elsewhere may post
    // offers to it, like to the real API); the console's internal key is not guessable.
    let res = app
        .http
        .post(app.url("/emulator/v1/realtime/client_secrets"))
        .header("origin", "https://app.example")
        .bearer_auth("sk-guess")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // A bad offer is refused by the emulator and recorded like any upstream failure.
    let res = app.call_raw("v=0\r\n").await;
    assert_eq!(res.status(), 400);
    let sid = session_id_of(&res);
    assert_eq!(app.stored(&sid).await[0]["type"], "error");
}

#[tokio::test]
async fn the_built_in_emulator_serves_websocket_sessions_too() {
    let app = ConsoleApp::start_with(|_| {}).await;
    let body: Value = app
        .token(json!({"session": {"instructions": "Over a socket."}}))
        .await
        .json()
        .await
        .unwrap();
    let key = body["value"].as_str().unwrap();
    let url = app
        .url("/emulator/v1/realtime?model=gpt-realtime")
        .replacen("http://", "ws://", 1);
    let mut ws =
        realtime_testkit::ws::WsClient::connect(&url, realtime_testkit::ws::Auth::Subprotocol(key))
            .await;
    assert_eq!(ws.protocol.as_deref(), Some("realtime"));
    let created = ws.expect("session.created").await;
    assert_eq!(created["session"]["instructions"], "Over a socket.");
}

#[tokio::test]
async fn the_built_in_emulator_answers_sideband_sockets_too() {
    let app = ConsoleApp::start_with(|_| {}).await;
    let url = app
        .url("/emulator/v1/realtime?call_id=rtc_u1_0123456789abcdef")
        .replacen("http://", "ws://", 1);
    let status =
        realtime_testkit::ws::WsClient::refused(&url, realtime_testkit::ws::Auth::Bearer("sk-x"))
            .await;
    assert_eq!(status, 404, "an unknown call, refused before the upgrade");
    let (status, body) = app
        .get("/emulator/v1/realtime?call_id=rtc_u1_0123456789abcdef")
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "call_not_found", "{body}");
}
