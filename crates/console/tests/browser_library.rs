//! The session library and inspector in headless Chromium against the real server: find a session, open
//! it and see exactly the stored events; replay it and see the transcript rebuilt; export, import and see
//! the same events; follow a live session from a second tab while events are ingested (through the API).
//!
//! Needs Debian's `chromium` and `chromium-driver`; fails (never skips) without them.

use realtime_testkit::browser::Browser;
use realtime_testkit::process::ConsoleProcess;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> Value {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "POST {path}: {}", res.status());
        res.json().await.unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.unwrap()
    }

    /// Every stored event of a session, in seq order.
    async fn events(&self, id: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after = 0i64;
        loop {
            let page = self
                .get(&format!(
                    "/api/sessions/{id}/events?limit=1000&after_seq={after}"
                ))
                .await;
            out.extend(page["events"].as_array().unwrap().iter().cloned());
            match page["next_after_seq"].as_i64() {
                Some(n) => after = n,
                None => return out,
            }
        }
    }
}

/// A recorded conversation: `turns` user questions, each answered in transcript deltas and a
/// `response.done` with usage. Returns the events and the assistant's answers.
fn conversation(turns: usize, first_seq: u64) -> (Vec<Value>, Vec<String>) {
    let mut events = Vec::new();
    let mut answers = Vec::new();
    let mut seq = first_seq;
    let mut ts = 1_764_000_000_000.0_f64;
    let mut push = |events: &mut Vec<Value>, direction: &str, event: Value| {
        ts += 120.0;
        events.push(json!({"seq": seq, "ts": ts, "direction": direction, "event": event}));
        seq += 1;
    };
    push(
        &mut events,
        "server",
        json!({"type": "session.created", "event_id": "ev_0", "session": {"model": "gpt-realtime"}}),
    );
    for i in 0..turns {
        let user = format!("user_{i}");
        let asst = format!("asst_{i}");
        let resp = format!("resp_{i}");
        push(
            &mut events,
            "client",
            json!({"type": "conversation.item.create", "event_id": format!("c{i}"),
                   "item": {"id": user, "type": "message", "role": "user",
                            "content": [{"type": "input_text", "text": format!("Question {i} about Trondheim?")}]}}),
        );
        push(
            &mut events,
            "server",
            json!({"type": "conversation.item.added", "event_id": format!("a{i}"),
                   "item": {"id": user, "type": "message", "role": "user",
                            "content": [{"type": "input_text", "text": format!("Question {i} about Trondheim?")}]}}),
        );
        push(
            &mut events,
            "server",
            json!({"type": "response.created", "event_id": format!("r{i}"), "response": {"id": resp, "status": "in_progress"}}),
        );
        push(
            &mut events,
            "server",
            json!({"type": "conversation.item.added", "event_id": format!("b{i}"), "previous_item_id": user,
                   "item": {"id": asst, "type": "message", "role": "assistant", "content": []}}),
        );
        let answer = format!("Answer number {i}: it is windy in Trondheim.");
        for word in answer.split_inclusive(' ') {
            push(
                &mut events,
                "server",
                json!({"type": "response.output_text.delta", "event_id": format!("d{i}"), "response_id": resp,
                       "item_id": asst, "output_index": 0, "content_index": 0, "delta": word}),
            );
        }
        push(
            &mut events,
            "server",
            json!({"type": "response.output_text.done", "event_id": format!("t{i}"), "response_id": resp,
                   "item_id": asst, "output_index": 0, "content_index": 0, "text": answer}),
        );
        push(
            &mut events,
            "server",
            json!({"type": "response.done", "event_id": format!("e{i}"),
                   "response": {"id": resp, "status": "completed", "output": [],
                                "usage": {"total_tokens": 30, "input_tokens": 20, "output_tokens": 10}}}),
        );
        answers.push(answer);
    }
    (events, answers)
}

async fn wait_ready(b: &Browser) {
    b.wait_until(
        "window.inspectorDebug && window.inspectorDebug.ready",
        "the inspector loads",
    )
    .await;
}

fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

async fn page_seqs(b: &Browser) -> Vec<i64> {
    let v = b
        .eval("return window.inspectorDebug.seqs().sort((a, b) => a - b)")
        .await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_library_and_inspector_show_replay_export_import_and_follow_sessions() {
    let server = ConsoleProcess::start(BIN, &[]).await;
    let api = Api {
        http: reqwest::Client::new(),
        base: server.url(""),
    };
    let (events, answers) = conversation(3, 1);
    let session = api
        .post(
            "/api/sessions",
            json!({"label": "fjord weather", "flow": "unified", "model": "gpt-realtime"}),
        )
        .await;
    let id = session["id"].as_str().unwrap().to_owned();
    api.post(
        &format!("/api/sessions/{id}/events"),
        json!({"events": events}),
    )
    .await;
    let res = api
        .http
        .patch(format!("{}/api/sessions/{id}", api.base))
        .json(&json!({"ended": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Another session, so finding is a choice.
    api.post("/api/sessions", json!({"label": "unrelated"}))
        .await;

    let b = Browser::launch().await;

    // Find it in the library, by label and by what was said.
    for q in ["fjord", "windy trondheim"] {
        b.client
            .goto(&server.url(&format!("/sessions?q={}", q.replace(' ', "+"))))
            .await
            .unwrap();
        let rows = b
            .eval("return [...document.querySelectorAll('#sessions tbody tr')].map(r => r.dataset.id)")
            .await;
        assert_eq!(rows, json!([id]), "searching {q:?}");
    }
    let cost = b
        .eval("return document.querySelector('#sessions tbody tr .cost').textContent")
        .await;
    assert!(cost.as_str().unwrap().starts_with('$'), "{cost}");

    // Open it: the inspector shows exactly the stored events, and the transcript.
    b.eval("document.querySelector('#sessions tbody tr a').click(); return null")
        .await;
    wait_ready(&b).await;
    let stored = api.events(&id).await;
    assert_eq!(page_seqs(&b).await, seqs(&stored));
    let rows = b
        .eval("return document.querySelectorAll('#log .lp-row').length")
        .await;
    assert!(rows.as_u64().unwrap() > 0);

    // Replay at 10x: the views start empty and the transcript is rebuilt turn by turn.
    b.select_css("#replay [data-act=speed]", "10").await;
    b.eval("document.querySelector('#replay [data-act=play]').click(); return null")
        .await;
    b.wait_until(
        "window.inspectorDebug.replay().done",
        "the replay reaches the end",
    )
    .await;
    let turns = b.eval("return window.inspectorDebug.turns()").await;
    let assistant: Vec<&str> = turns
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["role"] == "assistant")
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    assert_eq!(assistant, answers);
    assert_eq!(page_seqs(&b).await, seqs(&stored));

    // Export, then import that file through the library's file picker: the same events.
    let exported = b
        .eval_async(&format!(
            "const r = await fetch('/api/sessions/{id}/events.jsonl'); return await r.text();"
        ))
        .await;
    let exported = exported.as_str().unwrap().to_owned();
    b.client.goto(&server.url("/sessions")).await.unwrap();
    b.eval(&format!(
        "const file = new File([{text}], 'fjord copy.jsonl', {{type: 'application/x-ndjson'}});
         const dt = new DataTransfer(); dt.items.add(file);
         const input = document.querySelector('#import input[type=file]');
         input.files = dt.files; input.dispatchEvent(new Event('change')); return null",
        text = json!(exported)
    ))
    .await;
    let imported = b
        .wait_until(
            &format!(
                "location.pathname.startsWith('/sessions/') && !location.pathname.endsWith('{id}') \
                 && window.inspectorDebug && window.inspectorDebug.ready && location.pathname.slice(10)"
            ),
            "the import opens the new session",
        )
        .await;
    let imported = imported.as_str().unwrap().to_owned();
    let copy = api.events(&imported).await;
    let strip = |es: &[Value]| -> Vec<Value> {
        es.iter()
            .map(|e| json!([e["seq"], e["ts"], e["direction"], e["event"]]))
            .collect()
    };
    assert_eq!(strip(&copy), strip(&stored));
    assert_eq!(page_seqs(&b).await, seqs(&stored));

    // Follow a live session from a second tab while events are ingested.
    let live = api
        .post("/api/sessions", json!({"label": "in progress"}))
        .await;
    let live_id = live["id"].as_str().unwrap().to_owned();
    let (live_events, _) = conversation(4, 1);
    api.post(
        &format!("/api/sessions/{live_id}/events"),
        json!({"events": live_events[..5]}),
    )
    .await;
    let first_tab = b.client.window().await.unwrap();
    let tab = b.client.new_window(true).await.unwrap();
    b.client.switch_to_window(tab.handle).await.unwrap();
    b.client
        .goto(&server.url(&format!("/sessions/{live_id}")))
        .await
        .unwrap();
    wait_ready(&b).await;
    let live_badge = b
        .eval("return !document.getElementById('live-badge').hidden")
        .await;
    assert_eq!(live_badge, json!(true));
    // The rest arrives in small batches, one gap filled late, while the tab watches.
    let rest: Vec<Value> = live_events[5..].to_vec();
    let (late, rest) = rest.split_first().unwrap();
    for chunk in rest.chunks(3) {
        api.post(
            &format!("/api/sessions/{live_id}/events"),
            json!({"events": chunk}),
        )
        .await;
    }
    api.post(
        &format!("/api/sessions/{live_id}/events"),
        json!({"events": [late]}),
    )
    .await;
    let n = live_events.len();
    b.wait_until(
        &format!("window.inspectorDebug.seqs().length >= {n}"),
        "the second tab sees every event",
    )
    .await;
    assert_eq!(page_seqs(&b).await, seqs(&live_events));
    let texts = b
        .eval("return window.inspectorDebug.turns().filter(t => t.role === 'assistant').length")
        .await;
    assert_eq!(texts, json!(4));
    b.client.switch_to_window(first_tab).await.unwrap();
    b.close().await;
}

/// The library and the inspector at 1280×800: the library's rows fit (Open and Delete on screen) and end
/// on one line, Delete reads in both schemes, the inspector's transcript keeps a readable size beside the
/// log, every page has a favicon, and the log's filters have labels.
#[tokio::test]
async fn the_library_and_inspector_fit_a_laptop_screen_and_are_labelled() {
    let server = ConsoleProcess::start(BIN, &[]).await;
    let http = reqwest::Client::new();
    let api = Api {
        http: http.clone(),
        base: server.url(""),
    };
    let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36 \
              openai-agents-js/0.3.1";
    let mut ids = Vec::new();
    for i in 0..3 {
        let res = http
            .post(server.url("/api/sessions"))
            .header("user-agent", ua)
            .json(&json!({
                "label": format!("A long label for session {i}: checking the fjord ferry timetable before the storm"),
                "flow": "unified", "model": "gpt-realtime-2025-08-28",
                "config": {"audio": {"output": {"voice": "marin"}}}}))
            .send()
            .await
            .unwrap();
        let id = res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let res = http
            .patch(server.url(&format!("/api/sessions/{id}")))
            .json(&json!({"call_id": format!("rtc_u{i}_4a7f9c2e8b1d6f3a0c5e9b7d2f4a6c8e1b3d5f7a")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        ids.push(id);
    }
    let (events, _) = conversation(11, 1);
    api.post(
        &format!("/api/sessions/{}/events", ids[0]),
        json!({"events": events}),
    )
    .await;

    let b = Browser::launch().await;
    b.goto(&server.url("/sessions")).await;
    b.set_viewport(1280, 800).await;
    let library = b
        .eval(
            "const vw = document.documentElement.clientWidth;
             const rows = [...document.querySelectorAll('#sessions tbody tr')];
             const right = (sel) => Math.max(...rows.map(r => r.querySelector(sel).getBoundingClientRect().right));
             return { vw, page: document.documentElement.scrollWidth,
                      table: Math.round(document.getElementById('sessions').getBoundingClientRect().width),
                      open: right('.actions a'), delete: right('.actions button.delete'), rows: rows.length };",
        )
        .await;
    println!("library at 1280x800: {library}");
    assert_eq!(library["rows"], 3, "{library}");
    let vw = library["vw"].as_f64().unwrap();
    assert!(
        library["page"].as_f64().unwrap() <= vw,
        "the page scrolls sideways: {library}"
    );
    assert!(
        library["table"].as_f64().unwrap() <= vw,
        "the table is wider than the screen: {library}"
    );
    for what in ["open", "delete"] {
        assert!(
            library[what].as_f64().unwrap() <= vw,
            "{what} is off-screen: {library}"
        );
    }
    // Every cell of a row ends where the row does, so the row's bottom border is one line.
    let ragged = b
        .eval(
            "return [...document.querySelectorAll('#sessions tbody tr')].flatMap((r) => {
               const bottom = r.getBoundingClientRect().bottom;
               return [...r.cells].filter((c) => Math.abs(c.getBoundingClientRect().bottom - bottom) > 0.5)
                 .map((c) => `${c.className || c.cellIndex}: ${c.getBoundingClientRect().bottom} != ${bottom}`);
             });",
        )
        .await;
    assert_eq!(ragged, json!([]), "cells that end above or below their row");
    // The Delete dialog's button reads in both schemes (dark mode's error colour is light).
    for scheme in ["light", "dark"] {
        b.emulate_color_scheme(scheme).await;
        let ratio = b.contrast("#confirm-delete button.danger").await;
        assert!(
            ratio >= 4.5,
            "Delete in {scheme} mode: contrast {ratio:.2}, under 4.5"
        );
    }
    b.emulate_color_scheme("light").await;

    // The inspector: the transcript beside the log keeps a readable width and height.
    b.goto(&server.url(&format!("/sessions/{}", ids[0]))).await;
    wait_ready(&b).await;
    let transcript = b
        .eval_async(
            "await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
             const r = document.getElementById('transcript').getBoundingClientRect();
             return { width: Math.round(r.width), height: Math.round(r.height) };",
        )
        .await;
    println!("inspector transcript at 1280x800: {transcript}");
    assert!(
        transcript["width"].as_f64().unwrap() >= 280.0,
        "{transcript}"
    );
    assert!(
        transcript["height"].as_f64().unwrap() >= 200.0,
        "{transcript}"
    );

    // The log's filters say what they are to a screen reader, not only in a placeholder.
    let unlabelled = b
        .eval(
            "return [...document.querySelectorAll('#log .lp-bar input')]
               .filter(i => ![...i.labels].some(l => l.textContent.trim() !== ''))
               .map(i => i.className || i.type);",
        )
        .await;
    assert_eq!(unlabelled, json!([]), "log filters without a label");

    // Every page has an icon that is served.
    for path in ["/", "/sessions", &format!("/sessions/{}", ids[0])] {
        b.goto(&server.url(path)).await;
        let icon = b
            .eval_async(
                "const link = document.querySelector('link[rel~=icon]');
                 if (!link) return null;
                 const res = await fetch(link.href);
                 return { status: res.status, type: res.headers.get('content-type') };",
            )
            .await;
        assert_eq!(icon["status"], 200, "{path}: {icon}");
        assert!(
            icon["type"]
                .as_str()
                .unwrap_or_default()
                .starts_with("image/"),
            "{path}: {icon}"
        );
    }
    b.close().await;
}
