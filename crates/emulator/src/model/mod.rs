//! The scripted model: deterministic answers that visibly depend on the input, tool calls when the user
//! names a tool, and scenario rules that override both.

mod args;

use std::time::Duration;

use serde_json::{Value, json};

pub use args::minimal_arguments;

use crate::scenario::{Scenario, ScriptedError};

/// What one response will produce.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    Text(String),
    ToolCall {
        name: String,
        arguments: String,
    },
    Error(ScriptedError),
    /// Close the connection (a scripted network failure).
    Drop,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Extra thinking time before the first output (scenario `delay_ms`).
    pub delay: Duration,
    pub output: Output,
}

/// Everything the model sees for one response.
pub struct Context<'a> {
    /// Conversation items (or the response's own `input`), oldest first.
    pub items: &'a [Value],
    pub tools: &'a Value,
    pub tool_choice: &'a Value,
    /// 1-based count of responses in this session, this one included.
    pub turn: u32,
}

/// Shown to the model when a VAD idle timeout fires with nothing said.
pub const NO_SPEECH: &str = "[no speech]";

pub fn plan(ctx: &Context<'_>, scenario: Option<&Scenario>) -> Plan {
    let user_text = last_user_text(ctx.items);
    let mut delay = Duration::ZERO;
    // After a tool result the answer always quotes it: a rule matching the user's (unchanged) text would
    // otherwise call the same tool again, forever.
    let after_tool = ctx
        .items
        .last()
        .is_some_and(|i| i["type"] == "function_call_output");
    let scenario = scenario.filter(|_| !after_tool);
    if let Some(action) = scenario.and_then(|s| s.action_for(&user_text, ctx.turn)) {
        delay = action.delay.unwrap_or_default();
        let output = if action.drop {
            Some(Output::Drop)
        } else if let Some(e) = &action.error {
            Some(Output::Error(e.clone()))
        } else if let Some(call) = &action.tool_call {
            let arguments = call.arguments.clone().unwrap_or_else(|| {
                tool_schema(ctx.tools, &call.name)
                    .map(|s| minimal_arguments(&s))
                    .unwrap_or(json!({}))
            });
            Some(Output::ToolCall {
                name: call.name.clone(),
                arguments: arguments.to_string(),
            })
        } else {
            action.reply.clone().map(Output::Text)
        };
        if let Some(output) = output {
            return Plan { delay, output };
        }
    }
    Plan {
        delay,
        output: default_output(ctx, &user_text),
    }
}

fn default_output(ctx: &Context<'_>, user_text: &str) -> Output {
    // A tool result is always answered in words, so a client loop of call → output → response ends.
    if let Some(last) = ctx
        .items
        .last()
        .filter(|i| i["type"] == "function_call_output")
    {
        let output = last["output"].as_str().unwrap_or("");
        let name = ctx
            .items
            .iter()
            .rev()
            .find(|i| i["type"] == "function_call" && i["call_id"] == last["call_id"])
            .and_then(|i| i["name"].as_str())
            .unwrap_or("the tool");
        return Output::Text(format!(
            "{name} returned {}. That is the answer.",
            quote(output)
        ));
    }
    if let Some(name) = chosen_tool(ctx, user_text) {
        let arguments = tool_schema(ctx.tools, &name)
            .map(|s| minimal_arguments(&s))
            .unwrap_or(json!({}));
        return Output::ToolCall {
            name,
            arguments: arguments.to_string(),
        };
    }
    let images = last_user_images(ctx.items);
    if !images.is_empty() {
        let seen = images.join(", ");
        return Output::Text(match user_text {
            "" => format!("You sent {seen}. This is the emulated model answering."),
            text => format!(
                "You said {} and sent {seen}. This is the emulated model answering.",
                quote(text)
            ),
        });
    }
    Output::Text(match user_text {
        "" => {
            "Hello! This is the emulated model. Say something and I will repeat it back.".to_owned()
        }
        NO_SPEECH => "Are you still there?".to_owned(),
        text => format!(
            "You said {}. This is the emulated model answering.",
            quote(text)
        ),
    })
}

/// The function tool to call, if any: forced by `tool_choice`, or named in the user's words.
fn chosen_tool(ctx: &Context<'_>, user_text: &str) -> Option<String> {
    let names: Vec<&str> = ctx
        .tools
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["type"] == "function")
        .filter_map(|t| t["name"].as_str())
        .collect();
    if let Some(forced) = ctx.tool_choice.get("name").and_then(Value::as_str) {
        return Some(forced.to_owned());
    }
    if ctx.tool_choice == "none" || names.is_empty() {
        return None;
    }
    let text = user_text.to_lowercase();
    let mentioned = names.iter().find(|n| {
        let n = n.to_lowercase();
        text.contains(&n) || text.contains(&n.replace('_', " "))
    });
    match (mentioned, ctx.tool_choice.as_str()) {
        (Some(n), _) => Some((*n).to_owned()),
        (None, Some("required")) => names.first().map(|n| (*n).to_owned()),
        _ => None,
    }
}

fn tool_schema(tools: &Value, name: &str) -> Option<Value> {
    tools
        .as_array()?
        .iter()
        .find(|t| t["name"] == name)
        .map(|t| t.get("parameters").cloned().unwrap_or(json!({})))
}

/// The content parts of the latest user message (none without one).
fn last_user_parts(items: &[Value]) -> impl Iterator<Item = &Value> {
    items
        .iter()
        .rev()
        .find(|i| i["type"] == "message" && i["role"] == "user")
        .and_then(|item| item["content"].as_array())
        .into_iter()
        .flatten()
}

/// The text of the latest user message: typed text, or the audio's transcript (or its stand-in).
pub fn last_user_text(items: &[Value]) -> String {
    last_user_parts(items)
        .filter_map(|part| {
            part.get("text")
                .or_else(|| part.get("transcript"))
                .and_then(Value::as_str)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The latest user message's images, each as the words the answer uses for it: `an image (image/png,
/// 68 bytes)` from a base64 data URL's type and decoded size, `an image by URL` otherwise.
fn last_user_images(items: &[Value]) -> Vec<String> {
    last_user_parts(items)
        .filter(|part| part["type"] == "input_image")
        .map(|part| describe_image(part["image_url"].as_str().unwrap_or("")))
        .collect()
}

fn describe_image(url: &str) -> String {
    let data = url
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"));
    match data {
        Some((mime, b64)) => {
            let b64 = b64.trim_end();
            let padding = b64.bytes().rev().take_while(|&c| c == b'=').count();
            let bytes = (b64.len() / 4 * 3 + [0, 0, 1, 2][b64.len() % 4]).saturating_sub(padding);
            format!("an image ({mime}, {bytes} bytes)")
        }
        None => "an image by URL".to_owned(),
    }
}

/// Quotes at most 200 characters so long inputs keep answers (and synthetic audio) short.
fn quote(text: &str) -> String {
    let cut: String = text.chars().take(200).collect();
    if cut.len() < text.len() {
        format!("\"{cut}…\"")
    } else {
        format!("\"{cut}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(text: &str) -> Value {
        json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
    }

    #[test]
    fn the_answer_quotes_the_user() {
        let items = [user("hello there")];
        let p = plan(
            &Context {
                items: &items,
                tools: &json!([]),
                tool_choice: &json!("auto"),
                turn: 1,
            },
            None,
        );
        assert_eq!(
            p.output,
            Output::Text("You said \"hello there\". This is the emulated model answering.".into())
        );
    }

    #[test]
    fn an_image_is_answered_from_its_type_and_size() {
        // 1x1 PNG: 68 bytes; base64 with `==` padding.
        let png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";
        let items = [json!({"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "what is it?"},
            {"type": "input_image", "image_url": png},
            {"type": "input_image", "image_url": "data:image/jpeg;base64,AAAA"},
        ]})];
        let p = plan(
            &Context {
                items: &items,
                tools: &json!([]),
                tool_choice: &json!("auto"),
                turn: 1,
            },
            None,
        );
        assert_eq!(
            p.output,
            Output::Text(
                "You said \"what is it?\" and sent an image (image/png, 68 bytes), an image \
                 (image/jpeg, 3 bytes). This is the emulated model answering."
                    .into()
            )
        );
        assert_eq!(
            describe_image("https://example.com/a.png"),
            "an image by URL"
        );
    }

    #[test]
    fn naming_a_tool_calls_it_and_its_output_is_quoted() {
        let tools = json!([{"type": "function", "name": "get_weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}]);
        let items = vec![user("please get weather for Paris")];
        let p = plan(
            &Context {
                items: &items,
                tools: &tools,
                tool_choice: &json!("auto"),
                turn: 1,
            },
            None,
        );
        assert_eq!(
            p.output,
            Output::ToolCall {
                name: "get_weather".into(),
                arguments: r#"{"location":"example"}"#.into()
            }
        );
        let items = vec![
            user("weather?"),
            json!({"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"}),
            json!({"type": "function_call_output", "call_id": "c1", "output": "{\"temp_c\":21}"}),
        ];
        let p = plan(
            &Context {
                items: &items,
                tools: &tools,
                tool_choice: &json!("auto"),
                turn: 2,
            },
            None,
        );
        assert_eq!(
            p.output,
            Output::Text("get_weather returned \"{\"temp_c\":21}\". That is the answer.".into())
        );
    }
}
