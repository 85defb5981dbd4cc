//! The drop-in recorder (`/recorder.js`) in headless Chromium, on a page of the developer's own, served on
//! another origin than the console's (`testkit::clients::serve_pages`): a page that builds its own
//! RTCPeerConnection against the console's gateway with an `ek_` key the test minted through
//! `/v1/realtime/client_secrets`, and the agents SDK's RealtimeSession on its WebRTC transport pointed at the
//! gateway. With the page's origin in `--allow-origin`, the library holds both directions and the call id;
//! from an origin not listed, nothing.
//!
//! Needs Chromium, chromedriver and the test clients' npm packages: `just test` installs them
//! (scripts/test-deps.sh). Fails, never skips, without them.

use realtime_testkit::browser::Browser;
use realtime_testkit::clients::{assert_the_agent_ran_its_tool, serve_pages};
use realtime_testkit::console::code_and_param;
use realtime_testkit::process::ConsoleProcess;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");

/// An ephemeral key minted through the gateway, as the page's backend would: no browser, no `Origin`.
async fn ek_key(server: &ConsoleProcess) -> String {
    let res = reqwest::Client::new()
        .post(server.url("/v1/realtime/client_secrets"))
        .json(&json!({"session": {"type": "realtime", "model": "gpt-realtime"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let minted: Value = res.json().await.unwrap();
    minted["value"].as_str().unwrap().to_owned()
}

/// The test pages' origin, a console that lists it in `--allow-origin`, and a key minted for the page.
async fn listed_page_origin() -> (String, ConsoleProcess, String) {
    let pages = serve_pages().await;
    let server = ConsoleProcess::start(BIN, &[("ALLOW_ORIGIN", &pages)]).await;
    let key = ek_key(&server).await;
    (pages, server, key)
}

/// The stored events of `direction`: their events.
fn of<'a>(stored: &'a [Value], direction: &str) -> Vec<&'a Value> {
    stored
        .iter()
        .filter(|e| e["direction"] == direction)
        .map(|e| &e["event"])
        .collect()
}

fn types(events: &[&Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

/// The library's session `id`, which `recorder.js` made: flow `page`, `label`, the call, ended; its events,
/// numbered from 1 without a gap, the first saying which page recorded it.
async fn recorded_session(
    server: &ConsoleProcess,
    id: &str,
    label: &str,
    call_id: &str,
    page: &str,
) -> Vec<Value> {
    let session = server.get_json(&format!("/api/sessions/{id}")).await;
    assert_eq!(session["flow"], "page", "{session}");
    assert_eq!(session["label"], label, "{session}");
    assert_eq!(session["call_id"], call_id, "{session}");
    assert!(session["ended_at"].is_i64(), "marked ended: {session}");
    let stored = server.stored(id).await;
    let seqs: Vec<i64> = stored.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=stored.len() as i64).collect::<Vec<_>>());
    assert_eq!(
        stored[0]["event"]["type"], "console.page",
        "{:?}",
        stored[0]
    );
    assert_eq!(stored[0]["event"]["origin"], page);
    let library = reqwest::get(server.url("/sessions"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(library.contains("your page (recorder.js)"), "{library}");
    stored
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_a_listed_origin_records_both_directions_and_the_call_id() {
    let (pages, server, key) = listed_page_origin().await;

    let browser = Browser::launch_alone().await;
    let page = browser
        .open(
            &format!("{pages}/recorder-webrtc.html?console={}", server.url("")),
            "recorderTest",
        )
        .await;
    let result = page
        .call(
            "run",
            vec![json!(key), json!("my page"), json!("Hello from my page")],
        )
        .await;
    println!("page: {result}");
    assert_eq!(result["imported"], true, "{result}");
    let location = result["location"].as_str().unwrap();
    assert!(
        location.starts_with(&server.url("/v1/realtime/calls/rtc_")),
        "{location}"
    );
    let call_id = location.rsplit('/').next().unwrap();
    let stats = &result["stats"];
    assert_eq!(stats["state"], "stopped", "{stats}");
    assert_eq!(stats["pending"], 0, "{stats}");
    assert_eq!(stats["callId"], call_id, "{stats}");
    let id = stats["sessionId"].as_str().unwrap();

    let stored = recorded_session(&server, id, "my page", call_id, &pages).await;
    // What the page sent, as it sent it.
    let sent: Vec<Value> = result["sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|text| serde_json::from_str(text.as_str().unwrap()).unwrap())
        .collect();
    let client: Vec<Value> = of(&stored, "client").into_iter().cloned().collect();
    assert_eq!(client, sent);
    // What it received, every event in order.
    let received: Vec<String> = serde_json::from_value(result["received"].clone()).unwrap();
    let server_types = types(&of(&stored, "server"));
    assert_eq!(server_types, received);
    for kind in ["session.created", "response.created", "response.done"] {
        assert!(
            server_types.iter().any(|t| t == kind),
            "{kind}: {server_types:?}"
        );
    }
    let states: Vec<&Value> = of(&stored, "system")
        .into_iter()
        .filter(|e| e["type"] == "console.state" && e["component"] == "channel")
        .map(|e| &e["state"])
        .collect();
    assert_eq!(states.first().map(|s| s.as_str()), Some(Some("connecting")));
    assert!(states.contains(&&json!("open")), "{states:?}");

    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_an_origin_not_listed_gets_403_and_nothing_is_stored() {
    let pages = serve_pages().await;
    let server = ConsoleProcess::start(BIN, &[("ALLOW_ORIGIN", "http://localhost:5173")]).await;

    let browser = Browser::launch_alone().await;
    let page = browser
        .open(
            &format!("{pages}/recorder-webrtc.html?console={}", server.url("")),
            "recorderTest",
        )
        .await;
    let result = page
        .call(
            "run",
            vec![json!("ek_unused"), json!("not mine"), json!("hi")],
        )
        .await;
    println!("page: {result}");
    assert_eq!(result["imported"], false, "the module is refused: {result}");
    let posted = page.call("postSession", vec![]).await;
    assert_eq!(
        posted["status"], 0,
        "the browser keeps the refusal from the page: {posted}"
    );
    browser.close().await;

    // What the browser was answered, asked the same way from outside.
    let http = reqwest::Client::new();
    let res = http
        .get(server.url("/recorder.js"))
        .header("origin", &pages)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(code_and_param(&body).0, "cross_origin_request");
    let res = http
        .post(server.url("/api/sessions"))
        .header("origin", &pages)
        .json(&json!({"label": "not mine", "flow": "page"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(code_and_param(&body).0, "cross_origin_request");

    let sessions = server.get_json("/api/sessions").await;
    assert_eq!(sessions["sessions"], json!([]), "nothing is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agents_sdk_through_the_gateway_is_recorded_with_recorder_js() {
    let (pages, server, key) = listed_page_origin().await;

    let browser = Browser::launch_alone().await;
    let page = browser
        .open(
            &format!("{pages}/agents-recorder.html?console={}", server.url("")),
            "agentsRecorderTest",
        )
        .await;
    let result = page
        .call(
            "run",
            vec![
                json!(key),
                json!("weather agent"),
                json!("what is the get weather in Paris?"),
            ],
        )
        .await;
    println!("agents SDK: {result}");
    let sdk_types = assert_the_agent_ran_its_tool(&result);
    let call_id = result["callId"].as_str().unwrap();
    assert!(call_id.starts_with("rtc_"), "{result}");
    let recorder = &result["recorder"];
    assert_eq!(recorder["state"], "stopped", "{recorder}");
    assert_eq!(recorder["callId"], call_id, "{recorder}");
    let id = recorder["sessionId"].as_str().unwrap();

    let stored = recorded_session(&server, id, "weather agent", call_id, &pages).await;
    // Every server event the SDK saw, in its order.
    assert_eq!(types(&of(&stored, "server")), sdk_types);
    // And what the SDK sent: its session, the question, the tool's output and the responses it asked for.
    let client = of(&stored, "client");
    let client_types = types(&client);
    assert_eq!(client_types[0], "session.update", "{client_types:?}");
    for kind in ["conversation.item.create", "response.create"] {
        assert!(
            client_types.iter().any(|t| t == kind),
            "{kind}: {client_types:?}"
        );
    }
    let output = client
        .iter()
        .find(|e| e["item"]["type"] == "function_call_output")
        .unwrap_or_else(|| panic!("the tool's output was sent: {client:?}"));
    assert!(
        output["item"]["output"].as_str().unwrap().contains("21"),
        "{output}"
    );

    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_passes_the_gateway_sessions_id_records_into_the_calls_one_session() {
    let (pages, server, key) = listed_page_origin().await;
    let browser = Browser::launch_alone().await;
    let page = browser
        .open(
            &format!(
                "{pages}/recorder-webrtc.html?one_session=1&console={}",
                server.url("")
            ),
            "recorderTest",
        )
        .await;
    let result = page
        .call(
            "run",
            vec![json!(key), json!("one session"), json!("Hello")],
        )
        .await;
    assert_eq!(result["imported"], true, "{result}");
    let id = result["stats"]["sessionId"].as_str().unwrap().to_owned();
    let sessions = server.get_json("/api/sessions").await;
    let all = sessions["sessions"].as_array().unwrap();
    assert_eq!(all.len(), 1, "the call has one session: {sessions}");
    assert_eq!(all[0]["id"], id.as_str());
    assert_eq!(all[0]["flow"], "gateway_call");

    // The gateway's opening event, then the page's events from seq 2; the server's capture of the call
    // stores no second copy of a server event the page forwarded.
    let mut stored = server.stored(&id).await;
    for _ in 0..100 {
        if stored.iter().any(|e| e["type"] == "console.capture") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        stored = server.stored(&id).await;
    }
    assert_eq!(stored[0]["type"], "console.gateway");
    assert_eq!(stored[1]["type"], "console.page");
    assert!(
        stored
            .iter()
            .any(|e| e["type"] == "console.capture" && e["event"]["state"] == "attached"),
        "{:?}",
        stored.iter().map(|e| &e["type"]).collect::<Vec<_>>()
    );
    let mut ids: Vec<&str> = stored
        .iter()
        .filter(|e| e["direction"] == "server")
        .map(|e| e["event"]["event_id"].as_str().unwrap())
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "every server event once");
    let received: Vec<String> = serde_json::from_value(result["received"].clone()).unwrap();
    assert!(
        count >= received.len(),
        "{count} stored, {} received",
        received.len()
    );
}
