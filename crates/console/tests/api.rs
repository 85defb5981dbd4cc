//! The recording API through the real router and a real SQLite file: the happy path and every error case.

use realtime_testkit::console::{ConsoleApp, error_of, event, realistic_event};
use serde_json::{Value, json};

#[tokio::test]
async fn record_a_session_and_read_it_back() {
    let app = ConsoleApp::start().await;
    let s = app
        .create_session(json!({"label": "demo", "flow": "ephemeral", "model": "gpt-realtime", "config": {"type": "realtime"}}))
        .await;
    let id = s["id"].as_str().unwrap();
    assert_eq!(s["label"], "demo");
    assert_eq!(s["config"]["type"], "realtime");

    let events: Vec<Value> = (1..=5)
        .map(|n| event(n, "server", realistic_event(n)))
        .collect();
    let (status, ack) = app.post_events(id, json!(events)).await;
    assert_eq!(status, 200);
    assert_eq!(ack, json!({"acked_seq": 5, "stored": 5, "duplicates": 0}));

    let (status, page) = app.events(id, "limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    assert_eq!(page["next_after_seq"], 2);
    let first = &page["events"][0];
    assert_eq!(first["type"], "response.output_audio_transcript.delta");
    assert_eq!(first["event"], realistic_event(1));
    assert!(first["received_at"].as_i64().unwrap() > 0);

    let (_, s) = app.session(id).await;
    assert_eq!(s["stats"]["events"]["server"], 5);
    assert_eq!(s["acked_seq"], 5);

    let res = app
        .patch_session(id, &json!({"label": "renamed", "ended": true}))
        .await;
    assert_eq!(res.status(), 200);
    let s: Value = res.json().await.unwrap();
    assert_eq!(s["label"], "renamed");
    assert!(s["ended_at"].is_i64());

    let list: Value = app.get_json("/api/sessions?q=renam").await;
    assert_eq!(list["sessions"][0]["id"], id);

    let page = app.http.get(app.url("/sessions")).send().await.unwrap();
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("renamed") && html.contains(id));

    let res = app.delete_session(id).await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.session(id).await.0, 404);
    assert_eq!(app.events(id, "").await.0, 404);
}

#[tokio::test]
async fn the_session_page_leaves_out_what_the_session_does_not_have() {
    let app = ConsoleApp::start().await;
    let s = app.create_session(json!({"label": "bare"})).await;
    let id = s["id"].as_str().unwrap();
    let html = app.get_text(&format!("/sessions/{id}")).await;
    let text = html.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("bare"));
    // No model: its place in the summary line is left out, not shown as an empty "· ·".
    assert!(!text.contains("· ·"), "{text}");
}

#[tokio::test]
async fn labels_are_shown_as_text_not_html() {
    let app = ConsoleApp::start().await;
    app.create_session(json!({"label": "<img src=x onerror=alert(1)>"}))
        .await;
    let html = app.get_text("/sessions").await;
    assert!(!html.contains("<img src=x"));
    assert!(html.contains("&#60;img src=x") || html.contains("&lt;img src=x"));
}

#[tokio::test]
async fn sessions_page_newest_first_with_a_cursor() {
    let app = ConsoleApp::start().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(app.new_session_id().await);
    }
    let page: Value = app.get_json("/api/sessions?limit=2").await;
    assert_eq!(page["sessions"][0]["id"], ids[4].as_str());
    assert_eq!(page["sessions"][1]["id"], ids[3].as_str());
    let next = page["next_before"].as_str().unwrap();
    let page: Value = app
        .get_json(&format!("/api/sessions?limit=10&before={next}"))
        .await;
    let got: Vec<&str> = page["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![ids[2].as_str(), ids[1].as_str(), ids[0].as_str()]);
    assert!(page["next_before"].is_null());
}

#[tokio::test]
async fn every_bad_batch_is_refused_whole_with_the_field_named() {
    let (app, id) = ConsoleApp::with_session().await;
    let good = |n| event(n, "client", json!({"type": "response.create"}));
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"seq": 2, "ts": 1, "direction": "client"}),
            "events[1].event",
            "missing_required_parameter",
        ),
        (
            json!({"seq": 0, "ts": 1, "direction": "client", "event": {"type": "x"}}),
            "events[1].seq",
            "invalid_value",
        ),
        (
            json!({"seq": -3, "ts": 1, "direction": "client", "event": {"type": "x"}}),
            "events[1].seq",
            "invalid_value",
        ),
        (
            json!({"seq": "2", "ts": 1, "direction": "client", "event": {"type": "x"}}),
            "events[1].seq",
            "invalid_value",
        ),
        (
            json!({"seq": 2.5, "ts": 1, "direction": "client", "event": {"type": "x"}}),
            "events[1].seq",
            "invalid_value",
        ),
        (
            json!({"seq": 2, "ts": "now", "direction": "client", "event": {"type": "x"}}),
            "events[1].ts",
            "invalid_value",
        ),
        (
            json!({"seq": 2, "ts": 1, "direction": "browser", "event": {"type": "x"}}),
            "events[1].direction",
            "invalid_value",
        ),
        (
            json!({"seq": 2, "ts": 1, "direction": "client", "event": "text"}),
            "events[1].event",
            "invalid_value",
        ),
        (
            json!({"seq": 2, "ts": 1, "direction": "client", "event": {"no": "type"}}),
            "events[1].event.type",
            "missing_required_parameter",
        ),
        (
            json!({"seq": 2, "ts": 1, "direction": "client", "event": {"type": 5}}),
            "events[1].event.type",
            "invalid_value",
        ),
        (
            json!({"seq": 2, "ts": 1, "direction": "client", "event": {"type": "x"}, "extra": 1}),
            "events[1]",
            "unknown_parameter",
        ),
    ];
    for (bad, param, code) in cases {
        let (status, body) = app
            .post_events(&id, json!([good(1), bad.clone(), good(3)]))
            .await;
        assert_eq!(status, 400, "{bad}");
        let (got_code, _, got_param) = error_of(&body);
        assert_eq!((got_code, got_param), (code, Some(param)), "{bad}: {body}");
    }
    let (_, page) = app.events(&id, "").await;
    assert!(
        page["events"].as_array().unwrap().is_empty(),
        "no element of a refused batch is stored"
    );
}

#[tokio::test]
async fn malformed_bodies_and_queries_get_clear_errors() {
    let (app, id) = ConsoleApp::with_session().await;
    for body in [
        "{not json",
        "[]",
        r#"{"events": 3}"#,
        r#"{"evnts": []}"#,
        "",
    ] {
        let (status, res) = app.post_events_raw(&id, body).await;
        assert_eq!(status, 400, "{body}");
        error_of(&res);
    }
    let (status, res) = app.post_events_raw(&id, r#"{"events":[],"more":1}"#).await;
    assert_eq!((status, error_of(&res).2), (400, Some("more")));
    for (query, param) in [
        ("after_seq=-1", "after_seq"),
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
        ("direction=up", "direction"),
    ] {
        let (status, res) = app.events(&id, query).await;
        assert_eq!((status, error_of(&res).2), (400, Some(param)), "{query}");
    }
    let res = app
        .http
        .get(app.url("/api/sessions?before=yesterday"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = app
        .http
        .post(app.url("/api/sessions"))
        .body(r#"{"flow": "Not A Flow!"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(error_of(&res.json().await.unwrap()).2, Some("flow"));
    let res = app
        .http
        .post(app.url("/api/sessions"))
        .body(r#"{"lable": "typo"}"#)
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        error_of(&body),
        (
            "unknown_parameter",
            "unknown parameter `lable`",
            Some("lable")
        )
    );
    let res = app
        .http
        .patch(app.url(&format!("/api/sessions/{id}")))
        .body(r#"{"ended": false}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn resends_are_duplicates_and_changed_content_is_a_conflict() {
    let (app, id) = ConsoleApp::with_session().await;
    let batch = json!([
        event(1, "server", realistic_event(1)),
        event(2, "server", realistic_event(2))
    ]);
    assert_eq!(app.post_events(&id, batch.clone()).await.1["stored"], 2);
    let (status, ack) = app.post_events(&id, batch).await;
    assert_eq!(
        (status, ack),
        (200, json!({"acked_seq": 2, "stored": 0, "duplicates": 2}))
    );

    let changed = json!([
        event(3, "server", realistic_event(3)),
        event(2, "server", json!({"type": "other"}))
    ]);
    let (status, body) = app.post_events(&id, changed).await;
    assert_eq!(status, 409);
    assert_eq!(error_of(&body).2, Some("events[1].seq"));
    let (_, page) = app.events(&id, "").await;
    assert_eq!(
        page["events"].as_array().unwrap().len(),
        2,
        "seq 3 of the refused batch is not stored"
    );
}

#[tokio::test]
async fn acked_seq_reports_the_contiguous_prefix() {
    let (app, id) = ConsoleApp::with_session().await;
    let e = |n| event(n, "server", realistic_event(n));
    assert_eq!(
        app.post_events(&id, json!([e(1), e(2), e(4)])).await.1["acked_seq"],
        2
    );
    assert_eq!(app.post_events(&id, json!([e(6)])).await.1["acked_seq"], 2);
    assert_eq!(app.post_events(&id, json!([e(3)])).await.1["acked_seq"], 4);
    assert_eq!(app.post_events(&id, json!([e(5)])).await.1["acked_seq"], 6);
}

#[tokio::test]
async fn unknown_sessions_are_404() {
    let app = ConsoleApp::start().await;
    let unknown = "01900000-0000-7000-8000-000000000000";
    for id in [unknown, "not-an-id"] {
        let (status, body) = app
            .post_events(id, json!([event(1, "server", realistic_event(1))]))
            .await;
        assert_eq!((status, error_of(&body).0), (404, "session_not_found"));
        assert_eq!(app.session(id).await.0, 404);
        assert_eq!(app.events(id, "").await.0, 404);
        let (status, _) = app.get(&format!("/api/sessions/{id}/events.jsonl")).await;
        assert_eq!(status, 404);
        assert_eq!(app.delete_session(id).await.status(), 404);
        let res = app
            .http
            .patch(app.url(&format!("/api/sessions/{id}")))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
    }
}

#[tokio::test]
async fn oversized_batches_and_events_are_413() {
    let (app, id) = ConsoleApp::with_session().await;
    let many: Vec<Value> = (1..=1001)
        .map(|n| event(n, "server", json!({"type": "x"})))
        .collect();
    let (status, body) = app.post_events(&id, json!(many)).await;
    assert_eq!((status, error_of(&body).0), (413, "too_many_events"));

    let big = "a".repeat(300 * 1024);
    let (status, body) = app
        .post_events(
            &id,
            json!([event(1, "server", json!({"type": "x", "blob": big}))]),
        )
        .await;
    assert_eq!((status, error_of(&body).2), (413, Some("events[0].event")));

    // 20 events of 220 KiB each: every event is allowed, the 4 MiB body is not.
    let chunk = "b".repeat(220 * 1024);
    let heavy: Vec<Value> = (1..=20)
        .map(|n| event(n, "server", json!({"type": "x", "blob": chunk})))
        .collect();
    let (status, body) = app.post_events(&id, json!(heavy)).await;
    assert_eq!((status, error_of(&body).0), (413, "request_too_large"));
    let (_, page) = app.events(&id, "").await;
    assert!(page["events"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn cross_origin_writes_are_refused() {
    let app = ConsoleApp::start().await;
    let res = app
        .http
        .post(app.url("/api/sessions"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    error_of(&res.json().await.unwrap());
    let list: Value = app.get_json("/api/sessions").await;
    assert!(
        list["sessions"].as_array().unwrap().is_empty(),
        "the refused request created nothing"
    );
    let res = app
        .http
        .post(app.url("/api/sessions"))
        .header("origin", app.base.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "the console's own origin is allowed");
}

#[tokio::test]
async fn type_direction_and_text_filters() {
    let (app, id) = ConsoleApp::with_session().await;
    let events = json!([
        event(1, "server", json!({"type": "session.created"})),
        event(
            2,
            "client",
            json!({"type": "conversation.item.create", "item": {"content": [{"text": "Find the Needle"}]}})
        ),
        event(3, "client", json!({"type": "response.create"})),
        event(4, "server", json!({"type": "response.created"})),
        event(
            5,
            "server",
            json!({"type": "response.output_text.delta", "delta": "needle"})
        ),
        event(6, "server", json!({"type": "response.done"})),
        event(7, "system", json!({"type": "console.disconnected"})),
    ]);
    app.post_events(&id, events).await;
    let seqs = |page: &Value| {
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        seqs(&app.events(&id, "type=response.").await.1),
        vec![3, 4, 5, 6]
    );
    assert_eq!(
        seqs(&app.events(&id, "type=response.done").await.1),
        vec![6]
    );
    assert_eq!(
        seqs(&app.events(&id, "type=response.&direction=server").await.1),
        vec![4, 5, 6]
    );
    assert_eq!(seqs(&app.events(&id, "direction=system").await.1), vec![7]);
    assert_eq!(seqs(&app.events(&id, "q=needle").await.1), vec![2, 5]);
    assert_eq!(
        seqs(&app.events(&id, "after_seq=4&limit=2").await.1),
        vec![5, 6]
    );
}

#[tokio::test]
async fn export_then_import_then_export_gives_the_same_lines() {
    let (app, id) = ConsoleApp::with_session().await;
    let raw = r#"{"events":[{"seq":1,"ts":1732390000123.5,"direction":"server","event":{"type":"session.created",  "note":"spacing \u00e9 kept"}},{"seq":2,"ts":1732390000200,"direction":"client","event":{"type":"response.create"}},{"seq":4,"ts":1732390000300.25,"direction":"system","event":{"type":"console.note"}}]}"#;
    assert_eq!(app.post_events_raw(&id, raw).await.0, 200);
    let first = app.export(&id).await;
    assert_eq!(first.lines().count(), 3);
    assert!(
        first.contains(r#"{"type":"session.created",  "note":"spacing \u00e9 kept"}"#),
        "event bytes survive: {first}"
    );

    let res = app.import(Some("copy"), first.clone()).await;
    assert_eq!(res.status(), 201);
    let imported: Value = res.json().await.unwrap();
    assert_eq!(
        (imported["flow"].as_str(), imported["label"].as_str()),
        (Some("import"), Some("copy"))
    );
    assert_eq!(imported["stats"]["events"]["total"], 3);
    assert_eq!(app.export(imported["id"].as_str().unwrap()).await, first);

    let res = app
        .import(
            None,
            "{\"seq\":1,\"ts\":1,\"direction\":\"server\",\"event\":{\"type\":\"a\"}}\nnot json\n",
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(error_of(&res.json().await.unwrap()).2, Some("line 2"));
    let list: Value = app.get_json("/api/sessions").await;
    assert_eq!(
        list["sessions"].as_array().unwrap().len(),
        2,
        "the failed import left no session behind"
    );
}

#[tokio::test]
async fn health_and_unknown_routes() {
    let app = ConsoleApp::start().await;
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // Under the APIs, the upstream's envelope: the console's own, the emulator's mount and `/v1`.
    let cases = [
        (reqwest::Method::GET, "/api/nothing", 404),
        (reqwest::Method::POST, "/api/sessions/x/y/z", 404),
        (reqwest::Method::PUT, "/api/sessions", 405),
        (reqwest::Method::POST, "/v1/realtime/nothing", 404),
        (reqwest::Method::POST, "/emulator/v1/realtime/nothing", 404),
        (reqwest::Method::GET, "/emulator/v1/realtime/calls", 405),
        (reqwest::Method::GET, "/emulator", 404),
    ];
    for (method, path, status) in cases {
        let res = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{method} {path}");
        let body: Value = res.json().await.unwrap();
        let (_, message, _) = error_of(&body);
        assert_eq!(message, format!("Invalid URL ({method} {path})"), "{body}");
    }
    // Pages: the error page.
    for (method, status) in [(reqwest::Method::GET, 404), (reqwest::Method::POST, 404)] {
        let res = app
            .http
            .request(method, app.url("/nothing"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status);
        assert!(res.text().await.unwrap().contains("There is no page here"));
    }
    let res = app.http.delete(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("cannot be requested that way")
    );
}
