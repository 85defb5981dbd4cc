//! The console page tells the truth, in headless Chromium against the real server and its built-in
//! emulator: a call whose server died reads as down and takes no input, and the recorder says what it
//! does about it; the turn-detection fields a type does not use are not on show; a push-to-talk commit the
//! server refuses gets no answer.
//!
//! Needs Debian's `chromium` and `chromium-driver`; fails (never skips) without them.

use realtime_testkit::browser::Browser;
use realtime_testkit::console_page::{self, connect, entry_count, wait_entry};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");

/// What the page shows about the call: the one state, the chips, the status line, the recorder's note
/// and whether the inputs take anything.
async fn call_view(b: &Browser) -> Value {
    b.eval(
        "const $ = (id) => document.getElementById(id);
         return { conn: $('state-conn').dataset.state, ice: $('state-ice').dataset.state,
                  peer: $('state-peer').dataset.state, channel: $('state-channel').dataset.state,
                  status: $('status').textContent, note: $('rec-note').textContent,
                  input: $('text-input').disabled, send: $('text-send').disabled,
                  ptt: $('ptt').disabled, apply: $('config-apply').disabled }",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_reads_as_a_dead_call_and_the_recorder_says_what_it_does() {
    let (mut server, b) = console_page::launch(BIN, &[]).await;
    connect(&b, "ephemeral").await;
    wait_entry(&b, 0, "server", "session.created").await;
    let up = call_view(&b).await;
    assert_eq!(
        [&up["conn"], &up["input"], &up["send"]],
        [&json!("connected"), &json!(false), &json!(false)],
        "{up}"
    );

    // The emulator lives in the console process: killing it ends the call too, and whenever ICE, the peer
    // or the channel notices, the page must stop reading as connected.
    server.kill().await;
    b.wait_until(
        "(() => { const s = (c) => document.getElementById('state-' + c).dataset.state;
                  const down = ['disconnected', 'failed', 'closed'];
                  return down.includes(s('ice')) || down.includes(s('peer')) || s('channel') !== 'open'; })()",
        "ICE, the peer or the channel notices the call is down",
    )
    .await;
    let down = call_view(&b).await;
    assert!(
        !down["status"].as_str().unwrap().contains("Connected"),
        "the status line no longer says connected: {down}"
    );
    assert_ne!(down["conn"], "connected", "{down}");
    assert_eq!(
        [&down["input"], &down["send"], &down["ptt"], &down["apply"]],
        [&json!(true); 4],
        "nothing can be sent, so nothing takes input: {down}"
    );
    assert_eq!(
        b.eval("return window.consoleDebug.connection()").await,
        down["conn"]
    );

    // The recorder cannot reach the server: a sentence says how much waits and when it tries again.
    let note = b
        .wait_until(
            "(() => { const t = document.getElementById('rec-note').textContent;
                      return t.includes('pending') && t.includes('next retry') && t; })()",
            "the recorder's note says what is pending and when it retries",
        )
        .await;
    assert!(
        note.as_str().unwrap().contains("cannot store events"),
        "{note}"
    );
    b.close().await;
}

/// Which turn-detection fields are displayed (`display` is not `none`) with turn type `kind`.
async fn turn_fields_shown(b: &Browser, kind: &str) -> Value {
    b.select_css("select[name='turn.type']", kind).await;
    b.eval(
        "const f = document.getElementById('config-form');
         const shown = (name) => f.elements[name].closest('label').getClientRects().length > 0
           && getComputedStyle(f.elements[name].closest('label')).display !== 'none';
         return Object.fromEntries(['turn.eagerness', 'turn.threshold', 'turn.prefix_padding_ms',
           'turn.silence_duration_ms', 'turn.create_response', 'turn.interrupt_response']
           .map((n) => [n.slice(5), shown(n)]));",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_turn_detection_fields_a_type_does_not_use_are_hidden() {
    let (_server, b) = console_page::launch(BIN, &[]).await;
    let vad = ["threshold", "prefix_padding_ms", "silence_duration_ms"];
    let checks = ["create_response", "interrupt_response"];
    let expect = |eagerness: bool, vad_fields: bool, check_fields: bool| {
        let mut m = serde_json::Map::new();
        m.insert("eagerness".into(), json!(eagerness));
        for f in vad {
            m.insert(f.into(), json!(vad_fields));
        }
        for f in checks {
            m.insert(f.into(), json!(check_fields));
        }
        Value::Object(m)
    };
    assert_eq!(
        turn_fields_shown(&b, "none").await,
        expect(false, false, false),
        "type none: no turn-detection field"
    );
    assert_eq!(
        turn_fields_shown(&b, "server_vad").await,
        expect(false, true, true),
        "server_vad: no eagerness"
    );
    assert_eq!(
        turn_fields_shown(&b, "semantic_vad").await,
        expect(true, false, true),
        "semantic_vad: eagerness, no VAD thresholds"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_to_talk_commit_the_server_refuses_gets_no_answer() {
    let (_server, b) = console_page::launch(BIN, &[]).await;
    b.select_css("select[name='turn.type']", "none").await;
    connect(&b, "ephemeral").await;
    wait_entry(&b, 0, "server", "session.created").await;

    // A quick tap of Hold to talk: the buffer is cleared and committed with (next to) no audio in it.
    let from = entry_count(&b).await;
    b.eval(
        "const ptt = document.getElementById('ptt');
         ptt.dispatchEvent(new PointerEvent('pointerdown', { bubbles: true }));
         ptt.dispatchEvent(new PointerEvent('pointerup', { bubbles: true }));
         return null",
    )
    .await;
    let (commit_at, commit) = wait_entry(&b, from, "client", "input_audio_buffer.commit").await;
    let (error_at, error) = wait_entry(&b, commit_at, "server", "error").await;
    assert_eq!(
        error["event"]["error"]["code"], "input_audio_buffer_commit_empty",
        "{error}"
    );
    assert_eq!(
        error["event"]["error"]["event_id"], commit["event"]["event_id"],
        "{error}"
    );
    b.wait_until(
        "document.getElementById('status').textContent.includes('refused the commit')",
        "the status line says the commit was refused",
    )
    .await;

    // Then a text turn: its answer is the only one asked for, and the only one the server starts.
    b.type_and_enter("text-input", "hello after the tap").await;
    let (item_at, _) = wait_entry(&b, error_at, "client", "conversation.item.create").await;
    wait_entry(&b, item_at, "server", "response.done").await;
    let entries = b.eval("return window.consoleDebug.entries()").await;
    let after_commit = &entries.as_array().unwrap()[commit_at..];
    let count = |direction: &str, kind: &str, upto: usize| {
        after_commit[..upto]
            .iter()
            .filter(|e| e["direction"] == direction && e["event"]["type"] == kind)
            .count()
    };
    assert_eq!(
        count("client", "response.create", item_at - commit_at),
        0,
        "no response.create for the refused commit"
    );
    assert_eq!(
        count("server", "response.created", after_commit.len()),
        1,
        "the server started one response, the text turn's"
    );
    b.close().await;
}
