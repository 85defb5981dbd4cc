//! Deep merge of JSON values, used to layer a browser's session overrides on a server default.

use serde_json::{Map, Value};

/// Merges `overrides` into `base`: objects merge key by key, everything else (arrays, scalars,
/// `null`) replaces.
///
/// One exception: two objects whose `type` differ are different variants of a tagged union
/// (`server_vad` → `semantic_vad`, `audio/pcm` → `audio/pcmu`), so the override replaces the base
/// rather than inheriting fields that mean nothing, or something invalid, in the new variant.
pub fn deep_merge(base: &mut Value, overrides: &Value) {
    match (base, overrides) {
        (Value::Object(base), Value::Object(overrides)) if !different_variants(base, overrides) => {
            for (key, value) in overrides {
                match base.get_mut(key) {
                    Some(existing) => deep_merge(existing, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, overrides) => *base = overrides.clone(),
    }
}

fn different_variants(base: &Map<String, Value>, overrides: &Map<String, Value>) -> bool {
    match (base.get("type"), overrides.get("type")) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_merge_and_the_rest_replaces() {
        let mut base = json!({
            "a": {"x": 1, "y": [1, 2], "z": {"k": true}},
            "b": "keep",
            "c": 3
        });
        deep_merge(
            &mut base,
            &json!({"a": {"y": [3], "z": {"n": null}}, "c": null, "d": "new"}),
        );
        assert_eq!(
            base,
            json!({
                "a": {"x": 1, "y": [3], "z": {"k": true, "n": null}},
                "b": "keep",
                "c": null,
                "d": "new"
            })
        );
    }

    #[test]
    fn a_different_type_replaces_the_whole_object() {
        let mut base = json!({"turn_detection": {"type": "server_vad", "threshold": 0.5}});
        deep_merge(
            &mut base,
            &json!({"turn_detection": {"type": "semantic_vad", "eagerness": "low"}}),
        );
        assert_eq!(
            base,
            json!({"turn_detection": {"type": "semantic_vad", "eagerness": "low"}})
        );

        let mut base = json!({"turn_detection": {"type": "server_vad", "threshold": 0.5}});
        deep_merge(&mut base, &json!({"turn_detection": {"threshold": 0.7}}));
        assert_eq!(
            base,
            json!({"turn_detection": {"type": "server_vad", "threshold": 0.7}})
        );
    }
}
