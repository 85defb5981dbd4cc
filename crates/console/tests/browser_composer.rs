//! The console page's client-event composer, in headless Chromium against the real server and its
//! built-in emulator: a template goes out on the data channel like every event the page sends, the
//! server's `error` answering it links back to it in the log, and both are in the recording.
//!
//! Needs Debian's `chromium` and `chromium-driver`; fails (never skips) without them.

use realtime_testkit::console_page::{self, connect, disconnect, entry_count, wait_entry};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_composed_event_is_sent_and_recorded_and_its_error_links_back_to_it() {
    let (server, b) = console_page::launch(BIN, &[]).await;
    let id = connect(&b, "ephemeral").await;
    wait_entry(&b, 0, "server", "session.created").await;

    // conversation.item.retrieve of an item the conversation does not have.
    b.select("composer-template", "conversation.item.retrieve")
        .await;
    let drafted: Value = serde_json::from_str(
        b.eval("return document.getElementById('composer-text').value")
            .await
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        drafted,
        json!({"type": "conversation.item.retrieve", "item_id": "item_not_in_this_conversation"})
    );
    let from = entry_count(&b).await;
    b.click("composer-send").await;
    let (sent_at, sent) = wait_entry(&b, from, "client", "conversation.item.retrieve").await;
    let event_id = sent["event"]["event_id"].as_str().unwrap().to_owned();
    assert!(!event_id.is_empty(), "{sent}");
    let (_, error) = wait_entry(&b, sent_at, "server", "error").await;
    assert_eq!(error["event"]["error"]["event_id"], event_id, "{error}");
    let note = b
        .eval("return document.getElementById('composer-note').textContent")
        .await;
    assert!(note.as_str().unwrap().contains(&event_id), "{note}");

    // The log links the error to its cause, and the cause to its error.
    let (sent_seq, error_seq) = (
        sent["seq"].as_u64().unwrap(),
        error["seq"].as_u64().unwrap(),
    );
    let detail = |seq: u64| {
        format!(
            "window.consoleDebug.reveal({seq});
             return document.querySelector('#log .lp-link-line')?.textContent ?? null"
        )
    };
    let caused_by = b.eval(&detail(error_seq)).await;
    assert!(
        caused_by.as_str().is_some_and(
            |t| t.contains(&format!("Caused by #{sent_seq} conversation.item.retrieve"))
        ),
        "the error's detail links its cause: {caused_by}"
    );
    let caused = b.eval(&detail(sent_seq)).await;
    assert!(
        caused
            .as_str()
            .is_some_and(|t| t.contains(&format!("error #{error_seq}"))),
        "the event's detail links its error: {caused}"
    );

    // Both are in the recording, under the seqs the page showed.
    disconnect(&b, &id).await;
    let stored = server.stored(&id).await;
    let at = |seq: u64| {
        stored
            .iter()
            .find(|e| e["seq"] == seq)
            .unwrap_or_else(|| panic!("seq {seq} is not stored"))
            .clone()
    };
    assert_eq!(
        [
            at(sent_seq)["direction"].clone(),
            at(sent_seq)["event"]["event_id"].clone()
        ],
        [json!("client"), json!(event_id)]
    );
    assert_eq!(
        [
            at(error_seq)["event"]["type"].clone(),
            at(error_seq)["event"]["error"]["event_id"].clone()
        ],
        [json!("error"), json!(event_id)]
    );
    b.close().await;
}
