//! Minimal arguments that satisfy a function tool's `parameters` JSON Schema: required properties only,
//! first enum value, lower bounds for numbers. Enough for a client's validator to accept the call.

use serde_json::{Map, Value, json};

/// A minimal instance of `schema` (an empty object when the schema says nothing usable).
pub fn minimal_arguments(schema: &Value) -> Value {
    match instance(schema, 0) {
        Value::Object(m) => Value::Object(m),
        _ => Value::Object(Map::new()),
    }
}

fn instance(schema: &Value, depth: usize) -> Value {
    if depth > 16 {
        return Value::Null;
    }
    let Some(s) = schema.as_object() else {
        return Value::Null;
    };
    if let Some(c) = s.get("const") {
        return c.clone();
    }
    if let Some(first) = s
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    if let Some(d) = s.get("default") {
        return d.clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = s.get(key).and_then(Value::as_array).and_then(|v| v.first()) {
            return instance(first, depth + 1);
        }
    }
    let ty = match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        // `["string", "null"]`: the first non-null type is the useful one.
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if s.contains_key("properties") => "object",
        _ => "null",
    };
    match ty {
        "object" => {
            let mut out = Map::new();
            let props = s.get("properties").and_then(Value::as_object);
            for name in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(name) = name.as_str() {
                    let sub = props
                        .and_then(|p| p.get(name))
                        .cloned()
                        .unwrap_or(json!({}));
                    let v = instance(&sub, depth + 1);
                    out.insert(
                        name.to_owned(),
                        if v.is_null() && sub.get("type").is_none() {
                            json!("example")
                        } else {
                            v
                        },
                    );
                }
            }
            Value::Object(out)
        }
        "array" => {
            let n = s
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .min(8);
            let items = s.get("items").cloned().unwrap_or(json!({"type": "string"}));
            Value::Array((0..n).map(|_| instance(&items, depth + 1)).collect())
        }
        "string" => {
            let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
            let mut v = match s.get("format").and_then(Value::as_str) {
                Some("date") => "2025-01-01".to_owned(),
                Some("date-time") => "2025-01-01T00:00:00Z".to_owned(),
                Some("email") => "user@example.com".to_owned(),
                Some("uri") => "https://example.com/".to_owned(),
                _ => "example".to_owned(),
            };
            while v.len() < min {
                v.push('x');
            }
            Value::String(v)
        }
        "integer" => json!(lower_bound(s).map(|b| b.ceil() as i64).unwrap_or(0)),
        "number" => json!(lower_bound(s).unwrap_or(0.0)),
        "boolean" => json!(false),
        _ => Value::Null,
    }
}

fn lower_bound(s: &Map<String, Value>) -> Option<f64> {
    if let Some(m) = s.get("minimum").and_then(Value::as_f64) {
        return Some(m);
    }
    s.get("exclusiveMinimum")
        .and_then(Value::as_f64)
        .map(|m| m + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_required_properties_with_valid_values() {
        let schema = json!({"type": "object", "properties": {
            "location": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1},
            "verbose": {"type": "boolean"}
        }, "required": ["location", "unit", "days"]});
        assert_eq!(
            minimal_arguments(&schema),
            json!({"location": "example", "unit": "celsius", "days": 1})
        );
        assert_eq!(minimal_arguments(&json!({})), json!({}));
    }
}
