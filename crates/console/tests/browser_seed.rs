//! "Open in console" in headless Chromium against the real server and its built-in emulator: record a
//! session with a text turn through the console page, open `/?seed=<id>&conversation=1`, connect, and
//! check that the new session is marked `seeded_from` the old one, runs with the same config, and got the
//! recorded conversation as `conversation.item.create` events before its first `response.create`.
//!
//! Needs Debian's `chromium` and `chromium-driver`; fails (never skips) without them.

use realtime_testkit::browser::Browser;
use realtime_testkit::console_page::{
    self, connect_as_configured, disconnect, entry_count, wait_entry,
};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");

/// Sends a text turn and waits for its `response.done`.
async fn talk(b: &Browser, text: &str) {
    let from = entry_count(b).await;
    b.type_and_enter("text-input", text).await;
    wait_entry(b, from, "server", "response.done").await;
}

fn of_type<'a>(events: &'a [Value], direction: &str, kind: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["direction"] == direction && e["event"]["type"] == kind)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_in_console_seeds_the_config_and_the_conversation() {
    let (server, b) = console_page::launch(BIN, &[]).await;

    // The session to seed from: its own instructions, voice and text output, one text turn.
    b.eval(
        "const f = document.getElementById('config-form');
         f.elements.instructions.value = 'Seeded instructions: answer briefly.';
         f.elements.voice.value = 'cedar';
         f.elements.modality.value = 'text';
         f.dispatchEvent(new Event('change'));
         return null;",
    )
    .await;
    let old = connect_as_configured(&b).await;
    talk(&b, "hello from the first session").await;
    disconnect(&b, &old).await;
    let old_session = server.get_json(&format!("/api/sessions/{old}")).await;
    let old_config = old_session["config"].clone();
    assert_eq!(
        old_config["instructions"], "Seeded instructions: answer briefly.",
        "the first session ran with the edited config: {old_config}"
    );
    let old_events = server.stored(&old).await;
    let answer = of_type(&old_events, "server", "response.output_text.done")
        .first()
        .map(|e| e["event"]["text"].as_str().unwrap().to_owned())
        .expect("the first session has a text answer");

    // A fresh page with the defaults, then "Open in console" with its conversation.
    b.eval("localStorage.clear(); return null;").await;
    b.open_console(&server.url(&format!("/?seed={old}&conversation=1")))
        .await;
    b.wait_until(
        "window.consoleDebug.seed() && window.consoleDebug.seed().state === 'ready'",
        "the seed loads",
    )
    .await;
    let shown = b
        .eval(
            "const f = document.getElementById('config-form');
             const n = document.getElementById('seed-notice');
             return { instructions: f.elements.instructions.value, voice: f.elements.voice.value,
                      modality: f.elements.modality.value, hidden: n.hidden, text: n.textContent,
                      link: document.getElementById('seed-link').getAttribute('href') };",
        )
        .await;
    assert_eq!(
        shown["instructions"], "Seeded instructions: answer briefly.",
        "{shown}"
    );
    assert_eq!(shown["voice"], "cedar", "{shown}");
    assert_eq!(shown["modality"], "text", "{shown}");
    assert_eq!(shown["hidden"], false, "the seed notice shows: {shown}");
    assert!(
        shown["text"]
            .as_str()
            .unwrap()
            .contains(&format!("Seeded from session {old}")),
        "{shown}"
    );
    assert_eq!(shown["link"], format!("/sessions/{old}"));

    let new = connect_as_configured(&b).await;
    assert_ne!(new, old);
    b.wait_until(
        "window.consoleDebug.seed().state === 'sent'",
        "the seeded items are sent after session.created",
    )
    .await;
    talk(&b, "and what now?").await;
    disconnect(&b, &new).await;

    // Marked, same config.
    let new_session = server.get_json(&format!("/api/sessions/{new}")).await;
    assert_eq!(new_session["seeded_from"], json!(old), "{new_session}");
    let mut new_config = new_session["config"].clone();
    let mut old_config = old_config;
    for c in [&mut new_config, &mut old_config] {
        // Minted per session, not part of the config a developer chose.
        if let Some(o) = c.as_object_mut() {
            for k in ["id", "expires_at", "client_secret"] {
                o.remove(k);
            }
        }
    }
    assert_eq!(
        new_config, old_config,
        "the new session runs with the seed's config"
    );

    // The recorded conversation went out as conversation.item.create, before the first response.create.
    let events = server.stored(&new).await;
    let created_at = of_type(&events, "server", "session.created")[0]["seq"]
        .as_i64()
        .unwrap();
    let first_response = of_type(&events, "client", "response.create")[0]["seq"]
        .as_i64()
        .unwrap();
    let items: Vec<&Value> = of_type(&events, "client", "conversation.item.create");
    assert!(
        items.len() >= 3,
        "two seeded items and the user's: {items:?}"
    );
    let seeded = &items[..2];
    let view: Vec<Value> = seeded
        .iter()
        .map(|e| {
            let item = &e["event"]["item"];
            json!([
                item["role"],
                item["content"][0]["type"],
                item["content"][0]["text"]
            ])
        })
        .collect();
    assert_eq!(
        view,
        vec![
            json!(["user", "input_text", "hello from the first session"]),
            json!(["assistant", "output_text", answer]),
        ],
        "the seeded conversation, in order, before the first response.create"
    );
    assert!(
        seeded.iter().all(|e| {
            let seq = e["seq"].as_i64().unwrap();
            seq > created_at && seq < first_response
        }),
        "sent after session.created, before the first response.create"
    );
    // The user's own turn follows them.
    assert_eq!(
        items[2]["event"]["item"]["content"][0]["text"],
        "and what now?"
    );
    // The emulator accepted them: no error in the new session.
    assert!(
        of_type(&events, "server", "error").is_empty(),
        "no server error: {:?}",
        of_type(&events, "server", "error")
    );

    assert_eq!(
        b.eval("return window.location.search").await,
        "",
        "a used seed leaves the address, so a reload does not seed again"
    );

    // Config only, then Clear: the page's own config comes back and the next session is not seeded.
    b.eval("localStorage.clear(); return null;").await;
    b.open_console(&server.url(&format!("/?seed={old}"))).await;
    b.wait_until(
        "window.consoleDebug.seed() && window.consoleDebug.seed().state === 'ready'",
        "the seed loads",
    )
    .await;
    assert_eq!(
        b.eval("return document.getElementById('config-form').elements.voice.value")
            .await,
        "cedar"
    );
    b.click("seed-clear").await;
    let after = b
        .eval(
            "return { hidden: document.getElementById('seed-notice').hidden, search: window.location.search,
                      seed: window.consoleDebug.seed(),
                      voice: document.getElementById('config-form').elements.voice.value };",
        )
        .await;
    assert_eq!(
        after,
        json!({"hidden": true, "search": "", "seed": null, "voice": "marin"})
    );
    let plain = connect_as_configured(&b).await;
    disconnect(&b, &plain).await;
    let plain_session = server.get_json(&format!("/api/sessions/{plain}")).await;
    assert_eq!(plain_session["seeded_from"], Value::Null, "{plain_session}");
    assert!(
        of_type(
            &server.stored(&plain).await,
            "client",
            "conversation.item.create"
        )
        .is_empty()
    );

    b.close().await;
}

/// A recorded session whose config changed with a `session.update`, and a text turn.
async fn updated_session(server: &realtime_testkit::process::ConsoleProcess) -> String {
    let http = reqwest::Client::new();
    let started = json!({"type": "realtime", "model": "gpt-realtime", "instructions": "Started like this.",
                         "output_modalities": ["text"], "audio": {"output": {"voice": "alloy"}}});
    let ended = json!({"type": "realtime", "model": "gpt-realtime", "instructions": "Ended like this.",
                       "output_modalities": ["text"], "audio": {"output": {"voice": "cedar"}}});
    let res = http
        .post(server.url("/api/sessions"))
        .json(&json!({"label": "changed its mind", "flow": "unified", "config": started}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let message = |id: &str, role: &str, kind: &str, text: &str| {
        json!({"id": id, "type": "message", "role": role, "status": "completed",
               "content": [{"type": kind, "text": text}]})
    };
    let events: Vec<Value> = [
        ("server", json!({"type": "session.created", "event_id": "e1", "session": started})),
        ("client", json!({"type": "session.update", "event_id": "c2", "session": {"type": "realtime", "instructions": "Ended like this."}})),
        ("server", json!({"type": "session.updated", "event_id": "e3", "session": ended})),
        ("client", json!({"type": "conversation.item.create", "event_id": "c4",
                          "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Is the fjord windy?"}]}})),
        ("server", json!({"type": "conversation.item.added", "event_id": "e5", "item": message("u1", "user", "input_text", "Is the fjord windy?")})),
        ("client", json!({"type": "response.create", "event_id": "c6"})),
        ("server", json!({"type": "response.created", "event_id": "e7", "response": {"id": "r1", "status": "in_progress"}})),
        ("server", json!({"type": "conversation.item.added", "event_id": "e8", "previous_item_id": "u1",
                          "item": {"id": "a1", "type": "message", "role": "assistant", "content": []}})),
        ("server", json!({"type": "response.output_text.done", "event_id": "e9", "response_id": "r1", "item_id": "a1",
                          "output_index": 0, "content_index": 0, "text": "Gusts of forty knots today."})),
        ("server", json!({"type": "conversation.item.done", "event_id": "e10", "previous_item_id": "u1",
                          "item": message("a1", "assistant", "output_text", "Gusts of forty knots today.")})),
        ("server", json!({"type": "response.done", "event_id": "e11", "response": {"id": "r1", "status": "completed", "output": []}})),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (direction, event))| {
        json!({"seq": i + 1, "ts": 1_764_000_000_000.0 + i as f64 * 100.0, "direction": direction, "event": event})
    })
    .collect();
    let res = http
        .post(server.url(&format!("/api/sessions/{id}/events")))
        .json(&json!({ "events": events }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = http
        .patch(server.url(&format!("/api/sessions/{id}")))
        .json(&json!({"ended": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    id
}

/// How often `text` appears in the console's transcript, once what it holds is painted.
async fn transcript_count(b: &Browser, text: &str) -> usize {
    let n = b
        .eval_async(&format!(
            "await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
             return document.getElementById('transcript').textContent.split({}).length - 1;",
            json!(text)
        ))
        .await;
    n.as_u64().unwrap() as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_in_console_seeds_the_config_a_session_ended_with_and_shows_its_conversation_once() {
    let (server, b) = console_page::launch(BIN, &[]).await;
    let old = updated_session(&server).await;

    b.eval("localStorage.clear(); return null;").await;
    b.open_console(&server.url(&format!("/?seed={old}&conversation=1")))
        .await;
    b.wait_until(
        "window.consoleDebug.seed() && window.consoleDebug.seed().state === 'ready'",
        "the seed loads",
    )
    .await;
    let shown = b
        .eval(
            "const f = document.getElementById('config-form');
             return { instructions: f.elements.instructions.value, voice: f.elements.voice.value };",
        )
        .await;
    assert_eq!(
        shown,
        json!({"instructions": "Ended like this.", "voice": "cedar"}),
        "the config after the session.update, not the one it started with"
    );

    let new = connect_as_configured(&b).await;
    b.wait_until(
        "window.consoleDebug.seed().state === 'sent'",
        "the seeded items are sent after session.created",
    )
    .await;
    // The server names both seeded items; each shows once.
    b.wait_until(
        "window.consoleDebug.entries().filter(e => e.direction === 'server' && e.event.type === 'conversation.item.added'
           && ['user', 'assistant'].includes(e.event.item && e.event.item.role)).length >= 2",
        "the server adds both seeded items",
    )
    .await;
    assert_eq!(transcript_count(&b, "Gusts of forty knots today.").await, 1);
    assert_eq!(transcript_count(&b, "Is the fjord windy?").await, 1);
    disconnect(&b, &new).await;
    let new_session = server.get_json(&format!("/api/sessions/{new}")).await;
    assert_eq!(
        new_session["config"]["instructions"], "Ended like this.",
        "{new_session}"
    );
    b.close().await;
}
