//! The `system` events the server records itself in a console session, and the seqs they take.
//!
//! A session has one seq space, shared with the browser, which records its own events through
//! `POST /api/sessions/{id}/events`. The two never collide:
//!
//! * [`OPENING_SEQ`] (1) is the server's: written when `/api/rt/token` or `/api/rt/session` creates the
//!   session, before the browser knows the session exists. It is the minted key's fingerprint, expiry
//!   and effective session (`console.token`), the call id and session (`console.call`), or the failure
//!   (`error`).
//! * The browser continues from `next_seq` ([`FIRST_BROWSER_SEQ`], 2), which both endpoints return
//!   (`console.next_seq` in the JSON, the `X-Console-Next-Seq` header with the SDP answer), so its
//!   recording stays contiguous and `acked_seq` keeps meaning "everything up to here is stored".
//! * Whatever the server records later, while the browser may be recording (a hangup and its outcome),
//!   goes at [`realtime_store::SERVER_SEQ_START`] (2^50) and up, numbered by the store: past any seq a
//!   browser may use (the store refuses client seqs from there on), still exact in a JS number, and listed
//!   after the browser's events.
//!
//! `ts` of a server event is the server's clock in ms since the Unix epoch (the browser's `Date.now()`
//! scale).

use realtime_store::{AppendError, Direction, NewEvent, SessionId, Store};
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// The seq of the event the server records when it creates a session.
pub const OPENING_SEQ: i64 = 1;
/// The first seq the browser's recording uses.
pub const FIRST_BROWSER_SEQ: i64 = 2;

/// The server's clock, ms since the Unix epoch: the `ts` of what the server records.
pub(crate) fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Recording failed: the store failed, or the event the server built was refused (too large).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error("a system event the server built was refused: {0}")]
    Invalid(String),
}

fn system_event(seq: i64, event: &Value) -> Result<NewEvent, RecordError> {
    let element = json!({"seq": seq, "ts": now_ms(), "direction": "system", "event": event});
    let raw = RawValue::from_string(element.to_string())
        .map_err(|e| RecordError::Invalid(e.to_string()))?;
    NewEvent::parse(&raw).map_err(|e| RecordError::Invalid(e.message))
}

/// The opening event (seq 1) of a session about to be created with it.
pub fn opening_event(event: &Value) -> Result<NewEvent, RecordError> {
    system_event(OPENING_SEQ, event)
}

/// Records the opening event of a session the server just created.
pub async fn opening(store: &Store, session: SessionId, event: &Value) -> Result<(), RecordError> {
    store
        .append_events(session, vec![system_event(OPENING_SEQ, event)?])
        .await?;
    Ok(())
}

/// Records an event after the opening one, at the next free seq of the server's tail range (the store numbers
/// it, after whatever the browser records meanwhile).
pub async fn later(store: &Store, session: SessionId, event: &Value) -> Result<(), RecordError> {
    let raw = RawValue::from_string(event.to_string())
        .map_err(|e| RecordError::Invalid(e.to_string()))?;
    let event = NewEvent::unsequenced(now_ms(), Direction::System, &raw)
        .map_err(|e| RecordError::Invalid(e.message))?;
    store.append_server_event(session, event).await?;
    Ok(())
}
