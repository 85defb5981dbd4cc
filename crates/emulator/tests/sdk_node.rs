//! The official Node clients (pinned in tests/clients/package-lock.json) against the emulator, unchanged: the
//! `openai` SDK's `OpenAIRealtimeWS` over WSS (the SDK only speaks `wss:`, so the emulator serves TLS and Node
//! trusts its certificate through `NODE_EXTRA_CA_CERTS`), and `@openai/agents-realtime`'s WebSocket transport
//! with a tool, over `ws:` and `wss:`. Needs Node and the test package that `just test` installs.
//!
//! `openai` 7.x declares `engines.node >= 22`; on Node 20 (Debian's, and this project's machines) npm warns
//! `EBADENGINE` and what these tests use works.

use realtime_emulator::{EmulatorConfig, Pace};
use realtime_testkit::clients::{assert_the_agent_ran_its_tool, node};
use realtime_testkit::emulator::EmulatorApp;
use realtime_testkit::schema::schemas;
use serde_json::{Value, json};

fn instant() -> EmulatorConfig {
    EmulatorConfig {
        pace: Pace::Instant,
        ..EmulatorConfig::default()
    }
}

#[tokio::test]
async fn the_openai_sdks_realtime_ws_holds_a_text_turn_and_a_tool_call_over_wss() {
    let app = EmulatorApp::start_tls(instant()).await;
    let cert = app.cert_path.as_ref().unwrap().to_str().unwrap();
    let got = node(
        "realtime-ws.mjs",
        &[&app.base],
        &[("NODE_EXTRA_CA_CERTS", cert)],
    )
    .await;

    assert_eq!(
        got["url"],
        app.ws_url("?model=gpt-realtime"),
        "the SDK made wss: of the https base"
    );
    let events = got["events"].as_array().unwrap();
    for event in events {
        schemas().check_server_event(event);
    }
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types.first(), Some(&"session.created"), "{types:?}");
    assert!(!types.contains(&"error"), "{got:#}");
    assert_eq!(
        types.iter().filter(|t| **t == "response.done").count(),
        3,
        "{types:?}"
    );

    assert_eq!(
        got["text"], "You said \"Hello from Node\". This is the emulated model answering.",
        "{got:#}"
    );
    assert_eq!(got["tool"]["name"], "get_weather", "{got:#}");
    let arguments: Value =
        serde_json::from_str(got["tool"]["arguments"].as_str().unwrap()).unwrap();
    assert!(arguments["location"].is_string(), "{got:#}");
    let answer = got["answer"].as_str().unwrap();
    assert!(
        answer.contains("temp_c") && answer.contains("21"),
        "the answer uses the tool's output: {answer}"
    );
    assert_eq!(
        got["close_code"], 1000,
        "the SDK's close is echoed: {got:#}"
    );
}

#[tokio::test]
async fn the_agents_sdk_runs_a_tool_over_its_websocket_transport_in_node() {
    let app = EmulatorApp::start(instant()).await;
    agents_run_a_tool(&app, &[]).await;
}

#[tokio::test]
async fn the_agents_sdk_runs_a_tool_over_wss_in_node() {
    let app = EmulatorApp::start_tls(instant()).await;
    let cert = app.cert_path.as_ref().unwrap().to_str().unwrap();
    agents_run_a_tool(&app, &[("NODE_EXTRA_CA_CERTS", cert)]).await;
}

/// agents-ws.mjs against `app`'s WebSocket URL (`ws:` or `wss:`): the tool runs once and the answer uses it.
async fn agents_run_a_tool(app: &EmulatorApp, envs: &[(&str, &str)]) {
    let url = app.ws_url("?model=gpt-realtime");
    let got = node(
        "agents-ws.mjs",
        &[&url, "what does get_weather say for Paris?"],
        envs,
    )
    .await;

    let types = assert_the_agent_ran_its_tool(&got);
    assert!(!types.iter().any(|t| t == "error"), "{got:#}");
    let history = got["history"].as_array().unwrap();
    assert!(
        history.contains(&json!({"type": "function_call", "role": null, "name": "get_weather"})),
        "the call is in the agent's history: {history:?}"
    );
}
