//! Transcription-only sessions (PROTOCOL §15.6): their default, and what an update may change (input
//! audio and `include`; no model, instructions, tools or output).

use serde_json::{Map, Value, json};

use super::checks::{check_include, merge_audio};
use super::{Kind, Session};
use crate::ids;
use crate::params::{ParamError, join, object, only_keys};

const KEYS: &[&str] = &["type", "audio", "include"];

impl Kind {
    /// The session's `type`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Realtime => "realtime",
            Kind::Transcription => "transcription",
        }
    }
}

impl Session {
    /// A transcription session as `?intent=transcription` opens it: the shape a live `session.created`
    /// showed (§15.6), with no transcription model until the client sets one.
    pub fn for_transcription() -> Session {
        let v = json!({
            "type": "transcription", "object": "realtime.transcription_session", "id": ids::session_id(),
            "expires_at": 0,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": null, "noise_reduction": null,
                    "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                                       "silence_duration_ms": 200},
                },
            },
            "include": null,
        });
        match v {
            Value::Object(m) => Session(m),
            _ => unreachable!("literal object"),
        }
    }
}

/// A transcription session with `patch` (already known to say `type: "transcription"`) applied.
pub(super) fn merged(
    session: &Session,
    patch: &Map<String, Value>,
    param: &str,
) -> Result<Session, ParamError> {
    only_keys(patch, KEYS, param)?;
    let mut s = session.0.clone();
    if let Some(audio) = patch.get("audio") {
        let p = join(param, "audio");
        only_keys(object(audio, &p)?, &["input"], &p)?;
        merge_audio(&mut s, audio, &p)?;
    }
    if let Some(include) = patch.get("include") {
        check_include(include, &join(param, "include"))?;
        s.insert("include".into(), include.clone());
    }
    Ok(Session(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Merge, ModelChange, TurnDetection};

    const UPDATE: Merge = Merge::Update(ModelChange::Ignore);

    #[test]
    fn an_update_sets_the_input_and_nothing_of_a_conversation() {
        let s = Session::for_transcription();
        let s2 = s
            .merged(
                &json!({"type": "transcription", "audio": {"input": {
                    "format": {"type": "audio/pcmu"}, "transcription": {"model": "gpt-4o-transcribe"},
                    "turn_detection": null}}, "include": ["item.input_audio_transcription.logprobs"]}),
                "session",
                UPDATE,
            )
            .unwrap();
        let v = s2.to_json();
        assert_eq!(v["audio"]["input"]["format"]["type"], "audio/pcmu");
        assert_eq!(
            v["audio"]["input"]["transcription"]["model"],
            "gpt-4o-transcribe"
        );
        assert_eq!(s2.turn_detection(), TurnDetection::Manual);
        assert!(v.get("model").is_none() && v["audio"].get("output").is_none());

        for (patch, code, param) in [
            (
                json!({"type": "transcription", "instructions": "x"}),
                "unknown_parameter",
                "session.instructions",
            ),
            (
                json!({"type": "transcription", "audio": {"output": {"voice": "marin"}}}),
                "unknown_parameter",
                "session.audio.output",
            ),
            (
                json!({"type": "transcription", "input_audio_format": "pcm16"}),
                "unknown_parameter",
                "session.input_audio_format",
            ),
            (
                json!({"type": "realtime", "instructions": "x"}),
                "invalid_value",
                "session.type",
            ),
        ] {
            let e = s.merged(&patch, "session", UPDATE).unwrap_err();
            assert_eq!((e.code, e.param.as_deref()), (code, Some(param)), "{patch}");
        }
        let e = Session::default()
            .merged(&json!({"type": "transcription"}), "session", UPDATE)
            .unwrap_err();
        assert_eq!(
            (e.code, e.param.as_deref()),
            ("invalid_value", Some("session.type"))
        );
    }

    #[test]
    fn vad_in_a_transcription_session_never_asks_for_a_response() {
        let s = Session::create(Some(&json!({"type": "transcription"})), "session").unwrap();
        assert_eq!(s.kind(), Kind::Transcription);
        match s.turn_detection() {
            TurnDetection::Vad {
                create_response,
                interrupt_response,
                silence_duration_ms,
                ..
            } => assert_eq!(
                (create_response, interrupt_response, silence_duration_ms),
                (false, false, 200)
            ),
            other => panic!("{other:?}"),
        }
    }
}
