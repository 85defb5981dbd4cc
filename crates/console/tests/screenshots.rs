//! The screenshots behind issue 18's note (docs/screenshots/README.md): the console, the library and the
//! inspector in headless Chromium against the real binary and its built-in emulator, each scene at
//! 1280×800 and 1920×1080, light and dark (`prefers-color-scheme` emulated), saved as
//! `docs/screenshots/<scene>-<w>x<h>-<light|dark>.png`. Not a test: `just screenshots` runs it, and a person
//! looks at what it wrote. `SHOTS=a,b` takes only the scenes named.
//!
//! Needs Debian's `chromium` and `chromium-driver`.

use std::path::PathBuf;
use std::time::Duration;

use realtime_testkit::browser::Browser;
use realtime_testkit::console_page::{
    self, connect, disconnect, entry_count, fill_config, wait_entry,
};
use realtime_testkit::process::ConsoleProcess;
use realtime_testkit::sessions::conversation;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");

const SIZES: [(i64, i64); 2] = [(1280, 800), (1920, 1080)];
const SCHEMES: [&str; 2] = ["light", "dark"];

/// A 24×16 PNG (a blue flag with a white cross), for the image scene.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAABgAAAAQCAIAAACDRijCAAAAJUlEQVR42mOQ9buBif7DAFZZrIhh1CA6GvSfSmAQGjQa/SPZIABUf6RFE5mn+gAAAABJRU5ErkJggg==";

struct Shots {
    dir: PathBuf,
    only: Option<Vec<String>>,
}

impl Shots {
    fn new() -> Self {
        let dir = realtime_testkit::workspace_dir().join("docs/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let only = std::env::var("SHOTS")
            .ok()
            .filter(|s| !s.is_empty())
            .map(|s| s.split(',').map(str::to_owned).collect());
        Self { dir, only }
    }

    fn wants(&self, scene: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|s| s == scene))
    }

    /// The page as it stands, at both sizes and in both schemes; `arrange` runs (in the page) after each
    /// resize, to scroll what the scene shows into view.
    async fn take(&self, b: &Browser, scene: &str, arrange: &str) {
        if !self.wants(scene) {
            return;
        }
        for (w, h) in SIZES {
            // The window's inner size, scroll bar included: what a screen of that size shows.
            b.set_viewport(w, h).await;
            let bar = b
                .eval("return window.innerWidth - document.documentElement.clientWidth")
                .await
                .as_i64()
                .unwrap();
            if bar > 0 {
                let outer = b.client.get_window_size().await.unwrap();
                b.client
                    .set_window_size((outer.0 - bar as u64) as u32, outer.1 as u32)
                    .await
                    .unwrap();
            }
            for scheme in SCHEMES {
                b.emulate_color_scheme(scheme).await;
                b.eval_async(&format!(
                    "{arrange};
                     await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
                     return null;"
                ))
                .await;
                tokio::time::sleep(Duration::from_millis(150)).await;
                let path = self.dir.join(format!("{scene}-{w}x{h}-{scheme}.png"));
                b.screenshot(&path).await;
                println!("wrote {}", path.display());
            }
        }
        b.emulate_color_scheme("light").await;
    }
}

/// Scrolls the console's panel that holds the element matching `selector` so the element is at its top
/// (page JS), and the transcript to its last turn.
fn scroll_to(selector: &str) -> String {
    format!(
        "const el = document.querySelector({});
         const panel = el.closest('.config, .side');
         panel.scrollTop += el.getBoundingClientRect().top - panel.getBoundingClientRect().top - 12;
         for (const t of document.querySelectorAll('#transcript, #transcript .tv')) t.scrollTop = t.scrollHeight",
        json!(selector)
    )
}

/// Sends a text turn and waits for its `response.done`.
async fn talk(b: &Browser, text: &str) -> usize {
    let from = entry_count(b).await;
    b.type_and_enter("text-input", text).await;
    wait_entry(b, from, "server", "response.done").await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/screenshots/: run with `just screenshots`"]
async fn screenshots() {
    let shots = Shots::new();
    let (mut server, b) =
        console_page::launch(BIN, &[("REALTIME_ALLOWED_MODELS", "gpt-realtime-mini")]).await;
    let console_top = "document.querySelector('.config').scrollTop = 0;
                       for (const t of document.querySelectorAll('#transcript, #transcript .tv')) t.scrollTop = t.scrollHeight";

    // Items 10 and 1: the rest of the session config, set before connecting; a connected call.
    fill_config(
        &b,
        json!({"instructions": "Answer in one short sentence.", "model": "gpt-realtime-mini",
               "speed": "1.25", "truncation": "retention_ratio", "retention_ratio": "0.5",
               "tracing": "auto", "prompt.id": "pmpt_console", "prompt.version": "2",
               "prompt.variables": r#"{"city":"Paris"}"#, "include_logprobs": true}),
    )
    .await;
    let first = connect(&b, "ephemeral").await;
    wait_entry(&b, 0, "server", "session.created").await;
    talk(&b, "What is the weather like in Trondheim?").await;
    shots.take(&b, "console-connected", console_top).await;
    b.wait_until(
        "!document.getElementById('effective').hidden",
        "the server's session shows",
    )
    .await;
    shots
        .take(
            &b,
            "config-rest",
            &scroll_to("#config-form .row:has(select[name=truncation])"),
        )
        .await;

    // Item 2: a tools config the server refuses, its error shown and linked, the Tools panel honest.
    fill_config(
        &b,
        json!({"tools": r#"[{"name":"bad_tool","parameters":"not an object"}]"#}),
    )
    .await;
    let from = entry_count(&b).await;
    b.click("config-apply").await;
    wait_entry(&b, from, "server", "error").await;
    b.wait_until(
        "document.getElementById('config-result-text').textContent.startsWith('Not applied')",
        "the config panel says the update was refused",
    )
    .await;
    shots
        .take(
            &b,
            "config-rejected",
            &scroll_to("#config-form label:has(> textarea[name=tools])"),
        )
        .await;
    fill_config(&b, json!({"tools": "[]"})).await;
    let from = entry_count(&b).await;
    b.click("config-apply").await;
    wait_entry(&b, from, "server", "session.updated").await;

    // Item 9: a composed event the server answers with an error, linked both ways.
    // (Its template names the conversation's last item, which exists: ask for one that does not.)
    b.select("composer-template", "conversation.item.retrieve")
        .await;
    b.eval(
        "const t = document.getElementById('composer-text');
         t.value = JSON.stringify({ type: 'conversation.item.retrieve', item_id: 'item_not_in_this_conversation' }, null, 2);
         t.dispatchEvent(new Event('input', { bubbles: true }));
         return null",
    )
    .await;
    let from = entry_count(&b).await;
    b.click("composer-send").await;
    let (sent_at, _) = wait_entry(&b, from, "client", "conversation.item.retrieve").await;
    let (_, error) = wait_entry(&b, sent_at, "server", "error").await;
    b.eval(&format!(
        "window.consoleDebug.reveal({}); return null",
        error["seq"]
    ))
    .await;
    shots
        .take(
            &b,
            "composer",
            "document.querySelector('.side').scrollTop = 0",
        )
        .await;

    // Item 11: an image pasted into the message box, sent, answered from its type and size.
    b.eval(&format!(
        "const bytes = Uint8Array.from(atob('{PNG}'), (c) => c.charCodeAt(0));
         const dt = new DataTransfer();
         dt.items.add(new File([bytes], 'flag.png', {{ type: 'image/png' }}));
         document.getElementById('text-input')
           .dispatchEvent(new ClipboardEvent('paste', {{ clipboardData: dt, bubbles: true, cancelable: true }}));
         return null"
    ))
    .await;
    b.wait_until(
        "!document.getElementById('image-chip').hidden",
        "the image is attached",
    )
    .await;
    shots.take(&b, "image-attached", console_top).await;
    let from = entry_count(&b).await;
    b.type_and_enter("text-input", "What is in this picture?")
        .await;
    let (item_at, item) = wait_entry(&b, from, "client", "conversation.item.create").await;
    wait_entry(&b, item_at, "server", "response.done").await;
    b.eval(&format!(
        "window.consoleDebug.reveal({}); return null",
        item["seq"]
    ))
    .await;
    shots.take(&b, "image-sent", console_top).await;

    // Item 12: View code, from the server's session.
    b.eval("document.getElementById('view-code').open = true; return null")
        .await;
    shots.take(&b, "view-code", &scroll_to("#view-code")).await;
    b.eval("document.getElementById('view-code').open = false; return null")
        .await;
    disconnect(&b, &first).await;

    // Items 3 and 4: turn detection none hides its fields; a quick tap of Hold to talk is refused, unanswered.
    b.select_css("select[name='turn.type']", "none").await;
    let ptt = connect(&b, "ephemeral").await;
    wait_entry(&b, 0, "server", "session.created").await;
    b.eval(
        "const ptt = document.getElementById('ptt');
         ptt.dispatchEvent(new PointerEvent('pointerdown', { bubbles: true }));
         ptt.dispatchEvent(new PointerEvent('pointerup', { bubbles: true }));
         return null",
    )
    .await;
    b.wait_until(
        "document.getElementById('status').textContent.includes('refused the commit')",
        "the status line says the commit was refused",
    )
    .await;
    let (_, refused) = wait_entry(&b, 0, "server", "error").await;
    b.eval(&format!(
        "window.consoleDebug.reveal({}); return null",
        refused["seq"]
    ))
    .await;
    shots
        .take(&b, "turn-none-ptt", &scroll_to("#config-form fieldset"))
        .await;
    disconnect(&b, &ptt).await;
    b.select_css("select[name='turn.type']", "server_vad").await;

    // Item 8: presets ask before they replace; the price table fits the side panel.
    b.eval(
        "localStorage.setItem('realtime-console.presets.v1', JSON.stringify({ demo: { form: {} } }));
         document.querySelector('#metrics .mv-prices').open = true;
         return null",
    )
    .await;
    b.open_console(&server.url("/")).await;
    b.eval("document.querySelector('#metrics .mv-prices').open = true; return null")
        .await;
    b.click("preset-save").await;
    b.eval("document.getElementById('preset-name').value = 'demo'; return null")
        .await;
    b.click("preset-ok").await;
    b.wait_until(
        "document.getElementById('preset-ok').textContent === 'Replace'",
        "the preset dialog asks before replacing",
    )
    .await;
    shots
        .take(
            &b,
            "presets-prices",
            "document.querySelector('.side').scrollTop = 1e6",
        )
        .await;
    b.click("preset-cancel").await;
    b.eval("localStorage.clear(); return null").await;

    // Item 1: the server dies mid-call; the page says so, takes no input, and the recorder explains.
    b.open_console(&server.url("/")).await;
    connect(&b, "ephemeral").await;
    wait_entry(&b, 0, "server", "session.created").await;
    talk(&b, "Are you still there?").await;
    server.kill().await;
    b.wait_until(
        "document.getElementById('rec-note').textContent.includes('next retry') \
         && document.getElementById('state-conn').dataset.state !== 'connected'",
        "the page reads the call as down and the recorder says what it does",
    )
    .await;
    shots.take(&b, "dead-call", console_top).await;
    server.restart().await;
    // The recorder sends the rest when it next retries; the library does not wait for it.
    b.click("disconnect").await;

    library_and_inspector(&shots, &server, &b, &first).await;
    b.close().await;
}

/// Items 5 to 8 on the library and inspector pages, over the sessions the console recorded and a few
/// more made through the API.
async fn library_and_inspector(shots: &Shots, server: &ConsoleProcess, b: &Browser, first: &str) {
    let http = reqwest::Client::new();
    let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 \
              Safari/537.36 openai-agents-js/0.3.1";
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
            .json(
                &json!({"call_id": format!("rtc_u{i}_4a7f9c2e8b1d6f3a0c5e9b7d2f4a6c8e1b3d5f7a"),
                          "ended": true}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }

    // Item 5: a deep link into a 235-event session; a replay run to its end; a live session followed.
    let (mut events, _) = conversation(11, 15, 120.0);
    for _ in 0..3 {
        let seq = events.len() + 1;
        events.push(
            json!({"seq": seq, "ts": 1_764_000_100_000.0 + seq as f64, "direction": "server",
                           "event": {"type": "rate_limits.updated", "rate_limits": []}}),
        );
    }
    let target = events
        .iter()
        .filter(|e| e["event"]["type"] == "response.done")
        .nth(5)
        .unwrap()["seq"]
        .clone();
    let deep = recorded(server, "deep link: 11 turns, 235 events", &events, true).await;

    // Item 7: the first console session exported and imported: model, voice and config from its events.
    let export = reqwest::get(server.url(&format!("/api/sessions/{first}/events.jsonl")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    b.goto(&server.url("/sessions")).await;
    b.eval(&format!(
        "const file = new File([{text}], 'trondheim weather.jsonl', {{type: 'application/x-ndjson'}});
         const dt = new DataTransfer(); dt.items.add(file);
         const input = document.querySelector('#import input[type=file]');
         input.files = dt.files; input.dispatchEvent(new Event('change')); return null",
        text = json!(export)
    ))
    .await;
    b.wait_until(
        &format!(
            "location.pathname.startsWith('/sessions/') && !location.pathname.endsWith({}) \
             && window.inspectorDebug && window.inspectorDebug.ready",
            json!(first)
        ),
        "the import opens the new session",
    )
    .await;
    shots.take(b, "import-inspector", "null").await;

    // Item 8: the library fits, Open and Delete on screen; item 7's row has its model and voice.
    b.goto(&server.url("/sessions")).await;
    shots.take(b, "library", "null").await;

    b.goto(&server.url(&format!("/sessions/{deep}#seq-{target}")))
        .await;
    wait_ready(b).await;
    let selected = format!(
        "[...document.querySelectorAll('#log .lp-row.lp-sel .lp-seq')].some(s => s.textContent === '{target}')"
    );
    for _ in 0..100 {
        if b.eval(&format!("return {selected}")).await == json!(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = b
        .eval(
            "return { url: location.href, selected: [...document.querySelectorAll('#log .lp-row.lp-sel .lp-seq')].map(s => s.textContent),
                      loaded: window.inspectorDebug.seqs().length }",
        )
        .await;
    println!("deep link to #{target}: {page}");
    shots.take(b, "inspector-deep-link", "null").await;

    b.goto(&server.url(&format!("/sessions/{deep}"))).await;
    wait_ready(b).await;
    b.select_css("#replay [data-act=speed]", "10").await;
    for _ in 0..2 {
        b.eval("document.querySelector('#replay [data-act=play]').click(); return null")
            .await;
        b.wait_until(
            &format!(
                "window.inspectorDebug.replay().done && window.inspectorDebug.replay().played === {}",
                events.len()
            ),
            "the replay reaches the end",
        )
        .await;
    }
    shots.take(b, "inspector-replayed", "null").await;

    let (growing, _) = conversation(4, 6, 1_500.0);
    let live = recorded(server, "live: followed as it grows", &growing[..5], false).await;
    b.goto(&server.url(&format!("/sessions/{live}"))).await;
    wait_ready(b).await;
    for chunk in growing[5..].chunks(7) {
        post(server, &live, chunk).await;
    }
    b.wait_until(
        &format!(
            "window.inspectorDebug.seqs().length >= {} && document.getElementById('turns').textContent.trim() === '4'",
            growing.len()
        ),
        "the header counts the live session",
    )
    .await;
    shots.take(b, "inspector-live", "null").await;

    // Item 6: Open in console with the conversation: the first session's config and each message once.
    b.open_console(&server.url(&format!("/?seed={first}&conversation=1")))
        .await;
    b.wait_until(
        "window.consoleDebug.seed() && window.consoleDebug.seed().state === 'ready'",
        "the seed loads",
    )
    .await;
    let id = console_page::connect_as_configured(b).await;
    b.wait_until(
        "window.consoleDebug.seed().state === 'sent'",
        "the seeded items are sent",
    )
    .await;
    talk(b, "And tomorrow?").await;
    shots
        .take(
            b,
            "seeded",
            "document.querySelector('.config').scrollTop = 0",
        )
        .await;
    disconnect(b, &id).await;
}

async fn wait_ready(b: &Browser) {
    b.wait_until(
        "window.inspectorDebug && window.inspectorDebug.ready",
        "the inspector loads",
    )
    .await;
}

/// A session of `events` through the API; ended when `end`.
async fn recorded(server: &ConsoleProcess, label: &str, events: &[Value], end: bool) -> String {
    let id = server.create_session(label).await;
    post(server, &id, events).await;
    if end {
        let res = reqwest::Client::new()
            .patch(server.url(&format!("/api/sessions/{id}")))
            .json(&json!({"ended": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    id
}

async fn post(server: &ConsoleProcess, id: &str, events: &[Value]) {
    let res = reqwest::Client::new()
        .post(server.url(&format!("/api/sessions/{id}/events")))
        .json(&json!({ "events": events }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
