//! The HTTP surface over real HTTP on 127.0.0.1:0: minting, call set-up, hangup, CORS, auth and faults.

use std::time::{Duration, Instant};

use realtime_emulator::{EmulatorConfig, Faults, HttpFault};
use realtime_testkit::emulator::{EmulatorApp, KEY, expect_error};
use serde_json::{Value, json};

const NO_AUDIO_SDP: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n";

/// A real WebRTC offer (audio + the `oai-events` channel), as a browser would send.
fn real_offer() -> String {
    use str0m::media::{Direction, MediaKind};
    str0m::crypto::from_feature_flags().install_process_default();
    let mut rtc = str0m::Rtc::new(Instant::now());
    let mut api = rtc.sdp_api();
    api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    api.add_channel("oai-events".into());
    let (offer, _pending) = api.apply().expect("an offer");
    offer.to_sdp_string()
}

#[tokio::test]
async fn minting_returns_the_full_effective_session() {
    let app = EmulatorApp::start(EmulatorConfig::default()).await;
    let v = app.mint_ok(&json!({})).await;
    assert!(v["value"].as_str().unwrap().starts_with("ek_"));
    let s = &v["session"];
    assert_eq!(s["type"], "realtime");
    assert_eq!(s["object"], "realtime.session");
    assert_eq!(s["tool_choice"], "auto");
    assert_eq!(s["max_output_tokens"], "inf");
    assert_eq!(s["output_modalities"], json!(["audio"]));
    assert_eq!(s["audio"]["output"]["voice"], "alloy");
    assert_eq!(
        s["audio"]["input"]["format"],
        json!({"type": "audio/pcm", "rate": 24000})
    );
    assert_eq!(
        s["audio"]["input"]["turn_detection"]["silence_duration_ms"],
        200
    );

    let v = app
        .mint_ok(&json!({"expires_after": {"anchor": "created_at", "seconds": 60},
            "session": {"type": "realtime", "instructions": "Be a pirate.", "audio": {"output": {"voice": "marin"}}}}))
        .await;
    assert_eq!(v["session"]["instructions"], "Be a pirate.");
    assert_eq!(v["session"]["audio"]["output"]["voice"], "marin");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expires_at = v["expires_at"].as_i64().unwrap();
    assert!(
        (now + 50..=now + 70).contains(&expires_at),
        "expires_at {expires_at} is not about a minute away"
    );
}

#[tokio::test]
async fn minting_rejects_bad_requests_with_documented_errors() {
    let app = EmulatorApp::start(EmulatorConfig::default()).await;
    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        (
            json!({"expires_after": {"seconds": 5}}),
            "integer_below_min_value",
            Some("expires_after.seconds"),
        ),
        (
            json!({"expires_after": {"seconds": 7201}}),
            "integer_above_max_value",
            Some("expires_after.seconds"),
        ),
        (
            json!({"expires_after": {"anchor": "now"}}),
            "invalid_value",
            Some("expires_after.anchor"),
        ),
        (
            json!({"session": {"instructions": "x"}}),
            "missing_required_parameter",
            Some("session.type"),
        ),
        (
            json!({"session": {"type": "chat"}}),
            "invalid_value",
            Some("session.type"),
        ),
        (
            json!({"session": {"type": "realtime", "audio": {"input": {"format": "pcm16"}}}}),
            "invalid_type",
            Some("session.audio.input.format"),
        ),
        (
            json!({"session": {"type": "realtime", "modalities": ["text"]}}),
            "unknown_parameter",
            Some("session.modalities"),
        ),
        (
            json!({"session": {"type": "realtime", "audio": {"output": {"voice": "robot"}}}}),
            "invalid_value",
            Some("session.audio.output.voice"),
        ),
        (
            json!({"session": {"type": "realtime", "audio": {"output": {"speed": 3}}}}),
            "decimal_above_max_value",
            Some("session.audio.output.speed"),
        ),
        (
            json!({"session": {"type": "transcription", "instructions": "x"}}),
            "unknown_parameter",
            Some("session.instructions"),
        ),
        (json!({"foo": 1}), "unknown_parameter", Some("foo")),
    ];
    for (body, code, param) in cases {
        let e = expect_error(app.mint(KEY, &body).await, 400, Some(code)).await;
        assert_eq!(e["param"].as_str(), param, "{body}");
        assert_eq!(e["type"], "invalid_request_error");
    }
    let res = app
        .client
        .post(format!("{}/realtime/client_secrets", app.base))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    expect_error(res, 400, None).await;
}

#[tokio::test]
async fn keys_are_checked() {
    let app = EmulatorApp::start(EmulatorConfig {
        api_key: Some("sk-the-one".into()),
        ..EmulatorConfig::default()
    })
    .await;
    let e = expect_error(
        app.mint(KEY, &json!({})).await,
        401,
        Some("invalid_api_key"),
    )
    .await;
    assert!(
        !e["message"].as_str().unwrap().contains(KEY),
        "the key must not be echoed in full"
    );
    assert_eq!(app.mint("sk-the-one", &json!({})).await.status(), 200);
    let res = app
        .client
        .post(format!("{}/realtime/client_secrets", app.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_error(res, 401, None).await;

    let app = EmulatorApp::start(EmulatorConfig::default()).await;
    expect_error(
        app.mint("not-a-key", &json!({})).await,
        401,
        Some("invalid_api_key"),
    )
    .await;
    let ek = app.ephemeral_key().await;
    expect_error(
        app.mint(&ek, &json!({})).await,
        401,
        Some("invalid_api_key"),
    )
    .await;
}

#[tokio::test]
async fn calls_reject_unknown_and_expired_keys_and_bad_offers() {
    let config = EmulatorConfig::default();
    let clock = config.clock.clone();
    let app = EmulatorApp::start(config).await;
    expect_error(
        app.call_sdp("ek_00000000000000000000000000000000", "v=0\r\n")
            .await,
        401,
        Some("invalid_api_key"),
    )
    .await;

    let ek = app
        .mint_ok(&json!({"expires_after": {"seconds": 10}}))
        .await["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let e = expect_error(app.call_sdp(&ek, "hello").await, 400, Some("invalid_offer")).await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid SDP offer")
    );
    let e = expect_error(
        app.call_sdp(&ek, NO_AUDIO_SDP).await,
        400,
        Some("invalid_offer"),
    )
    .await;
    assert_eq!(
        e["message"],
        "Invalid SDP offer. Offer did not have an audio media section."
    );

    clock.advance(Duration::from_secs(11));
    expect_error(
        app.call_sdp(&ek, NO_AUDIO_SDP).await,
        401,
        Some("invalid_api_key"),
    )
    .await;

    let e = expect_error(
        app.call_multipart(KEY, NO_AUDIO_SDP, None).await,
        400,
        Some("invalid_offer"),
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("audio"));
    let e = expect_error(
        app.call_multipart(
            KEY,
            NO_AUDIO_SDP,
            Some(&json!({"type": "realtime", "voice": "marin"})),
        )
        .await,
        400,
        Some("unknown_parameter"),
    )
    .await;
    assert_eq!(e["param"], "session.voice");
    let form = reqwest::multipart::Form::new().text("session", "{}");
    let res = app
        .client
        .post(format!("{}/realtime/calls", app.base))
        .bearer_auth(KEY)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let e = expect_error(res, 400, Some("missing_required_parameter")).await;
    assert_eq!(e["param"], "sdp");
    expect_error(
        app.call_sdp("sk-", NO_AUDIO_SDP).await,
        401,
        Some("invalid_api_key"),
    )
    .await;
}

#[tokio::test]
async fn cors_lets_browsers_post_offers_and_read_location() {
    let app = EmulatorApp::start(EmulatorConfig::default()).await;
    let res = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/realtime/calls", app.base),
        )
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let h = res.headers();
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let res = app
        .client
        .post(format!("{}/realtime/calls", app.base))
        .header("origin", "http://localhost:3000")
        .bearer_auth(KEY)
        .header("content-type", "application/sdp")
        .body(NO_AUDIO_SDP)
        .send()
        .await
        .unwrap();
    let exposed = res.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("location"), "{exposed}");
}

#[tokio::test]
async fn hangup_of_an_unknown_call_is_404() {
    let app = EmulatorApp::start(EmulatorConfig::default()).await;
    expect_error(
        app.hangup(KEY, "rtc_u1_nope").await,
        404,
        Some("call_not_found"),
    )
    .await;
    expect_error(
        app.hangup("bad", "rtc_u1_nope").await,
        401,
        Some("invalid_api_key"),
    )
    .await;
}

/// What `accept`, `reject` and `refer` are sent by the SDKs (PROTOCOL §15.7).
fn sip_requests() -> [(&'static str, Value); 3] {
    [
        (
            "accept",
            json!({"type": "realtime", "model": "gpt-realtime", "instructions": "Hi"}),
        ),
        ("reject", json!({"status_code": 486})),
        ("refer", json!({"target_uri": "tel:+14155550123"})),
    ]
}

#[tokio::test]
async fn sip_call_control_of_an_unknown_call_is_404_with_the_envelope() {
    let app = EmulatorApp::start(EmulatorConfig::default()).await;
    for (action, body) in sip_requests() {
        let e = expect_error(
            app.call_control(KEY, "rtc_u1_nope", action, &body).await,
            404,
            Some("call_not_found"),
        )
        .await;
        assert_eq!(e["param"], "call_id", "{action}: {e}");
        assert!(
            e["message"].as_str().unwrap().contains("rtc_u1_nope"),
            "{action}: {e}"
        );
        expect_error(
            app.call_control("bad", "rtc_u1_nope", action, &body).await,
            401,
            Some("invalid_api_key"),
        )
        .await;
    }
}

#[tokio::test]
async fn sip_call_control_of_a_webrtc_call_is_refused_and_leaves_it_up() {
    let app = EmulatorApp::start(EmulatorConfig::default()).await;
    let ek = app.ephemeral_key().await;
    let res = app.call_sdp(&ek, &real_offer()).await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let call_id = location.rsplit('/').next().unwrap();
    for (action, body) in sip_requests() {
        let e = expect_error(
            app.call_control(KEY, call_id, action, &body).await,
            400,
            Some("not_sip_call"),
        )
        .await;
        assert_eq!(e["type"], "invalid_request_error");
        assert_eq!(e["param"], "call_id");
        assert!(
            e["message"].as_str().unwrap().contains("hangup"),
            "{action}: {e}"
        );
        // Server-side endpoints: the browser's ephemeral key may not use them.
        expect_error(
            app.call_control(&ek, call_id, action, &body).await,
            401,
            Some("invalid_api_key"),
        )
        .await;
    }
    // Nothing changed: the call is still up until it is hung up, and then it is unknown.
    assert_eq!(app.hangup(KEY, call_id).await.status(), 200);
    let (action, body) = &sip_requests()[0];
    expect_error(
        app.call_control(KEY, call_id, action, body).await,
        404,
        Some("call_not_found"),
    )
    .await;
}

#[tokio::test]
async fn injected_faults_fail_requests_then_recover() {
    let faults = Faults {
        mint: Some(HttpFault {
            status: 429,
            retry_after: Some(7),
            times: Some(1),
        }),
        call: Some(HttpFault {
            status: 500,
            retry_after: None,
            times: None,
        }),
        ..Faults::default()
    };
    let app = EmulatorApp::start(EmulatorConfig {
        faults,
        ..EmulatorConfig::default()
    })
    .await;
    let res = app.mint(KEY, &json!({})).await;
    assert_eq!(res.headers()["retry-after"], "7");
    expect_error(res, 429, Some("rate_limit_exceeded")).await;
    let ek = app.ephemeral_key().await;
    let e = expect_error(app.call_sdp(&ek, NO_AUDIO_SDP).await, 500, None).await;
    assert_eq!(e["type"], "server_error");
}

#[tokio::test]
async fn a_real_offer_gets_an_answer_a_location_and_can_be_hung_up() {
    // A slow answer (fault injection) still answers.
    let faults = Faults {
        answer_delay: Some(Duration::from_millis(50)),
        ..Faults::default()
    };
    let app = EmulatorApp::start(EmulatorConfig {
        faults,
        ..EmulatorConfig::default()
    })
    .await;
    let ek = app.ephemeral_key().await;
    let res = app.call_sdp(&ek, &real_offer()).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    assert_eq!(res.headers()["content-type"], "application/sdp");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/v1/realtime/calls/rtc_"),
        "{location}"
    );
    let answer = res.text().await.unwrap();
    assert!(
        answer.starts_with("v=0") && answer.contains("m=audio"),
        "{answer}"
    );
    let call_id = location.rsplit('/').next().unwrap();
    assert_eq!(app.hangup(KEY, call_id).await.status(), 200);
    expect_error(app.hangup(KEY, call_id).await, 404, Some("call_not_found")).await;

    // The unified interface: standard key, multipart offer and session.
    let res = app
        .call_multipart(
            KEY,
            &real_offer(),
            Some(&json!({"type": "realtime", "instructions": "Hi"})),
        )
        .await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn a_transcription_secret_or_session_opens_a_transcription_call() {
    let app = EmulatorApp::start(EmulatorConfig::default()).await;
    let minted = app
        .mint_ok(&json!({"session": {"type": "transcription",
            "audio": {"input": {"transcription": {"model": "whisper-1"}, "turn_detection": null}}}}))
        .await;
    let s = &minted["session"];
    realtime_testkit::schema::assert_valid("RealtimeTranscriptionSessionCreateResponseGA", s);
    assert_eq!(
        (&s["type"], &s["object"]),
        (
            &json!("transcription"),
            &json!("realtime.transcription_session")
        )
    );
    assert!(s["audio"]["input"]["turn_detection"].is_null());
    assert!(s.get("model").is_none() && s["audio"].get("output").is_none());
    let ek = minted["value"].as_str().unwrap();
    assert_eq!(app.call_sdp(ek, &real_offer()).await.status(), 201);
    // A call's session body may not turn the secret's transcription session into a conversation.
    let e = expect_error(
        app.call_multipart(ek, &real_offer(), Some(&json!({"type": "realtime"})))
            .await,
        400,
        Some("invalid_value"),
    )
    .await;
    assert_eq!(e["param"], "session.type");
    let res = app
        .call_multipart(KEY, &real_offer(), Some(&json!({"type": "transcription"})))
        .await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn location_follows_the_mount_prefix() {
    let app = axum::Router::new().nest(
        "/emulator/v1",
        realtime_emulator::router(EmulatorConfig::default()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let form = reqwest::multipart::Form::new().text("sdp", real_offer());
    let res = reqwest::Client::new()
        .post(format!("http://{addr}/emulator/v1/realtime/calls"))
        .bearer_auth(KEY)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("/emulator/v1/realtime/calls/rtc_"),
        "{location}"
    );
}

#[tokio::test]
async fn a_preflight_gets_every_header_it_asks_for_on_every_route() {
    let app = EmulatorApp::start(EmulatorConfig::default()).await;
    // What @openai/agents-realtime's WebRTC transport sends with its offer, and the Stainless SDKs' headers.
    let asked = "authorization,content-type,x-openai-agents-sdk,openai-beta,x-stainless-lang";
    for path in [
        "/realtime/calls",
        "/realtime/client_secrets",
        "/realtime/calls/rtc_u1_x/hangup",
    ] {
        let res = app
            .client
            .request(reqwest::Method::OPTIONS, format!("{}{path}", app.base))
            .header("origin", "http://localhost:5173")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", asked)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        let allowed = res.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        for header in asked.split(',') {
            assert!(
                allowed.contains(header),
                "{path}: {header} not in {allowed}"
            );
        }
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_the_api_envelope() {
    let app = EmulatorApp::start(EmulatorConfig::default()).await;
    let cases = [
        (reqwest::Method::POST, "/realtime/nothing", 404),
        (reqwest::Method::GET, "/models", 404),
        (reqwest::Method::GET, "/realtime/client_secrets", 405),
    ];
    for (method, path, status) in cases {
        let res = app
            .client
            .request(method.clone(), format!("{}{path}", app.base))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{method} {path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body["error"]["message"],
            format!("Invalid URL ({method} /v1{path})"),
            "{body}"
        );
        assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
        assert!(
            body["error"].as_object().unwrap().contains_key("param")
                && body["error"].as_object().unwrap().contains_key("code"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn one_ephemeral_key_holds_a_bounded_number_of_calls_open() {
    let app = EmulatorApp::start(EmulatorConfig {
        max_calls_per_key: 2,
        ..EmulatorConfig::default()
    })
    .await;
    let ek = app.ephemeral_key().await;
    // A burst at once: exactly the bound get through, the rest are refused with 429.
    let sdps: Vec<String> = (0..6).map(|_| real_offer()).collect();
    let offers: Vec<_> = sdps.iter().map(|sdp| app.call_sdp(&ek, sdp)).collect();
    let mut answered = Vec::new();
    let mut refused = 0;
    for res in futures::future::join_all(offers).await {
        match res.status().as_u16() {
            201 => answered.push(res.headers()["location"].to_str().unwrap().to_owned()),
            429 => {
                expect_error(res, 429, Some("call_limit_reached")).await;
                refused += 1;
            }
            other => panic!("unexpected {other}: {:?}", res.text().await),
        }
    }
    assert_eq!((answered.len(), refused), (2, 4));
    // Another key is not affected; ending one of the calls frees a slot.
    let other = app.ephemeral_key().await;
    assert_eq!(app.call_sdp(&other, &real_offer()).await.status(), 201);
    let call_id = answered[0].rsplit('/').next().unwrap();
    assert_eq!(app.hangup(KEY, call_id).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.call_sdp(&ek, &real_offer()).await.status(), 201);
    expect_error(
        app.call_sdp(&ek, &real_offer()).await,
        429,
        Some("call_limit_reached"),
    )
    .await;
}
