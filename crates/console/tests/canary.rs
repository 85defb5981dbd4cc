//! The real binary with a canary OpenAI key: after every page and endpoint has been used, failures
//! included, the key is in no response, no log line and no byte of the SQLite files. Also the start-up
//! refusal on a public address without an access secret.

use realtime_testkit::console::*;
use realtime_testkit::process::ConsoleProcess;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");

/// Sends `req` and keeps everything the client saw: [`record`].
async fn seen(req: reqwest::RequestBuilder, into: &mut String) -> (u16, String) {
    record(req.send().await.unwrap(), into).await
}

/// Everything the client saw: status, headers and body.
async fn record(res: reqwest::Response, into: &mut String) -> (u16, String) {
    let status = res.status().as_u16();
    into.push_str(&format!("{status}\n"));
    for (name, value) in res.headers() {
        into.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    let body = res.text().await.unwrap();
    into.push_str(&body);
    into.push('\n');
    (status, body)
}

fn sqlite_bytes(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    ["console.db", "console.db-wal", "console.db-shm"]
        .iter()
        .filter_map(|name| {
            std::fs::read(dir.join(name))
                .ok()
                .map(|b| ((*name).to_owned(), b))
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_api_key_never_leaves_the_process() {
    let random = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    let key = format!("sk-canary-{random}");
    let upstream = RecordingUpstream::start().await;
    let base_url = upstream.base_url();
    let mut server = ConsoleProcess::spawn(
        BIN,
        &[
            ("OPENAI_API_KEY", key.as_str()),
            ("OPENAI_BASE_URL", base_url.as_str()),
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("RUST_LOG", "debug"),
            ("RT_RATE_PER_MIN", "0"),
            ("UPSTREAM_TIMEOUT_MS", "500"),
        ],
    );
    server.wait_listening().await;
    let base = server.url("");
    let http = no_redirects();
    let url = |path: &str| format!("{base}{path}");
    let mut transcript = String::new();

    // Pages and the recording API.
    for path in [
        "/",
        "/sessions",
        "/healthz",
        "/static/app.css",
        "/nope",
        "/api/nope",
        "/api/sessions",
    ] {
        seen(http.get(url(path)), &mut transcript).await;
    }

    // Successful mint (POST and GET), call, hangup, and reading it all back.
    let (status, body) = seen(
        http.post(url("/api/rt/token"))
            .json(&json!({"label": "canary", "session": {"instructions": "Hi."}})),
        &mut transcript,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let minted: Value = serde_json::from_str(&body).unwrap();
    let ek = minted["value"].as_str().unwrap().to_owned();
    let mint_session = minted["console"]["session_id"].as_str().unwrap().to_owned();
    seen(http.get(url("/api/rt/token")), &mut transcript).await;
    let offer = || {
        http.post(url("/api/rt/session"))
            .header("content-type", "application/sdp")
            .body(OFFER)
    };
    let res = offer().send().await.unwrap();
    let call_session = session_id_of(&res);
    let (status, _) = record(res, &mut transcript).await;
    assert_eq!(status, 201);
    let form = reqwest::multipart::Form::new()
        .part(
            "sdp",
            reqwest::multipart::Part::text(OFFER)
                .mime_str("application/sdp")
                .unwrap(),
        )
        .text("session", r#"{"instructions":"Hello."}"#);
    seen(
        http.post(url("/api/rt/session")).multipart(form),
        &mut transcript,
    )
    .await;
    let hangup = || http.post(url(&format!("/api/rt/session/{call_session}/hangup")));
    seen(hangup(), &mut transcript).await;
    for sid in [&mint_session, &call_session] {
        for path in [
            format!("/api/sessions/{sid}"),
            format!("/api/sessions/{sid}/events"),
            format!("/api/sessions/{sid}/events.jsonl"),
        ] {
            seen(http.get(url(&path)), &mut transcript).await;
        }
    }

    // Failures, with upstream echoing the key wherever it can.
    let echo = format!("Incorrect API key provided: {key}");
    let failures = [
        Reply::error(401, "invalid_api_key", &echo),
        Reply::error(400, "invalid_value", &echo).with_param(&key),
        Reply::error(500, "server_error", &echo),
        Reply::error(429, "rate_limit_exceeded", &echo).with_retry_after("3"),
        Reply::Raw {
            status: 502,
            headers: vec![("x-echo".into(), key.clone())],
            body: echo.clone().into_bytes(),
        },
        Reply::Success.delayed(std::time::Duration::from_secs(3)),
    ];
    for reply in failures {
        for route in [Route::ClientSecrets, Route::Calls, Route::Hangup] {
            upstream.set_reply(route, reply.clone());
        }
        let (status, _) = seen(http.post(url("/api/rt/token")), &mut transcript).await;
        assert!(status >= 400);
        seen(offer(), &mut transcript).await;
        seen(hangup(), &mut transcript).await;
    }
    seen(http.get(url("/api/sessions?limit=500")), &mut transcript).await;
    for sid in [&mint_session, &call_session] {
        seen(
            http.get(url(&format!("/api/sessions/{sid}/events.jsonl"))),
            &mut transcript,
        )
        .await;
    }

    // The upstream really was asked with the key: the canary is live, not absent.
    assert!(
        upstream
            .requests()
            .iter()
            .all(|r| r.bearer() == Some(key.as_str()))
    );
    let while_running = sqlite_bytes(server.dir.path());
    let (status, output) = server.stop().await;
    assert!(status.success(), "{status}\n{output}");
    let after_stop = sqlite_bytes(server.dir.path());

    assert!(transcript.contains("[redacted]") || transcript.contains("was rejected"));
    for needle in [key.as_str(), random.as_str(), &random[..12]] {
        assert!(
            !transcript.contains(needle),
            "a response leaked the key:\n{transcript}"
        );
        assert!(
            !output.contains(needle),
            "the log leaked the key:\n{output}"
        );
        for (name, bytes) in while_running.iter().chain(&after_stop) {
            assert!(!contains(bytes, needle.as_bytes()), "{name} holds the key");
        }
    }
    // Minted keys go to the browser once and are stored only as fingerprints.
    for (name, bytes) in while_running.iter().chain(&after_stop) {
        assert!(
            !contains(bytes, ek.as_bytes()),
            "{name} holds an ephemeral key"
        );
    }
    assert!(output.contains("DEBUG"), "RUST_LOG=debug took effect");
    assert!(output.contains("upstream: the OpenAI Realtime API at http://127.0.0.1:"));
    assert!(!output.contains("built-in emulator"), "{output}");
}

#[tokio::test]
async fn a_public_address_without_an_access_secret_refuses_to_start() {
    let mut server = ConsoleProcess::spawn(BIN, &[("HOST", "0.0.0.0"), ("PORT", "0")]);
    let (status, output) = server.exit().await;
    assert!(!status.success());
    assert!(output.contains("refusing to listen on 0.0.0.0"), "{output}");
    assert!(output.contains("ACCESS_SECRET"), "{output}");
    assert!(!output.contains("listening on"), "{output}");

    let mut server = ConsoleProcess::spawn(
        BIN,
        &[
            ("HOST", "0.0.0.0"),
            ("PORT", "0"),
            ("ACCESS_SECRET", "short"),
        ],
    );
    let (status, output) = server.exit().await;
    assert!(!status.success());
    assert!(output.contains("ACCESS_SECRET is too short"), "{output}");
    assert!(!output.contains("short\n"), "{output}");
}

#[tokio::test]
async fn a_public_address_with_an_access_secret_guards_every_page_and_api() {
    let secret = format!(
        "secret-{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    );
    let mut server = ConsoleProcess::spawn(
        BIN,
        &[
            ("HOST", "0.0.0.0"),
            ("PORT", "0"),
            ("ACCESS_SECRET", secret.as_str()),
            ("RUST_LOG", "debug"),
        ],
    );
    server.wait_listening().await;
    let base = server.url("");
    let http = no_redirects();
    let url = |path: &str| format!("{base}{path}");
    for path in ["/", "/sessions", "/api/sessions", "/api/rt/token"] {
        let res = http.get(url(path)).send().await.unwrap();
        assert_eq!(res.status(), 401, "{path}");
    }
    for path in ["/", "/sessions", "/api/sessions"] {
        let res = http
            .get(url(path))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    // No OPENAI_API_KEY: the emulator mints, reached by the console through its own listener.
    let res = http
        .post(url("/api/rt/token"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["console"]["calls_url"],
        url("/emulator/v1/realtime/calls")
    );

    let res = http
        .get(url(&format!("/?access={secret}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let res = http
        .get(url("/"))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let (status, output) = server.stop().await;
    assert!(status.success());
    assert!(output.contains("built-in emulator"), "{output}");
    assert!(
        !output.contains(&secret),
        "the log leaked the access secret"
    );
}

/// A client's own key through the gateway (`/v1`), to an upstream that takes it (a standalone emulator,
/// started with that key): the relayed WebSocket session and the REST calls work, failures included, and the
/// client's key is in no response, no log line and no byte of the SQLite files; nor is the server's own.
#[tokio::test]
async fn a_client_key_passed_through_the_gateway_never_leaves_the_request() {
    let random = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    let client_key = format!("sk-canary-client-{random}");
    let server_key = format!("sk-canary-server-{:016x}", fastrand::u64(..));
    let emulator =
        realtime_testkit::emulator::EmulatorApp::start(realtime_emulator::EmulatorConfig {
            api_key: Some(client_key.clone()),
            ..realtime_emulator::EmulatorConfig::default()
        })
        .await;
    let mut server = ConsoleProcess::spawn(
        BIN,
        &[
            ("OPENAI_API_KEY", server_key.as_str()),
            ("OPENAI_BASE_URL", emulator.base.as_str()),
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("RUST_LOG", "debug"),
            ("RT_RATE_PER_MIN", "0"),
        ],
    );
    server.wait_listening().await;
    let gateway = server.url("/v1");
    let mut transcript = String::new();
    let with_key = [("TEST_CLIENT_API_KEY", client_key.as_str())];

    let got = realtime_testkit::clients::python_env("realtime_ws.py", &[&gateway], &with_key).await;
    assert_eq!(got["call_status"], "completed", "{got}");
    transcript.push_str(&got.to_string());
    let dir = tempfile::tempdir().unwrap();
    let offer = dir.path().join("offer.sdp");
    std::fs::write(&offer, realtime_emulator::rtc::CHROMIUM_OFFER).unwrap();
    let got = realtime_testkit::clients::python_env(
        "rest.py",
        &[&gateway, offer.to_str().unwrap()],
        &with_key,
    )
    .await;
    assert_eq!(got["status"], 201, "{got}");
    transcript.push_str(&got.to_string());

    // A wrong key of the client's: the upstream's 401 (which echoes keys, masked) comes back scrubbed.
    let http = no_redirects();
    let wrong = format!("sk-canary-wrong-{random}");
    let (status, body) = seen(
        http.post(format!("{gateway}/realtime/client_secrets"))
            .bearer_auth(&wrong)
            .json(&json!({})),
        &mut transcript,
    )
    .await;
    assert_eq!(status, 401, "{body}");
    // The server's key is never what a client's request goes up with: it was not asked for.
    let (status, _) = seen(
        http.post(format!("{gateway}/realtime/client_secrets"))
            .bearer_auth(&client_key)
            .json(&json!({"session": {"type": "realtime"}})),
        &mut transcript,
    )
    .await;
    assert_eq!(status, 200);
    let sessions = server.get_json("/api/sessions?limit=500").await;
    transcript.push_str(&sessions.to_string());
    for s in sessions["sessions"].as_array().unwrap() {
        let id = s["id"].as_str().unwrap();
        seen(
            http.get(server.url(&format!("/api/sessions/{id}/events.jsonl"))),
            &mut transcript,
        )
        .await;
    }
    assert!(
        sessions["sessions"].as_array().unwrap().len() >= 2,
        "{sessions}"
    );

    let while_running = sqlite_bytes(server.dir.path());
    let (status, output) = server.stop().await;
    assert!(status.success(), "{status}\n{output}");
    let after_stop = sqlite_bytes(server.dir.path());
    for needle in [
        client_key.as_str(),
        wrong.as_str(),
        &random[..12],
        server_key.as_str(),
    ] {
        assert!(
            !transcript.contains(needle),
            "a response leaked a key:\n{transcript}"
        );
        assert!(!output.contains(needle), "the log leaked a key:\n{output}");
        for (name, bytes) in while_running.iter().chain(&after_stop) {
            assert!(!contains(bytes, needle.as_bytes()), "{name} holds a key");
        }
    }
    assert!(
        output.contains("relayed session ended"),
        "the WebSocket went through the gateway: {output}"
    );
}
