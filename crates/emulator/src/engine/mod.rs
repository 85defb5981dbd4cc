//! The event engine of one call: client events in, server events and audio commands out, in the
//! transport-agnostic terms of `io`. No WebRTC or WebSocket code here, and no clock: every input comes with
//! the time it happened and the engine says when it next needs waking, so the same engine runs on the wall
//! clock for real calls (`driver`, one tokio task per call) and on a virtual clock in tests (`testing`).
//!
//! The engine knows which kind of transport it serves ([`Transport`]) only where the API differs: how
//! audio travels (a track and `output_audio_buffer.*` on WebRTC; `response.output_audio.delta` and
//! `input_audio_buffer.append` on WebSocket) and which client events are accepted.
//!
//! Besides the call's own transport, sideband sockets may attach to a call ([`Peer::Sideband`]): they hear
//! the call's server events from then on and their client events act on the same session. An `error`
//! answering a client event goes to the peer that sent it; everything else goes to everyone.

mod audio_in;
mod client;
mod conversation;
mod driver;
mod peers;
mod response;
pub mod testing;
mod turns;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::config::{EmulatorConfig, Pace};
use crate::ids;
use crate::io::{CloseReason, FromEngine, ToEngine};
use crate::scenario::Scenario;
use crate::session::{ModelChange, Session};

pub use crate::io::Transport;
pub use audio_in::is_speech;
use audio_in::{Frames, InputAudio};
use conversation::Conversation;
pub use driver::{AttachError, EngineHandle, start};
pub use peers::{Audience, Peer};
use response::ActiveResponse;

/// Audio in one `response.output_audio.delta` on WebSocket (the last of a response may be shorter). The
/// real API's chunking is not documented (PROTOCOL §15.10); 100 ms is within what §15.5 suggests.
pub const AUDIO_CHUNK: Duration = Duration::from_millis(100);

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
    /// Greet each sideband socket with its own `session.created` (the real API is not seen to).
    pub sideband_session_created: bool,
    /// How many sideband sockets may be attached to one call at once.
    pub max_sidebands: u32,
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
            sideband_session_created: config.sideband_session_created,
            max_sidebands: config.max_sidebands_per_call,
        }
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings::from_config(&EmulatorConfig::default())
    }
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
    pub transport: Transport,
    pub conversation: Conversation,
    outbox: VecDeque<(Audience, FromEngine)>,
    playback: Option<Playback>,
    closing: bool,
    pub tokens_used: u64,
}

impl Shared {
    /// Queues a server event for everyone, stamping it with a fresh `event_id` right after its `type`.
    pub fn emit(&mut self, event: Value) {
        self.emit_to(Audience::All, event);
    }

    /// Queues a server event for `audience`.
    pub fn emit_to(&mut self, audience: Audience, event: Value) {
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
            .push_back((audience, FromEngine::Send(Value::Object(out).to_string())));
    }

    /// Queues an audio command or a close (for the call's transport; the driver tells sidebands itself).
    pub fn command(&mut self, msg: FromEngine) {
        self.outbox.push_back((Audience::All, msg));
    }

    pub fn close(&mut self, reason: CloseReason) {
        if !self.closing {
            self.command(FromEngine::Close(reason));
            self.closing = true;
        }
    }

    pub fn start_playback(
        &mut self,
        response_id: &str,
        item_id: &str,
        duration: Duration,
        now: Instant,
    ) {
        self.command(FromEngine::PlayAudio { duration });
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
    /// Appended samples waiting for a whole voice-activity frame (WebSocket).
    frames: Frames,
    /// Duration of user audio items, for usage.
    audio_ms: HashMap<String, u64>,
    open: bool,
    /// Client events of sidebands that arrived before the call's channel opened: handled right after its
    /// `session.created`, so the call hears nothing before it.
    held: VecDeque<(u32, String)>,
    /// The peer whose input is being handled (`None` for timers): where an `error` it causes goes.
    source: Option<Peer>,
    /// Responses created so far (scenario rules match on it).
    turn: u32,
    last_response_id: Option<String>,
    idle_deadline: Option<Instant>,
    expires_at: Instant,
    /// Server events handed to the transport (for `close_after_events`).
    sent: u32,
    /// The time of the input being handled, as the driver gave it: the engine's only "now".
    now: Instant,
    /// When the call started, on the monotonic clock and on the wall clock (for `expires_at`).
    started: Instant,
    started_wall: SystemTime,
    /// The transport has gone, or the engine's `Close` has been handed out: nothing more happens.
    ended: bool,
}

impl Engine {
    /// A call that started at `now` (monotonic) and `wall` (the same moment on the wall clock).
    pub(crate) fn new(
        session: Session,
        settings: Arc<EngineSettings>,
        transport: Transport,
        now: Instant,
        wall: SystemTime,
    ) -> Engine {
        Engine {
            expires_at: now + settings.max_session,
            sh: Shared {
                settings,
                transport,
                conversation: Conversation::default(),
                outbox: VecDeque::new(),
                playback: None,
                closing: false,
                tokens_used: 0,
            },
            session,
            conversation_id: ids::conversation_id(),
            responses: Vec::new(),
            input: InputAudio::default(),
            frames: Frames::default(),
            audio_ms: HashMap::new(),
            open: false,
            held: VecDeque::new(),
            source: None,
            turn: 0,
            last_response_id: None,
            idle_deadline: None,
            sent: 0,
            now,
            started: now,
            started_wall: wall,
            ended: false,
        }
    }

    /// Once the call is closing, inputs and timers change nothing (the real driver stops at the close).
    fn accepts_input(&self) -> bool {
        !self.ended && !self.sh.closing
    }

    /// Moves the engine's clock to `now`; a driver never goes back, and neither does the engine.
    fn set_now(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// One message from the call's transport, which arrived at `now`.
    pub(crate) fn handle(&mut self, msg: ToEngine, now: Instant) {
        self.handle_from(Peer::Call, msg, now);
    }

    /// One message from `peer`, which arrived at `now`.
    pub(crate) fn handle_from(&mut self, peer: Peer, msg: ToEngine, now: Instant) {
        if !self.accepts_input() {
            return;
        }
        self.set_now(now);
        self.source = Some(peer);
        match peer {
            Peer::Call => self.on_call_input(msg),
            Peer::Sideband(id) => self.on_sideband_input(id, msg),
        }
        self.source = None;
    }

    pub(super) fn on_call_input(&mut self, msg: ToEngine) {
        match msg {
            ToEngine::ChannelOpen => {
                if !self.open {
                    self.open = true;
                    // The call's own greeting: a sideband attached this early is not greeted by it.
                    let session = self.session_json();
                    self.sh.emit_to(
                        Audience::Only(Peer::Call),
                        json!({"type": "session.created", "session": session}),
                    );
                    self.release_held();
                }
            }
            ToEngine::ClientMessage(text) => self.on_client_message(&text),
            ToEngine::BinaryMessage => {
                let e = crate::params::ParamError::new(
                    "invalid_event",
                    "Expected a text WebSocket message; binary frames are not supported.",
                    None,
                );
                self.emit_error(e.into(), None);
            }
            ToEngine::InputLevel { dbov, duration } => {
                if self.open {
                    self.on_input_level(dbov, duration);
                }
            }
            ToEngine::Closed => self.ended = true,
        }
    }

    /// `POST /realtime/calls/{id}/hangup`.
    pub(crate) fn hangup(&mut self) {
        if self.accepts_input() {
            self.sh.close(CloseReason::Hangup);
        }
    }

    /// A key pressed on an accepted SIP call's keypad (PROTOCOL §8.2): everyone hears it.
    pub(crate) fn dtmf(&mut self, key: &str, now: Instant) {
        if !self.accepts_input() {
            return;
        }
        self.set_now(now);
        let received_at = self.now_unix();
        self.sh.emit(
            json!({"type": "input_audio_buffer.dtmf_event_received", "event": key,
            "received_at": received_at}),
        );
    }

    /// The engine's "now" on the wall clock, in Unix seconds.
    fn now_unix(&self) -> u64 {
        let wall = self.started_wall + self.now.saturating_duration_since(self.started);
        wall.duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    /// When the engine next needs `tick`: the next streamed step, the end of playback, the idle timeout
    /// or the session's expiry. `None` once the call is over.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if !self.accepts_input() {
            return None;
        }
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
        Some(at)
    }

    /// The next message, in order, and who it is for. After the `Close` (its own, or the fault injected
    /// by `close_after_events`) there are no more.
    pub(crate) fn poll_output(&mut self) -> Option<(Audience, FromEngine)> {
        if self.ended {
            return None;
        }
        let (audience, msg) = self.sh.outbox.pop_front()?;
        match &msg {
            FromEngine::Close(_) => self.ended = true,
            // The fault counts what the call's own transport carries.
            FromEngine::Send(_) if audience.reaches(Peer::Call) => {
                self.sent += 1;
                if self.sh.settings.close_after_events == Some(self.sent) {
                    tracing::info!(after = self.sent, "fault injection: closing the call");
                    self.sh.outbox.clear();
                    self.sh.command(FromEngine::Close(CloseReason::Dropped));
                    self.sh.closing = true;
                }
            }
            FromEngine::Send(_) | FromEngine::PlayAudio { .. } | FromEngine::StopAudio => {}
        }
        Some((audience, msg))
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.ended
    }

    fn session_json(&self) -> Value {
        let mut s = self.session.to_json();
        let now_unix = self.now_unix();
        s["expires_at"] = json!(now_unix + self.sh.settings.max_session.as_secs());
        s
    }

    /// Runs every timer due at `now`: streamed steps, the end of playback, the idle timeout, expiry.
    pub(crate) fn tick(&mut self, now: Instant) {
        if !self.accepts_input() {
            return;
        }
        self.set_now(now);
        let now = self.now;
        if now >= self.expires_at {
            let minutes = self.sh.settings.max_session.as_secs() / 60;
            let message = format!("Your session hit the maximum duration of {minutes} minutes.");
            self.sh.emit(json!({"type": "error", "error": {"type": "invalid_request_error", "code": "session_expired",
                "message": message, "param": null, "event_id": null}}));
            self.sh.close(CloseReason::Expired(message));
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
