//! The rest of the session config on the console page, in headless Chromium against the real server and
//! its built-in emulator: the model picker offers the server's allowed models, and the editor's model,
//! speed, formats, idle timeout, truncation, prompt, include and tracing reach the session the server
//! creates, show in the server's session beside the form, and change with Apply.
//!
//! Needs Debian's `chromium` and `chromium-driver`; fails (never skips) without them.

use realtime_testkit::browser::Browser;
use realtime_testkit::console_page::{self, connect, fill_config, wait_entry};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");

/// The server's session beside the form, field → shown value, and the form's fields marked as differing.
async fn effective_view(b: &Browser) -> Value {
    b.eval(
        "const rows = {};
         for (const dd of document.querySelectorAll('#effective-fields dd')) rows[dd.dataset.field] = dd.textContent;
         return { rows, differs: [...document.querySelectorAll('#config-form label[data-differs=true]')]
                    .map((l) => l.querySelector('[name]').name),
                  errors: [...document.querySelectorAll('#config-errors li')].map((li) => li.textContent) }",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_sets_the_whole_session_and_the_server_shows_it() {
    let (_server, b) =
        console_page::launch(BIN, &[("REALTIME_ALLOWED_MODELS", "gpt-realtime-mini")]).await;
    let models = b
        .eval("return [...document.querySelector('#config-form select[name=model]').options].map((o) => [o.value, o.textContent])")
        .await;
    assert_eq!(
        models,
        json!([
            ["", "gpt-realtime (server default)"],
            ["gpt-realtime-mini", "gpt-realtime-mini"]
        ])
    );
    fill_config(
        &b,
        json!({"model": "gpt-realtime-mini", "speed": "1.25", "output_format": "audio/pcmu",
               "turn.idle_timeout_ms": "6000", "truncation": "retention_ratio", "retention_ratio": "0.5",
               "tracing": "auto", "prompt.id": "pmpt_console", "prompt.version": "2",
               "prompt.variables": r#"{"city":"Paris"}"#, "include_logprobs": true}),
    )
    .await;
    assert_eq!(effective_view(&b).await["errors"], json!([]));
    connect(&b, "ephemeral").await;
    let (created_at, created) = wait_entry(&b, 0, "server", "session.created").await;
    let s = &created["event"]["session"];
    assert_eq!(s["model"], "gpt-realtime-mini", "{s}");
    assert_eq!(s["audio"]["output"]["speed"], 1.25, "{s}");
    assert_eq!(s["audio"]["output"]["format"]["type"], "audio/pcmu", "{s}");
    assert_eq!(
        s["audio"]["input"]["turn_detection"]["idle_timeout_ms"], 6000,
        "{s}"
    );
    assert_eq!(
        s["truncation"],
        json!({"type": "retention_ratio", "retention_ratio": 0.5})
    );
    assert_eq!(s["tracing"], "auto");
    assert_eq!(
        s["prompt"],
        json!({"id": "pmpt_console", "version": "2", "variables": {"city": "Paris"}})
    );
    assert_eq!(
        s["include"],
        json!(["item.input_audio_transcription.logprobs"])
    );
    b.wait_until(
        "!document.getElementById('effective').hidden",
        "the server's session shows beside the form",
    )
    .await;
    let view = effective_view(&b).await;
    assert_eq!(view["differs"], json!([]), "{view}");
    let rows = &view["rows"];
    assert_eq!(rows["model"], "gpt-realtime-mini", "{view}");
    assert_eq!(rows["speed"], "1.25", "{view}");
    assert_eq!(rows["output_format"], "audio/pcmu", "{view}");
    assert_eq!(rows["turn.idle_timeout_ms"], "6000", "{view}");
    assert!(
        rows["prompt.id"].as_str().unwrap().contains("pmpt_console"),
        "{view}"
    );
    assert_eq!(rows["tracing"], "auto", "{view}");

    // Apply changes them on the live session: session.updated shows the new values.
    fill_config(
        &b,
        json!({"speed": "0.75", "prompt.version": "3", "truncation": "disabled"}),
    )
    .await;
    let edited = effective_view(&b).await;
    assert_eq!(
        edited["differs"],
        json!(["speed", "truncation", "prompt.id"]),
        "{edited}"
    );
    b.click("config-apply").await;
    let (update_at, update) = wait_entry(&b, created_at, "client", "session.update").await;
    assert_eq!(update["event"]["session"]["audio"]["output"]["speed"], 0.75);
    let (_, updated) = wait_entry(&b, update_at, "server", "session.updated").await;
    let s = &updated["event"]["session"];
    assert_eq!(s["audio"]["output"]["speed"], 0.75, "{s}");
    assert_eq!(s["prompt"]["version"], "3", "{s}");
    assert_eq!(s["truncation"], "disabled", "{s}");
    b.wait_until(
        "document.getElementById('config-result-text').textContent === 'Applied.'",
        "the config panel says applied",
    )
    .await;
    let applied = effective_view(&b).await;
    assert_eq!(applied["differs"], json!([]), "{applied}");
    assert_eq!(applied["rows"]["speed"], "0.75", "{applied}");
}
