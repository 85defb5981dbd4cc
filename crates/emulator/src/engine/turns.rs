//! Turns: voice activity from input levels, committing user audio, barge-in, idle timeouts, and
//! creating responses (from `response.create` or from VAD).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Engine;
use super::audio_in::VadEvent;
use super::client::{EventError, RESPONSE_KEYS, check_metadata};
use super::conversation::normalize_item;
use super::response::{ActiveResponse, ResponseSpec};
use crate::ids;
use crate::model::{self, NO_SPEECH};
use crate::params::{ParamError, choice, join, object, only_keys};
use crate::session::{
    Kind, TurnDetection, check_format, check_max_output_tokens, check_modalities,
    check_tool_choice, check_tools, check_voice,
};

impl Engine {
    pub(super) fn on_input_level(&mut self, dbov: u8, duration: Duration) {
        let td = self.session.turn_detection();
        let Some(ev) = self.input.on_level(dbov, duration.as_millis() as u64, &td) else {
            return;
        };
        let TurnDetection::Vad {
            create_response,
            interrupt_response,
            ..
        } = td
        else {
            return;
        };
        match ev {
            VadEvent::SpeechStarted {
                item_id,
                audio_start_ms,
            } => {
                self.idle_deadline = None;
                self.sh.emit(json!({"type": "input_audio_buffer.speech_started", "audio_start_ms": audio_start_ms, "item_id": item_id}));
                if interrupt_response {
                    self.barge_in();
                }
            }
            VadEvent::SpeechStopped {
                item_id,
                audio_start_ms,
                audio_end_ms,
            } => {
                self.sh.emit(json!({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": audio_end_ms, "item_id": item_id}));
                self.commit_user_audio(item_id, audio_end_ms - audio_start_ms, create_response);
            }
        }
    }

    /// The user spoke over the assistant: stop its audio and cancel the response in progress.
    fn barge_in(&mut self) {
        let heard = if self.sh.playback.is_some() {
            self.clear_output_audio()
        } else {
            None
        };
        if let Some(at) = self.responses.iter().position(|r| r.in_conversation()) {
            let mut r = self.responses.remove(at);
            r.cancel("turn_detected", &mut self.sh);
        }
        // The cancel stores the item as far as it was streamed; the user heard less, and the stored
        // transcript ends where the audio stopped (as clear_output_audio cut it).
        if let Some((item_id, heard)) = heard {
            self.truncate_unheard(&item_id, heard);
        }
    }

    /// `input_audio_buffer.committed`, the user audio item, its transcription when configured, and a
    /// response when asked for.
    pub(super) fn commit_user_audio(&mut self, item_id: String, duration_ms: u64, respond: bool) {
        let previous = self.sh.conversation.last_id();
        self.sh.emit(json!({"type": "input_audio_buffer.committed", "previous_item_id": previous, "item_id": item_id}));
        let item = json!({"id": item_id, "object": "realtime.item", "type": "message", "status": "completed",
            "role": "user", "content": [{"type": "input_audio"}]});
        let _ = self.sh.conversation.insert(item.clone(), None);
        self.audio_ms.insert(item_id.clone(), duration_ms);
        self.sh.emit(
            json!({"type": "conversation.item.added", "previous_item_id": previous, "item": item}),
        );
        self.sh.emit(
            json!({"type": "conversation.item.done", "previous_item_id": previous, "item": item}),
        );
        if let Some(transcription) = self.session.transcription() {
            let model = transcription["model"].as_str().unwrap_or("").to_owned();
            self.transcribe(&item_id, duration_ms, &model);
        }
        if respond
            && !self.responses.iter().any(|r| r.in_conversation())
            && let Err(e) = self.create_response(None, None)
        {
            self.emit_error(e, None);
        }
    }

    /// The transcription events of one user audio item: a stand-in transcript, or a scripted failure.
    fn transcribe(&mut self, item_id: &str, duration_ms: u64, model: &str) {
        let diarize = model.contains("diarize");
        let transcript = stand_in(duration_ms);
        // A rule's turn is the upcoming response's; a transcription session has none, so its turns are
        // the user audio items so far, this one included.
        let turn = match self.session.kind() {
            Kind::Realtime => self.turn + 1,
            Kind::Transcription => self.audio_ms.len() as u32,
        };
        let scripted = self.sh.settings.scenario.as_ref().and_then(|s| {
            s.action_for(&transcript, turn)
                .and_then(|a| a.transcription_error.clone())
        });
        if let Some(e) = scripted {
            let code = e.code.unwrap_or_else(|| "transcription_failed".into());
            self.sh.emit(json!({"type": "conversation.item.input_audio_transcription.failed", "item_id": item_id,
                "content_index": 0, "error": {"type": e.r#type, "code": code, "message": e.message}}));
            return;
        }
        for delta in transcription_deltas(model, &transcript) {
            self.sh.emit(
                json!({"type": "conversation.item.input_audio_transcription.delta", "item_id": item_id,
                "content_index": 0, "delta": delta}),
            );
        }
        if diarize {
            // One speaker, one segment: enough for a client to exercise its diarization path.
            self.sh.emit(json!({"type": "conversation.item.input_audio_transcription.segment", "item_id": item_id,
                "content_index": 0, "text": transcript, "id": format!("seg_{item_id}"), "speaker": "A",
                "start": 0.0, "end": duration_ms as f64 / 1000.0}));
        }
        self.sh.emit(json!({"type": "conversation.item.input_audio_transcription.completed", "item_id": item_id,
            "content_index": 0, "transcript": transcript,
            "usage": transcription_usage(model, duration_ms, &transcript)}));
        if let Some(stored) = self.sh.conversation.get_mut(item_id) {
            stored["content"][0]["transcript"] = json!(transcript);
        }
    }

    /// After the assistant finished and the user stays silent for `idle_timeout_ms`, VAD prompts a response.
    pub(super) fn arm_idle_timeout(&mut self, now: Instant) {
        if let TurnDetection::Vad {
            idle_timeout_ms: Some(ms),
            ..
        } = self.session.turn_detection()
        {
            self.idle_deadline = Some(now + Duration::from_millis(ms));
        }
    }

    pub(super) fn on_idle_timeout(&mut self) {
        if !self.responses.is_empty() || self.sh.playback.is_some() {
            return;
        }
        let item_id = ids::item_id();
        let at = self.input.clock_ms;
        self.sh.emit(json!({"type": "input_audio_buffer.timeout_triggered", "audio_start_ms": at, "audio_end_ms": at, "item_id": item_id}));
        self.input.clear();
        let previous = self.sh.conversation.last_id();
        self.sh.emit(json!({"type": "input_audio_buffer.committed", "previous_item_id": previous, "item_id": item_id}));
        let item = json!({"id": item_id, "object": "realtime.item", "type": "message", "status": "completed",
            "role": "user", "content": [{"type": "input_audio", "transcript": NO_SPEECH}]});
        let _ = self.sh.conversation.insert(item.clone(), None);
        self.sh.emit(
            json!({"type": "conversation.item.added", "previous_item_id": previous, "item": item}),
        );
        self.sh.emit(
            json!({"type": "conversation.item.done", "previous_item_id": previous, "item": item}),
        );
        if let Err(e) = self.create_response(None, None) {
            self.emit_error(e, None);
        }
    }

    /// `response.create` (or a VAD turn): validate the overrides, plan the answer, emit `response.created`.
    pub(super) fn create_response(
        &mut self,
        params: Option<&Value>,
        _event_id: Option<&str>,
    ) -> Result<(), EventError> {
        let empty = json!({});
        let p = object(params.unwrap_or(&empty), "response")?;
        only_keys(p, RESPONSE_KEYS, "response")?;
        let in_conversation = match p.get("conversation") {
            None => true,
            Some(c) => choice(c, "response.conversation", &["auto", "none"])? == "auto",
        };
        if in_conversation && let Some(active) = self.responses.iter().find(|r| r.in_conversation())
        {
            return Err(ParamError::new(
                "conversation_already_has_active_response",
                format!("Conversation already has an active response in progress: {}. Wait until the response is finished before creating a new one.", active.id),
                None,
            )
            .into());
        }
        if let Some(v) = p.get("output_modalities") {
            check_modalities(v, "response.output_modalities")?;
        }
        if let Some(v) = p.get("instructions") {
            crate::params::string(v, "response.instructions")?;
        }
        if let Some(v) = p.get("tools") {
            check_tools(v, "response.tools")?;
        }
        if let Some(v) = p.get("tool_choice") {
            check_tool_choice(v, "response.tool_choice")?;
        }
        if let Some(v) = p.get("max_output_tokens") {
            check_max_output_tokens(v, "response.max_output_tokens")?;
        }
        if let Some(v) = p.get("metadata") {
            check_metadata(v)?;
        }
        let mut audio = json!({"output": self.session.audio_output()});
        if let Some(a) = p.get("audio") {
            let a = object(a, "response.audio")?;
            only_keys(a, &["output"], "response.audio")?;
            if let Some(o) = a.get("output") {
                let o = object(o, "response.audio.output")?;
                only_keys(o, &["format", "voice"], "response.audio.output")?;
                if let Some(f) = o.get("format") {
                    check_format(f, "response.audio.output.format")?;
                    audio["output"]["format"] = f.clone();
                }
                if let Some(v) = o.get("voice") {
                    check_voice(v, "response.audio.output.voice")?;
                    audio["output"]["voice"] = v.clone();
                }
            }
        }
        let context = match p.get("input") {
            Some(input) => self.resolve_input(input)?,
            None => self.sh.conversation.items().to_vec(),
        };
        let context = self.with_stand_in_transcripts(context);
        let tools = p
            .get("tools")
            .cloned()
            .unwrap_or_else(|| self.session.tools());
        let tool_choice = p
            .get("tool_choice")
            .cloned()
            .unwrap_or_else(|| self.session.tool_choice());
        let instructions = p
            .get("instructions")
            .and_then(Value::as_str)
            .unwrap_or_else(|| self.session.instructions())
            .to_owned();
        self.turn += 1;
        let plan = model::plan(
            &model::Context {
                items: &context,
                tools: &tools,
                tool_choice: &tool_choice,
                turn: self.turn,
            },
            self.sh.settings.scenario.as_ref(),
        );
        let context_chars: usize = context.iter().map(|i| i.to_string().len()).sum();
        let audio_ms: u64 = context
            .iter()
            .filter_map(|i| i["id"].as_str())
            .filter_map(|id| self.audio_ms.get(id))
            .sum();
        let spec = ResponseSpec {
            in_conversation,
            conversation_id: self.conversation_id.clone(),
            modalities: p
                .get("output_modalities")
                .cloned()
                .unwrap_or_else(|| self.session.output_modalities()),
            metadata: p.get("metadata").cloned().unwrap_or(Value::Null),
            max_output_tokens: p
                .get("max_output_tokens")
                .or_else(|| self.session.get("max_output_tokens"))
                .cloned()
                .unwrap_or(json!("inf")),
            audio,
            input_text_tokens: ((instructions.len() + context_chars) as u64).div_ceil(4),
            input_audio_tokens: audio_ms / 100,
            speed: self.session.speed(),
            plan,
        };
        let now = self.now;
        let mut r = ActiveResponse::new(spec, &self.sh.settings, self.sh.transport, now);
        self.idle_deadline = None;
        self.last_response_id = Some(r.id.clone());
        self.sh.emit(r.created_event());
        self.emit_rate_limits();
        if !r.advance(now, &mut self.sh) {
            self.responses.push(r);
        } else if self.sh.playback.is_none() {
            self.arm_idle_timeout(now);
        }
        Ok(())
    }

    fn emit_rate_limits(&mut self) {
        let used = self.sh.tokens_used.min(40_000);
        self.sh.emit(json!({"type": "rate_limits.updated", "rate_limits": [
            {"name": "requests", "limit": 5000, "remaining": 5000u32.saturating_sub(self.turn), "reset_seconds": 0.012 * f64::from(self.turn)},
            {"name": "tokens", "limit": 40000, "remaining": 40_000 - used, "reset_seconds": used as f64 * 60.0 / 40_000.0}
        ]}));
    }

    /// `response.input`: a fresh context of inline items and references to conversation items.
    fn resolve_input(&self, input: &Value) -> Result<Vec<Value>, ParamError> {
        let items = input
            .as_array()
            .ok_or_else(|| ParamError::invalid_type("response.input", "an array", input))?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let param = format!("response.input[{i}]");
            let item = normalize_item(item, &param, true)?;
            if item["type"] == "item_reference" {
                let id = item["id"].as_str().unwrap_or_default();
                let found = self
                    .sh
                    .conversation
                    .get(id)
                    .ok_or_else(|| super::conversation::not_found(id, &join(&param, "id")))?;
                out.push(found.clone());
            } else {
                out.push(item);
            }
        }
        Ok(out)
    }

    /// The model "hears" untranscribed audio as a stand-in such as `[speech 1.4 s]`.
    fn with_stand_in_transcripts(&self, mut items: Vec<Value>) -> Vec<Value> {
        for item in &mut items {
            let Some(id) = item["id"].as_str().map(str::to_owned) else {
                continue;
            };
            if let (Some(ms), Some(parts)) =
                (self.audio_ms.get(&id), item["content"].as_array_mut())
            {
                for part in parts
                    .iter_mut()
                    .filter(|p| p["type"] == "input_audio" && p.get("transcript").is_none())
                {
                    part["transcript"] = json!(stand_in(*ms));
                }
            }
        }
        items
    }
}

/// The deterministic "transcript" of user speech: its duration.
pub fn stand_in(duration_ms: u64) -> String {
    format!("[speech {:.1} s]", duration_ms as f64 / 1000.0)
}

/// `whisper-1` sends a turn's transcript in one delta; the streaming models send it word by word
/// (PROTOCOL §15.6), each delta with the space before its word so that they add up to the transcript.
fn transcription_deltas<'a>(model: &str, transcript: &'a str) -> Vec<&'a str> {
    if model == "whisper-1" {
        return vec![transcript];
    }
    let starts = transcript
        .char_indices()
        .filter(|&(i, c)| i > 0 && c == ' ')
        .map(|(i, _)| i);
    let mut cuts: Vec<usize> = std::iter::once(0).chain(starts).collect();
    cuts.push(transcript.len());
    cuts.windows(2).map(|w| &transcript[w[0]..w[1]]).collect()
}

/// The `usage` of a completed transcription: tokens for the `gpt-4o…-transcribe` family, the audio's
/// duration for the others (PROTOCOL §15.6). Tokens are counted as responses count them: 10 a second of
/// audio in, a token per four characters out.
fn transcription_usage(model: &str, duration_ms: u64, transcript: &str) -> Value {
    if model.starts_with("gpt-4o") {
        let audio_tokens = duration_ms / 100;
        let output_tokens = (transcript.chars().count() as u64).div_ceil(4);
        json!({"type": "tokens", "input_tokens": audio_tokens, "output_tokens": output_tokens,
            "total_tokens": audio_tokens + output_tokens,
            "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens}})
    } else {
        json!({"type": "duration", "seconds": duration_ms as f64 / 1000.0})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_models_send_the_transcript_word_by_word() {
        let t = stand_in(1400);
        assert_eq!(transcription_deltas("whisper-1", &t), ["[speech 1.4 s]"]);
        let words = transcription_deltas("gpt-4o-transcribe", &t);
        assert_eq!(words, ["[speech", " 1.4", " s]"]);
        assert_eq!(words.concat(), t);
        assert_eq!(transcription_deltas("gpt-live-transcribe", "").concat(), "");
    }
}
