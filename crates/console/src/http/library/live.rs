//! `GET /api/sessions/{id}/live`: a session's events as server-sent events, as they are committed.
//!
//! The ordering contract (README, "Live stream"): events come in commit order, each with `id:` its
//! `ingest_no`, a per-session number that grows in commit order. Reconnecting with `Last-Event-ID: n` (what
//! `EventSource` does by itself) or `?after=n` delivers every event committed after it, exactly once: seq
//! order would not do, since a retried batch can fill a seq gap after later seqs were delivered.
//!
//! The follower subscribes to the writer's announcements *before* reading the store, so a commit between
//! the read and the subscription cannot be lost; a lagging follower simply reads the store again.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use realtime_store::{Change, SessionId, Store};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};

use super::super::error::{ApiError, Code, Result};
use super::super::extract::{Cursor, Params, SessionPath, empty_as_none};
use crate::AppState;

/// Events read from the store per query while catching up.
const PAGE: u32 = 500;

#[derive(Deserialize)]
pub(super) struct LiveParams {
    #[serde(default, deserialize_with = "empty_as_none")]
    after: Option<Cursor>,
}

/// Where to resume: `Last-Event-ID` (what `EventSource` sends by itself) wins over `?after=`.
fn cursor(headers: &HeaderMap, p: &LiveParams) -> Result<i64> {
    let Some(header) = headers.get("last-event-id") else {
        return Ok(p.after.unwrap_or_default().0);
    };
    match header.to_str().map(str::trim) {
        Ok("") => Ok(0),
        Ok(s) => s.parse::<Cursor>().map(|c| c.0).map_err(|_| {
            ApiError::field(
                Code::InvalidValue,
                "`Last-Event-ID` must be an event id from this stream (an integer >= 0)",
                "Last-Event-ID",
            )
        }),
        Err(_) => Err(ApiError::field(
            Code::InvalidValue,
            "`Last-Event-ID` must be an event id from this stream (an integer >= 0)",
            "Last-Event-ID",
        )),
    }
}

pub(super) async fn live(
    State(state): State<AppState>,
    SessionPath(sid): SessionPath,
    Params(p): Params<LiveParams>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let after = cursor(&headers, &p)?;
    // Subscribe first: whatever commits from here on is announced to us.
    let changes = state.store.subscribe();
    let Some(session) = state.store.get_session(sid).await? else {
        return Err(ApiError::SessionNotFound(sid.to_string()));
    };
    let (tx, mut rx) = mpsc::channel(64);
    let first = Event::default()
        .event("session")
        .retry(Duration::from_secs(1))
        .json_data(&session);
    if let Ok(first) = first {
        let _ = tx.send(first).await;
    }
    tokio::spawn(follow(state.store.clone(), sid, after, changes, tx));
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|e| e.map(Ok)));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Why following stopped.
enum Stop {
    ClientGone,
    SessionGone,
}

/// Sends every event with `ingest_no > last` that is in the store, in commit order.
async fn catch_up(
    store: &Store,
    sid: SessionId,
    last: &mut i64,
    tx: &mpsc::Sender<Event>,
) -> Result<(), Stop> {
    loop {
        let page = match store.events_after_ingest(sid, *last, PAGE).await {
            Ok(Some(page)) => page,
            Ok(None) => return Err(Stop::SessionGone),
            Err(e) => {
                // The stream cannot go on without the store; the browser reconnects from `last`.
                tracing::error!(error = %e, session = %sid, "live stream: reading the store");
                return Err(Stop::ClientGone);
            }
        };
        let n = page.len();
        for (ingest_no, event) in page {
            let Ok(frame) = Event::default()
                .id(ingest_no.to_string())
                .event("event")
                .json_data(&event)
            else {
                continue;
            };
            tx.send(frame).await.map_err(|_| Stop::ClientGone)?;
            *last = ingest_no;
        }
        if n < PAGE as usize {
            return Ok(());
        }
    }
}

async fn follow(
    store: Store,
    sid: SessionId,
    mut last: i64,
    mut changes: broadcast::Receiver<Change>,
    tx: mpsc::Sender<Event>,
) {
    let mut behind = true;
    let mut caught_up = false;
    loop {
        if behind {
            match catch_up(&store, sid, &mut last, &tx).await {
                Ok(()) => behind = false,
                Err(Stop::ClientGone) => return,
                Err(Stop::SessionGone) => break,
            }
            if !caught_up {
                // Everything committed before the stream opened has been sent; what follows is live.
                caught_up = true;
                if tx
                    .send(Event::default().event("caught-up").data(last.to_string()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        let change = tokio::select! {
            c = changes.recv() => c,
            () = tx.closed() => return,
        };
        match change {
            Ok(Change::Appended { session, ingested }) if session == sid => {
                behind = ingested > last;
            }
            Ok(Change::Updated { session }) if session == sid => {
                if let Ok(Some(s)) = store.get_session(sid).await
                    && let Ok(frame) = Event::default().event("session").json_data(&s)
                    && tx.send(frame).await.is_err()
                {
                    return;
                }
            }
            Ok(Change::Deleted { session }) if session == sid => break,
            Ok(_) => {}
            // Announcements were dropped while we were slow: the store has everything.
            Err(broadcast::error::RecvError::Lagged(_)) => behind = true,
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
    let _ = tx
        .send(Event::default().event("deleted").data(sid.to_string()))
        .await;
}
