//! The recording of a relayed connection: every frame, in the order the relay forwarded it, each with the
//! server's time. The relay hands a frame over after forwarding it and never waits: a task of its own numbers
//! the frames (seq 2 and up, after the opening event) and stores them through the store's writer in batches.
//! The recordings run on a thread of their own, at the store's background priority ([`recordings`]): on a
//! busy machine the relays come first, and the recordings catch up in the time left.
//!
//! A batch is what arrived until the next tick of a clock every recording shares ([`LINGER`] apart): many
//! frames share one append, and the appends of all the recordings meet at the store's writer together, so
//! that they share its groups and their syncs (a frame that came alone would otherwise cost an append and a
//! sync of its own). The batch's first frame wakes its recording; the rest are taken at the tick, at once.
//!
//! What cannot be kept is said, never silently skipped: a frame that is not a JSON object with a `type` is
//! kept as a `console.frame` system event holding its text; one larger than the store takes
//! ([`realtime_store::MAX_EVENT_BYTES`]) as a `console.frame_not_kept` event with its size; and if the store
//! fails, the relay goes on, and the session is marked incomplete with the reason.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use realtime_store::{Direction, MAX_EVENT_BYTES, NewEvent, SessionId, SessionPatch, Store};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::audio::Tracks;
use super::capture::Tap;
use crate::http::rt::now_ms;

/// Frames stored in one append at most.
const MAX_BATCH: usize = 512;
/// How far apart the ticks of the recordings' shared clock are: how long a frame may wait for its append to
/// start, beyond the append ahead of it. It adds to what a `kill -9` loses (README, gateway_crash.rs).
const LINGER: Duration = Duration::from_millis(20);
/// What the recording may hold in memory, not yet stored, before it drops frames (and says so): the store is
/// then far behind a relay going at full speed.
const MAX_BACKLOG_BYTES: usize = 256 << 20;
/// How often a failed append is tried again before its frames are given up (the appends are idempotent).
const RETRIES: [Duration; 3] = [
    Duration::from_millis(50),
    Duration::from_millis(250),
    Duration::from_secs(1),
];

enum Item {
    Frame {
        ts: f64,
        direction: Direction,
        text: Bytes,
    },
    System {
        ts: f64,
        event: Value,
    },
}

impl Item {
    fn size(&self) -> usize {
        match self {
            Item::Frame { text, .. } => text.len(),
            Item::System { .. } => 256,
        }
    }
}

/// The relay's side of a recording. Cheap to clone; the recording ends when every clone is dropped.
#[derive(Clone)]
pub struct Recorder {
    to: To,
}

#[derive(Clone)]
enum To {
    /// Recording is off (`--gateway-recording off`): the relay only relays.
    Off,
    /// This recording's own writer.
    Writer {
        items: mpsc::UnboundedSender<Item>,
        backlog: Arc<AtomicUsize>,
    },
    /// A call session's tap, shared with its other sidebands (see capture.rs).
    Tap(Arc<Tap>),
}

/// How a recording went, once it has ended.
#[derive(Debug, Default)]
pub struct Summary {
    pub stored: u64,
    pub lost: u64,
}

impl Recorder {
    /// Starts recording into `session` from seq `next_seq`, or (`None`) at the next seqs of the server's range,
    /// after whatever other writers of the session record. The task ends the session when the recording ends.
    pub fn start(
        store: Store,
        session: SessionId,
        next_seq: Option<i64>,
    ) -> (Self, tokio::task::JoinHandle<Summary>) {
        let (items, rx) = mpsc::unbounded_channel();
        let backlog = Arc::new(AtomicUsize::new(0));
        let writer = Writer {
            store,
            session,
            next_seq,
            backlog: backlog.clone(),
            incomplete: None,
            marked: false,
            summary: Summary::default(),
            audio: Tracks::default(),
        };
        let task = match recordings() {
            Some(runtime) => runtime.spawn(writer.run(rx)),
            None => tokio::spawn(writer.run(rx)),
        };
        (
            Self {
                to: To::Writer { items, backlog },
            },
            task,
        )
    }

    /// A recorder that keeps nothing.
    pub fn off() -> Self {
        Self { to: To::Off }
    }

    /// A recorder into a call session's tap.
    pub fn tapped(tap: Arc<Tap>) -> Self {
        Self { to: To::Tap(tap) }
    }

    /// A frame the relay forwarded, `direction` `client` (to the API) or `server` (from it).
    pub fn frame(&self, direction: Direction, text: Bytes) {
        match &self.to {
            To::Tap(tap) => tap.frame(direction, text),
            _ => self.push(Item::Frame {
                ts: now_ms(),
                direction,
                text,
            }),
        }
    }

    /// A frame that arrived at `ts` (ms since the epoch), handed over later.
    pub(super) fn frame_at(&self, direction: Direction, text: Bytes, ts: f64) {
        self.push(Item::Frame {
            ts,
            direction,
            text,
        });
    }

    /// Something the relay itself saw (a close, a binary frame), as a `system` event.
    pub fn system(&self, event: Value) {
        match &self.to {
            To::Tap(tap) => tap.system(event),
            _ => self.system_at(event, now_ms()),
        }
    }

    pub(super) fn system_at(&self, event: Value, ts: f64) {
        self.push(Item::System { ts, event });
    }

    fn push(&self, item: Item) {
        let To::Writer { items, backlog } = &self.to else {
            return;
        };
        backlog.fetch_add(item.size(), Ordering::Relaxed);
        // The task is gone only once every sender is: never while this one exists.
        let _ = items.send(item);
    }
}

struct Writer {
    store: Store,
    session: SessionId,
    /// The seq of the next event; None: the store numbers them in the server's range.
    next_seq: Option<i64>,
    backlog: Arc<AtomicUsize>,
    /// The first reason events are missing, to mark the session with.
    incomplete: Option<String>,
    /// Whether the mark is stored.
    marked: bool,
    summary: Summary,
    /// The session's voices, moved out of its audio frames (see audio.rs).
    audio: Tracks,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Item>) -> Summary {
        let mut items = Vec::with_capacity(MAX_BATCH);
        let mut open = true;
        // The first frame of a batch wakes the recording; the rest of the tick's frames are taken at the tick,
        // all at once, without waking it again.
        while open && rx.recv_many(&mut items, MAX_BATCH).await > 0 {
            tokio::time::sleep_until(next_tick()).await;
            loop {
                while items.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(item) => items.push(item),
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        Err(mpsc::error::TryRecvError::Disconnected) => {
                            open = false;
                            break;
                        }
                    }
                }
                let more = items.len() >= MAX_BATCH;
                let mut events = Vec::with_capacity(items.len());
                self.take(&mut items, &mut events);
                if !events.is_empty() {
                    self.append(events).await;
                }
                self.mark().await;
                if !more {
                    break;
                }
            }
        }
        let ended = SessionPatch {
            ended: true,
            incomplete: self.incomplete.clone().filter(|_| !self.marked),
            ..SessionPatch::default()
        };
        if let Err(e) = self.store.update_session(self.session, ended).await {
            tracing::error!(error = %e, session = %self.session, "could not end a relayed session");
        }
        self.summary
    }

    /// Adds the events of `items` to `events` (emptying `items`), unless the store has fallen too far behind.
    fn take(&mut self, items: &mut Vec<Item>, events: &mut Vec<NewEvent>) {
        let size: usize = items.iter().map(Item::size).sum();
        if self.backlog.load(Ordering::Relaxed) > MAX_BACKLOG_BYTES {
            self.summary.lost += items.len() as u64;
            self.missing("the store fell behind the relay, and frames were dropped".to_owned());
            items.clear();
        } else {
            events.extend(items.drain(..).filter_map(|item| self.event(item)));
        }
        self.backlog.fetch_sub(size, Ordering::Relaxed);
    }

    /// The stored form of an item, at the next seq.
    fn event(&mut self, item: Item) -> Option<NewEvent> {
        let seq = self.next_seq;
        let numbered = |ts, direction, raw: &RawValue| match seq {
            Some(seq) => NewEvent::sequenced(seq, ts, direction, raw),
            None => NewEvent::unsequenced(ts, direction, raw),
        };
        let event = match item {
            Item::Frame {
                ts,
                direction,
                text,
            } => {
                let text = self.audio.take(direction, &text, ts).unwrap_or(text);
                let note = if text.len() > MAX_EVENT_BYTES {
                    self.missing(format!(
                        "a frame larger than {MAX_EVENT_BYTES} bytes was relayed but not kept"
                    ));
                    not_kept(direction, &text)
                } else {
                    // A text frame is UTF-8 already: `from_utf8` checks that faster than a lossy copy scans it.
                    let text = std::str::from_utf8(&text)
                        .map_or_else(|_| String::from_utf8_lossy(&text), Cow::Borrowed);
                    match serde_json::from_str::<&RawValue>(&text) {
                        Ok(raw) => match numbered(ts, direction, raw) {
                            Ok(event) => {
                                self.next_seq = seq.map(|s| s + 1);
                                return Some(event);
                            }
                            Err(_) => unparsed(direction, &text),
                        },
                        Err(_) => unparsed(direction, &text),
                    }
                };
                numbered(ts, Direction::System, &to_raw(&note)?)
            }
            Item::System { ts, event } => numbered(ts, Direction::System, &to_raw(&event)?),
        };
        match event {
            Ok(event) => {
                self.next_seq = seq.map(|s| s + 1);
                Some(event)
            }
            Err(e) => {
                tracing::error!(error = %e.message, "a relayed frame could not be recorded");
                self.summary.lost += 1;
                None
            }
        }
    }

    async fn append(&mut self, events: Vec<NewEvent>) {
        // The batch's audio first: no stored event refers to audio that is not stored.
        if let Err(reason) = self.audio.flush(&self.store, self.session) {
            tracing::error!(%reason, session = %self.session, "relayed audio was not kept");
            self.missing(reason);
        }
        let count = events.len() as u64;
        let mut waits = RETRIES.iter();
        loop {
            let appended = match self.next_seq {
                Some(_) => self.store.append_events(self.session, events.clone()).await,
                None => {
                    self.store
                        .append_server_events(self.session, events.clone())
                        .await
                }
            };
            match appended {
                Ok(outcome) => {
                    self.summary.stored += outcome.stored + outcome.duplicates;
                    return;
                }
                Err(e) => match waits.next() {
                    Some(wait) => {
                        tracing::warn!(error = %e, session = %self.session, "recording a relayed frame failed; retrying");
                        tokio::time::sleep(*wait).await;
                    }
                    None => {
                        tracing::error!(error = %e, session = %self.session, "recording relayed frames failed; the relay goes on");
                        self.summary.lost += count;
                        self.missing(format!("the event store failed mid-relay ({e}), and {count} frames were not kept"));
                        return;
                    }
                },
            }
        }
    }

    fn missing(&mut self, reason: String) {
        if self.incomplete.is_none() {
            self.incomplete = Some(reason);
        }
    }

    /// Stores the incomplete mark, once there is one (tried again after every batch until it is stored).
    async fn mark(&mut self) {
        if self.marked || self.incomplete.is_none() {
            return;
        }
        let patch = SessionPatch {
            incomplete: self.incomplete.clone(),
            ..SessionPatch::default()
        };
        self.marked = self.store.update_session(self.session, patch).await.is_ok();
    }
}

/// The runtime the recordings run on: one thread of its own, at the store's background priority, so that
/// turning frames into events, moving their audio into tracks and waiting on the store never take a relay's
/// turn on the server's workers. None if it could not be started (the recordings then share the workers).
fn recordings() -> Option<&'static tokio::runtime::Handle> {
    static RUNTIME: OnceLock<Option<tokio::runtime::Handle>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .inspect_err(
                    |e| tracing::warn!(error = %e, "no runtime of their own for the recordings"),
                )
                .ok()?;
            let handle = runtime.handle().clone();
            std::thread::Builder::new()
                .name("recordings".to_owned())
                .spawn(move || {
                    realtime_store::run_in_background();
                    runtime.block_on(std::future::pending::<()>());
                })
                .inspect_err(
                    |e| tracing::warn!(error = %e, "no thread of their own for the recordings"),
                )
                .ok()?;
            Some(handle)
        })
        .as_ref()
}

/// The next tick of the clock every recording shares: a multiple of [`LINGER`] since the first time it was read.
fn next_tick() -> tokio::time::Instant {
    static EPOCH: OnceLock<tokio::time::Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(tokio::time::Instant::now);
    let linger = LINGER.as_nanos();
    let ticks = epoch.elapsed().as_nanos() / linger + 1;
    epoch + Duration::from_nanos(u64::try_from(ticks * linger).unwrap_or(u64::MAX))
}

/// What stands for a frame too large to keep: its size and type.
fn not_kept(direction: Direction, text: &[u8]) -> Value {
    #[derive(serde::Deserialize)]
    struct TypeOf {
        #[serde(rename = "type")]
        kind: String,
    }
    let event_type = serde_json::from_slice::<TypeOf>(text).ok().map(|t| t.kind);
    json!({
        "type": "console.frame_not_kept",
        "direction": direction.as_str(),
        "bytes": text.len(),
        "event_type": event_type,
    })
}

/// What stands for a frame that is not a JSON object with a `type`: its text.
fn unparsed(direction: Direction, text: &str) -> Value {
    json!({"type": "console.frame", "direction": direction.as_str(), "text": text})
}

fn to_raw(value: &Value) -> Option<Box<RawValue>> {
    RawValue::from_string(value.to_string()).ok()
}
