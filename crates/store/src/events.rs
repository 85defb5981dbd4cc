//! Reading a session's events: filtered pages and a streamed JSONL export.

use bytes::{BufMut, Bytes, BytesMut};
use futures::Stream;
use serde::Serialize;
use serde_json::value::RawValue;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::instrument;

use std::path::Path;

use crate::domain::{Direction, SessionId};
use crate::{Result, Store};

/// A filter over one session's events, in `seq` order.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only events with `seq` greater than this (cursor from `next_after_seq`).
    pub after_seq: i64,
    pub limit: u32,
    /// An exact type (`response.done`) or, ending in `.`, a prefix (`response.`).
    pub event_type: Option<String>,
    pub direction: Option<Direction>,
    /// Case-insensitive (ASCII) substring of the event's JSON text.
    pub q: Option<String>,
}

/// One stored event as the API returns it; `event` is the JSON exactly as received.
#[derive(Debug, Clone, Serialize)]
pub struct StoredEvent {
    pub seq: i64,
    pub ts: f64,
    pub received_at: i64,
    pub direction: Direction,
    #[serde(rename = "type")]
    pub event_type: String,
    pub event: Box<RawValue>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventPage {
    pub events: Vec<StoredEvent>,
    pub next_after_seq: Option<i64>,
}

pub(crate) fn from_row(row: &SqliteRow) -> Result<StoredEvent> {
    let direction: String = row.try_get("direction")?;
    let event: String = row.try_get("event")?;
    Ok(StoredEvent {
        seq: row.try_get("seq")?,
        ts: row.try_get("ts")?,
        received_at: row.try_get("received_at")?,
        direction: direction
            .parse()
            .map_err(|_| sqlx::Error::Decode(format!("bad direction {direction}").into()))?,
        event_type: row.try_get("type")?,
        event: RawValue::from_string(event).map_err(|e| sqlx::Error::Decode(e.into()))?,
    })
}

macro_rules! event_columns {
    () => {
        "seq, ts, received_at, direction, type, event"
    };
}
const EXPORT_PAGE: i64 = 2_000;

fn push_common_filters(sql: &mut QueryBuilder<Sqlite>, pk: i64, q: &EventQuery) {
    sql.push(" WHERE session_pk = ")
        .push_bind(pk)
        .push(" AND seq > ")
        .push_bind(q.after_seq);
    if let Some(d) = q.direction {
        sql.push(" AND direction = ").push_bind(d.as_str());
    }
    if let Some(text) = q.q.as_deref().filter(|t| !t.is_empty()) {
        sql.push(" AND event LIKE ")
            .push_bind(crate::sessions::like_pattern(text))
            .push(" ESCAPE '\\'");
    }
}

impl Store {
    pub(crate) async fn session_pk(&self, id: SessionId) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT pk FROM sessions WHERE id = ? AND importing = 0")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The event types a session holds, with their counts, for filter menus.
    pub async fn event_types(&self, id: SessionId) -> Result<Option<Vec<(String, i64)>>> {
        self.wait_until_committed().await?;
        let Some(pk) = self.session_pk(id).await? else {
            return Ok(None);
        };
        let rows =
            sqlx::query("SELECT type, count FROM session_types WHERE session_pk = ? ORDER BY type")
                .bind(pk)
                .fetch_all(&self.pool)
                .await?;
        Ok(Some(rows.iter().map(|r| (r.get(0), r.get(1))).collect()))
    }

    /// One page of a session's events, or `None` if the session does not exist.
    #[instrument(skip_all)]
    pub async fn list_events(
        &self,
        id: SessionId,
        query: &EventQuery,
    ) -> Result<Option<EventPage>> {
        self.wait_until_committed().await?;
        let Some(pk) = self.session_pk(id).await? else {
            return Ok(None);
        };
        let limit = i64::from(query.limit.clamp(1, 1000));
        let rows = match query.event_type.as_deref().filter(|t| !t.is_empty()) {
            None => {
                let mut sql =
                    QueryBuilder::new(concat!("SELECT ", event_columns!(), " FROM events"));
                push_common_filters(&mut sql, pk, query);
                sql.push(" ORDER BY seq LIMIT ").push_bind(limit + 1);
                sql.build().fetch_all(&self.pool).await?
            }
            Some(t) => {
                // Resolve the filter to the session's concrete types, then merge one index range per type:
                // each range is already in seq order, so a sparse type never scans the whole session and a
                // dense prefix never sorts it.
                let types: Vec<String> = if let Some(prefix) = t.strip_suffix('.') {
                    let all = self.event_types(id).await?.unwrap_or_default();
                    let prefix = format!("{prefix}.");
                    all.into_iter()
                        .map(|(ty, _)| ty)
                        .filter(|ty| ty.starts_with(&prefix))
                        .collect()
                } else {
                    vec![t.to_owned()]
                };
                if types.is_empty() {
                    return Ok(Some(EventPage {
                        events: Vec::new(),
                        next_after_seq: None,
                    }));
                }
                let mut sql = QueryBuilder::new(concat!("SELECT ", event_columns!(), " FROM ("));
                for (i, ty) in types.iter().enumerate() {
                    if i > 0 {
                        sql.push(" UNION ALL ");
                    }
                    // The type index holds each type's events in seq order; the planner
                    // would otherwise walk the whole session by seq and test each row.
                    sql.push(concat!(
                        "SELECT * FROM (SELECT ",
                        event_columns!(),
                        " FROM events INDEXED BY events_by_type"
                    ));
                    push_common_filters(&mut sql, pk, query);
                    sql.push(" AND type = ")
                        .push_bind(ty.clone())
                        .push(" ORDER BY seq LIMIT ")
                        .push_bind(limit + 1)
                        .push(")");
                }
                sql.push(") ORDER BY seq LIMIT ").push_bind(limit + 1);
                sql.build().fetch_all(&self.pool).await?
            }
        };
        let mut events = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        let next_after_seq = if events.len() > limit as usize {
            events.truncate(limit as usize);
            events.last().map(|e| e.seq)
        } else {
            None
        };
        Ok(Some(EventPage {
            events,
            next_after_seq,
        }))
    }

    /// Streams a session as JSONL, one `{"seq","ts","direction","event"}` a line, `event` byte for byte, with
    /// the audio payloads the store keeps in tracks put back: what went over the wire.
    /// `None` if the session does not exist.
    pub async fn export_jsonl(
        &self,
        id: SessionId,
    ) -> Result<Option<impl Stream<Item = Result<Bytes>> + Send + 'static>> {
        self.export_jsonl_with(id, AudioPayloads::Restored).await
    }

    /// [`Store::export_jsonl`], choosing what events whose audio is in a track hold.
    pub async fn export_jsonl_with(
        &self,
        id: SessionId,
        payloads: AudioPayloads,
    ) -> Result<Option<impl Stream<Item = Result<Bytes>> + Send + 'static>> {
        self.wait_until_committed().await?;
        let Some(pk) = self.session_pk(id).await? else {
            return Ok(None);
        };
        let path = self.path.clone();
        let mut restorer = (payloads == AudioPayloads::Restored)
            .then(|| crate::audio::Restorer::new(self.audio_reader(id)));
        let (tx, rx) = mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = export_pages(&path, pk, &tx, restorer.as_mut()) {
                let _ = tx.blocking_send(Err(e));
            }
        });
        Ok(Some(ReceiverStream::new(rx)))
    }
}

/// What an export writes in place of audio the store keeps in a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AudioPayloads {
    /// The base64 payloads, put back: the events as they went over the wire.
    #[default]
    Restored,
    /// The references the store keeps (`rc-audio:…`): a small export, whose audio is in the tracks.
    References,
}

/// Reads a session's events page by page on a connection of its own and sends each page as one chunk of
/// JSONL. rusqlite on a blocking thread rather than the pool: sqlx hands every row from its worker thread to
/// the task, and for an export those hand-offs cost more than SQLite's reads. Each page is a short read of its
/// own, so a long export never holds a snapshot that keeps the WAL from being reused.
fn export_pages(
    path: &Path,
    pk: i64,
    tx: &mpsc::Sender<Result<Bytes>>,
    mut restorer: Option<&mut crate::audio::Restorer>,
) -> Result<()> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(crate::BUSY_TIMEOUT)?;
    let mut page = conn.prepare(
        "SELECT seq, ts, direction, event FROM events WHERE session_pk = ? AND seq > ? ORDER BY seq LIMIT ?",
    )?;
    let mut after = 0i64;
    loop {
        let mut buf = BytesMut::with_capacity(EXPORT_PAGE as usize * 400);
        let mut n = 0;
        let mut rows = page.query(rusqlite::params![pk, after, EXPORT_PAGE])?;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let ts: f64 = row.get(1)?;
            let (direction, event) = (text(row, 2)?, text(row, 3)?);
            match restorer.as_deref_mut() {
                Some(r) => write_line(&mut buf, seq, ts, direction, &r.restore(event)),
                None => write_line(&mut buf, seq, ts, direction, event),
            }
            after = seq;
            n += 1;
        }
        if !buf.is_empty() && tx.blocking_send(Ok(buf.freeze())).is_err() {
            return Ok(()); // the client went away
        }
        if n < EXPORT_PAGE {
            return Ok(());
        }
    }
}

/// A text column without copying it.
fn text<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    row.get_ref(i)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// One JSONL export line. `ts` is written by serde_json (shortest round-trip form), so an import followed by an
/// export reproduces the same line.
pub(crate) fn write_line(buf: &mut BytesMut, seq: i64, ts: f64, direction: &str, event: &str) {
    let mut w = buf.writer();
    // Writing to a BytesMut cannot fail, and these values serialize infallibly.
    let _ = std::io::Write::write_fmt(&mut w, format_args!("{{\"seq\":{seq},\"ts\":"));
    if ts.fract() == 0.0 && ts.abs() < 1e15 {
        // Browsers write whole-ms times as integers; keep them that way rather than as `2.0`.
        let _ = std::io::Write::write_fmt(&mut w, format_args!("{}", ts as i64));
    } else {
        let _ = serde_json::to_writer(&mut w, &ts);
    }
    let buf = w.into_inner();
    buf.put_slice(b",\"direction\":\"");
    buf.put_slice(direction.as_bytes());
    buf.put_slice(b"\",\"event\":");
    buf.put_slice(event.as_bytes());
    buf.put_slice(b"}\n");
}
