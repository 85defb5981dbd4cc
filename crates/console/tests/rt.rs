//! `/api/rt/*` against a recording upstream (a real HTTP server): the exact requests the console sends,
//! validated against the official schemas, and what it records and answers.

use realtime_testkit::console::*;
use realtime_testkit::schema::assert_valid;
use serde_json::{Value, json};

#[tokio::test]
async fn token_sends_a_valid_mint_request_and_records_a_redacted_event() {
    let upstream = RecordingUpstream::start().await;
    let app = ConsoleApp::with_upstream_and(&upstream, |c| {
        c.session_defaults = Some(r#"{"instructions":"Default instructions."}"#.into());
    })
    .await;

    let res = app
        .token(json!({
            "label": "mint test",
            "session": {
                "instructions": "Be brief.",
                "audio": {"output": {"voice": "marin"}, "input": {"turn_detection": {"type": "semantic_vad"}}},
                "tools": [{"type": "function", "name": "lookup", "description": "d",
                           "parameters": {"type": "object", "properties": {}}}],
                "tool_choice": "auto",
                "max_output_tokens": 512
            }
        }))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();

    // Upstream saw one well-formed request with the server's key.
    let requests = upstream.requests_to(Route::ClientSecrets);
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent.path, "/v1/realtime/client_secrets");
    assert_eq!(sent.bearer(), Some(CANARY_KEY));
    assert!(
        sent.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let sent_body = sent.json();
    assert_valid("RealtimeCreateClientSecretRequest", &sent_body);
    assert_eq!(
        sent_body["expires_after"],
        json!({"anchor": "created_at", "seconds": 600})
    );
    let s = &sent_body["session"];
    assert_eq!(s["type"], "realtime");
    assert_eq!(s["model"], "gpt-realtime");
    assert_eq!(s["instructions"], "Be brief.");
    assert_eq!(s["audio"]["output"]["voice"], "marin");
    assert_eq!(s["max_output_tokens"], 512);

    // The browser gets upstream's JSON plus where to go next.
    let key = body["value"].as_str().unwrap();
    assert!(key.starts_with("ek_"));
    assert!(body["session"].is_object());
    let console = &body["console"];
    assert_eq!(
        console["calls_url"],
        format!("{}/realtime/calls", upstream.base_url())
    );
    assert_eq!(console["next_seq"], 2);
    let sid = console["session_id"].as_str().unwrap();

    let session = app.session(sid).await.1;
    assert_eq!(session["flow"], "ephemeral");
    assert_eq!(session["label"], "mint test");
    assert_eq!(session["model"], "gpt-realtime");
    assert_eq!(session["config"]["instructions"], "Be brief.");
    assert_eq!(session["ended_at"], Value::Null);

    let events = app.stored(sid).await;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (e["seq"].as_i64(), e["direction"].as_str()),
        (Some(1), Some("system"))
    );
    assert_eq!(e["type"], "console.token");
    assert_eq!(e["event"]["expires_at"], body["expires_at"]);
    assert_eq!(e["event"]["session"]["instructions"], "Be brief.");
    let fingerprint = e["event"]["key"].as_str().unwrap();
    assert!(fingerprint.starts_with("ek_…"), "{fingerprint}");
    let everything = format!("{events:?} {session}");
    assert!(!everything.contains(key), "the ephemeral key was stored");
    assert!(!everything.contains(CANARY_KEY));

    // The browser's own recording continues at next_seq.
    let batch = json!({"events": [{"seq": 2, "ts": 1.0, "direction": "client",
                                   "event": {"type": "session.update"}}]});
    let res = app
        .http
        .post(app.url(&format!("/api/sessions/{sid}/events")))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["acked_seq"], 2);
}

#[tokio::test]
async fn get_token_mints_with_the_server_defaults() {
    let upstream = RecordingUpstream::start().await;
    let app = ConsoleApp::with_upstream(&upstream).await;
    let res = app
        .http
        .get(app.url("/api/rt/token?label=from%20get"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    let sent = upstream.requests_to(Route::ClientSecrets)[0].json();
    assert_valid("RealtimeCreateClientSecretRequest", &sent);
    assert_eq!(
        sent["session"],
        json!({"type": "realtime", "model": "gpt-realtime"})
    );
    let (_, session) = app
        .session(body["console"]["session_id"].as_str().unwrap())
        .await;
    assert_eq!(session["label"], "from get");

    let res = app
        .http
        .get(app.url("/api/rt/token?model=gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn overrides_outside_the_list_never_reach_upstream() {
    let upstream = RecordingUpstream::start().await;
    let app = ConsoleApp::with_upstream_and(&upstream, |c| {
        c.allowed_models = vec!["gpt-realtime-mini".into()];
    })
    .await;
    for (body, code, param) in [
        (
            json!({"session": {"temperature": 0.9}}),
            "unknown_parameter",
            "session.temperature",
        ),
        (
            json!({"session": {"audio": {"output": {"pitch": 1.5}}}}),
            "unknown_parameter",
            "session.audio.output.pitch",
        ),
        (
            json!({"session": {"model": "gpt-4o-realtime-preview"}}),
            "invalid_value",
            "session.model",
        ),
        (
            json!({"expires_after": {"seconds": 60}}),
            "unknown_parameter",
            "expires_after",
        ),
        (
            json!({"session": {"instructions": 7}}),
            "invalid_type",
            "session",
        ),
        (json!({"label": "x".repeat(201)}), "invalid_value", "label"),
    ] {
        let res = app.token(body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(
            code_and_param(&err),
            (code.to_owned(), Some(param.to_owned())),
            "{body}"
        );
    }
    let res = app.call_form(OFFER, Some(&json!({"voice": "marin"}))).await;
    assert_eq!(res.status(), 400);
    assert!(
        upstream.requests().is_empty(),
        "nothing invalid was forwarded"
    );

    // A model the configuration allows is passed on.
    let res = app
        .token(json!({"session": {"model": "gpt-realtime-mini"}}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        upstream.requests()[0].json()["session"]["model"],
        "gpt-realtime-mini"
    );
}

#[tokio::test]
async fn unified_forwards_the_offer_as_multipart_and_hangs_up() {
    let upstream = RecordingUpstream::start().await;
    let app = ConsoleApp::with_upstream(&upstream).await;

    // Raw application/sdp from the browser.
    let res = app.call_raw(OFFER).await;
    assert_eq!(res.status(), 201);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "application/sdp");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-console-next-seq"], "2");
    let sid = h["x-console-session-id"].to_str().unwrap().to_owned();
    let call_id = h["x-call-id"].to_str().unwrap().to_owned();
    assert!(call_id.starts_with("rtc_"));
    // `Location` is the upstream call, as in the upstream's own answer: clients take its last segment.
    assert_eq!(
        h["location"],
        format!("{}/realtime/calls/{call_id}", upstream.base_url()).as_str()
    );
    assert_eq!(res.text().await.unwrap(), fixtures::SDP_ANSWER);

    let sent = &upstream.requests_to(Route::Calls)[0];
    assert_eq!(sent.path, "/v1/realtime/calls");
    assert_eq!(sent.bearer(), Some(CANARY_KEY));
    assert!(
        sent.header("content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );
    let parts = sent.multipart().await;
    let names: Vec<_> = parts.iter().map(|p| p.name.as_deref()).collect();
    assert_eq!(names, [Some("sdp"), Some("session")]);
    assert_eq!(parts[0].content_type.as_deref(), Some("application/sdp"));
    assert_eq!(parts[0].body, OFFER.as_bytes(), "forwarded byte for byte");
    assert_eq!(parts[1].content_type.as_deref(), Some("application/json"));
    let session_part: Value = serde_json::from_slice(&parts[1].body).unwrap();
    assert_eq!(
        session_part,
        json!({"type": "realtime", "model": "gpt-realtime"})
    );
    assert_valid(
        "RealtimeCallCreateRequest",
        &json!({"sdp": OFFER, "session": session_part}),
    );

    let session = app.session(&sid).await.1;
    assert_eq!(session["flow"], "unified");
    assert_eq!(session["call_id"], call_id.as_str());
    let events = app.stored(&sid).await;
    assert_eq!(events[0]["seq"], 1);
    assert_eq!(events[0]["type"], "console.call");
    assert_eq!(events[0]["event"]["call_id"], call_id.as_str());

    // Multipart from the browser, with overrides.
    let res = app
        .call_form(
            OFFER,
            Some(&json!({"instructions": "Hi.", "audio": {"output": {"voice": "cedar"}}})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let parts = upstream.requests_to(Route::Calls)[1].multipart().await;
    let session_part: Value = serde_json::from_slice(&parts[1].body).unwrap();
    assert_eq!(session_part["instructions"], "Hi.");
    assert_eq!(session_part["audio"]["output"]["voice"], "cedar");
    assert_valid(
        "RealtimeCallCreateRequest",
        &json!({"sdp": OFFER, "session": session_part}),
    );

    // Hangup of the first call.
    let res = app.hangup(&sid).await;
    assert_eq!(res.status(), 200);
    let ended: Value = res.json().await.unwrap();
    assert!(ended["ended_at"].is_i64());
    let hangups = upstream.requests_to(Route::Hangup);
    assert_eq!(hangups.len(), 1);
    assert_eq!(
        hangups[0].path,
        format!("/v1/realtime/calls/{call_id}/hangup")
    );
    assert_eq!(hangups[0].bearer(), Some(CANARY_KEY));
    let events = app.stored(&sid).await;
    let last = events.last().unwrap();
    assert_eq!(last["type"], "console.hangup");
    assert_eq!(last["direction"], "system");
    assert!(last["seq"].as_i64().unwrap() >= 1 << 50, "{last}");
}

#[tokio::test]
async fn bad_offers_and_sessions_without_calls_are_refused() {
    let upstream = RecordingUpstream::start().await;
    let app = ConsoleApp::with_upstream(&upstream).await;
    let res = app
        .http
        .post(app.url("/api/rt/session"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let res = app.call_raw("hello").await;
    assert_eq!(res.status(), 400);
    let res = app
        .http
        .post(app.url("/api/rt/session"))
        .multipart(reqwest::multipart::Form::new().text("session", "{}"))
        .send()
        .await
        .unwrap();
    let err: Value = res.json().await.unwrap();
    assert_eq!(
        code_and_param(&err),
        ("missing_required_parameter".into(), Some("sdp".into()))
    );
    assert!(upstream.requests().is_empty());

    // A minted session has no call the server knows of.
    let body: Value = app.token(json!({})).await.json().await.unwrap();
    let res = app
        .hangup(body["console"]["session_id"].as_str().unwrap())
        .await;
    assert_eq!(res.status(), 409);
    let res = app.hangup("0190a0a0-0000-7000-8000-000000000000").await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn the_csp_lets_pages_reach_the_upstream_origin() {
    let upstream = RecordingUpstream::start().await;
    let app = ConsoleApp::with_upstream(&upstream).await;
    let res = app.http.get(app.url("/")).send().await.unwrap();
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains(&format!("connect-src 'self' http://{};", upstream.addr())),
        "{csp}"
    );
}
