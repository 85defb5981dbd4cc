use serde_json::json;

use super::*;

/// The effective session of PROTOCOL §2.2, plus fields this crate has never heard of at every level.
fn upstream_session() -> Value {
    json!({
        "type": "realtime", "object": "realtime.session", "id": "sess_C9CiUVUzUzYIssh3ELY1d",
        "model": "gpt-realtime", "output_modalities": ["audio"],
        "instructions": "You are a friendly assistant.",
        "tools": [{"type": "function", "name": "lookup", "description": "d",
                   "parameters": {"type": "object"}, "strict_mode": true}],
        "tool_choice": "auto", "max_output_tokens": "inf",
        "tracing": null, "truncation": "auto", "prompt": null, "expires_at": 0,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000, "channels": 1},
                "transcription": null, "noise_reduction": null,
                "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                                   "silence_duration_ms": 200, "idle_timeout_ms": null,
                                   "create_response": true, "interrupt_response": true,
                                   "future_knob": 3},
                "echo_cancellation": {"level": "high"}
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy",
                       "speed": 1.0, "pitch": 0.9},
            "spatial": true
        },
        "include": null,
        "reasoning": {"effort": "low"},
        "brand_new_field": [1, {"x": null}]
    })
}

#[test]
fn unknown_fields_and_nulls_survive_a_round_trip() {
    let original = upstream_session();
    let config: SessionConfig = serde_json::from_value(original.clone()).unwrap();
    assert_eq!(serde_json::to_value(&config).unwrap(), original);

    assert_eq!(config.model.as_deref(), Some("gpt-realtime"));
    assert_eq!(config.tracing, Some(None));
    assert_eq!(config.extra["brand_new_field"], json!([1, {"x": null}]));
    let audio = config.audio.as_ref().unwrap();
    assert_eq!(audio.extra["spatial"], json!(true));
    let input = audio.input.as_ref().unwrap();
    assert_eq!(input.extra["echo_cancellation"], json!({"level": "high"}));
    assert_eq!(input.format.as_ref().unwrap().extra["channels"], json!(1));
    let vad = input.turn_detection.clone().flatten().unwrap();
    assert_eq!(vad.silence_duration_ms, Some(200));
    assert_eq!(vad.idle_timeout_ms, Some(None));
    assert_eq!(vad.extra["future_knob"], json!(3));
    let output = audio.output.as_ref().unwrap();
    assert_eq!(output.voice, Some(Voice::Name("alloy".to_owned())));
    assert_eq!(output.extra["pitch"], json!(0.9));
    assert_eq!(
        config.tools.as_ref().unwrap()[0].extra["strict_mode"],
        json!(true)
    );
}

#[test]
fn union_fields_round_trip_in_each_shape() {
    for session in [
        json!({"type": "realtime", "tool_choice": {"type": "function", "name": "f"},
               "max_output_tokens": 4096, "tracing": "auto",
               "truncation": {"type": "retention_ratio", "retention_ratio": 0.8,
                              "token_limits": {"post_instructions": 100}},
               "prompt": {"id": "pmpt_1", "version": null, "variables": {"a": "b"}},
               "audio": {"output": {"voice": {"id": "voice_123"}}}}),
        json!({"type": "realtime", "tool_choice": {"type": "mcp", "server_label": "s"},
               "tracing": {"workflow_name": "w", "group_id": "g", "metadata": {"k": 1}},
               "truncation": "disabled", "include": ["item.input_audio_transcription.logprobs"],
               "audio": {"input": {"turn_detection": null, "noise_reduction": {"type": "far_field"},
                                   "transcription": {"model": "gpt-4o-transcribe", "language": "en"}}}}),
    ] {
        let config = SessionConfig::from_json(session.clone()).unwrap();
        assert_eq!(config.to_json(), session);
    }
}

#[test]
fn explicit_null_differs_from_absent() {
    let off =
        SessionConfig::from_json(json!({"audio": {"input": {"turn_detection": null}}})).unwrap();
    let absent = SessionConfig::from_json(json!({"audio": {"input": {}}})).unwrap();
    assert_ne!(off, absent);
    assert_eq!(
        off.to_json(),
        json!({"audio": {"input": {"turn_detection": null}}})
    );
}

#[test]
fn merged_layers_overrides_deeply() {
    let base = SessionConfig::from_json(upstream_session()).unwrap();
    let overrides = SessionConfig::from_json(json!({
        "instructions": "Be brief.",
        "output_modalities": ["text"],
        "tools": [],
        "audio": {
            "input": {"turn_detection": {"silence_duration_ms": 500}},
            "output": {"voice": "marin"}
        },
        "unknown_override": {"a": 1}
    }))
    .unwrap();
    let merged = base.merged(&overrides).unwrap().to_json();

    let mut expected = upstream_session();
    expected["instructions"] = json!("Be brief.");
    expected["output_modalities"] = json!(["text"]);
    expected["tools"] = json!([]);
    expected["audio"]["input"]["turn_detection"]["silence_duration_ms"] = json!(500);
    expected["audio"]["output"]["voice"] = json!("marin");
    expected["unknown_override"] = json!({"a": 1});
    assert_eq!(merged, expected);

    let manual =
        SessionConfig::from_json(json!({"audio": {"input": {"turn_detection": null}}})).unwrap();
    let merged = base.merged(&manual).unwrap();
    let input = merged.audio.unwrap().input.unwrap();
    assert_eq!(input.turn_detection, Some(None), "null turns VAD off");
    assert!(input.format.is_some(), "siblings are kept");
}

#[test]
fn parse_errors_quote_no_values() {
    let err = SessionConfig::from_json(json!({"instructions": 5, "model": ["ek_secret"]}))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("invalid session"), "{err}");
    let err = SessionConfig::from_json(json!({"model": {"ek_secret": 1}, "type": 1}))
        .unwrap_err()
        .to_string();
    assert!(!err.contains("ek_secret"), "{err}");
}
