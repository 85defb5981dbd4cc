//! The event engine of one call: client events in, server events and audio commands out, through the
//! transport-agnostic channels of `io`. One tokio task per call; no WebRTC knowledge here.

mod audio_in;
mod client;
mod conversation;
mod response;
mod turns;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::{EmulatorConfig, Pace};
use crate::ids;
use crate::io::{FromEngine, ToEngine, TransportIo};
use crate::scenario::Scenario;
use crate::session::{ModelChange, Session};

use audio_in::InputAudio;
pub use audio_in::is_speech;
use conversation::Conversation;
use response::ActiveResponse;

/// The per-call settings the engine takes from `EmulatorConfig`.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    pub pace: Pace,
    pub audio_per_char: Duration,
    pub scenario: Option<Scenario>,
    pub max_session: Duration,
    /// Close the call after this many server events (fault injection).
    pub close_after_events: Option<u32>,
    /// What `session.update` does with another model.
    pub model_change: ModelChange,
}

impl EngineSettings {
    pub fn from_config(config: &EmulatorConfig) -> EngineSettings {
        EngineSettings {
            pace: config.pace,
            audio_per_char: config.audio_per_char,
            scenario: config.scenario.clone(),
            max_session: config.max_session,
            close_after_events: config.effective_faults().close_after_events,
            model_change: config.model_change,
        }
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings::from_config(&EmulatorConfig::default())
    }
}

enum Control {
    Hangup,
}

/// Lets the HTTP layer end a call (`POST /realtime/calls/{id}/hangup`).
#[derive(Clone, Debug)]
pub struct EngineHandle {
    control: mpsc::Sender<Control>,
}

impl EngineHandle {
    /// Asks the engine to close the call; false if it had already ended.
    pub async fn hangup(&self) -> bool {
        self.control.send(Control::Hangup).await.is_ok()
    }

    pub fn is_finished(&self) -> bool {
        self.control.is_closed()
    }
}

/// Starts the engine task of one call and returns its handle and the transport's ends of the channels.
/// The engine says nothing until the transport reports `ToEngine::ChannelOpen`.
pub fn start(session: Session, settings: Arc<EngineSettings>) -> (EngineHandle, TransportIo) {
    let (to_engine, inbox) = mpsc::channel(1024);
    let (out, from_engine) = mpsc::channel(1024);
    let (control, control_rx) = mpsc::channel(4);
    let now = Instant::now();
    let engine = Engine {
        sh: Shared {
            settings: settings.clone(),
            conversation: Conversation::default(),
            outbox: Vec::new(),
            playback: None,
            closing: false,
            tokens_used: 0,
        },
        session,
        conversation_id: ids::conversation_id(),
        responses: Vec::new(),
        input: InputAudio::default(),
        audio_ms: HashMap::new(),
        open: false,
        turn: 0,
        last_response_id: None,
        idle_deadline: None,
        expires_at: now + settings.max_session,
        sent: 0,
    };
    tokio::spawn(engine.run(inbox, control_rx, out));
    (
        EngineHandle { control },
        TransportIo {
            to_engine,
            from_engine,
        },
    )
}

/// Audio being played out for a response (the transport plays it; the engine keeps time).
#[derive(Debug)]
pub(crate) struct Playback {
    response_id: String,
    item_id: String,
    started: Instant,
    ends_at: Instant,
}

/// State that responses write to while they stream.
pub(crate) struct Shared {
    pub settings: Arc<EngineSettings>,
    pub conversation: Conversation,
    outbox: Vec<FromEngine>,
    playback: Option<Playback>,
    closing: bool,
    pub tokens_used: u64,
}

impl Shared {
    /// Queues a server event, stamping it with a fresh `event_id` right after its `type`.
    pub fn emit(&mut self, event: Value) {
        let Value::Object(fields) = event else {
            return;
        };
        let mut out = Map::new();
        if let Some(t) = fields.get("type") {
            out.insert("type".into(), t.clone());
        }
        out.insert("event_id".into(), json!(ids::event_id()));
        for (k, v) in fields {
            if k != "type" {
                out.insert(k, v);
            }
        }
        self.outbox
            .push(FromEngine::Send(Value::Object(out).to_string()));
    }

    pub fn close(&mut self) {
        if !self.closing {
            self.outbox.push(FromEngine::Close);
            self.closing = true;
        }
    }

    pub fn start_playback(&mut self, response_id: &str, item_id: &str, duration: Duration) {
        let now = Instant::now();
        self.outbox.push(FromEngine::PlayAudio { duration });
        self.emit(json!({"type": "output_audio_buffer.started", "response_id": response_id}));
        self.playback = Some(Playback {
            response_id: response_id.to_owned(),
            item_id: item_id.to_owned(),
            started: now,
            ends_at: now + duration,
        });
    }
}

pub(crate) struct Engine {
    sh: Shared,
    session: Session,
    conversation_id: String,
    responses: Vec<ActiveResponse>,
    input: InputAudio,
    /// Duration of user audio items, for usage.
    audio_ms: HashMap<String, u64>,
    open: bool,
    /// Responses created so far (scenario rules match on it).
    turn: u32,
    last_response_id: Option<String>,
    idle_deadline: Option<Instant>,
    expires_at: Instant,
    sent: u32,
}

impl Engine {
    async fn run(
        mut self,
        mut inbox: mpsc::Receiver<ToEngine>,
        mut control: mpsc::Receiver<Control>,
        out: mpsc::Sender<FromEngine>,
    ) {
        loop {
            if !self.flush(&out).await || self.sh.closing {
                break;
            }
            let deadline = self.next_deadline();
            tokio::select! {
                msg = inbox.recv() => match msg {
                    None | Some(ToEngine::Closed) => break,
                    Some(m) => self.on_transport(m),
                },
                Some(Control::Hangup) = control.recv() => self.sh.close(),
                _ = tokio::time::sleep_until(deadline) => self.on_timer(Instant::now()),
            }
        }
        tracing::debug!(session = ?self.session.get("id"), "call engine ended");
    }

    /// Sends the queued output; false once the transport is gone or the call was closed.
    async fn flush(&mut self, out: &mpsc::Sender<FromEngine>) -> bool {
        for msg in std::mem::take(&mut self.sh.outbox) {
            let is_event = matches!(msg, FromEngine::Send(_));
            let is_close = matches!(msg, FromEngine::Close);
            if out.send(msg).await.is_err() {
                return false;
            }
            if is_close {
                return false;
            }
            if is_event {
                self.sent += 1;
                if self.sh.settings.close_after_events == Some(self.sent) {
                    tracing::info!(after = self.sent, "fault injection: closing the call");
                    let _ = out.send(FromEngine::Close).await;
                    return false;
                }
            }
        }
        true
    }

    fn next_deadline(&self) -> Instant {
        let mut at = self.expires_at;
        for r in &self.responses {
            at = at.min(r.next_at);
        }
        if let Some(p) = &self.sh.playback
            && !self.responses.iter().any(|r| r.id == p.response_id)
        {
            at = at.min(p.ends_at);
        }
        if let Some(idle) = self.idle_deadline {
            at = at.min(idle);
        }
        at
    }

    fn on_transport(&mut self, msg: ToEngine) {
        match msg {
            ToEngine::ChannelOpen => {
                if !self.open {
                    self.open = true;
                    let session = self.session_json();
                    self.sh
                        .emit(json!({"type": "session.created", "session": session}));
                }
            }
            ToEngine::ClientMessage(text) => self.on_client_message(&text),
            ToEngine::InputLevel { dbov, duration } => {
                if self.open {
                    self.on_input_level(dbov, duration);
                }
            }
            ToEngine::Closed => {}
        }
    }

    fn session_json(&self) -> Value {
        let mut s = self.session.to_json();
        let now_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        s["expires_at"] = json!(now_unix + self.sh.settings.max_session.as_secs());
        s
    }

    fn on_timer(&mut self, now: Instant) {
        if now >= self.expires_at {
            let minutes = self.sh.settings.max_session.as_secs() / 60;
            self.sh.emit(json!({"type": "error", "error": {"type": "invalid_request_error", "code": "session_expired",
                "message": format!("Your session hit the maximum duration of {minutes} minutes."),
                "param": null, "event_id": null}}));
            self.sh.close();
            return;
        }
        let mut finished = vec![];
        for (i, r) in self.responses.iter_mut().enumerate() {
            if r.next_at <= now && r.advance(now, &mut self.sh) {
                finished.push(i);
            }
        }
        for i in finished.into_iter().rev() {
            self.responses.remove(i);
            if self.sh.playback.is_none() {
                self.arm_idle_timeout(now);
            }
        }
        let playback_over = self.sh.playback.as_ref().is_some_and(|p| {
            p.ends_at <= now && !self.responses.iter().any(|r| r.id == p.response_id)
        });
        if playback_over && let Some(p) = self.sh.playback.take() {
            self.sh
                .emit(json!({"type": "output_audio_buffer.stopped", "response_id": p.response_id}));
            self.arm_idle_timeout(now);
        }
        if self.idle_deadline.is_some_and(|d| d <= now) {
            self.idle_deadline = None;
            self.on_idle_timeout();
        }
    }
}
