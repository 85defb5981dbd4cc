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
