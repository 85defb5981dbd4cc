//! The GA session object: defaults, validated partial merges (`session.update`, client-secret and call
//! `session` bodies) and the typed views the engine needs.

use serde_json::{Map, Value, json};

mod checks;
mod transcription;

pub use checks::{
    check_format, check_max_output_tokens, check_modalities, check_tool_choice, check_tools,
    check_voice,
};
use checks::{check_include, check_truncation, merge_audio};

use crate::audio::Format;
use crate::ids;
use crate::params::{ParamError, boolean, choice, join, object, only_keys, string};

pub const VOICES: &[&str] = &[
    "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar",
];
const DEFAULT_INSTRUCTIONS: &str = "You are a helpful, witty, and friendly AI, emulated offline by realtime-emulator. \
Answer briefly and make it clear when you are quoting the user.";
const SESSION_KEYS: &[&str] = &[
    "type",
    "model",
    "instructions",
    "output_modalities",
    "audio",
    "include",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "truncation",
    "tracing",
    "prompt",
    "parallel_tool_calls",
    "reasoning",
];

/// Which kind of session: a conversation with the model, or transcription only (PROTOCOL §15.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Realtime,
    Transcription,
}

/// Turn detection as the engine applies it.
#[derive(Clone, Debug, PartialEq)]
pub enum TurnDetection {
    /// `null`: the client commits and asks for responses itself.
    Manual,
    Vad {
        threshold: f64,
        prefix_padding_ms: u64,
        silence_duration_ms: u64,
        idle_timeout_ms: Option<u64>,
        create_response: bool,
        interrupt_response: bool,
    },
}

/// The full effective session, kept as JSON because that is what every event carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Session(Map<String, Value>);

impl Default for Session {
    fn default() -> Self {
        let v = json!({
            "type": "realtime", "object": "realtime.session", "id": ids::session_id(),
            "model": "gpt-realtime", "output_modalities": ["audio"],
            "instructions": DEFAULT_INSTRUCTIONS,
            "tools": [], "tool_choice": "auto", "max_output_tokens": "inf",
            "tracing": null, "truncation": "auto", "prompt": null, "expires_at": 0,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": null, "noise_reduction": null,
                    "turn_detection": checks::server_vad_defaults(),
                },
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0},
            },
            "include": null,
        });
        match v {
            Value::Object(m) => Session(m),
            _ => unreachable!("literal object"),
        }
    }
}

/// How a patch applies to a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// A client-secret or call `session` body: every field may be set.
    Create,
    /// `session.update`: the model stays what it is.
    Update(ModelChange),
}

/// What `session.update` does with a `model` other than the session's. The real API's rule is not
/// documented; PROTOCOL §15.4's best guess (from live captures, 🟡) is that it is silently ignored, and
/// agents-js sends its own default model in every update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ModelChange {
    /// Keep the session's model; apply the rest of the update.
    #[default]
    Ignore,
    /// Refuse the whole update with `invalid_value` on `session.model`.
    Reject,
}

impl Session {
    /// A new session from a client-secret or call `session` body (`param` is where it sits, e.g. `session`).
    pub fn create(patch: Option<&Value>, param: &str) -> Result<Session, ParamError> {
        let transcription = patch
            .and_then(|p| p.get("type"))
            .is_some_and(|t| t == "transcription");
        let base = if transcription {
            Session::for_transcription()
        } else {
            Session::default()
        };
        match patch {
            Some(p) => base.merged(p, param, Merge::Create),
            None => Ok(base),
        }
    }

    /// A copy with `patch` applied; the whole patch is rejected on the first error.
    pub fn merged(&self, patch: &Value, param: &str, merge: Merge) -> Result<Session, ParamError> {
        let p = object(patch, param)?;
        only_keys(p, SESSION_KEYS, param)?;
        let at = |k: &str| join(param, k);
        match p.get("type") {
            None => return Err(ParamError::missing(&at("type"))),
            Some(t) => {
                let t = choice(t, &at("type"), &["realtime", "transcription"])?;
                let kind = self.kind();
                if t != kind.name() {
                    return Err(ParamError::invalid_value(
                        &at("type"),
                        format!(
                            "This is a {} session; a session's type cannot be changed to '{t}'.",
                            kind.name()
                        ),
                    ));
                }
                if kind == Kind::Transcription {
                    return transcription::merged(self, p, param);
                }
            }
        }
        let mut s = self.0.clone();
        for (k, v) in p {
            let param = at(k);
            match k.as_str() {
                "type" => {}
                "model" => {
                    let m = string(v, &param)?;
                    match merge {
                        Merge::Create => {
                            s.insert(k.clone(), v.clone());
                        }
                        Merge::Update(_) if s.get("model").and_then(Value::as_str) == Some(m) => {}
                        Merge::Update(ModelChange::Ignore) => {}
                        Merge::Update(ModelChange::Reject) => {
                            return Err(ParamError::invalid_value(
                                &param,
                                "Cannot update a session's model.",
                            ));
                        }
                    }
                }
                "instructions" => {
                    string(v, &param)?;
                    s.insert(k.clone(), v.clone());
                }
                "output_modalities" => {
                    check_modalities(v, &param)?;
                    s.insert(k.clone(), v.clone());
                }
                "audio" => merge_audio(&mut s, v, &param)?,
                "include" => {
                    check_include(v, &param)?;
                    s.insert(k.clone(), v.clone());
                }
                "tools" => {
                    check_tools(v, &param)?;
                    s.insert(k.clone(), v.clone());
                }
                "tool_choice" => {
                    check_tool_choice(v, &param)?;
                    s.insert(k.clone(), v.clone());
                }
                "max_output_tokens" => {
                    check_max_output_tokens(v, &param)?;
                    s.insert(k.clone(), v.clone());
                }
                "truncation" => {
                    check_truncation(v, &param)?;
                    s.insert(k.clone(), v.clone());
                }
                "tracing" => {
                    if s.get("tracing").is_some_and(|t| !t.is_null())
                        && matches!(merge, Merge::Update(_))
                        && *v != s["tracing"]
                    {
                        return Err(ParamError::invalid_value(
                            &param,
                            "Tracing cannot be modified once enabled.",
                        ));
                    }
                    if !(v.is_null() || v == "auto" || v.is_object()) {
                        return Err(ParamError::invalid_value(
                            &param,
                            "Expected null, 'auto' or an object.",
                        ));
                    }
                    s.insert(k.clone(), v.clone());
                }
                "prompt" => {
                    if !v.is_null() {
                        let o = object(v, &param)?;
                        only_keys(o, &["id", "version", "variables"], &param)?;
                        string(
                            o.get("id")
                                .ok_or_else(|| ParamError::missing(&join(&param, "id")))?,
                            &join(&param, "id"),
                        )?;
                    }
                    s.insert(k.clone(), v.clone());
                }
                "parallel_tool_calls" => {
                    boolean(v, &param)?;
                    s.insert(k.clone(), v.clone());
                }
                "reasoning" => {
                    object(v, &param)?;
                    s.insert(k.clone(), v.clone());
                }
                _ => return Err(ParamError::unknown(&param)),
            }
        }
        Ok(Session(s))
    }

    /// The session as events and HTTP bodies carry it. Unset optional objects are left out rather than
    /// sent as `null`, because the official schema types them as objects (clients must tolerate both).
    pub fn to_json(&self) -> Value {
        let mut s = self.0.clone();
        if s.get("include").is_some_and(Value::is_null) {
            s.remove("include");
        }
        if let Some(Value::Object(input)) = s.get_mut("audio").and_then(|a| a.get_mut("input")) {
            for k in ["transcription", "noise_reduction"] {
                if input.get(k).is_some_and(Value::is_null) {
                    input.remove(k);
                }
            }
        }
        Value::Object(s)
    }

    pub fn set_expires_at(&mut self, unix: i64) {
        self.0.insert("expires_at".into(), json!(unix));
    }

    /// A fresh `sess_` id (each call started from one ephemeral key is its own session).
    pub fn with_new_id(mut self) -> Session {
        self.0.insert("id".into(), json!(ids::session_id()));
        self
    }

    pub fn kind(&self) -> Kind {
        match self.0.get("type").and_then(Value::as_str) {
            Some("transcription") => Kind::Transcription,
            _ => Kind::Realtime,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    pub fn instructions(&self) -> &str {
        self.0
            .get("instructions")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn output_modalities(&self) -> Value {
        self.0
            .get("output_modalities")
            .cloned()
            .unwrap_or(json!(["audio"]))
    }

    pub fn tools(&self) -> Value {
        self.0.get("tools").cloned().unwrap_or(json!([]))
    }

    pub fn tool_choice(&self) -> Value {
        self.0.get("tool_choice").cloned().unwrap_or(json!("auto"))
    }

    /// How `input_audio_buffer.append` audio is encoded.
    pub fn input_format(&self) -> Format {
        Format::of(&self.0["audio"]["input"]["format"])
    }

    /// `audio.output.speed`, checked to 0.25–1.5 when it was set.
    pub fn speed(&self) -> f64 {
        self.0["audio"]["output"]["speed"].as_f64().unwrap_or(1.0)
    }

    pub fn audio_output(&self) -> Value {
        let out = &self.0["audio"]["output"];
        json!({"format": out["format"], "voice": out["voice"]})
    }

    /// Whether input transcription is configured (drives the transcription events).
    pub fn transcription(&self) -> Option<&Value> {
        self.0["audio"]["input"]
            .get("transcription")
            .filter(|t| t.is_object())
    }

    /// A transcription session never creates or interrupts responses, whatever its turn detection says.
    pub fn turn_detection(&self) -> TurnDetection {
        let td = &self.0["audio"]["input"]["turn_detection"];
        let conversation = self.kind() == Kind::Realtime;
        let flag = |k: &str| conversation && td.get(k).and_then(Value::as_bool).unwrap_or(true);
        match td.get("type").and_then(Value::as_str) {
            Some("server_vad") => TurnDetection::Vad {
                threshold: td["threshold"].as_f64().unwrap_or(0.5),
                prefix_padding_ms: td["prefix_padding_ms"].as_u64().unwrap_or(300),
                silence_duration_ms: td["silence_duration_ms"].as_u64().unwrap_or(200),
                idle_timeout_ms: td["idle_timeout_ms"].as_u64(),
                create_response: flag("create_response"),
                interrupt_response: flag("interrupt_response"),
            },
            // Semantic VAD has no threshold: an eager model ends the turn after a short pause.
            Some("semantic_vad") => TurnDetection::Vad {
                threshold: 0.5,
                prefix_padding_ms: 300,
                silence_duration_ms: match td["eagerness"].as_str() {
                    Some("high") => 300,
                    Some("low") => 1500,
                    _ => 700,
                },
                idle_timeout_ms: None,
                create_response: flag("create_response"),
                interrupt_response: flag("interrupt_response"),
            },
            _ => TurnDetection::Manual,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_update_keeps_everything_else() {
        let s = Session::default();
        let s2 = s
            .merged(
                &json!({"type": "realtime", "audio": {"output": {"voice": "marin"}}}),
                "session",
                Merge::Update(ModelChange::Ignore),
            )
            .unwrap();
        assert_eq!(s2.to_json()["audio"]["output"]["voice"], "marin");
        assert_eq!(s2.to_json()["audio"]["output"]["speed"], 1.0);
        assert_eq!(s2.turn_detection(), s.turn_detection());
    }

    #[test]
    fn rejects_beta_shapes_with_the_documented_codes() {
        let s = Session::default();
        let e = s
            .merged(
                &json!({"type": "realtime", "modalities": ["text"]}),
                "session",
                Merge::Create,
            )
            .unwrap_err();
        assert_eq!(
            (e.code, e.param.as_deref()),
            ("unknown_parameter", Some("session.modalities"))
        );
        let e = s
            .merged(
                &json!({"type": "realtime", "audio": {"input": {"format": "pcm16"}}}),
                "session",
                Merge::Create,
            )
            .unwrap_err();
        assert_eq!(
            (e.code, e.param.as_deref()),
            ("invalid_type", Some("session.audio.input.format"))
        );
        let e = s
            .merged(
                &json!({"instructions": "x"}),
                "session",
                Merge::Update(ModelChange::Ignore),
            )
            .unwrap_err();
        assert_eq!(e.code, "missing_required_parameter");
    }

    #[test]
    fn turn_detection_null_means_manual_turns() {
        let s = Session::default()
            .merged(
                &json!({"type": "realtime", "audio": {"input": {"turn_detection": null}}}),
                "session",
                Merge::Update(ModelChange::Ignore),
            )
            .unwrap();
        assert_eq!(s.turn_detection(), TurnDetection::Manual);
    }

    #[test]
    fn an_update_keeps_the_model_or_refuses_a_new_one_as_configured() {
        let s = Session::create(
            Some(&json!({"type": "realtime", "model": "gpt-realtime"})),
            "session",
        )
        .unwrap();
        let patch = json!({"type": "realtime", "model": "gpt-realtime-2.1", "instructions": "Hi."});
        let kept = s
            .merged(&patch, "session", Merge::Update(ModelChange::Ignore))
            .unwrap();
        assert_eq!(kept.to_json()["model"], "gpt-realtime");
        assert_eq!(kept.to_json()["instructions"], "Hi.");
        let e = s
            .merged(&patch, "session", Merge::Update(ModelChange::Reject))
            .unwrap_err();
        assert_eq!(
            (e.code, e.param.as_deref()),
            ("invalid_value", Some("session.model"))
        );
        let same = json!({"type": "realtime", "model": "gpt-realtime"});
        s.merged(&same, "session", Merge::Update(ModelChange::Reject))
            .unwrap();
    }
}
