//! The console page tells the truth, in headless Chromium against the real server and its built-in
//! emulator: a call whose server died reads as down and takes no input, and the recorder says what it
//! does about it; the server's effective session shows beside the form, which marks what differs and says
//! "applied" only on `session.updated`; the turn-detection fields a type does not use are not on show; a
//! push-to-talk commit the server refuses gets no answer.
//!
//! Needs Debian's `chromium` and `chromium-driver`; fails (never skips) without them.

use realtime_testkit::browser::Browser;
use realtime_testkit::console_page::{self, connect, entry_count, fill_config, wait_entry};
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

/// The config panel as the user sees it: the Apply result, the marked fields, the server's session.
async fn config_view(b: &Browser) -> Value {
    b.eval(
        "const $ = (id) => document.getElementById(id);
         return { result: $('config-result').hidden ? null : $('config-result-text').textContent,
                  link: $('config-result-link').hidden ? null : $('config-result-link').textContent,
                  status: $('status').textContent,
                  differs: [...document.querySelectorAll('#config-form label[data-differs=true]')]
                    .map((l) => l.querySelector('[name]').name),
                  effective: $('effective').hidden ? null : $('effective-source').textContent,
                  serverTools: document.querySelector('#effective-fields dd[data-field=tools]')?.textContent,
                  toolsDiffer: document.querySelector('#effective-fields dd[data-field=tools]')?.dataset.differs }",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_shows_what_the_server_applied_and_what_it_refused() {
    let (_server, b) = console_page::launch(BIN, &[]).await;
    connect(&b, "ephemeral").await;
    let (created_at, created) = wait_entry(&b, 0, "server", "session.created").await;
    let view = b
        .wait_until(
            "!document.getElementById('effective').hidden && document.getElementById('effective-source').textContent",
            "the server's session shows beside the form",
        )
        .await;
    assert_eq!(
        view,
        json!(format!("from session.created #{}", created["seq"]))
    );
    assert_eq!(
        config_view(&b).await["differs"],
        json!([]),
        "the form is what the server has"
    );

    // A change the server refuses: the form keeps it, marked, and the page says it was not applied.
    fill_config(
        &b,
        json!({"tools": r#"[{"name":"bad_tool","parameters":"not an object"}]"#}),
    )
    .await;
    let marked = config_view(&b).await;
    assert_eq!(
        marked["differs"],
        json!(["tools"]),
        "edited, not applied yet: {marked}"
    );
    b.click("config-apply").await;
    let (update_at, update) = wait_entry(&b, created_at, "client", "session.update").await;
    let (_, error) = wait_entry(&b, update_at, "server", "error").await;
    assert_eq!(error["event"]["error"]["code"], "invalid_type", "{error}");
    assert_eq!(
        error["event"]["error"]["event_id"], update["event"]["event_id"],
        "{error}"
    );
    b.wait_until(
        "document.getElementById('config-result-text').textContent.startsWith('Not applied')",
        "the config panel says the update was refused",
    )
    .await;
    let refused = config_view(&b).await;
    assert!(
        refused["result"].as_str().unwrap().contains("invalid_type"),
        "{refused}"
    );
    assert_eq!(
        refused["link"],
        json!(format!("error #{}", error["seq"])),
        "{refused}"
    );
    assert!(
        !refused["status"].as_str().unwrap().contains("Applied"),
        "{refused}"
    );
    assert_eq!(refused["differs"], json!(["tools"]), "{refused}");
    assert_eq!(refused["toolsDiffer"], "true", "{refused}");
    assert!(
        !refused["serverTools"]
            .as_str()
            .unwrap()
            .contains("bad_tool"),
        "the server's tools are not the refused ones: {refused}"
    );
    assert_eq!(
        b.eval("return document.querySelector('#tools-panel li[data-tool=bad_tool]')?.textContent")
            .await
            .as_str()
            .map(|t| t.contains("not on the server")),
        Some(true),
        "the Tools panel does not list the refused tool as active"
    );
    // The link shows the error in the log.
    b.click("config-result-link").await;
    b.wait_until(
        &format!(
            "document.getElementById('log').textContent.includes({})",
            error["event"]["event_id"]
        ),
        "the log shows the error's JSON",
    )
    .await;

    // A change the server takes: "applied" comes with session.updated, and nothing differs any more.
    fill_config(
        &b,
        json!({"tools": "[]", "instructions": "Answer in one word."}),
    )
    .await;
    b.click("config-apply").await;
    let (update_at, _) = wait_entry(&b, update_at + 1, "client", "session.update").await;
    let (_, updated) = wait_entry(&b, update_at, "server", "session.updated").await;
    assert_eq!(
        updated["event"]["session"]["instructions"],
        "Answer in one word."
    );
    b.wait_until(
        "document.getElementById('config-result-text').textContent === 'Applied.'",
        "the config panel says applied",
    )
    .await;
    let applied = config_view(&b).await;
    assert_eq!(applied["differs"], json!([]), "{applied}");
    assert_eq!(
        applied["effective"],
        json!(format!("from session.updated #{}", updated["seq"])),
        "{applied}"
    );
    assert_eq!(
        applied["link"],
        json!(format!("session.updated #{}", updated["seq"]))
    );
    assert_eq!(applied["serverTools"], "none", "{applied}");
    assert!(
        applied["status"].as_str().unwrap().contains("Applied"),
        "{applied}"
    );
    b.close().await;
}
