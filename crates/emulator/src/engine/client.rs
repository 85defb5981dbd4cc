//! The eleven client event types (ten on WebSocket): validation, their documented replies, and `error`
//! events that echo the offending client `event_id`.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use super::Engine;
use super::conversation::{normalize_item, not_found, without_audio};
use crate::io::{FromEngine, Transport};
use crate::params::{ParamError, integer_in, object, only_keys, string};
use crate::session::{Kind, Merge};

/// Base64 as clients write it: standard alphabet, padding optional.
const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Every client event type, `output_audio_buffer.clear` last: it is WebRTC's (and SIP's) alone.
pub const CLIENT_EVENT_TYPES: &[&str] = &[
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "conversation.item.delete",
    "response.create",
    "response.cancel",
    "output_audio_buffer.clear",
];

/// An in-session error: the `error` server event's payload.
#[derive(Debug)]
pub struct EventError {
    pub r#type: &'static str,
    pub inner: ParamError,
}

impl From<ParamError> for EventError {
    fn from(inner: ParamError) -> Self {
        EventError {
            r#type: "invalid_request_error",
            inner,
        }
    }
}

type Result<T = (), E = EventError> = std::result::Result<T, E>;

/// The client event types a transport accepts; any other is answered as an unknown type, with this list.
pub fn accepted_types(transport: Transport) -> &'static [&'static str] {
    match transport {
        Transport::WebRtc => CLIENT_EVENT_TYPES,
        Transport::WebSocket => &CLIENT_EVENT_TYPES[..CLIENT_EVENT_TYPES.len() - 1],
    }
}

impl Engine {
    pub(super) fn on_client_message(&mut self, text: &str) {
        let (event_id, result) = match serde_json::from_str::<Value>(text) {
            Err(e) => (
                None,
                Err(ParamError::new(
                    "invalid_json",
                    format!("We could not parse the JSON body of your request: {e}."),
                    None,
                )
                .into()),
            ),
            Ok(v) => {
                let event_id = v.get("event_id").and_then(Value::as_str).map(str::to_owned);
                (event_id, self.dispatch(&v))
            }
        };
        if let Err(e) = result {
            self.emit_error(e, event_id.as_deref());
        }
    }

    pub(super) fn emit_error(&mut self, e: EventError, client_event_id: Option<&str>) {
        let audience = self.error_audience();
        self.sh.emit_to(
            audience,
            json!({"type": "error", "error": {
            "type": e.r#type, "code": e.inner.code, "message": e.inner.message,
            "param": e.inner.param, "event_id": client_event_id}}),
        );
    }

    fn dispatch(&mut self, v: &Value) -> Result {
        let Some(o) = v.as_object() else {
            return Err(ParamError::new(
                "invalid_event",
                "Expected the event to be a JSON object.",
                None,
            )
            .into());
        };
        let Some(ty) = o.get("type") else {
            return Err(ParamError::new(
                "invalid_event",
                "The 'type' field is missing.",
                Some("type"),
            )
            .into());
        };
        let ty = string(ty, "type")?;
        if let Some(id) = o.get("event_id") {
            string(id, "event_id")?;
        }
        let accepted = accepted_types(self.sh.transport);
        if !accepted.contains(&ty) {
            return Err(ParamError::invalid_choice("type", ty, accepted).into());
        }
        let fields: &[&str] = match ty {
            "session.update" => &["session"],
            "input_audio_buffer.append" => &["audio"],
            "conversation.item.create" => &["item", "previous_item_id"],
            "conversation.item.retrieve" | "conversation.item.delete" => &["item_id"],
            "conversation.item.truncate" => &["item_id", "content_index", "audio_end_ms"],
            "response.create" => &["response"],
            "response.cancel" => &["response_id"],
            _ => &[],
        };
        let mut allowed = vec!["type", "event_id"];
        allowed.extend_from_slice(fields);
        only_keys(o, &allowed, "")?;
        let event_id = o.get("event_id").and_then(Value::as_str);
        match ty {
            "session.update" => self.session_update(v),
            "input_audio_buffer.append" => self.append(v),
            "input_audio_buffer.commit" => self.commit(event_id),
            "input_audio_buffer.clear" => {
                self.input.clear();
                self.frames.clear();
                self.sh.emit(json!({"type": "input_audio_buffer.cleared"}));
                Ok(())
            }
            "conversation.item.create" => self.item_create(v),
            "conversation.item.retrieve" => {
                let id = required_str(v, "item_id")?;
                let item = self
                    .sh
                    .conversation
                    .get(id)
                    .cloned()
                    .ok_or_else(|| not_found(id, "item_id"))?;
                self.sh
                    .emit(json!({"type": "conversation.item.retrieved", "item": item}));
                Ok(())
            }
            "conversation.item.truncate" => self.truncate(v),
            "conversation.item.delete" => {
                let id = required_str(v, "item_id")?;
                if !self.sh.conversation.delete(id) {
                    return Err(not_found(id, "item_id").into());
                }
                self.sh
                    .emit(json!({"type": "conversation.item.deleted", "item_id": id}));
                Ok(())
            }
            "response.create" if self.session.kind() == Kind::Transcription => {
                Err(ParamError::invalid_value(
                    "type",
                    "Responses are not supported in transcription sessions: 'response.create' cannot be used here.",
                )
                .into())
            }
            "response.create" => self.create_response(v.get("response"), event_id),
            "response.cancel" => self.cancel(v),
            _ => {
                let _ = self.clear_output_audio();
                Ok(())
            }
        }
    }

    fn session_update(&mut self, v: &Value) -> Result {
        let patch = v
            .get("session")
            .ok_or_else(|| ParamError::missing("session"))?;
        let merge = Merge::Update(self.sh.settings.model_change);
        self.session = self.session.merged(patch, "session", merge)?;
        let session = self.session_json();
        self.sh
            .emit(json!({"type": "session.updated", "session": session}));
        Ok(())
    }

    /// `input_audio_buffer.append`: base64 audio in the session's input format. Over WebSocket it is the
    /// input audio, and voice activity is measured from its samples; over WebRTC the track is, and
    /// appended audio only fills the buffer, by its length.
    fn append(&mut self, v: &Value) -> Result {
        let audio = required_str(v, "audio")?;
        let cleaned: String;
        let audio = if audio.bytes().any(|b| b.is_ascii_whitespace()) {
            cleaned = audio.split_ascii_whitespace().collect();
            &cleaned
        } else {
            audio
        };
        let bytes = BASE64.decode(audio).map_err(|_| {
            ParamError::invalid_value("audio", "Invalid 'audio'. Expected base64-encoded audio.")
        })?;
        let format = self.session.input_format();
        if bytes.len() % format.bytes_per_sample() != 0 {
            return Err(ParamError::invalid_value(
                "audio",
                format!(
                    "Invalid 'audio'. PCM16 audio has two bytes per sample, but {} bytes were given.",
                    bytes.len()
                ),
            )
            .into());
        }
        let rate = format.sample_rate();
        match self.sh.transport {
            Transport::WebRtc => {
                let samples = (bytes.len() / format.bytes_per_sample()) as u64;
                self.input.append(samples * 1000 / u64::from(rate));
            }
            Transport::WebSocket => {
                for (dbov, ms) in self.frames.push(&format.decode(&bytes), rate) {
                    self.on_input_level(dbov, Duration::from_millis(ms));
                }
            }
        }
        Ok(())
    }

    fn commit(&mut self, _event_id: Option<&str>) -> Result {
        // What the last append left short of a frame is audio too.
        if let Some((dbov, ms)) = self.frames.flush() {
            self.on_input_level(dbov, Duration::from_millis(ms));
        }
        let ms = self.input.buffer_ms;
        if ms < 100 {
            return Err(ParamError::new(
                "input_audio_buffer_commit_empty",
                format!("Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has {ms}.00ms of audio."),
                None,
            )
            .into());
        }
        let item_id = self
            .input
            .pending_item_id()
            .unwrap_or_else(crate::ids::item_id);
        self.input.clear();
        self.commit_user_audio(item_id, ms, false);
        Ok(())
    }

    fn item_create(&mut self, v: &Value) -> Result {
        let item = v.get("item").ok_or_else(|| ParamError::missing("item"))?;
        let item = normalize_item(item, "item", false)?;
        let id = item["id"].as_str().unwrap_or_default().to_owned();
        if self.sh.conversation.get(&id).is_some() {
            return Err(ParamError::invalid_value(
                "item.id",
                format!("Item with id '{id}' already exists."),
            )
            .into());
        }
        let previous = match v.get("previous_item_id") {
            None | Some(Value::Null) => None,
            Some(p) => Some(string(p, "previous_item_id")?),
        };
        let before = self.sh.conversation.insert(item.clone(), previous)?;
        let shown = without_audio(&item);
        self.sh.emit(
            json!({"type": "conversation.item.added", "previous_item_id": before, "item": shown}),
        );
        self.sh.emit(
            json!({"type": "conversation.item.done", "previous_item_id": before, "item": shown}),
        );
        Ok(())
    }

    fn truncate(&mut self, v: &Value) -> Result {
        let id = required_str(v, "item_id")?;
        let index = integer_in(
            v.get("content_index")
                .ok_or_else(|| ParamError::missing("content_index"))?,
            "content_index",
            0,
            1 << 20,
        )? as usize;
        let end_ms = integer_in(
            v.get("audio_end_ms")
                .ok_or_else(|| ParamError::missing("audio_end_ms"))?,
            "audio_end_ms",
            0,
            i64::MAX,
        )? as u64;
        let per_char = self.per_char_us();
        let item = self
            .sh
            .conversation
            .get_mut(id)
            .ok_or_else(|| not_found(id, "item_id"))?;
        let assistant = item["role"] == "assistant";
        let part = item["content"]
            .get_mut(index)
            .filter(|p| p["type"] == "output_audio");
        let Some(part) = part.filter(|_| assistant) else {
            return Err(ParamError::new(
                "unsupported_content_type",
                "Only model output audio messages can be truncated",
                Some("item_id"),
            )
            .into());
        };
        let transcript: Vec<char> = part["transcript"].as_str().unwrap_or("").chars().collect();
        let length_ms = transcript.len() as u64 * per_char / 1000;
        if end_ms > length_ms {
            return Err(ParamError::invalid_value(
                "audio_end_ms",
                format!("Audio content of {length_ms}ms is already shorter than {end_ms}ms"),
            )
            .into());
        }
        // The server drops the part of the transcript the user never heard.
        let heard_chars = (end_ms * 1000 / per_char).min(transcript.len() as u64) as usize;
        let heard: String = transcript[..heard_chars].iter().collect();
        part["transcript"] = json!(heard);
        self.sh.emit(json!({"type": "conversation.item.truncated", "item_id": id, "content_index": index, "audio_end_ms": end_ms}));
        Ok(())
    }

    fn cancel(&mut self, v: &Value) -> Result {
        let wanted = match v.get("response_id") {
            None | Some(Value::Null) => None,
            Some(id) => Some(string(id, "response_id")?),
        };
        let at = self.responses.iter().position(|r| match wanted {
            Some(id) => r.id == id,
            None => r.in_conversation(),
        });
        let at = at.or_else(|| {
            wanted
                .is_none()
                .then_some(0)
                .filter(|_| !self.responses.is_empty())
        });
        let Some(at) = at else {
            return Err(ParamError::new(
                "response_cancel_not_active",
                "Cancellation failed: no active response found",
                None,
            )
            .into());
        };
        let mut r = self.responses.remove(at);
        r.cancel("client_cancelled", &mut self.sh);
        // Nothing more is generated, so what was playing of this response stops with it.
        if self
            .sh
            .playback
            .as_ref()
            .is_some_and(|p| p.response_id == r.id)
        {
            self.sh.playback = None;
            self.sh.command(FromEngine::StopAudio);
            self.sh
                .emit(json!({"type": "output_audio_buffer.stopped", "response_id": r.id}));
        }
        Ok(())
    }

    /// `output_audio_buffer.clear`, and VAD barge-in: stop the audio and say so.
    /// Stops the audio playing, if any, and cuts its item's transcript to what was heard; the item and how
    /// much of it was heard, for a caller that changes the item again.
    pub(super) fn clear_output_audio(&mut self) -> Option<(String, std::time::Duration)> {
        let (response_id, cut) = match self.sh.playback.take() {
            Some(p) => {
                self.sh.command(FromEngine::StopAudio);
                let heard = self.now.saturating_duration_since(p.started);
                self.truncate_unheard(&p.item_id, heard);
                (p.response_id, Some((p.item_id, heard)))
            }
            None => (self.last_response_id.clone().unwrap_or_default(), None),
        };
        self.sh
            .emit(json!({"type": "output_audio_buffer.cleared", "response_id": response_id}));
        cut
    }

    /// How long the voice takes over a character at the session's speed, in µs (at least 1): what a
    /// truncation's milliseconds are turned into characters by.
    fn per_char_us(&self) -> u64 {
        let at_one = self.sh.settings.audio_per_char.as_micros() as f64;
        ((at_one / self.session.speed()).round() as u64).max(1)
    }

    /// Over WebRTC the server knows what was played and cuts the assistant transcript there itself.
    pub(super) fn truncate_unheard(&mut self, item_id: &str, heard: std::time::Duration) {
        let chars = (heard.as_micros() / u128::from(self.per_char_us())) as usize;
        if let Some(item) = self.sh.conversation.get_mut(item_id)
            && let Some(part) = item["content"].get_mut(0)
            && let Some(t) = part["transcript"].as_str()
        {
            let cut: String = t.chars().take(chars).collect();
            part["transcript"] = json!(cut);
        }
    }
}

pub(super) fn required_str<'a>(v: &'a Value, key: &str) -> Result<&'a str, ParamError> {
    string(v.get(key).ok_or_else(|| ParamError::missing(key))?, key)
}

/// `response.create.response` keys the API accepts.
pub(super) const RESPONSE_KEYS: &[&str] = &[
    "conversation",
    "output_modalities",
    "instructions",
    "tools",
    "tool_choice",
    "metadata",
    "input",
    "max_output_tokens",
    "audio",
    "prompt",
    "parallel_tool_calls",
    "reasoning",
];

pub(super) fn check_metadata(v: &Value) -> Result<(), ParamError> {
    if v.is_null() {
        return Ok(());
    }
    let m = object(v, "response.metadata")?;
    if m.len() > 16 {
        return Err(ParamError::invalid_value(
            "response.metadata",
            "Metadata can have at most 16 keys.",
        ));
    }
    for (k, x) in m {
        let s = string(x, &format!("response.metadata.{k}"))?;
        if k.len() > 64 || s.len() > 512 {
            return Err(ParamError::invalid_value(
                "response.metadata",
                "Metadata keys are at most 64 characters and values at most 512.",
            ));
        }
    }
    Ok(())
}
