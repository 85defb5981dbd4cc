//! The GA session fields a client may override beyond voice and turns (speed, audio formats,
//! truncation, prompt, include, the idle timeout, tracing): each reaches the upstream as given and valid
//! against `RealtimeSessionCreateRequestGA`; a value the schema refuses is a 400 naming the field, and
//! nothing is forwarded. The console page gets the same allow-list, rendered into it.

use realtime_testkit::console::*;
use realtime_testkit::schema::assert_valid;
use serde_json::{Value, json};

fn every_new_field() -> Value {
    json!({
        "model": "gpt-realtime-mini",
        "audio": {
            "input": {"format": {"type": "audio/pcmu"},
                      "turn_detection": {"type": "server_vad", "idle_timeout_ms": 6000}},
            "output": {"format": {"type": "audio/pcma"}, "voice": "marin", "speed": 1.25}
        },
        "truncation": {"type": "retention_ratio", "retention_ratio": 0.5,
                       "token_limits": {"post_instructions": 1000}},
        "prompt": {"id": "pmpt_abc", "version": "3", "variables": {"city": "Paris"}},
        "include": ["item.input_audio_transcription.logprobs"],
        "tracing": {"workflow_name": "console", "group_id": "g1", "metadata": {"k": "v"}}
    })
}

#[tokio::test]
async fn each_new_field_reaches_the_upstream_as_given() {
    let upstream = RecordingUpstream::start().await;
    let app = ConsoleApp::with_upstream_and(&upstream, |c| {
        c.allowed_models = vec!["gpt-realtime-mini".into()];
    })
    .await;
    let overrides = every_new_field();
    let res = app.token(json!({"session": overrides})).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let sent = upstream.requests_to(Route::ClientSecrets)[0].json();
    assert_valid("RealtimeCreateClientSecretRequest", &sent);
    let session = &sent["session"];
    assert_valid("RealtimeSessionCreateRequestGA", session);
    for pointer in [
        "/model",
        "/audio/input/format",
        "/audio/input/turn_detection/idle_timeout_ms",
        "/audio/output/format",
        "/audio/output/speed",
        "/truncation",
        "/prompt",
        "/include",
        "/tracing",
    ] {
        assert_eq!(
            session.pointer(pointer),
            overrides.pointer(pointer),
            "{pointer}"
        );
    }
    // The other forms the schema allows.
    for extra in [
        json!({"truncation": "disabled", "tracing": "auto", "prompt": {"id": "pmpt_x"}}),
        json!({"truncation": "auto", "prompt": null,
               "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000},
                                   "turn_detection": {"type": "server_vad", "idle_timeout_ms": null}}}}),
    ] {
        let res = app.token(json!({"session": extra})).await;
        assert_eq!(res.status(), 200, "{extra}");
        let sent = upstream
            .requests_to(Route::ClientSecrets)
            .pop()
            .unwrap()
            .json();
        assert_valid("RealtimeSessionCreateRequestGA", &sent["session"]);
        assert_eq!(sent["session"]["truncation"], extra["truncation"]);
    }
}

#[tokio::test]
async fn values_the_schema_refuses_are_a_400_naming_the_field() {
    let upstream = RecordingUpstream::start().await;
    let app = ConsoleApp::with_upstream(&upstream).await;
    for (session, code, param) in [
        (
            json!({"audio": {"output": {"speed": 1.6}}}),
            "invalid_value",
            "session.audio.output.speed",
        ),
        (
            json!({"audio": {"output": {"speed": "fast"}}}),
            "invalid_value",
            "session.audio.output.speed",
        ),
        (
            json!({"audio": {"output": {"format": {"type": "audio/mp3"}}}}),
            "invalid_value",
            "session.audio.output.format",
        ),
        (
            json!({"audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}}),
            "invalid_value",
            "session.audio.input.format",
        ),
        (
            json!({"audio": {"input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 100}}}}),
            "invalid_value",
            "session.audio.input.turn_detection.idle_timeout_ms",
        ),
        (
            json!({"truncation": "sometimes"}),
            "invalid_value",
            "session.truncation",
        ),
        (
            json!({"truncation": {"type": "retention_ratio", "retention_ratio": 2}}),
            "invalid_value",
            "session.truncation",
        ),
        (
            json!({"prompt": {"version": "1"}}),
            "invalid_value",
            "session.prompt.id",
        ),
        (
            json!({"prompt": {"id": "p", "version": 2}}),
            "invalid_value",
            "session.prompt.version",
        ),
        (
            json!({"prompt": {"id": "p", "variables": "x"}}),
            "invalid_value",
            "session.prompt.variables",
        ),
        (
            json!({"prompt": {"id": "p", "template": "x"}}),
            "unknown_parameter",
            "session.prompt.template",
        ),
        (
            json!({"include": ["everything"]}),
            "invalid_value",
            "session.include",
        ),
        (
            json!({"tracing": "manual"}),
            "invalid_value",
            "session.tracing",
        ),
        (
            json!({"tracing": {"workflow": "x"}}),
            "invalid_value",
            "session.tracing",
        ),
    ] {
        let res = app.token(json!({"session": session})).await;
        assert_eq!(res.status(), 400, "{session}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["type"], "invalid_request_error", "{session}");
        assert_eq!(
            code_and_param(&err),
            (code.to_owned(), Some(param.to_owned())),
            "{session}"
        );
    }
    assert!(
        upstream.requests().is_empty(),
        "nothing invalid was forwarded"
    );
}

#[tokio::test]
async fn the_console_page_carries_the_allow_list_the_server_checks() {
    let app = ConsoleApp::start().await;
    let page = app.get_text("/").await;
    let attr = page
        .split_once("data-allowed-overrides=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(value, _)| value.replace("&#34;", "\"").replace("&quot;", "\""))
        .expect("the console page has data-allowed-overrides");
    let rendered: Value = serde_json::from_str(&attr).unwrap();
    // The page's unit tests (static/js/test/) run against this file: it must be what the page gets.
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(
            realtime_testkit::workspace_dir().join("static/js/test/allowed-overrides.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(rendered, fixture);
    assert!(
        rendered["session"]
            .as_array()
            .unwrap()
            .contains(&json!("prompt")),
        "{rendered}"
    );
}
