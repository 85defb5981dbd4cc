//! The `audio` part of a session: input format, noise reduction, transcription, turn detection,
//! output format, voice and speed (PROTOCOL §5.1–5.2).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::nullable;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AudioConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<AudioInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<AudioOutput>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AudioInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<AudioFormat>,
    /// `Some(None)` is an explicit `null`: no noise reduction.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "nullable")]
    pub noise_reduction: Option<Option<NoiseReduction>>,
    /// `Some(None)` is an explicit `null`: no input transcription.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "nullable")]
    pub transcription: Option<Option<Transcription>>,
    /// `Some(None)` is an explicit `null`: manual turns (the client commits and asks for responses).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "nullable")]
    pub turn_detection: Option<Option<TurnDetection>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AudioOutput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<AudioFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<Voice>,
    /// 0.25–1.5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"type":"audio/pcm","rate":24000}`, `{"type":"audio/pcmu"}` or `{"type":"audio/pcma"}`.
///
/// `type` is a string rather than an enum so formats added upstream still parse.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AudioFormat {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AudioFormat {
    /// 24 kHz 16-bit PCM, the only PCM rate the API takes.
    pub fn pcm24k() -> Self {
        Self {
            kind: Some("audio/pcm".to_owned()),
            rate: Some(24_000),
            extra: Map::new(),
        }
    }
}

/// `{"type":"near_field"|"far_field"}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NoiseReduction {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Transcription {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `server_vad` or `semantic_vad` settings. One struct for both, because overrides are partial
/// (`{"silence_duration_ms":500}` alone is a valid patch) and may not name the variant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnDetection {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_padding_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silence_duration_ms: Option<u32>,
    /// `Some(None)` is an explicit `null`: no idle timeout.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "nullable")]
    pub idle_timeout_ms: Option<Option<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_response: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupt_response: Option<bool>,
    /// `semantic_vad` only: `low`, `medium`, `high` or `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eagerness: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A built-in voice name (`marin`, `cedar`, …) or a custom voice `{"id":"voice_…"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Voice {
    Name(String),
    Custom {
        id: String,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
}
