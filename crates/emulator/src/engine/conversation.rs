//! The default conversation: ordered items, and the validation of items a client creates.

use serde_json::{Map, Value, json};

use crate::ids;
use crate::params::{ParamError, choice, join, object, only_keys, string};

#[derive(Debug, Default)]
pub struct Conversation {
    items: Vec<Value>,
}

impl Conversation {
    pub fn items(&self) -> &[Value] {
        &self.items
    }

    pub fn get(&self, id: &str) -> Option<&Value> {
        self.items.iter().find(|i| i["id"] == id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.items.iter_mut().find(|i| i["id"] == id)
    }

    pub fn last_id(&self) -> Option<String> {
        self.items
            .last()
            .and_then(|i| i["id"].as_str())
            .map(str::to_owned)
    }

    /// Inserts after `previous` (`Some("root")`: first; `None`: last) and returns the id of the item before it.
    pub fn insert(
        &mut self,
        item: Value,
        previous: Option<&str>,
    ) -> Result<Option<String>, ParamError> {
        let at = match previous {
            None => self.items.len(),
            Some("root") => 0,
            Some(prev) => {
                self.items
                    .iter()
                    .position(|i| i["id"] == prev)
                    .ok_or_else(|| {
                        ParamError::invalid_value(
                            "previous_item_id",
                            format!("Previous item with id '{prev}' not found."),
                        )
                    })?
                    + 1
            }
        };
        let before = at
            .checked_sub(1)
            .and_then(|i| self.items[i]["id"].as_str())
            .map(str::to_owned);
        self.items.insert(at, item);
        Ok(before)
    }

    pub fn delete(&mut self, id: &str) -> bool {
        let before = self.items.len();
        self.items.retain(|i| i["id"] != id);
        self.items.len() != before
    }
}

/// The error for an item id that is not in the conversation.
pub fn not_found(id: &str, param: &str) -> ParamError {
    ParamError::new(
        "item_not_found",
        format!("Item with item_id '{id}' not found."),
        Some(param),
    )
}

/// Validates a client item and fills what the server adds (`id`, `object`, `status`, call ids).
/// `allow_reference` admits `item_reference`, valid only inside `response.create.response.input`.
pub fn normalize_item(v: &Value, param: &str, allow_reference: bool) -> Result<Value, ParamError> {
    let o = object(v, param)?;
    let ty_param = join(param, "type");
    let ty = string(
        o.get("type")
            .ok_or_else(|| ParamError::missing(&ty_param))?,
        &ty_param,
    )?;
    let mut allowed = vec!["message", "function_call", "function_call_output"];
    if allow_reference {
        allowed.push("item_reference");
    }
    choice(&json!(ty), &ty_param, &allowed)?;
    let mut item: Map<String, Value> = o.clone();
    match ty {
        "item_reference" => {
            only_keys(o, &["type", "id"], param)?;
            string(
                o.get("id")
                    .ok_or_else(|| ParamError::missing(&join(param, "id")))?,
                &join(param, "id"),
            )?;
            return Ok(Value::Object(item));
        }
        "message" => {
            only_keys(
                o,
                &["id", "type", "object", "status", "role", "content"],
                param,
            )?;
            let role_param = join(param, "role");
            let role = choice(
                o.get("role")
                    .ok_or_else(|| ParamError::missing(&role_param))?,
                &role_param,
                &["user", "assistant", "system"],
            )?;
            let content_param = join(param, "content");
            let content = o
                .get("content")
                .ok_or_else(|| ParamError::missing(&content_param))?;
            let parts = content
                .as_array()
                .ok_or_else(|| ParamError::invalid_type(&content_param, "an array", content))?;
            for (i, part) in parts.iter().enumerate() {
                check_part(part, &format!("{content_param}[{i}]"), role)?;
            }
        }
        "function_call" => {
            only_keys(
                o,
                &[
                    "id",
                    "type",
                    "object",
                    "status",
                    "call_id",
                    "name",
                    "arguments",
                ],
                param,
            )?;
            for k in ["name", "arguments"] {
                string(
                    o.get(k)
                        .ok_or_else(|| ParamError::missing(&join(param, k)))?,
                    &join(param, k),
                )?;
            }
            if !item.contains_key("call_id") {
                item.insert("call_id".into(), json!(ids::function_call_id()));
            }
        }
        _ => {
            only_keys(
                o,
                &["id", "type", "object", "status", "call_id", "output"],
                param,
            )?;
            for k in ["call_id", "output"] {
                string(
                    o.get(k)
                        .ok_or_else(|| ParamError::missing(&join(param, k)))?,
                    &join(param, k),
                )?;
            }
        }
    }
    if let Some(id) = o.get("id") {
        string(id, &join(param, "id"))?;
    } else {
        item.insert("id".into(), json!(ids::item_id()));
    }
    item.insert("object".into(), json!("realtime.item"));
    item.insert("status".into(), json!("completed"));
    Ok(Value::Object(item))
}

fn check_part(part: &Value, param: &str, role: &str) -> Result<(), ParamError> {
    let p = object(part, param)?;
    let types: &[&str] = match role {
        "user" => &["input_text", "input_audio", "input_image"],
        "system" => &["input_text"],
        _ => &["output_text", "output_audio"],
    };
    let ty_param = join(param, "type");
    let ty = choice(
        p.get("type")
            .ok_or_else(|| ParamError::missing(&ty_param))?,
        &ty_param,
        types,
    )?;
    let (keys, required): (&[&str], Option<&str>) = match ty {
        "input_text" | "output_text" => (&["type", "text"], Some("text")),
        "input_audio" => (&["type", "audio", "transcript"], None),
        "input_image" => (&["type", "image_url", "detail"], Some("image_url")),
        // Assistant audio cannot be created with audio bytes, only with a transcript.
        _ => (&["type", "transcript"], None),
    };
    only_keys(p, keys, param)?;
    if let Some(k) = required {
        string(
            p.get(k)
                .ok_or_else(|| ParamError::missing(&join(param, k)))?,
            &join(param, k),
        )?;
    }
    for k in ["audio", "transcript"] {
        if let Some(v) = p.get(k) {
            string(v, &join(param, k))?;
        }
    }
    Ok(())
}

/// The item as `conversation.item.added/done` carry it: without audio bytes.
pub fn without_audio(item: &Value) -> Value {
    let mut item = item.clone();
    if let Some(parts) = item.get_mut("content").and_then(Value::as_array_mut) {
        for part in parts {
            if let Some(p) = part.as_object_mut() {
                p.remove("audio");
            }
        }
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_item_id_places_items() {
        let mut c = Conversation::default();
        c.insert(json!({"id": "a"}), None).unwrap();
        c.insert(json!({"id": "b"}), Some("root")).unwrap();
        assert_eq!(
            c.insert(json!({"id": "c"}), Some("b")).unwrap().as_deref(),
            Some("b")
        );
        let ids: Vec<_> = c
            .items()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["b", "c", "a"]);
        assert!(c.insert(json!({"id": "d"}), Some("zzz")).is_err());
    }

    #[test]
    fn items_are_validated_and_filled() {
        let item = normalize_item(
            &json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}),
            "item",
            false,
        )
        .unwrap();
        assert!(item["id"].as_str().unwrap().starts_with("item_"));
        let e = normalize_item(&json!({"type": "message", "role": "user", "content": [{"type": "output_text", "text": "x"}]}), "item", false)
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("item.content[0].type"));
        let e = normalize_item(
            &json!({"type": "function_call_output", "output": "x"}),
            "item",
            false,
        )
        .unwrap_err();
        assert_eq!(e.code, "missing_required_parameter");
    }
}
