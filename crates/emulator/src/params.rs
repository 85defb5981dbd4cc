//! Parameter errors shaped like the real API's (`unknown_parameter`, `invalid_type`, …) and the small
//! checks that produce them. Used for HTTP bodies and data-channel events alike.

use serde_json::{Map, Value};

/// One rejected parameter: becomes an HTTP 400 body or an in-session `error` event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParamError {
    pub code: &'static str,
    pub message: String,
    pub param: Option<String>,
}

impl ParamError {
    pub fn new(code: &'static str, message: impl Into<String>, param: Option<&str>) -> Self {
        ParamError {
            code,
            message: message.into(),
            param: param.map(str::to_owned),
        }
    }

    pub fn unknown(param: &str) -> Self {
        Self::new(
            "unknown_parameter",
            format!("Unknown parameter: '{param}'."),
            Some(param),
        )
    }

    pub fn missing(param: &str) -> Self {
        Self::new(
            "missing_required_parameter",
            format!("Missing required parameter: '{param}'."),
            Some(param),
        )
    }

    pub fn invalid_type(param: &str, expected: &str, got: &Value) -> Self {
        Self::new(
            "invalid_type",
            format!(
                "Invalid type for '{param}': expected {expected}, but got {} instead.",
                type_name(got)
            ),
            Some(param),
        )
    }

    /// `Invalid value: 'x'. Supported values are: 'a', 'b' and 'c'.`
    pub fn invalid_choice(param: &str, got: &str, allowed: &[&str]) -> Self {
        let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
        let list = match quoted.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => quoted.join(""),
        };
        Self::new(
            "invalid_value",
            format!("Invalid value: '{got}'. Supported values are: {list}."),
            Some(param),
        )
    }

    pub fn invalid_value(param: &str, message: impl Into<String>) -> Self {
        Self::new("invalid_value", message, Some(param))
    }
}

/// The JSON type name with its article, as the API's messages phrase it.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a decimal number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `prefix.key`, or `key` at the top level.
pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

pub fn object<'a>(v: &'a Value, param: &str) -> Result<&'a Map<String, Value>, ParamError> {
    v.as_object()
        .ok_or_else(|| ParamError::invalid_type(param, "an object", v))
}

/// Rejects any key not in `allowed` (the real API is strict about unknown parameters).
pub fn only_keys(m: &Map<String, Value>, allowed: &[&str], prefix: &str) -> Result<(), ParamError> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ParamError::unknown(&join(prefix, k))),
        None => Ok(()),
    }
}

pub fn string<'a>(v: &'a Value, param: &str) -> Result<&'a str, ParamError> {
    v.as_str()
        .ok_or_else(|| ParamError::invalid_type(param, "a string", v))
}

pub fn boolean(v: &Value, param: &str) -> Result<bool, ParamError> {
    v.as_bool()
        .ok_or_else(|| ParamError::invalid_type(param, "a boolean", v))
}

pub fn integer_in(v: &Value, param: &str, min: i64, max: i64) -> Result<i64, ParamError> {
    let n = v
        .as_i64()
        .ok_or_else(|| ParamError::invalid_type(param, "an integer", v))?;
    if n < min {
        return Err(ParamError::new(
            "integer_below_min_value",
            format!(
                "Invalid '{param}': integer below minimum value. Expected a value >= {min}, but got {n} instead."
            ),
            Some(param),
        ));
    }
    if n > max {
        return Err(ParamError::new(
            "integer_above_max_value",
            format!(
                "Invalid '{param}': integer above maximum value. Expected a value <= {max}, but got {n} instead."
            ),
            Some(param),
        ));
    }
    Ok(n)
}

pub fn number_in(v: &Value, param: &str, min: f64, max: f64) -> Result<f64, ParamError> {
    let n = v
        .as_f64()
        .ok_or_else(|| ParamError::invalid_type(param, "a decimal", v))?;
    if n < min {
        return Err(ParamError::new(
            "decimal_below_min_value",
            format!(
                "Invalid '{param}': decimal below minimum value. Expected a value >= {min}, but got {n} instead."
            ),
            Some(param),
        ));
    }
    if n > max {
        return Err(ParamError::new(
            "decimal_above_max_value",
            format!(
                "Invalid '{param}': decimal above maximum value. Expected a value <= {max}, but got {n} instead."
            ),
            Some(param),
        ));
    }
    Ok(n)
}

pub fn choice<'a>(v: &'a Value, param: &str, allowed: &[&str]) -> Result<&'a str, ParamError> {
    let s = string(v, param)?;
    if allowed.contains(&s) {
        Ok(s)
    } else {
        Err(ParamError::invalid_choice(param, s, allowed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_match_the_real_api_phrasing() {
        let e =
            ParamError::invalid_type("session.audio.input.format", "an object", &json!("pcm16"));
        assert_eq!(
            e.message,
            "Invalid type for 'session.audio.input.format': expected an object, but got a string instead."
        );
        let e = ParamError::invalid_choice("session.type", "x", &["realtime", "transcription"]);
        assert_eq!(
            e.message,
            "Invalid value: 'x'. Supported values are: 'realtime' and 'transcription'."
        );
        assert_eq!(
            ParamError::unknown("session.modalities").message,
            "Unknown parameter: 'session.modalities'."
        );
    }
}
