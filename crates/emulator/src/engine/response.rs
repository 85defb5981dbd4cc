//! One response being streamed: its precomputed steps (paced), the events each step emits, and how it
//! ends (completed, cancelled, failed).
//!
//! Spoken answers differ by transport. Over WebRTC the transcript streams word by word and the audio
//! plays on the track (`output_audio_buffer.started` … `stopped`). Over WebSocket the audio itself is in
//! the events: one `response.output_audio.delta` per [`AUDIO_CHUNK`] of the voice, at real time on the
//! realistic pace, each word's transcript delta just before the chunk in which the word starts.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use super::{AUDIO_CHUNK, EngineSettings, Shared};
use crate::audio::{Format, Voice};
use crate::ids;
use crate::io::Transport;
use crate::model::{Output, Plan};
use crate::scenario::ScriptedError;

/// What the engine decided before the first event: where the response goes and what it says.
#[derive(Debug)]
pub struct ResponseSpec {
    pub in_conversation: bool,
    pub conversation_id: String,
    pub modalities: Value,
    pub metadata: Value,
    pub max_output_tokens: Value,
    /// `{"output": {"format", "voice"}}` echoed on the response.
    pub audio: Value,
    pub input_text_tokens: u64,
    pub input_audio_tokens: u64,
    /// The session's `audio.output.speed` (0.25–1.5): the voice takes `1 / speed` as long per character.
    pub speed: f64,
    pub plan: Plan,
}

impl ResponseSpec {
    /// How long the voice takes over one character at this response's speed.
    fn per_char(&self, settings: &EngineSettings) -> Duration {
        settings.audio_per_char.div_f64(self.speed)
    }
}

#[derive(Debug)]
enum Step {
    ItemAdded,
    PartAdded,
    StartAudio,
    Delta(String),
    /// The next this many samples of the voice, as one `response.output_audio.delta` (WebSocket).
    Audio(usize),
    ArgsDelta(String),
    Finish,
    Fail(ScriptedError),
    Drop,
}

#[derive(Debug)]
pub struct ActiveResponse {
    pub id: String,
    pub item_id: String,
    spec: ResponseSpec,
    /// Full text (or transcript, or function arguments) and what has been streamed so far.
    text: String,
    streamed: String,
    incomplete_max_tokens: bool,
    item_added: bool,
    steps: VecDeque<(Duration, Step)>,
    pub next_at: Instant,
    /// The voice and its encoding, for a spoken answer over WebSocket.
    voice: Option<(Voice, Format)>,
}

fn audio_out(spec: &ResponseSpec) -> bool {
    spec.modalities
        .as_array()
        .is_some_and(|m| m.iter().any(|x| x == "audio"))
}

fn tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

/// The transcript and audio deltas of a spoken answer over WebSocket, on the audio's timeline: chunk `k`
/// leaves `k` chunks after the first (at real time on the realistic pace, at once on the instant one),
/// and each word's transcript delta just before the chunk in which its first character is spoken.
fn spoken_steps(
    text: &str,
    voice: &Voice,
    format: Format,
    settings: &EngineSettings,
    per_char: Duration,
) -> Vec<(Duration, Step)> {
    let per_chunk = (AUDIO_CHUNK.as_micros() * u128::from(format.sample_rate()) / 1_000_000) as u64;
    let total = voice.remaining();
    let chunks = total.div_ceil(per_chunk);
    let mut words = text.split_inclusive(' ').scan(0u32, |at, word| {
        let start = per_char * *at;
        *at += word.chars().count() as u32;
        Some((start, word.to_owned()))
    });
    let mut next_word = words.next();
    let mut steps = vec![];
    for k in 0..chunks {
        let mut wait = if k == 0 {
            Duration::ZERO
        } else {
            settings.pace.audio_gap(AUDIO_CHUNK)
        };
        let ends = AUDIO_CHUNK * (k as u32 + 1);
        while let Some((start, word)) = next_word.take() {
            if start >= ends && k + 1 < chunks {
                next_word = Some((start, word));
                break;
            }
            steps.push((std::mem::take(&mut wait), Step::Delta(word)));
            next_word = words.next();
        }
        let n = per_chunk.min(total - k * per_chunk) as usize;
        steps.push((wait, Step::Audio(n)));
    }
    // Without audio (no speech time per character), the transcript still streams.
    for (_, word) in next_word.into_iter().chain(words) {
        let wait = if steps.is_empty() {
            Duration::ZERO
        } else {
            settings.pace.between_deltas()
        };
        steps.push((wait, Step::Delta(word)));
    }
    steps
}

impl ActiveResponse {
    pub fn new(
        spec: ResponseSpec,
        settings: &EngineSettings,
        transport: Transport,
        now: Instant,
    ) -> ActiveResponse {
        let pace = settings.pace;
        let first = pace.first_output() + spec.plan.delay;
        let gap = pace.between_deltas();
        let mut steps = VecDeque::new();
        let mut text = String::new();
        let mut incomplete_max_tokens = false;
        let mut voice = None;
        match &spec.plan.output {
            Output::Text(t) => {
                text = t.clone();
                if let Some(max) = spec.max_output_tokens.as_u64()
                    && tokens(text.chars().count()) > max
                {
                    text = text.chars().take((max * 4) as usize).collect();
                    incomplete_max_tokens = true;
                }
                steps.push_back((first, Step::ItemAdded));
                steps.push_back((Duration::ZERO, Step::PartAdded));
                let spoken = audio_out(&spec);
                if spoken && transport == Transport::WebSocket {
                    let format = Format::of(&spec.audio["output"]["format"]);
                    let per_char = spec.per_char(settings);
                    let length = per_char * text.chars().count() as u32;
                    let v = Voice::new(format.sample_rate(), length);
                    steps.extend(spoken_steps(&text, &v, format, settings, per_char));
                    voice = Some((v, format));
                } else {
                    if spoken {
                        steps.push_back((Duration::ZERO, Step::StartAudio));
                    }
                    for (i, word) in text.split_inclusive(' ').enumerate() {
                        let wait = if i == 0 { Duration::ZERO } else { gap };
                        steps.push_back((wait, Step::Delta(word.to_owned())));
                    }
                }
                steps.push_back((Duration::ZERO, Step::Finish));
            }
            Output::ToolCall { arguments, .. } => {
                text = arguments.clone();
                steps.push_back((first, Step::ItemAdded));
                let chars: Vec<char> = arguments.chars().collect();
                for (i, chunk) in chars.chunks(12).enumerate() {
                    let wait = if i == 0 { Duration::ZERO } else { gap };
                    steps.push_back((wait, Step::ArgsDelta(chunk.iter().collect())));
                }
                steps.push_back((Duration::ZERO, Step::Finish));
            }
            Output::Error(e) => steps.push_back((first, Step::Fail(e.clone()))),
            Output::Drop => steps.push_back((first, Step::Drop)),
        }
        let next_at = now + steps.front().map(|s| s.0).unwrap_or_default();
        ActiveResponse {
            id: ids::response_id(),
            item_id: ids::item_id(),
            spec,
            text,
            streamed: String::new(),
            incomplete_max_tokens,
            item_added: false,
            steps,
            next_at,
            voice,
        }
    }

    pub fn in_conversation(&self) -> bool {
        self.spec.in_conversation
    }

    /// `response.created`: status `in_progress`, no output yet.
    pub fn created_event(&self) -> Value {
        json!({"type": "response.created", "response": self.object("in_progress", None, vec![], None)})
    }

    /// Runs every step that is due. Returns true once the response has ended.
    pub fn advance(&mut self, now: Instant, sh: &mut Shared) -> bool {
        while self.next_at <= now {
            let Some((_, step)) = self.steps.pop_front() else {
                return true;
            };
            if self.run(step, sh, now) {
                return true;
            }
            // From when the step was due, not when it ran: a driver that wakes late does not push the
            // rest of the response later (over WebSocket the audio chunks keep to real time).
            match self.steps.front() {
                Some((wait, _)) => self.next_at += *wait,
                None => return true,
            }
        }
        false
    }

    fn ids(&self) -> Value {
        json!({"response_id": self.id, "item_id": self.item_id, "output_index": 0, "content_index": 0})
    }

    fn with_ids(&self, ty: &str, extra: Value) -> Value {
        let mut v = json!({"type": ty});
        for (k, x) in self.ids().as_object().into_iter().flatten() {
            v[k] = x.clone();
        }
        for (k, x) in extra.as_object().into_iter().flatten() {
            v[k] = x.clone();
        }
        v
    }

    /// Returns true when the response ended with this step.
    fn run(&mut self, step: Step, sh: &mut Shared, now: Instant) -> bool {
        let audio = audio_out(&self.spec);
        match step {
            Step::ItemAdded => {
                let item = self.item("in_progress", false);
                sh.emit(json!({"type": "response.output_item.added", "response_id": self.id, "output_index": 0, "item": item}));
                if self.spec.in_conversation {
                    let previous = sh.conversation.last_id();
                    let _ = sh.conversation.insert(item.clone(), None);
                    sh.emit(json!({"type": "conversation.item.added", "previous_item_id": previous, "item": item}));
                }
                self.item_added = true;
            }
            Step::PartAdded => {
                let part = if audio {
                    json!({"type": "audio", "transcript": ""})
                } else {
                    json!({"type": "text", "text": ""})
                };
                let ev = self.with_ids("response.content_part.added", json!({"part": part}));
                sh.emit(ev);
            }
            Step::StartAudio => {
                let duration = self.spec.per_char(&sh.settings) * self.text.chars().count() as u32;
                sh.start_playback(&self.id, &self.item_id, duration, now);
            }
            Step::Delta(d) => {
                self.streamed.push_str(&d);
                let ty = if audio {
                    "response.output_audio_transcript.delta"
                } else {
                    "response.output_text.delta"
                };
                let ev = self.with_ids(ty, json!({"delta": d}));
                sh.emit(ev);
            }
            Step::Audio(n) => {
                let Some((voice, format)) = &mut self.voice else {
                    return false;
                };
                let bytes = format.encode(&voice.take(n));
                let delta = base64::engine::general_purpose::STANDARD.encode(bytes);
                let ev = self.with_ids("response.output_audio.delta", json!({"delta": delta}));
                sh.emit(ev);
            }
            Step::ArgsDelta(d) => {
                self.streamed.push_str(&d);
                let (_, call_id) = self.call();
                sh.emit(
                    json!({"type": "response.function_call_arguments.delta", "response_id": self.id,
                    "item_id": self.item_id, "output_index": 0, "call_id": call_id, "delta": d}),
                );
            }
            Step::Finish => {
                self.finish(sh);
                return true;
            }
            Step::Fail(e) => {
                sh.emit(json!({"type": "error", "error": {"type": e.r#type, "code": e.code, "message": e.message,
                    "param": null, "event_id": null}}));
                let details = json!({"type": "failed", "error": {"type": e.r#type, "code": e.code.clone().unwrap_or_else(|| "server_error".into())}});
                self.done(sh, "failed", Some(details), vec![]);
                return true;
            }
            Step::Drop => {
                sh.close(crate::io::CloseReason::Dropped);
                return true;
            }
        }
        false
    }

    fn call(&self) -> (String, String) {
        match &self.spec.plan.output {
            Output::ToolCall { name, .. } => {
                (name.clone(), format!("call_{}", &self.item_id[5..21]))
            }
            _ => (String::new(), String::new()),
        }
    }

    /// The output item in its current state (`final_text`: the whole text rather than what was streamed).
    fn item(&self, status: &str, final_text: bool) -> Value {
        let text = if final_text {
            &self.text
        } else {
            &self.streamed
        };
        if let Output::ToolCall { .. } = self.spec.plan.output {
            let (name, call_id) = self.call();
            let arguments = if status == "in_progress" {
                ""
            } else {
                text.as_str()
            };
            return json!({"id": self.item_id, "object": "realtime.item", "type": "function_call", "status": status,
                "name": name, "call_id": call_id, "arguments": arguments});
        }
        let content = if status == "in_progress" {
            json!([])
        } else if audio_out(&self.spec) {
            json!([{"type": "output_audio", "transcript": text}])
        } else {
            json!([{"type": "output_text", "text": text}])
        };
        json!({"id": self.item_id, "object": "realtime.item", "type": "message", "status": status,
            "role": "assistant", "content": content})
    }

    fn finish(&mut self, sh: &mut Shared) {
        let audio = audio_out(&self.spec);
        let status = if self.incomplete_max_tokens {
            "incomplete"
        } else {
            "completed"
        };
        match &self.spec.plan.output {
            Output::ToolCall { .. } => {
                let (name, call_id) = self.call();
                sh.emit(json!({"type": "response.function_call_arguments.done", "response_id": self.id,
                    "item_id": self.item_id, "output_index": 0, "call_id": call_id, "name": name, "arguments": self.text}));
            }
            _ if audio => {
                sh.emit(self.with_ids("response.output_audio.done", json!({})));
                sh.emit(self.with_ids(
                    "response.output_audio_transcript.done",
                    json!({"transcript": self.text}),
                ));
                sh.emit(self.with_ids(
                    "response.content_part.done",
                    json!({"part": {"type": "audio", "transcript": self.text}}),
                ));
            }
            _ => {
                sh.emit(self.with_ids("response.output_text.done", json!({"text": self.text})));
                sh.emit(self.with_ids(
                    "response.content_part.done",
                    json!({"part": {"type": "text", "text": self.text}}),
                ));
            }
        }
        let item = self.item(status, true);
        sh.emit(json!({"type": "response.output_item.done", "response_id": self.id, "output_index": 0, "item": item}));
        self.item_done(sh, &item);
        let details = self
            .incomplete_max_tokens
            .then(|| json!({"type": "incomplete", "reason": "max_output_tokens"}));
        self.done(sh, status, details, vec![item]);
    }

    fn item_done(&self, sh: &mut Shared, item: &Value) {
        if !self.spec.in_conversation {
            return;
        }
        if let Some(stored) = sh.conversation.get_mut(&self.item_id) {
            *stored = item.clone();
        }
        let previous = {
            let items = sh.conversation.items();
            let at = items.iter().position(|i| i["id"] == self.item_id);
            at.and_then(|i| i.checked_sub(1))
                .and_then(|i| items[i]["id"].as_str())
                .map(str::to_owned)
        };
        sh.emit(
            json!({"type": "conversation.item.done", "previous_item_id": previous, "item": item}),
        );
    }

    /// Ends the response early: `response.done` with `status: cancelled` and what had been streamed.
    pub fn cancel(&mut self, reason: &str, sh: &mut Shared) {
        let mut output = vec![];
        if self.item_added {
            let item = self.item("incomplete", false);
            if self.spec.in_conversation
                && let Some(stored) = sh.conversation.get_mut(&self.item_id)
            {
                *stored = item.clone();
            }
            output.push(item);
        }
        self.steps.clear();
        self.done(
            sh,
            "cancelled",
            Some(json!({"type": "cancelled", "reason": reason})),
            output,
        );
    }

    fn done(&mut self, sh: &mut Shared, status: &str, details: Option<Value>, output: Vec<Value>) {
        let out_chars = self.streamed_or_final(status).chars().count();
        let text_tokens = tokens(out_chars);
        let audio_tokens =
            if audio_out(&self.spec) && !matches!(self.spec.plan.output, Output::ToolCall { .. }) {
                // 20 audio tokens per second of speech.
                let ms = self.spec.per_char(&sh.settings).as_millis() as u64 * out_chars as u64;
                ms / 50
            } else {
                0
            };
        let input = self.spec.input_text_tokens + self.spec.input_audio_tokens;
        let output_tokens = text_tokens + audio_tokens;
        let usage = json!({
            "total_tokens": input + output_tokens, "input_tokens": input, "output_tokens": output_tokens,
            "input_token_details": {"text_tokens": self.spec.input_text_tokens, "audio_tokens": self.spec.input_audio_tokens,
                "image_tokens": 0, "cached_tokens": 0,
                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0}},
            "output_token_details": {"text_tokens": text_tokens, "audio_tokens": audio_tokens}
        });
        sh.tokens_used += input + output_tokens;
        let response = self.object(status, details, output, Some(usage));
        sh.emit(json!({"type": "response.done", "response": response}));
    }

    fn streamed_or_final(&self, status: &str) -> &str {
        if status == "cancelled" {
            &self.streamed
        } else {
            &self.text
        }
    }

    fn object(
        &self,
        status: &str,
        details: Option<Value>,
        output: Vec<Value>,
        usage: Option<Value>,
    ) -> Value {
        let mut r = json!({"object": "realtime.response", "id": self.id, "status": status});
        // The schema types these as objects/strings, so they are left out rather than sent as null.
        if let Some(d) = details {
            r["status_details"] = d;
        }
        r["output"] = Value::Array(output);
        if self.spec.in_conversation {
            r["conversation_id"] = json!(self.spec.conversation_id);
        }
        r["output_modalities"] = self.spec.modalities.clone();
        r["max_output_tokens"] = self.spec.max_output_tokens.clone();
        r["audio"] = self.spec.audio.clone();
        if let Some(u) = usage {
            r["usage"] = u;
        }
        r["metadata"] = self.spec.metadata.clone();
        r
    }
}
