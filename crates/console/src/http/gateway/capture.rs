//! Server-side capture of WebRTC calls, and the recording of sidebands into their call's session.
//!
//! Whenever the server knows a call's id (a call made through `/api/rt/session` or `/v1/realtime/calls`, or
//! one a browser reports with `PATCH /api/sessions/{id}`), it attaches a sideband of its own
//! (`/realtime?call_id=…`, read-only) and records the call's server events into the call's session. So a
//! session is complete even when the browser forwards nothing, or closes its tab mid-answer. A sideband a
//! client opens through the gateway records into the same session.
//!
//! A call's session may then get the same server event from several places: the browser forwards it
//! (numbered by the browser, seq 2 and up), and each sideband receives it. Each is stored once:
//! * Everything a sideband sees goes into the session's [`Tap`], a queue that holds it for [`GRACE`] before it
//!   is written, in arrival order, at the next seqs of the server's range.
//! * The browser's ingest tells the tap which server events it stored (by `event_id`); a held event the
//!   browser stored meanwhile is dropped, and so is one another sideband already wrote.
//! * So while a browser forwards, its copies are the ones kept, in its order among its client events; what it
//!   never sends (the rest of an answer after its tab closed) is written by the tap, after the browser's
//!   events. A browser copy that arrives more than [`GRACE`] late (retried after an outage) is stored twice.
//! * Events held in the tap show in the library [`GRACE`] after they happened.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use realtime_store::{Direction, NewEvent, SessionId, Store};
use realtime_token::tungstenite::Message as UpMessage;
use realtime_token::{CallId, Credential, DialError};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::record::Recorder;
use crate::AppState;
use crate::http::rt::now_ms;

/// How long a sideband's event waits for the browser's copy before the tap writes it: 8 of the browser
/// recorder's 250 ms batches.
pub const GRACE: Duration = Duration::from_secs(2);
/// How often a tap releases what has waited long enough.
const TICK: Duration = Duration::from_millis(100);
/// How long the ids of stored server events are remembered, to drop later copies.
const REMEMBER: Duration = Duration::from_secs(120);

/// The taps of sessions being recorded from a sideband, by session.
#[derive(Default)]
pub struct Taps {
    taps: Mutex<HashMap<SessionId, Weak<Tap>>>,
    /// The calls being captured: one capture per call, whichever of its sessions asked first.
    calls: Mutex<std::collections::HashSet<String>>,
}

impl Taps {
    /// Whether `session` is being recorded from a sideband.
    pub fn is_tapped(&self, session: SessionId) -> bool {
        let taps = self.taps.lock().unwrap_or_else(|e| e.into_inner());
        taps.get(&session).is_some_and(|t| t.strong_count() > 0)
    }

    /// The session's tap, started if it has none: its writer records at the server's seqs and ends the
    /// session once every source has detached and everything held is written.
    fn tap(&self, store: &Store, session: SessionId) -> Arc<Tap> {
        let mut taps = self.taps.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tap) = taps.get(&session).and_then(Weak::upgrade) {
            return tap;
        }
        let (recorder, _) = Recorder::start(store.clone(), session, None);
        let tap = Arc::new(Tap {
            held: Mutex::new(Held::default()),
            recorder,
        });
        taps.retain(|_, t| t.strong_count() > 0);
        taps.insert(session, Arc::downgrade(&tap));
        tokio::spawn(drain(Arc::downgrade(&tap)));
        tap
    }

    /// The browser stored these events of `session`: the tap drops its own copies of the server events.
    pub fn forwarded(&self, session: SessionId, events: &[NewEvent]) {
        let tap = {
            let taps = self.taps.lock().unwrap_or_else(|e| e.into_inner());
            taps.get(&session).and_then(Weak::upgrade)
        };
        let Some(tap) = tap else { return };
        let now = Instant::now();
        let mut held = tap.held.lock().unwrap_or_else(|e| e.into_inner());
        for event in events.iter().filter(|e| e.direction == Direction::Server) {
            if let Some(id) = event_id(event.event.get().as_bytes()) {
                held.stored.insert(id, now);
            }
        }
    }
}

/// One session's queue of what its sidebands saw, and the writer it goes to.
pub struct Tap {
    held: Mutex<Held>,
    recorder: Recorder,
}

#[derive(Default)]
struct Held {
    queue: VecDeque<Pending>,
    /// Server events stored (by the browser or by this tap), by `event_id`, and when.
    stored: HashMap<String, Instant>,
}

struct Pending {
    arrived: Instant,
    direction: Direction,
    text: Option<Bytes>,
    system: Option<Value>,
    event_id: Option<String>,
}

impl Tap {
    /// A frame a sideband saw: `server` (from the API) or `client` (what the client of a relayed sideband sent).
    pub fn frame(&self, direction: Direction, text: Bytes) {
        let event_id = (direction == Direction::Server)
            .then(|| event_id(&text))
            .flatten();
        self.hold(Pending {
            arrived: Instant::now(),
            direction,
            text: Some(text),
            system: None,
            event_id,
        });
    }

    pub fn system(&self, event: Value) {
        self.hold(Pending {
            arrived: Instant::now(),
            direction: Direction::System,
            text: None,
            system: Some(event),
            event_id: None,
        });
    }

    fn hold(&self, pending: Pending) {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .queue
            .push_back(pending);
    }

    /// Hands what has waited [`GRACE`] (everything, when `all`) to the writer, in order, without the server
    /// events already stored.
    fn release(&self, all: bool) {
        let now = Instant::now();
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        while held
            .queue
            .front()
            .is_some_and(|p| all || now.duration_since(p.arrived) >= GRACE)
        {
            let Some(p) = held.queue.pop_front() else {
                break;
            };
            if let Some(id) = p.event_id {
                if held.stored.contains_key(&id) {
                    continue;
                }
                held.stored.insert(id, now);
            }
            let ts = now_ms() - now.duration_since(p.arrived).as_secs_f64() * 1000.0;
            match (p.text, p.system) {
                (Some(text), _) => self.recorder.frame_at(p.direction, text, ts),
                (None, Some(event)) => self.recorder.system_at(event, ts),
                (None, None) => {}
            }
        }
        held.stored
            .retain(|_, at| now.duration_since(*at) < REMEMBER);
    }
}

/// Releases a tap's queue every [`TICK`] while it has sources, then the rest after a last [`GRACE`].
async fn drain(tap: Weak<Tap>) {
    let mut tick = tokio::time::interval(TICK);
    loop {
        tick.tick().await;
        match tap.upgrade() {
            Some(tap) => tap.release(false),
            None => return,
        }
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        // The last source detached: what is held goes now (its GRACE was waited for by the source, see
        // `Source::drop`), and the writer ends the session once it has written it.
        self.release(true);
    }
}

/// A source of a tap (a sideband): the tap lives while one does.
pub struct Source {
    tap: Option<Arc<Tap>>,
}

impl Source {
    pub fn tap(&self) -> Option<&Tap> {
        self.tap.as_deref()
    }

    /// A recorder into this source's tap, for a relayed sideband.
    pub fn recorder(&self) -> Recorder {
        self.tap
            .clone()
            .map_or_else(Recorder::off, Recorder::tapped)
    }

    /// Detaches after waiting [`GRACE`], so the browser's last copies can still arrive.
    pub async fn detach(mut self) {
        tokio::time::sleep(GRACE).await;
        self.tap = None;
    }
}

/// Attaches `session`'s tap as a source.
pub fn source(state: &AppState, session: SessionId) -> Source {
    Source {
        tap: Some(state.taps.tap(&state.store, session)),
    }
}

/// The `event_id` of a server event's text.
fn event_id(text: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        event_id: Option<String>,
    }
    serde_json::from_slice::<Id>(text).ok()?.event_id
}

/// Whose key a capture's sideband uses.
pub enum CaptureKey {
    /// The server's own.
    Server,
    /// The standard key the client made the call with (held in memory for the call, never stored).
    Client(SecretString),
}

/// Starts capturing `call_id` into `session` (unless `--sideband off`, or the call is captured already,
/// into another of its sessions): a task that holds a sideband open until the call ends.
pub fn capture(state: &AppState, session: SessionId, call_id: CallId, key: CaptureKey) {
    if !state.settings.sideband {
        return;
    }
    let first = state
        .taps
        .calls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(call_id.to_string());
    if !first {
        return;
    }
    let source = source(state, session);
    let state = state.clone();
    tokio::spawn(async move {
        run_capture(&state, &source, &call_id, key).await;
        state
            .taps
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(call_id.as_str());
        source.detach().await;
    });
}

async fn run_capture(state: &AppState, source: &Source, call_id: &CallId, key: CaptureKey) {
    let Some(tap) = source.tap() else { return };
    let Ok(client) = state.upstream.client() else {
        return;
    };
    tracing::debug!(%call_id, "attaching a sideband to capture the call");
    let query = format!("call_id={call_id}");
    let credential = match &key {
        CaptureKey::Server => Credential::Server,
        CaptureKey::Client(key) => Credential::Client(key.expose_secret()),
    };
    let dialed = client
        .dial_realtime(
            Some(&query),
            &axum::http::HeaderMap::new(),
            None,
            credential,
            &state.upstream.relay_headers(),
        )
        .await;
    let socket = match dialed {
        Ok(socket) => socket,
        Err(DialError::Rejected(refused)) => {
            tap.system(json!({
                "type": "console.capture",
                "state": "refused",
                "call_id": call_id.as_str(),
                "status": refused.status.as_u16(),
            }));
            return;
        }
        Err(DialError::Failed(e)) => {
            tap.system(json!({
                "type": "console.capture",
                "state": "failed",
                "call_id": call_id.as_str(),
                "reason": e.to_string(),
            }));
            return;
        }
    };
    tracing::info!(%call_id, "capturing the call through a sideband");
    tap.system(
        json!({"type": "console.capture", "state": "attached", "call_id": call_id.as_str()}),
    );
    let (_, mut from_upstream) = socket.socket.split();
    let mut close = (1006, String::new());
    while let Some(message) = from_upstream.next().await {
        match message {
            Ok(UpMessage::Text(text)) => tap.frame(Direction::Server, Bytes::from(text)),
            Ok(UpMessage::Close(frame)) => {
                close = frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                });
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    tap.system(json!({
        "type": "console.capture",
        "state": "closed",
        "call_id": call_id.as_str(),
        "code": close.0,
        "reason": close.1,
    }));
}
