//! Scenario files: a user's script for the model (rules matched on user text or turn number) and the
//! faults to inject. JSON; the format is documented in the crate README.

use std::path::Path;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use crate::config::{Faults, HttpFault};

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("could not read scenario file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid scenario JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("rule {rule}: invalid regex: {source}")]
    Regex { rule: usize, source: regex::Error },
    #[error("rule {rule}: {message}")]
    Rule { rule: usize, message: String },
}

/// A loaded, compiled scenario.
#[derive(Clone, Debug, Default)]
pub struct Scenario {
    pub name: Option<String>,
    pub rules: Vec<Rule>,
    pub faults: Faults,
}

/// One rule: when it matches a response's input, its action replaces the default model.
#[derive(Clone, Debug)]
pub struct Rule {
    pub text: Option<Regex>,
    pub turn: Option<u32>,
    pub action: Action,
}

/// What a matched rule makes the model do. A rule may combine a delay with one outcome.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Action {
    pub delay: Option<Duration>,
    pub reply: Option<String>,
    pub tool_call: Option<ToolCall>,
    pub error: Option<ScriptedError>,
    /// Fail the transcription of the user's speech (`conversation.item.input_audio_transcription.failed`).
    pub transcription_error: Option<ScriptedError>,
    /// Close the connection instead of answering.
    pub drop: bool,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    pub name: String,
    /// Serialised as the `arguments` string; generated from the tool's schema when absent.
    #[serde(default)]
    pub arguments: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedError {
    #[serde(default = "server_error")]
    pub r#type: String,
    #[serde(default)]
    pub code: Option<String>,
    pub message: String,
}

fn server_error() -> String {
    "server_error".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    #[allow(dead_code)] // documentation for humans reading the file
    description: Option<String>,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    faults: RawFaults,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default, rename = "match")]
    matcher: RawMatch,
    #[serde(default)]
    reply: Option<String>,
    #[serde(default)]
    tool_call: Option<ToolCall>,
    #[serde(default)]
    error: Option<ScriptedError>,
    #[serde(default)]
    transcription_error: Option<ScriptedError>,
    #[serde(default)]
    delay_ms: Option<u64>,
    #[serde(default)]
    drop: bool,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    text: Option<String>,
    turn: Option<u32>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFaults {
    mint: Option<RawHttpFault>,
    call: Option<RawHttpFault>,
    answer_delay_ms: Option<u64>,
    close_after_events: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpFault {
    status: u16,
    retry_after: Option<u64>,
    times: Option<u32>,
}

impl From<RawHttpFault> for HttpFault {
    fn from(r: RawHttpFault) -> Self {
        HttpFault {
            status: r.status,
            retry_after: r.retry_after,
            times: r.times,
        }
    }
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Scenario::from_json(&text)
    }

    pub fn from_json(text: &str) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = serde_json::from_str(text)?;
        let mut rules = Vec::with_capacity(raw.rules.len());
        for (i, r) in raw.rules.into_iter().enumerate() {
            let rule = i + 1;
            let outcomes = usize::from(r.reply.is_some())
                + usize::from(r.tool_call.is_some())
                + usize::from(r.error.is_some())
                + usize::from(r.transcription_error.is_some())
                + usize::from(r.drop);
            if outcomes > 1 {
                return Err(ScenarioError::Rule {
                    rule,
                    message:
                        "give at most one of reply, tool_call, error, transcription_error, drop"
                            .into(),
                });
            }
            let text = match r.matcher.text {
                Some(re) => {
                    Some(Regex::new(&re).map_err(|source| ScenarioError::Regex { rule, source })?)
                }
                None => None,
            };
            rules.push(Rule {
                text,
                turn: r.matcher.turn,
                action: Action {
                    delay: r.delay_ms.map(Duration::from_millis),
                    reply: r.reply,
                    tool_call: r.tool_call,
                    error: r.error,
                    transcription_error: r.transcription_error,
                    drop: r.drop,
                },
            });
        }
        Ok(Scenario {
            name: raw.name,
            rules,
            faults: Faults {
                mint: raw.faults.mint.map(Into::into),
                call: raw.faults.call.map(Into::into),
                answer_delay: raw.faults.answer_delay_ms.map(Duration::from_millis),
                close_after_events: raw.faults.close_after_events,
            },
        })
    }

    /// The first rule matching the user's latest text and the response's turn number (1-based).
    pub fn action_for(&self, user_text: &str, turn: u32) -> Option<&Action> {
        self.rules
            .iter()
            .find(|r| {
                r.text.as_ref().is_none_or(|re| re.is_match(user_text))
                    && r.turn.is_none_or(|t| t == turn)
            })
            .map(|r| &r.action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_text_then_turn_in_order() {
        let s = Scenario::from_json(
            r#"{"rules":[
                {"match":{"text":"(?i)weather"},"tool_call":{"name":"get_weather","arguments":{"location":"Paris"}}},
                {"match":{"turn":2},"reply":"second turn"},
                {"reply":"fallback","delay_ms":10}
            ]}"#,
        )
        .unwrap();
        assert!(
            s.action_for("What's the WEATHER?", 1)
                .unwrap()
                .tool_call
                .is_some()
        );
        assert_eq!(
            s.action_for("hi", 2).unwrap().reply.as_deref(),
            Some("second turn")
        );
        assert_eq!(
            s.action_for("hi", 3).unwrap().reply.as_deref(),
            Some("fallback")
        );
    }

    #[test]
    fn rejects_ambiguous_rules_and_bad_regexes() {
        assert!(Scenario::from_json(r#"{"rules":[{"reply":"a","drop":true}]}"#).is_err());
        assert!(Scenario::from_json(r#"{"rules":[{"match":{"text":"("},"reply":"a"}]}"#).is_err());
        assert!(Scenario::from_json(r#"{"rules":[{"replies":"a"}]}"#).is_err());
    }

    #[test]
    fn the_shipped_examples_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        for name in ["weather-tool.json", "flaky-network.json"] {
            Scenario::load(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
