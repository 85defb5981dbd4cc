//! The library's own endpoints on a real server: the one-document export, the timeline, the event types,
//! `seeded_from`, search by what was said, and the inspector page.

use realtime_testkit::console::{ConsoleApp, event};
use serde_json::{Value, json};

#[tokio::test]
async fn export_json_is_the_session_and_every_event_in_one_document() {
    let (app, id) = ConsoleApp::with_session().await;
    let events: Vec<Value> = (1..=2500)
        .map(|s| {
            event(
                s,
                "server",
                json!({"type": "response.output_text.delta", "delta": format!("w{s}")}),
            )
        })
        .collect();
    for chunk in events.chunks(1000) {
        let (status, _) = app.post_events(&id, Value::Array(chunk.to_vec())).await;
        assert_eq!(status, 200);
    }
    let res = app
        .http
        .get(app.url(&format!("/api/sessions/{id}/export.json")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".json")
    );
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["session"]["id"], id);
    let got = doc["events"].as_array().unwrap();
    assert_eq!(got.len(), 2500);
    for (i, e) in got.iter().enumerate() {
        assert_eq!(e["seq"], events[i]["seq"]);
        assert_eq!(e["event"], events[i]["event"]);
        assert_eq!(e["type"], "response.output_text.delta");
    }
    let missing = app
        .http
        .get(app.url("/api/sessions/01a20f87-f9a7-7780-8728-75bc7c52868e/export.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn timeline_types_seeds_search_and_pages() {
    let app = ConsoleApp::start().await;
    let s = app.create_session(json!({"label": "the original"})).await;
    let id = s["id"].as_str().unwrap();
    let (status, _) = app
        .post_events(
            id,
            json!([
                event(1, "server", json!({"type": "response.output_audio_transcript.done", "transcript": "Cloudberries grow in Finnmark"})),
                event(2, "server", json!({"type": "response.done", "response": {}})),
                event(3, "server", json!({"type": "error", "error": {"message": "boom"}})),
            ]),
        )
        .await;
    assert_eq!(status, 200);
    let types: Value = app.get_json(&format!("/api/sessions/{id}/types")).await;
    assert_eq!(types["types"].as_array().unwrap().len(), 3);
    let t: Value = app.get_json(&format!("/api/sessions/{id}/timeline")).await;
    assert_eq!(t["turns"][0]["seq"], 2);
    assert_eq!(t["errors"][0]["seq"], 3);

    let copy = app.new_session_id().await;
    let res = app.patch_session(&copy, &json!({"seeded_from": id})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["seeded_from"], id);
    let bad = app
        .patch_session(&copy, &json!({"seeded_from": "nope"}))
        .await;
    assert_eq!(bad.status(), 400);

    let found: Value = app.get_json("/api/sessions?q=cloudberr").await;
    assert_eq!(found["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(found["sessions"][0]["id"], id);

    let page = app
        .http
        .get(app.url(&format!("/sessions/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("the original") && html.contains(&format!("/?seed={id}")));
    let html = app.get_text(&format!("/sessions/{copy}")).await;
    assert!(html.contains("seeded from"));
    let missing = app
        .http
        .get(app.url("/sessions/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_browser_reports_an_ephemeral_calls_id_once() {
    let (app, id) = ConsoleApp::with_session().await;
    let bad = app
        .patch_session(&id, &json!({"call_id": "not a call"}))
        .await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["param"], "call_id", "{body}");
    assert_eq!(
        app.get_json(&format!("/api/sessions/{id}")).await["call_id"],
        Value::Null
    );

    let res = app
        .patch_session(&id, &json!({"call_id": "rtc_u1_abc123"}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["call_id"],
        "rtc_u1_abc123"
    );
    // Set once: a later value does not replace it.
    let res = app
        .patch_session(&id, &json!({"call_id": "rtc_u1_other"}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["call_id"],
        "rtc_u1_abc123"
    );
    let found: Value = app.get_json("/api/sessions?q=rtc_u1_abc123").await;
    assert_eq!(
        found["sessions"][0]["id"],
        json!(id),
        "the library finds it by call id"
    );
}

/// An import is a finished recording: its model, voice and config are what its server last said (the last
/// `session.created` or `session.updated`), and it is ended, so "Open in console" has something to seed.
#[tokio::test]
async fn an_import_takes_its_model_voice_and_config_from_its_last_session_event() {
    let app = ConsoleApp::start().await;
    let session = |instructions: &str, voice: &str, model: &str| {
        json!({"type": "realtime", "model": model, "instructions": instructions,
               "audio": {"output": {"voice": voice}}})
    };
    let lines = [
        event(
            1,
            "server",
            json!({"type": "session.created", "event_id": "e1",
                   "session": session("Be brief.", "alloy", "gpt-realtime")}),
        ),
        event(
            2,
            "client",
            json!({"type": "session.update", "event_id": "c2",
                   "session": {"type": "realtime", "instructions": "Be thorough."}}),
        ),
        // The last one by seq, though not the last line of the file.
        event(
            4,
            "server",
            json!({"type": "session.updated", "event_id": "e4",
                   "session": session("Be thorough, in French.", "marin", "gpt-realtime-2025-08-28")}),
        ),
        event(
            3,
            "server",
            json!({"type": "session.updated", "event_id": "e3",
                   "session": session("Be thorough.", "cedar", "gpt-realtime")}),
        ),
        event(
            5,
            "server",
            json!({"type": "response.done", "event_id": "e5",
                                  "response": {"id": "r1", "status": "completed", "output": []}}),
        ),
    ];
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let res = app.import(Some("french"), body).await;
    assert_eq!(res.status(), 201);
    let imported: Value = res.json().await.unwrap();
    let id = imported["id"].as_str().unwrap().to_owned();
    let (status, got) = app.session(&id).await;
    assert_eq!(status, 200);
    for s in [&imported, &got] {
        assert_eq!(s["model"], "gpt-realtime-2025-08-28", "{s}");
        assert_eq!(
            s["config"],
            session(
                "Be thorough, in French.",
                "marin",
                "gpt-realtime-2025-08-28"
            ),
            "{s}"
        );
        assert!(s["ended_at"].is_i64(), "an import is ended: {s}");
        assert_eq!(s["live"], false, "{s}");
    }

    // The library shows them, and no "open" badge.
    let page = app.get_text("/sessions").await;
    let row = page
        .split("<tr ")
        .find(|r| r.contains(&format!("data-id=\"{id}\"")))
        .expect("the import is listed");
    assert!(row.contains("<td>marin</td>"), "{row}");
    assert!(
        row.contains(r#"title="gpt-realtime-2025-08-28">gpt-realtime-2025-08-28</td>"#),
        "{row}"
    );
    assert!(!row.contains("open-badge"), "{row}");

    // Without a session event there is nothing to derive: no model, no config, still ended.
    let plain = event(
        1,
        "client",
        json!({"type": "response.create", "event_id": "c1"}),
    );
    let res = app.import(None, format!("{plain}\n")).await;
    assert_eq!(res.status(), 201);
    let bare: Value = res.json().await.unwrap();
    assert!(bare["model"].is_null(), "{bare}");
    assert!(bare["ended_at"].is_i64(), "{bare}");
}
