//! Scenario files and in-session faults: scripted replies, tool calls, errors, drops and early closes.

mod common;

use std::path::Path;

use common::call::{TestCall, instant, types, user_text};
use realtime_emulator::Scenario;
use realtime_emulator::engine::EngineSettings;
use serde_json::{Value, json};

fn scenario(name: &str) -> Scenario {
    Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(name),
    )
    .unwrap()
}

fn with(s: Scenario) -> EngineSettings {
    EngineSettings {
        scenario: Some(s),
        ..instant()
    }
}

fn text_session(call: &mut TestCall, tools: Value) {
    call.send(json!({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"], "tools": tools}}));
    call.expect("session.updated");
}

fn ask(call: &mut TestCall, text: &str) -> Vec<Value> {
    call.send(user_text(text));
    call.send(json!({"type": "response.create"}));
    call.until("response.done")
}

#[test]
fn weather_scenario_replies_and_calls_the_tool() {
    let (mut call, _) = TestCall::open(with(scenario("weather-tool.json")));
    text_session(
        &mut call,
        json!([{"type": "function", "name": "get_weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}]),
    );
    let done = ask(&mut call, "hello").pop().unwrap();
    assert_eq!(
        done["response"]["output"][0]["content"][0]["text"],
        "Hello! Ask me about the weather anywhere."
    );

    let events = ask(&mut call, "What's the weather like?");
    let args = events
        .iter()
        .find(|e| e["type"] == "response.function_call_arguments.done")
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(args["arguments"].as_str().unwrap()).unwrap(),
        json!({"location": "Paris", "unit": "celsius"})
    );
    call.send(json!({"type": "conversation.item.create", "item": {"type": "function_call_output", "call_id": args["call_id"], "output": "sunny, 21 C"}}));
    call.until("conversation.item.done");
    call.send(json!({"type": "response.create"}));
    let done = call.until("response.done").pop().unwrap();
    assert!(
        done["response"]["output"][0]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("sunny, 21 C")
    );

    // The delay rule still answers with its scripted text, after its three seconds of thinking.
    let asked_at = call.elapsed_ms();
    let done = ask(&mut call, "think hard").pop().unwrap();
    assert_eq!(call.elapsed_ms() - asked_at, 3_000);
    assert!(
        done["response"]["output"][0]["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Let me think")
    );
}

#[test]
fn scripted_errors_fail_the_response_and_drops_close_the_call() {
    let (mut call, _) = TestCall::open(with(scenario("flaky-network.json")));
    text_session(&mut call, json!([]));
    let events = ask(&mut call, "trigger an error");
    let t = types(&events);
    assert!(
        t.contains(&"response.created") && t.contains(&"error"),
        "{t:?}"
    );
    let done = events.last().unwrap();
    assert_eq!(done["response"]["status"], "failed");
    assert_eq!(
        done["response"]["status_details"]["error"]["code"],
        "server_error"
    );

    call.send(user_text("goodbye"));
    call.send(json!({"type": "response.create"}));
    let before = call.until_close();
    assert!(types(&before).contains(&"response.created"));
}

#[test]
fn turn_rules_match_the_nth_response() {
    let s =
        Scenario::from_json(r#"{"rules": [{"match": {"turn": 2}, "reply": "second!"}]}"#).unwrap();
    let (mut call, _) = TestCall::open(with(s));
    text_session(&mut call, json!([]));
    let first = ask(&mut call, "one").pop().unwrap();
    assert!(
        first["response"]["output"][0]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("\"one\"")
    );
    let second = ask(&mut call, "two").pop().unwrap();
    assert_eq!(
        second["response"]["output"][0]["content"][0]["text"],
        "second!"
    );
}

#[test]
fn the_call_closes_after_n_events_when_asked() {
    let settings = EngineSettings {
        close_after_events: Some(3),
        ..instant()
    };
    let (mut call, _) = TestCall::open(settings);
    call.send(user_text("x"));
    call.send(json!({"type": "response.create"}));
    let events = call.until_close();
    assert_eq!(
        events.len(),
        2,
        "session.created plus two more events, then the close"
    );
}
