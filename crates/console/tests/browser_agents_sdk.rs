//! The official agents SDK (`@openai/agents-realtime`, pinned in `tests/clients`) in headless Chromium,
//! through the console: a voice-agent page on its own origin takes the `value` and `console.calls_url` of
//! the console's `POST /api/rt/token` unchanged, connects over WebRTC to the built-in emulator, sends a text
//! message, runs a tool the agent defines and gets the answer. The console holds the session.
//!
//! Needs Chromium, chromedriver and the test clients' npm packages: `just test` installs them
//! (scripts/test-deps.sh). Fails, never skips, without them.

use realtime_testkit::browser::Browser;
use realtime_testkit::clients::{assert_the_agent_ran_its_tool, serve_pages};
use realtime_testkit::process::ConsoleProcess;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_sdk_page_connects_with_the_consoles_token_and_runs_a_tool() {
    let server = ConsoleProcess::start(BIN, &[]).await;
    let page_origin = serve_pages().await;

    // The page's backend mints through the console, as a server would: no browser, no Origin.
    let http = reqwest::Client::new();
    let res = http
        .post(server.url("/api/rt/token"))
        .json(&json!({"label": "agents-sdk"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let token: Value = res.json().await.unwrap();
    let session_id = token["console"]["session_id"].as_str().unwrap().to_owned();

    let browser = Browser::launch().await;
    browser
        .goto(&format!("{page_origin}/agents-webrtc.html"))
        .await;
    browser
        .wait_until("!!window.agentsTest", "the page loads the SDK")
        .await;
    let result = browser
        .eval_async(&format!(
            "return await window.agentsTest.run({token}, {text});",
            text = json!("what is the get weather in Paris?")
        ))
        .await;
    println!("agents SDK result: {result}");

    assert_the_agent_ran_its_tool(&result);
    let call_id = result["callId"].as_str().unwrap();
    assert!(
        call_id.starts_with("rtc_"),
        "the SDK read the call id from Location: {result}"
    );

    // The console holds the session the key was minted for.
    let session = server
        .get_json(&format!("/api/sessions/{session_id}"))
        .await;
    assert_eq!(session["flow"], "ephemeral", "{session}");
    assert_eq!(session["label"], "agents-sdk", "{session}");
    let stored = server.stored(&session_id).await;
    assert_eq!(stored[0]["event"]["type"], "console.token", "{stored:?}");

    browser.close().await;
}
