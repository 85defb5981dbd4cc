//! A client's session overrides: the few fields a developer tunes per session, checked and merged onto
//! the server's default session before anything reaches the upstream.

use realtime_token::SessionConfig;
use serde_json::Value;

use super::super::error::{ApiError, Code};
use crate::Settings;

/// The fields an override may hold at each level (GA session shape, PROTOCOL §5.1). Below these, the
/// value is taken whole (a tool's JSON Schema, a turn-detection object) and the upstream checks it. The
/// console page gets this table too (pages.rs), so "Open in console" asks for only what passes here.
pub(crate) const ALLOWED_FIELDS: &[(&str, &[&str])] = &[
    (
        "session",
        &[
            "type",
            "model",
            "instructions",
            "output_modalities",
            "audio",
            "tools",
            "tool_choice",
            "max_output_tokens",
            "truncation",
            "prompt",
            "include",
            "tracing",
        ],
    ),
    ("session.audio", &["input", "output"]),
    (
        "session.audio.input",
        &[
            "format",
            "turn_detection",
            "transcription",
            "noise_reduction",
        ],
    ),
    ("session.audio.output", &["format", "voice", "speed"]),
];

fn allowed_fields(path: &str) -> Option<&'static [&'static str]> {
    ALLOWED_FIELDS
        .iter()
        .find(|(level, _)| *level == path)
        .map(|(_, fields)| *fields)
}

/// The session to ask the upstream for: the server's default with `overrides` (a `session` object from
/// the client, if any) merged onto it. The model is the server's unless the client asks for one that
/// `--allowed-models` lists.
pub fn effective_session(
    settings: &Settings,
    overrides: Option<&Value>,
) -> Result<SessionConfig, ApiError> {
    let defaults = settings.default_session.clone();
    let Some(overrides) = overrides.filter(|o| !o.is_null()) else {
        return Ok(defaults);
    };
    check_fields(overrides, "session")?;
    super::override_values::check(overrides)?;
    if let Some(kind) = overrides.get("type")
        && kind.as_str() != Some("realtime")
    {
        return Err(ApiError::field(
            Code::InvalidValue,
            "Invalid value for 'session.type': this server starts `realtime` sessions only.",
            "session.type",
        ));
    }
    if let Some(model) = overrides.get("model") {
        let allowed = model.as_str().is_some_and(|m| settings.model_allowed(m));
        if !allowed {
            let mut models = vec![settings.model.as_str()];
            models.extend(settings.allowed_models.iter().map(String::as_str));
            return Err(ApiError::field(
                Code::InvalidValue,
                format!(
                    "Invalid value for 'session.model': this server allows {}.",
                    models
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "session.model",
            ));
        }
    }
    let overrides = SessionConfig::from_json(overrides.clone())
        .map_err(|e| ApiError::field(Code::InvalidType, e.to_string(), "session"))?;
    defaults
        .merged(&overrides)
        .map_err(|e| ApiError::field(Code::InvalidValue, e.to_string(), "session"))
}

fn check_fields(value: &Value, path: &str) -> Result<(), ApiError> {
    let Some(allowed) = allowed_fields(path) else {
        return Ok(());
    };
    let Some(object) = value.as_object() else {
        return Err(ApiError::field(
            Code::InvalidType,
            format!("Invalid type for '{path}': expected an object."),
            path,
        ));
    };
    for (key, child) in object {
        let child_path = format!("{path}.{key}");
        if !allowed.contains(&key.as_str()) {
            return Err(ApiError::field(
                Code::UnknownParameter,
                format!(
                    "Unknown parameter: '{child_path}'. Overrides may set the model, instructions, \
                     output modalities, the audio's formats, voice and speed, turn detection, \
                     transcription, noise reduction, tools, tool_choice, max_output_tokens, truncation, \
                     prompt, include and tracing."
                ),
                child_path,
            ));
        }
        check_fields(child, &child_path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config() -> Settings {
        crate::Config::from_args([
            "realtime-console",
            "--allowed-models",
            "gpt-realtime-mini",
            "--session-defaults",
            r#"{"instructions":"Default.","audio":{"output":{"voice":"alloy"}}}"#,
        ])
        .unwrap()
        .settings()
        .unwrap()
    }

    fn param(e: ApiError) -> (String, String) {
        match e {
            ApiError::Invalid { code, param, .. } => {
                (code.as_str().to_owned(), param.unwrap_or_default())
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn merges_allowed_fields_onto_the_defaults() {
        let s = effective_session(
            &config(),
            Some(&json!({
                "instructions": "Be brief.",
                "output_modalities": ["text"],
                "audio": {"output": {"voice": "marin"}, "input": {"turn_detection": null,
                          "noise_reduction": {"type": "near_field"}, "transcription": {"model": "whisper-1"}}},
                "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
                "tool_choice": "auto",
                "max_output_tokens": 200
            })),
        )
        .unwrap()
        .to_json();
        assert_eq!(s["type"], "realtime");
        assert_eq!(s["model"], "gpt-realtime");
        assert_eq!(s["instructions"], "Be brief.");
        assert_eq!(s["audio"]["output"]["voice"], "marin");
        assert_eq!(s["audio"]["input"]["turn_detection"], Value::Null);
        assert_eq!(s["max_output_tokens"], 200);
        assert_eq!(
            effective_session(&config(), None).unwrap().to_json()["instructions"],
            "Default."
        );
    }

    #[test]
    fn refuses_other_fields_naming_them() {
        for (overrides, expected) in [
            (json!({"temperature": 0.8}), "session.temperature"),
            (
                json!({"audio": {"output": {"pitch": 1.2}}}),
                "session.audio.output.pitch",
            ),
            (json!({"reasoning": {}}), "session.reasoning"),
        ] {
            let (code, p) = param(effective_session(&config(), Some(&overrides)).unwrap_err());
            assert_eq!((code.as_str(), p.as_str()), ("unknown_parameter", expected));
        }
        let (code, p) = param(effective_session(&config(), Some(&json!("x"))).unwrap_err());
        assert_eq!((code.as_str(), p.as_str()), ("invalid_type", "session"));
        let (_, p) =
            param(effective_session(&config(), Some(&json!({"instructions": 3}))).unwrap_err());
        assert_eq!(p, "session");
    }

    #[test]
    fn the_server_controls_the_model() {
        let (code, p) =
            param(effective_session(&config(), Some(&json!({"model": "gpt-4o"}))).unwrap_err());
        assert_eq!(
            (code.as_str(), p.as_str()),
            ("invalid_value", "session.model")
        );
        let s = effective_session(&config(), Some(&json!({"model": "gpt-realtime-mini"}))).unwrap();
        assert_eq!(s.model.as_deref(), Some("gpt-realtime-mini"));
        let (_, p) = param(
            effective_session(&config(), Some(&json!({"type": "transcription"}))).unwrap_err(),
        );
        assert_eq!(p, "session.type");
    }
}
