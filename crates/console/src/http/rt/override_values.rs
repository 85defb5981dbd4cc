//! The values an override may give the GA session's finer fields (speed, formats, truncation, prompt,
//! include, tracing, the idle timeout), checked as `RealtimeSessionCreateRequestGA` allows them, so a
//! mistake comes back as a 400 naming the field before anything reaches the upstream.

use serde_json::Value;

use super::super::error::{ApiError, Code};

fn invalid(param: &str, what: &str) -> ApiError {
    ApiError::field(
        Code::InvalidValue,
        format!("Invalid value for '{param}': expected {what}."),
        param,
    )
}

/// Checks the fields of `overrides` (a `session` object whose keys are already allowed) that the
/// schema constrains beyond their type.
pub fn check(overrides: &Value) -> Result<(), ApiError> {
    let audio = &overrides["audio"];
    if let Some(speed) = audio["output"].get("speed")
        && !speed.as_f64().is_some_and(|s| (0.25..=1.5).contains(&s))
    {
        return Err(invalid(
            "session.audio.output.speed",
            "a number from 0.25 to 1.5",
        ));
    }
    for dir in ["input", "output"] {
        if let Some(format) = audio[dir].get("format") {
            format_ok(format, &format!("session.audio.{dir}.format"))?;
        }
    }
    if let Some(ms) = audio["input"]["turn_detection"].get("idle_timeout_ms")
        && !(ms.is_null() || ms.as_u64().is_some_and(|ms| (5000..=30000).contains(&ms)))
    {
        return Err(invalid(
            "session.audio.input.turn_detection.idle_timeout_ms",
            "null or 5000 to 30000 milliseconds",
        ));
    }
    if let Some(t) = overrides.get("truncation") {
        truncation_ok(t)?;
    }
    if let Some(p) = overrides.get("prompt") {
        prompt_ok(p)?;
    }
    if let Some(include) = overrides.get("include") {
        let ok = include.as_array().is_some_and(|items| {
            items
                .iter()
                .all(|i| i == "item.input_audio_transcription.logprobs")
        });
        if !ok {
            return Err(invalid(
                "session.include",
                "an array of \"item.input_audio_transcription.logprobs\"",
            ));
        }
    }
    if let Some(t) = overrides.get("tracing") {
        tracing_ok(t)?;
    }
    Ok(())
}

fn format_ok(format: &Value, param: &str) -> Result<(), ApiError> {
    let what = "{\"type\":\"audio/pcm\",\"rate\":24000}, {\"type\":\"audio/pcmu\"} or {\"type\":\"audio/pcma\"}";
    let Some(o) = format.as_object() else {
        return Err(invalid(param, what));
    };
    let ok = match o.get("type").and_then(Value::as_str) {
        Some("audio/pcm") => o.get("rate").is_none_or(|r| r == 24000),
        Some("audio/pcmu" | "audio/pcma") => !o.contains_key("rate"),
        _ => false,
    };
    if ok && o.keys().all(|k| k == "type" || k == "rate") {
        Ok(())
    } else {
        Err(invalid(param, what))
    }
}

fn truncation_ok(t: &Value) -> Result<(), ApiError> {
    if t == "auto" || t == "disabled" {
        return Ok(());
    }
    let ratio_ok = t["type"] == "retention_ratio"
        && t["retention_ratio"]
            .as_f64()
            .is_some_and(|r| (0.0..=1.0).contains(&r));
    let limits_ok = match t.get("token_limits") {
        None => true,
        Some(l) => l.as_object().is_some_and(|l| {
            l.iter()
                .all(|(k, v)| k == "post_instructions" && v.as_u64().is_some())
        }),
    };
    let keys_ok = t.as_object().is_some_and(|o| {
        o.keys()
            .all(|k| ["type", "retention_ratio", "token_limits"].contains(&k.as_str()))
    });
    if ratio_ok && limits_ok && keys_ok {
        Ok(())
    } else {
        Err(invalid(
            "session.truncation",
            "\"auto\", \"disabled\" or {\"type\":\"retention_ratio\",\"retention_ratio\":0…1}",
        ))
    }
}

fn prompt_ok(p: &Value) -> Result<(), ApiError> {
    if p.is_null() {
        return Ok(());
    }
    let Some(o) = p.as_object() else {
        return Err(invalid("session.prompt", "null or an object with an id"));
    };
    if let Some(k) = o
        .keys()
        .find(|k| !["id", "version", "variables"].contains(&k.as_str()))
    {
        return Err(ApiError::field(
            Code::UnknownParameter,
            format!("Unknown parameter: 'session.prompt.{k}'."),
            format!("session.prompt.{k}"),
        ));
    }
    if o.get("id")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(invalid("session.prompt.id", "a prompt id (a string)"));
    }
    if o.get("version")
        .is_some_and(|v| !(v.is_null() || v.is_string()))
    {
        return Err(invalid("session.prompt.version", "null or a string"));
    }
    if o.get("variables").is_some_and(|v| !v.is_object()) {
        return Err(invalid("session.prompt.variables", "an object"));
    }
    Ok(())
}

fn tracing_ok(t: &Value) -> Result<(), ApiError> {
    if t.is_null() || t == "auto" {
        return Ok(());
    }
    let ok = t.as_object().is_some_and(|o| {
        o.iter().all(|(k, v)| match k.as_str() {
            "workflow_name" | "group_id" => v.is_string(),
            "metadata" => v.is_object(),
            _ => false,
        })
    });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "session.tracing",
            "null, \"auto\" or {workflow_name, group_id, metadata}",
        ))
    }
}
