//! Live follow: the writer announces every commit on a broadcast channel; a follower reads what is new for
//! its session from the store, in commit order, by `ingest_no`.
//!
//! The announcement carries no events, only how far a session's commit count has come. A follower that
//! lags, or subscribed while a commit was in flight, loses nothing: the store holds every event under a
//! per-session `ingest_no` that grows in commit order, so "everything after the cursor" is one
//! indexed range read, and the cursor is exact across reconnects.

use sqlx::Row;
use tokio::sync::broadcast;
use tracing::instrument;

use crate::domain::SessionId;
use crate::events::{self, StoredEvent};
use crate::{Result, Store};

/// Announcements buffered per follower before it counts as lagging (and re-reads the store).
const CAPACITY: usize = 4096;

/// What a commit changed, as far as followers care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// New events were stored; `ingested` is the session's commit count (the last new `ingest_no`).
    Appended {
        session: SessionId,
        ingested: i64,
    },
    /// The label, call id or end of the session changed.
    Updated {
        session: SessionId,
    },
    Deleted {
        session: SessionId,
    },
}

impl Change {
    pub fn session(&self) -> SessionId {
        match *self {
            Change::Appended { session, .. }
            | Change::Updated { session }
            | Change::Deleted { session } => session,
        }
    }
}

/// The writer's side of the channel.
#[derive(Clone, Debug)]
pub(crate) struct Hub(broadcast::Sender<Change>);

impl Hub {
    pub(crate) fn new() -> Self {
        Self(broadcast::channel(CAPACITY).0)
    }

    /// Called after a successful commit, in commit order.
    pub(crate) fn publish(&self, changes: Vec<Change>) {
        if self.0.receiver_count() == 0 {
            return;
        }
        for c in changes {
            // No receivers left is fine: nobody is watching.
            let _ = self.0.send(c);
        }
    }

    /// Whether anybody follows commits live (an inspector or a library page open on a live session).
    pub(crate) fn followed(&self) -> bool {
        self.0.receiver_count() > 0
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.0.subscribe()
    }
}

impl Store {
    /// Announcements of every commit from now on. Subscribe *before* reading what is already stored, so
    /// nothing committed in between is missed.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.hub.subscribe()
    }

    /// Up to `limit` events of a session with `ingest_no > after`, in commit order, each with its
    /// `ingest_no`; `None` if the session does not exist.
    #[instrument(skip_all)]
    pub async fn events_after_ingest(
        &self,
        id: SessionId,
        after: i64,
        limit: u32,
    ) -> Result<Option<Vec<(i64, StoredEvent)>>> {
        self.wait_until_committed().await?;
        let Some(pk) = self.session_pk(id).await? else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT ingest_no, seq, ts, received_at, direction, type, event FROM events \
             WHERE session_pk = ? AND ingest_no > ? ORDER BY ingest_no LIMIT ?",
        )
        .bind(pk)
        .bind(after)
        .bind(i64::from(limit.clamp(1, 5000)))
        .fetch_all(&self.pool)
        .await?;
        let events = rows
            .iter()
            .map(|r| Ok((r.try_get::<i64, _>(0)?, events::from_row(r)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(events))
    }
}
