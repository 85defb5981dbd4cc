//! The console and the library together, in headless Chromium against the real server and its built-in
//! emulator: a session recorded by talking on the console page is found in the library and the inspector
//! shows exactly its stored events; and a second tab follows the inspector of a session live while the
//! console tab keeps talking.
//!
//! Needs Debian's `chromium` and `chromium-driver`; fails (never skips) without them.

use realtime_testkit::browser::{Browser, WindowHandle};
use realtime_testkit::console_page::{self, connect, disconnect, entry_count, wait_entry};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");
/// What these tests compare is what the page recorded and what the library shows of it; the server's own
/// capture of the call (tests/capture.rs, browser_console.rs) would add its system events 2 s after each
/// happened, whenever that falls.
const WITHOUT_CAPTURE: &[(&str, &str)] = &[("SIDEBAND", "off")];

/// Sends a text turn from the console and waits for the emulator's answer in the page's transcript.
async fn talk(b: &Browser, text: &str) {
    let from = entry_count(b).await;
    b.type_and_enter("text-input", text).await;
    wait_entry(b, from, "client", "conversation.item.create").await;
    wait_entry(b, from, "server", "response.done").await;
    b.wait_until(
        &format!(
            "document.getElementById('transcript').textContent.includes({})",
            json!(answer(text))
        ),
        "the assistant's answer shows in the console's transcript",
    )
    .await;
}

/// What the emulator answers to a text turn.
fn answer(text: &str) -> String {
    format!("You said \"{text}\"")
}

fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

/// The seqs the inspector's views hold, in the order they were added to them.
async fn inspector_seqs(b: &Browser) -> Vec<i64> {
    let v = b.eval("return window.inspectorDebug.seqs()").await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_i64().unwrap())
        .collect()
}

async fn inspector_turns(b: &Browser) -> Vec<(String, String)> {
    let v = b.eval("return window.inspectorDebug.turns()").await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["role"].as_str().unwrap().to_owned(),
                t["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Waits until the inspector shows a turn of `role` whose text contains `text`.
async fn wait_inspector_turn(b: &Browser, role: &str, text: &str, what: &str) {
    b.wait_until(
        &format!(
            "window.inspectorDebug.turns().some(t => t.role === {} && (t.text || '').includes({}))",
            json!(role),
            json!(text)
        ),
        what,
    )
    .await;
}

/// Makes `tab` the one the next commands act on.
async fn switch_to(b: &Browser, tab: &WindowHandle) {
    b.client.switch_to_window(tab.clone()).await.unwrap();
}

async fn wait_inspector_ready(b: &Browser) {
    b.wait_until(
        "window.inspectorDebug && window.inspectorDebug.ready",
        "the inspector loads",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_recorded_on_the_console_page_opens_in_the_library_with_its_stored_events() {
    // Record a session by talking on the console page.
    let (server, b) = console_page::launch(BIN, WITHOUT_CAPTURE).await;
    let id = connect(&b, "ephemeral").await;
    wait_entry(&b, 0, "server", "session.created").await;
    let said = "which ferry crosses the Trondheimsfjord";
    talk(&b, said).await;
    disconnect(&b, &id).await;
    let shown = b
        .eval("return window.consoleDebug.entries().map(e => e.seq)")
        .await;
    let stored = server.stored(&id).await;
    let stored_seqs = seqs(&stored);
    assert!(stored.len() > 3, "the turn was recorded: {stored_seqs:?}");
    assert_eq!(
        shown,
        json!(stored_seqs),
        "the console showed what the store holds"
    );

    // The library lists it, with its event count, and finds it by what was said.
    b.client.goto(&server.url("/sessions")).await.unwrap();
    let row = format!("#sessions tbody tr[data-id={}]", json!(id));
    let events_cell = b
        .eval(&format!(
            "const r = document.querySelector({}); return r && r.querySelector('td:nth-child(7)').textContent.trim()",
            json!(row)
        ))
        .await;
    assert_eq!(
        events_cell,
        json!(stored.len().to_string()),
        "the library row's event count"
    );
    b.client
        .goto(&server.url("/sessions?q=Trondheimsfjord+ferry"))
        .await
        .unwrap();
    let found = b
        .eval("return [...document.querySelectorAll('#sessions tbody tr')].map(r => r.dataset.id)")
        .await;
    assert_eq!(found, json!([id]), "searching what was said");

    // Open it from the library: the inspector shows the stored events, same count, same order.
    b.eval(&format!(
        "document.querySelector({}).click(); return null",
        json!(format!("{row} a"))
    ))
    .await;
    wait_inspector_ready(&b).await;
    assert_eq!(
        b.eval("return location.pathname").await,
        json!(format!("/sessions/{id}"))
    );
    assert_eq!(inspector_seqs(&b).await, stored_seqs);
    let panel = b
        .eval("return [document.getElementById('count').textContent.trim(), document.getElementById('insp-status').textContent]")
        .await;
    assert_eq!(panel[0], json!(stored.len().to_string()), "{panel}");
    assert!(
        panel[1]
            .as_str()
            .unwrap()
            .starts_with(&format!("{n} of {n} events loaded", n = stored.len())),
        "{panel}"
    );
    let live_badge_hidden = b
        .eval("return document.getElementById('live-badge').hidden")
        .await;
    assert_eq!(
        live_badge_hidden,
        json!(true),
        "an ended session is not live"
    );
    let turns = inspector_turns(&b).await;
    assert!(
        turns.iter().any(|(r, t)| r == "user" && t.contains(said)),
        "{turns:?}"
    );
    assert!(
        turns
            .iter()
            .any(|(r, t)| r == "assistant" && t.contains(&answer(said))),
        "{turns:?}"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_tab_follows_the_inspector_live_while_the_console_tab_talks() {
    // Tab A: the console, connected, one turn in.
    let (server, b) = console_page::launch(BIN, WITHOUT_CAPTURE).await;
    let console_tab = b.client.window().await.unwrap();
    let id = connect(&b, "ephemeral").await;
    wait_entry(&b, 0, "server", "session.created").await;
    let first = "first question about the herring";
    talk(&b, first).await;

    // Tab B: the inspector of A's session, live.
    let inspector_tab = b.client.new_window(true).await.unwrap().handle;
    switch_to(&b, &inspector_tab).await;
    b.client
        .goto(&server.url(&format!("/sessions/{id}")))
        .await
        .unwrap();
    wait_inspector_ready(&b).await;
    let live_badge_hidden = b
        .eval("return document.getElementById('live-badge').hidden")
        .await;
    assert_eq!(live_badge_hidden, json!(false), "the session is live");
    let before = inspector_seqs(&b).await.len();
    assert!(before > 0, "the inspector caught up with the first turn");
    wait_inspector_turn(
        &b,
        "assistant",
        &answer(first),
        "the inspector shows the first turn's answer",
    )
    .await;

    // A talks again; B sees it arrive.
    switch_to(&b, &console_tab).await;
    let second = "second question about the cod";
    talk(&b, second).await;
    switch_to(&b, &inspector_tab).await;
    wait_inspector_turn(
        &b,
        "user",
        second,
        "the inspector shows the second turn's question live",
    )
    .await;
    wait_inspector_turn(
        &b,
        "assistant",
        &answer(second),
        "the inspector shows the second turn's answer live",
    )
    .await;
    assert!(inspector_seqs(&b).await.len() > before);

    // A disconnects; B converges on exactly the stored events and drops its live badge.
    switch_to(&b, &console_tab).await;
    disconnect(&b, &id).await;
    let stored = server.stored(&id).await;
    let n = stored.len();
    switch_to(&b, &inspector_tab).await;
    b.wait_until(
        &format!(
            "window.inspectorDebug.seqs().length >= {n} && document.getElementById('live-badge').hidden \
             && document.getElementById('count').textContent.trim() === '{n}'"
        ),
        "the inspector holds every stored event and sees the session end",
    )
    .await;
    let mut shown = inspector_seqs(&b).await;
    shown.sort_unstable();
    assert_eq!(
        shown,
        seqs(&stored),
        "the inspector holds exactly the stored events"
    );
    let turns = inspector_turns(&b).await;
    let asked: Vec<&str> = turns
        .iter()
        .filter(|(r, _)| r == "user")
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(asked, [first, second], "{turns:?}");
    switch_to(&b, &console_tab).await;
    b.close().await;
}
