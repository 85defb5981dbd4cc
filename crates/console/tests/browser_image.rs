//! Image input on the console page, in headless Chromium against the real server and its built-in
//! emulator: an image pasted into the message box goes out as an `input_image` data URL in the message's
//! `conversation.item.create`, is recorded whole, the transcript marks the message as having an image, and the
//! scripted model answers from its type and size.
//!
//! Needs Debian's `chromium` and `chromium-driver`; fails (never skips) without them.

use realtime_testkit::console_page::{self, connect, disconnect, entry_count, wait_entry};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");

/// A 1×1 PNG, 68 bytes.
const PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

/// Every text the response's output carries (text parts and audio transcripts).
fn output_text(done: &Value) -> String {
    done["event"]["response"]["output"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|item| item["content"].as_array().cloned().unwrap_or_default())
        .filter_map(|part| {
            part.get("text")
                .or_else(|| part.get("transcript"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_image_is_sent_as_input_image_recorded_and_answered_from_its_type_and_size() {
    let (server, b) = console_page::launch(BIN, &[]).await;
    let id = connect(&b, "ephemeral").await;
    wait_entry(&b, 0, "server", "session.created").await;

    // A text turn first, so the transcript has more than a small window shows.
    let from = entry_count(&b).await;
    b.type_and_enter("text-input", "hello before the image")
        .await;
    wait_entry(&b, from, "server", "response.done").await;

    // Paste the PNG into the message box, as Ctrl+V of a copied image does.
    b.eval(&format!(
        "const bytes = Uint8Array.from(atob('{PNG}'), (c) => c.charCodeAt(0));
         const dt = new DataTransfer();
         dt.items.add(new File([bytes], 'dot.png', {{ type: 'image/png' }}));
         document.getElementById('text-input')
           .dispatchEvent(new ClipboardEvent('paste', {{ clipboardData: dt, bubbles: true, cancelable: true }}));
         return null"
    ))
    .await;
    let chip = b
        .wait_until(
            "!document.getElementById('image-chip').hidden && document.getElementById('image-name').textContent",
            "the message box shows the attached image",
        )
        .await;
    assert_eq!(chip, "dot.png · 68 B", "its name and size, not \"1 KiB\"");
    let from = entry_count(&b).await;
    b.type_and_enter("text-input", "what is this?").await;
    let (sent_at, sent) = wait_entry(&b, from, "client", "conversation.item.create").await;
    let content = &sent["event"]["item"]["content"];
    assert_eq!(content[0]["type"], "input_text", "{content}");
    assert_eq!(content[1]["type"], "input_image", "{content}");
    let url = format!("data:image/png;base64,{PNG}");
    assert_eq!(content[1]["image_url"], url.as_str());
    assert!(
        b.eval("return document.getElementById('image-chip').hidden")
            .await
            .as_bool()
            .unwrap(),
        "the image went with the message"
    );

    let (_, done) = wait_entry(&b, sent_at, "server", "response.done").await;
    let answer = output_text(&done);
    assert!(
        answer.contains("You said \"what is this?\" and sent an image (image/png, 68 bytes)"),
        "the emulator answers from the image's type and size: {answer}"
    );

    // A smaller window once the turn's events are all in: the log and the transcript, which follow the end,
    // still show it (not only once another event comes).
    // (The first turn's audio may still be playing: its own stopped comes later.)
    b.wait_until(
        &format!(
            "window.consoleDebug.entries().some((e) => e.event.type === 'output_audio_buffer.stopped' \
               && e.event.response_id === {})",
            done["event"]["response"]["id"]
        ),
        "the image turn's audio stops",
    )
    .await;
    b.set_viewport(1280, 800).await;
    // Both follow their end once the smaller window is laid out (a resize observer's turn, which a loaded
    // machine may take a few frames to give).
    b.wait_until(
        "(() => { const l = document.querySelector('#log .lp-list');
                  const t = document.getElementById('transcript');
                  return l.scrollTop + l.clientHeight >= l.scrollHeight - 22
                      && t.scrollTop + t.clientHeight >= t.scrollHeight - 40; })()",
        "the log and the transcript show their ends after the resize",
    )
    .await;

    // The transcript says the message went with an image, not only its text.
    let badges = b
        .eval(
            "const turn = [...document.querySelectorAll('#transcript .tv-user')]
               .find((t) => t.textContent.includes('what is this?'));
             return [...turn.querySelectorAll('.tv-badge')].map((x) => x.textContent);",
        )
        .await;
    assert_eq!(badges, serde_json::json!(["image"]), "{badges}");

    // Recorded whole.
    disconnect(&b, &id).await;
    let stored = server.stored(&id).await;
    let item = stored
        .iter()
        .find(|e| e["seq"] == sent["seq"])
        .expect("the message is stored");
    assert_eq!(
        item["event"]["item"]["content"][1]["image_url"],
        url.as_str()
    );
    b.close().await;
}
