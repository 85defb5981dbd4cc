//! The console page tells the truth, in headless Chromium against the real server and its built-in
//! emulator: a call whose server died reads as down and takes no input, and the recorder says what it
//! does about it.
//!
//! Needs Debian's `chromium` and `chromium-driver`; fails (never skips) without them.

use realtime_testkit::browser::Browser;
use realtime_testkit::console_page::{self, connect, wait_entry};
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
