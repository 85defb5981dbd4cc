//! Validation of the session's parts, shared by `session.update`, client-secret bodies and per-response
//! overrides.

use serde_json::{Map, Value, json};

use crate::params::{
    ParamError, boolean, choice, integer_in, join, number_in, object, only_keys, string,
};

use super::VOICES;

pub(super) fn server_vad_defaults() -> Value {
    json!({"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 200,
           "idle_timeout_ms": null, "create_response": true, "interrupt_response": true})
}

fn semantic_vad_defaults() -> Value {
    json!({"type": "semantic_vad", "eagerness": "auto", "create_response": true, "interrupt_response": true})
}

pub(super) fn check_include(v: &Value, param: &str) -> Result<(), ParamError> {
    if v.is_null() {
        return Ok(());
    }
    let items = v
        .as_array()
        .ok_or_else(|| ParamError::invalid_type(param, "an array", v))?;
    for (i, item) in items.iter().enumerate() {
        choice(
            item,
            &format!("{param}[{i}]"),
            &["item.input_audio_transcription.logprobs"],
        )?;
    }
    Ok(())
}

pub fn check_modalities(v: &Value, param: &str) -> Result<(), ParamError> {
    let arr = v
        .as_array()
        .ok_or_else(|| ParamError::invalid_type(param, "an array", v))?;
    for (i, m) in arr.iter().enumerate() {
        choice(m, &format!("{param}[{i}]"), &["audio", "text"])?;
    }
    if arr.len() != 1 {
        return Err(ParamError::invalid_value(
            param,
            "Invalid modalities: output_modalities must be either ['audio'] or ['text'].",
        ));
    }
    Ok(())
}

pub fn check_format(v: &Value, param: &str) -> Result<(), ParamError> {
    let o = object(v, param)?;
    only_keys(o, &["type", "rate"], param)?;
    let t = o
        .get("type")
        .ok_or_else(|| ParamError::missing(&join(param, "type")))?;
    let t = choice(
        t,
        &join(param, "type"),
        &["audio/pcm", "audio/pcmu", "audio/pcma"],
    )?;
    if let Some(rate) = o.get("rate") {
        if t != "audio/pcm" {
            return Err(ParamError::unknown(&join(param, "rate")));
        }
        integer_in(rate, &join(param, "rate"), 24000, 24000)?;
    }
    Ok(())
}

pub fn check_voice(v: &Value, param: &str) -> Result<(), ParamError> {
    match v {
        Value::Object(o) => {
            only_keys(o, &["id"], param)?;
            string(
                o.get("id")
                    .ok_or_else(|| ParamError::missing(&join(param, "id")))?,
                &join(param, "id"),
            )?;
            Ok(())
        }
        _ => choice(v, param, VOICES).map(|_| ()),
    }
}

pub(super) fn merge_audio(
    s: &mut Map<String, Value>,
    v: &Value,
    param: &str,
) -> Result<(), ParamError> {
    let a = object(v, param)?;
    only_keys(a, &["input", "output"], param)?;
    if let Some(input) = a.get("input") {
        let p = join(param, "input");
        let i = object(input, &p)?;
        only_keys(
            i,
            &[
                "format",
                "transcription",
                "noise_reduction",
                "turn_detection",
            ],
            &p,
        )?;
        for (k, v) in i {
            let kp = join(&p, k);
            match k.as_str() {
                "format" => check_format(v, &kp)?,
                "transcription" if !v.is_null() => {
                    let t = object(v, &kp)?;
                    only_keys(
                        t,
                        &[
                            "model",
                            "language",
                            "languages",
                            "prompt",
                            "delay",
                            "keywords",
                        ],
                        &kp,
                    )?;
                    for key in ["model", "language", "prompt"] {
                        if let Some(x) = t.get(key) {
                            string(x, &join(&kp, key))?;
                        }
                    }
                }
                "noise_reduction" if !v.is_null() => {
                    let n = object(v, &kp)?;
                    only_keys(n, &["type"], &kp)?;
                    if let Some(t) = n.get("type") {
                        choice(t, &join(&kp, "type"), &["near_field", "far_field"])?;
                    }
                }
                _ => {}
            }
        }
        let current = s["audio"]["input"]["turn_detection"].clone();
        let td = match i.get("turn_detection") {
            Some(td) => Some(merge_turn_detection(
                &current,
                td,
                &join(&p, "turn_detection"),
            )?),
            None => None,
        };
        let target = &mut s["audio"]["input"];
        for (k, v) in i {
            target[k] = v.clone();
        }
        if let Some(td) = td {
            target["turn_detection"] = td;
        }
    }
    if let Some(output) = a.get("output") {
        let p = join(param, "output");
        let o = object(output, &p)?;
        only_keys(o, &["format", "voice", "speed"], &p)?;
        if let Some(f) = o.get("format") {
            check_format(f, &join(&p, "format"))?;
        }
        if let Some(voice) = o.get("voice") {
            check_voice(voice, &join(&p, "voice"))?;
        }
        if let Some(speed) = o.get("speed") {
            number_in(speed, &join(&p, "speed"), 0.25, 1.5)?;
        }
        for (k, v) in o {
            s["audio"]["output"][k] = v.clone();
        }
    }
    Ok(())
}

/// Same type: a partial merge onto the current settings. New type: that type's defaults plus the patch.
fn merge_turn_detection(current: &Value, patch: &Value, param: &str) -> Result<Value, ParamError> {
    if patch.is_null() {
        return Ok(Value::Null);
    }
    let p = object(patch, param)?;
    let ty = match p.get("type") {
        Some(t) => choice(t, &join(param, "type"), &["server_vad", "semantic_vad"])?,
        None => "server_vad",
    };
    let allowed: &[&str] = if ty == "server_vad" {
        &[
            "type",
            "threshold",
            "prefix_padding_ms",
            "silence_duration_ms",
            "idle_timeout_ms",
            "create_response",
            "interrupt_response",
        ]
    } else {
        &["type", "eagerness", "create_response", "interrupt_response"]
    };
    only_keys(p, allowed, param)?;
    for (k, v) in p {
        let kp = join(param, k);
        match k.as_str() {
            "threshold" => {
                number_in(v, &kp, 0.0, 1.0)?;
            }
            "prefix_padding_ms" | "silence_duration_ms" => {
                integer_in(v, &kp, 0, 10_000)?;
            }
            "idle_timeout_ms" if !v.is_null() => {
                integer_in(v, &kp, 5000, 30000)?;
            }
            "create_response" | "interrupt_response" => {
                boolean(v, &kp)?;
            }
            "eagerness" => {
                choice(v, &kp, &["low", "medium", "high", "auto"])?;
            }
            _ => {}
        }
    }
    let mut base = if current.get("type").and_then(Value::as_str) == Some(ty) {
        current.clone()
    } else if ty == "server_vad" {
        server_vad_defaults()
    } else {
        semantic_vad_defaults()
    };
    for (k, v) in p {
        base[k] = v.clone();
    }
    Ok(base)
}

pub fn check_tools(v: &Value, param: &str) -> Result<(), ParamError> {
    let arr = v
        .as_array()
        .ok_or_else(|| ParamError::invalid_type(param, "an array", v))?;
    for (i, tool) in arr.iter().enumerate() {
        let p = format!("{param}[{i}]");
        let t = object(tool, &p)?;
        let ty = t
            .get("type")
            .ok_or_else(|| ParamError::missing(&join(&p, "type")))?;
        if choice(ty, &join(&p, "type"), &["function", "mcp"])? == "function" {
            only_keys(t, &["type", "name", "description", "parameters"], &p)?;
            string(
                t.get("name")
                    .ok_or_else(|| ParamError::missing(&join(&p, "name")))?,
                &join(&p, "name"),
            )?;
            if let Some(d) = t.get("description") {
                string(d, &join(&p, "description"))?;
            }
            if let Some(params) = t.get("parameters") {
                object(params, &join(&p, "parameters"))?;
            }
        }
    }
    Ok(())
}

pub fn check_tool_choice(v: &Value, param: &str) -> Result<(), ParamError> {
    if v.is_string() {
        return choice(v, param, &["auto", "none", "required"]).map(|_| ());
    }
    let o = object(v, param)?;
    let ty = o
        .get("type")
        .ok_or_else(|| ParamError::missing(&join(param, "type")))?;
    match choice(ty, &join(param, "type"), &["function", "mcp"])? {
        "function" => {
            only_keys(o, &["type", "name"], param)?;
            string(
                o.get("name")
                    .ok_or_else(|| ParamError::missing(&join(param, "name")))?,
                &join(param, "name"),
            )?;
        }
        _ => only_keys(o, &["type", "server_label", "name"], param)?,
    }
    Ok(())
}

pub fn check_max_output_tokens(v: &Value, param: &str) -> Result<(), ParamError> {
    if v.is_string() {
        return choice(v, param, &["inf"]).map(|_| ());
    }
    integer_in(v, param, 1, 4096).map(|_| ())
}

pub(super) fn check_truncation(v: &Value, param: &str) -> Result<(), ParamError> {
    if v.is_string() {
        return choice(v, param, &["auto", "disabled"]).map(|_| ());
    }
    let o = object(v, param)?;
    only_keys(o, &["type", "retention_ratio", "token_limits"], param)?;
    choice(
        o.get("type")
            .ok_or_else(|| ParamError::missing(&join(param, "type")))?,
        &join(param, "type"),
        &["retention_ratio"],
    )?;
    number_in(
        o.get("retention_ratio")
            .ok_or_else(|| ParamError::missing(&join(param, "retention_ratio")))?,
        &join(param, "retention_ratio"),
        0.0,
        1.0,
    )?;
    Ok(())
}
