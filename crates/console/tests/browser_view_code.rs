//! "View code" on the console page, in headless Chromium against the real server and its built-in
//! emulator: the panel shows the server's session as openai-python, agents-js and curl snippets, and the
//! Python one, run as copied with the test venv's SDK, talks to the emulator through the console's gateway
//! (`/v1`) with the same session, and the curl one mints a key for it.
//!
//! Needs Debian's `chromium` and `chromium-driver` and the test clients; fails (never skips) without them.

use realtime_testkit::browser::Browser;
use realtime_testkit::console_page::{self, connect, fill_config, wait_entry};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");

/// The panel as shown: where the session comes from, the tabs, and the snippet on show.
async fn code_view(b: &Browser) -> Value {
    b.eval(
        "const $ = (id) => document.getElementById(id);
         return { source: $('view-code-source').textContent,
                  tabs: [...$('view-code-tabs').querySelectorAll('button')].map((t) => t.dataset.snippet),
                  shown: $('view-code-text').dataset.snippet, text: $('view-code-text').textContent }",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_and_curl_snippets_run_the_servers_session_against_the_emulator() {
    let (_server, b) = console_page::launch(BIN, &[]).await;
    let before = code_view(&b).await;
    assert_eq!(before["source"], "The form's session (not connected).");
    fill_config(
        &b,
        json!({"instructions": "Answer in one short sentence.", "voice": "cedar", "modality": "text",
               "speed": "1.25"}),
    )
    .await;
    connect(&b, "ephemeral").await;
    let (_, created) = wait_entry(&b, 0, "server", "session.created").await;
    b.wait_until(
        "document.getElementById('view-code-source').textContent.includes('session.created')",
        "View code shows the server's session",
    )
    .await;
    b.eval("document.querySelector('#view-code summary').click(); return null")
        .await;
    let view = code_view(&b).await;
    assert_eq!(view["tabs"], json!(["python", "agents", "curl"]), "{view}");
    assert_eq!(view["shown"], "python");
    let snippet = view["text"].as_str().unwrap().to_owned();
    assert!(snippet.contains("client.realtime.connect"), "{snippet}");
    let mut curl = String::new();
    for tab in ["agents", "curl"] {
        b.eval(&format!(
            "document.querySelector('#view-code-tabs [data-snippet={tab}]').click(); return null"
        ))
        .await;
        let other = code_view(&b).await;
        assert_eq!(other["shown"], tab);
        assert!(
            other["text"]
                .as_str()
                .unwrap()
                .contains("Answer in one short sentence."),
            "{other}"
        );
        curl = other["text"].as_str().unwrap().to_owned();
    }

    // Run as copied: its base URL is this console's gateway.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("realtime_session.py");
    std::fs::write(&path, &snippet).unwrap();
    let got = realtime_testkit::clients::python_env(path.to_str().unwrap(), &[], &[]).await;
    let session = &got["session"];
    let server = &created["event"]["session"];
    assert_eq!(session["instructions"], server["instructions"], "{got}");
    assert_eq!(session["instructions"], "Answer in one short sentence.");
    assert_eq!(session["output_modalities"], json!(["text"]), "{got}");
    assert_eq!(session["audio"]["output"]["voice"], "cedar", "{got}");
    assert_eq!(session["audio"]["output"]["speed"], 1.25, "{got}");
    assert!(!got["answer"].as_str().unwrap().is_empty(), "{got}");

    // The curl snippet, run as copied, mints an ephemeral key for the same session.
    let out = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&curl)
        .env_remove("OPENAI_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{curl}\n{out:?}");
    let minted: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        minted["value"].as_str().unwrap().starts_with("ek_"),
        "{minted}"
    );
    assert_eq!(
        minted["session"]["instructions"], server["instructions"],
        "{minted}"
    );
    assert_eq!(minted["session"]["audio"]["output"]["speed"], 1.25);
}
