//! DNS rebinding in a real browser: Chromium resolves `evil.example` to 127.0.0.1 (as a rebinding attacker
//! arranges), so a page on `http://evil.example:<port>` is same-origin with the console it reaches. The
//! console answers it 421 everywhere: the page cannot read the library or mint a key.
//!
//! Needs Chromium and chromedriver (`just test` installs them).

use realtime_testkit::browser::Browser;
use realtime_testkit::process::ConsoleProcess;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_a_rebound_name_cannot_read_or_mint() {
    let server = ConsoleProcess::start(BIN, &[]).await;
    let browser = Browser::launch_with(
        &realtime_testkit::wav::silence(1.0),
        &["--host-resolver-rules=MAP evil.example 127.0.0.1"],
    )
    .await;
    let evil = format!("http://evil.example:{}", server.port);
    browser.client.goto(&format!("{evil}/")).await.unwrap();
    let page = browser
        .eval("return [document.title, document.body.innerText]")
        .await;
    assert!(
        page[1]
            .as_str()
            .unwrap()
            .contains("does not answer to that host name"),
        "{page}"
    );
    // What the attacker's script would do on that page.
    let tried = browser
        .eval_async(
            "const list = await fetch('/api/sessions');
             const mint = await fetch('/api/rt/token', { method: 'POST' });
             return [list.status, mint.status, (await mint.json()).error.code];",
        )
        .await;
    assert_eq!(tried, json!([421, 421, "misdirected_request"]));
    // The console's own names still work in the same browser.
    browser.open_console(&server.url("/")).await;
    let listed = browser
        .eval_async("return (await fetch('/api/sessions')).status;")
        .await;
    assert_eq!(listed, json!(200));
    browser.close().await;
}
