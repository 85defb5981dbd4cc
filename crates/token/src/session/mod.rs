//! The GA session configuration (PROTOCOL §5), typed where the console needs it and open everywhere:
//! every object keeps the fields it does not know in `extra`, so newer API fields pass through.

mod audio;
mod merge;
mod nullable;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use audio::{
    AudioConfig, AudioFormat, AudioInput, AudioOutput, NoiseReduction, Transcription,
    TurnDetection, Voice,
};
pub use merge::deep_merge;

use crate::error::{Error, Result, without_quoted_values};

/// A `realtime` (or `transcription`) session: what the server asks for when minting or calling, and
/// what the API answers as the effective session.
///
/// Every field is optional because the same type carries partial overrides. String-valued
/// enumerations (`type`, `model`, modalities, voices) stay strings so new values still parse.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionConfig {
    /// `realtime` or `transcription`; required by the API in every request.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `sess_…`, in responses only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// `["audio"]` or `["text"]`, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_modalities: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<MaxOutputTokens>,
    /// `Some(None)` is an explicit `null`: tracing off.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "nullable")]
    pub tracing: Option<Option<Tracing>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncation: Option<Truncation>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "nullable")]
    pub prompt: Option<Option<Prompt>>,
    /// e.g. `["item.input_audio_transcription.logprobs"]`.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "nullable")]
    pub include: Option<Option<Vec<String>>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SessionConfig {
    /// An empty `type: "realtime"` session, the smallest valid request.
    pub fn realtime() -> Self {
        Self {
            kind: Some("realtime".to_owned()),
            ..Self::default()
        }
    }

    /// This config with `overrides` layered on top: objects merge key by key, arrays, scalars and
    /// `null` replace (see [`deep_merge`]). The console uses it to apply a browser's overrides to the
    /// server's default session.
    pub fn merged(&self, overrides: &SessionConfig) -> Result<SessionConfig> {
        let mut base = to_json(self);
        deep_merge(&mut base, &to_json(overrides));
        Self::from_json(base)
    }

    /// Parses a session from JSON, with an error that quotes no values.
    pub fn from_json(value: Value) -> Result<Self> {
        serde_json::from_value(value).map_err(|e| Error::InvalidInput {
            reason: format!("invalid session: {}", without_quoted_values(&e.to_string())),
            param: "session",
        })
    }

    pub fn to_json(&self) -> Value {
        to_json(self)
    }
}

fn to_json(config: &SessionConfig) -> Value {
    // Cannot fail: every map key is a string and no type has a fallible `Serialize`.
    serde_json::to_value(config).unwrap_or_else(|_| Value::Object(Map::new()))
}

/// A function tool (`{type:"function",name,description,parameters}`) or an MCP tool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A JSON Schema, kept as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `"auto"`, `"none"`, `"required"`, or an object naming a function or MCP tool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    Mode(String),
    Tool {
        #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
        kind: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
}

/// An integer 1–4096, or the string `"inf"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MaxOutputTokens {
    Limit(u64),
    Keyword(String),
}

impl MaxOutputTokens {
    pub fn inf() -> Self {
        Self::Keyword("inf".to_owned())
    }
}

/// `"auto"` or `{workflow_name, group_id, metadata}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Tracing {
    Mode(String),
    Config {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        workflow_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<Map<String, Value>>,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
}

/// `"auto"`, `"disabled"`, or `{"type":"retention_ratio","retention_ratio":0.8,"token_limits":{…}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Truncation {
    Mode(String),
    Config {
        #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
        kind: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retention_ratio: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token_limits: Option<Map<String, Value>>,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
}

/// A stored prompt: `{"id":"pmpt_…","version":…,"variables":{…}}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "nullable")]
    pub version: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests;
