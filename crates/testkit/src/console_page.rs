//! The console page in Chromium, driven through the hooks its module puts on `window.consoleDebug`: the
//! real binary with a browser on its page, connecting and disconnecting, and the entries the page shows.

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::process::ConsoleProcess;

/// The `realtime-console` binary at `bin`, started with `env`, and a browser (one at a time in the test
/// binary) on its console page.
pub async fn launch(bin: &'static str, env: &[(&str, &str)]) -> (ConsoleProcess, Browser) {
    let server = ConsoleProcess::start(bin, env).await;
    let b = Browser::launch_alone().await;
    b.open_console(&server.url("/")).await;
    (server, b)
}

/// [`launch`] with a microphone that plays `mic` (48 kHz mono samples, looped).
pub async fn launch_with_mic(
    bin: &'static str,
    env: &[(&str, &str)],
    mic: &[i16],
) -> (ConsoleProcess, Browser) {
    let server = ConsoleProcess::start(bin, env).await;
    let b = Browser::launch_alone_with(mic, &[]).await;
    b.open_console(&server.url("/")).await;
    (server, b)
}

/// Chooses `flow` ("ephemeral" or "unified") and connects: [`connect_as_configured`].
pub async fn connect(b: &Browser, flow: &str) -> String {
    b.select("flow", flow).await;
    connect_as_configured(b).await
}

/// Clicks Connect with the page's configuration as it stands (a seeded page keeps its seed's), waits for
/// the data channel to open and returns the new session's id. Prints the connect time for the report:
/// `-- --nocapture` shows it.
pub async fn connect_as_configured(b: &Browser) -> String {
    b.click("connect").await;
    b.wait_until(
        "window.consoleDebug.phase() === 'open'",
        "the connection opens",
    )
    .await;
    let timing = b
        .eval("return [document.getElementById('flow').value, Math.round(window.consoleDebug.timings().connectMs)]")
        .await;
    println!(
        "connect time, {} flow (click Connect -> data channel open): {} ms",
        timing[0].as_str().unwrap_or("?"),
        timing[1]
    );
    b.eval("return window.consoleDebug.sessionId()")
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

/// Clicks Disconnect and waits until the session `id` is flushed to the recorder and ended.
pub async fn disconnect(b: &Browser, id: &str) {
    b.click("disconnect").await;
    b.wait_until(
        &format!("window.consoleDebug.finished() === {}", json!(id)),
        "the session is flushed and ended",
    )
    .await;
}

/// How many entries the page shows.
pub async fn entry_count(b: &Browser) -> usize {
    b.eval("return window.consoleDebug.entries().length")
        .await
        .as_u64()
        .unwrap() as usize
}

/// Waits for the first entry from index `from` with this direction and event type: (index, entry).
pub async fn wait_entry(b: &Browser, from: usize, direction: &str, kind: &str) -> (usize, Value) {
    let expr = format!(
        "(() => {{ const es = window.consoleDebug.entries();
           for (let i = {from}; i < es.length; i++) {{
             if (es[i].direction === {d} && es[i].event.type === {k}) return {{ i, e: es[i] }};
           }} return null; }})()",
        d = json!(direction),
        k = json!(kind),
    );
    let found = b
        .wait_until(&expr, &format!("a {direction} {kind} entry after #{from}"))
        .await;
    (found["i"].as_u64().unwrap() as usize, found["e"].clone())
}

/// Sets the config form's fields (name → value; a boolean checks a checkbox) and tells the form, as typing
/// would.
pub async fn fill_config(b: &Browser, values: Value) {
    b.eval(&format!(
        "const f = document.getElementById('config-form');
         for (const [name, value] of Object.entries({values})) {{
           const field = f.elements[name];
           if (typeof value === 'boolean') field.checked = value; else field.value = value;
         }}
         f.dispatchEvent(new Event('input', {{ bubbles: true }}));
         return null"
    ))
    .await;
}
