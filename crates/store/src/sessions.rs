//! Sessions: create, list, read, update and delete, with the stats kept current by ingest.

use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use tracing::instrument;

use crate::domain::{NewEvent, SessionId, Usage};
use crate::{Result, Store, writer};

/// What a new session starts with. Everything is optional.
#[derive(Debug, Clone, Default)]
pub struct NewSession {
    pub label: Option<String>,
    pub flow: Option<String>,
    pub model: Option<String>,
    pub config: Option<serde_json::Value>,
    pub call_id: Option<String>,
    /// The client's `User-Agent` (cut at [`MAX_USER_AGENT_BYTES`]).
    pub user_agent: Option<String>,
}

/// The longest `User-Agent` kept, in bytes.
pub const MAX_USER_AGENT_BYTES: usize = 256;

/// A change to a session: a new label, the upstream call id, and/or marking it ended.
#[derive(Debug, Clone, Default)]
pub struct SessionPatch {
    pub label: Option<String>,
    /// The upstream call; set once, later values are ignored.
    pub call_id: Option<String>,
    pub ended: bool,
    /// The session this one was seeded from ("Open in console"); set once, later values are ignored.
    pub seeded_from: Option<SessionId>,
    /// Why the recording lacks events; the first reason stays, later ones are ignored.
    pub incomplete: Option<String>,
}

/// A session that is not ended and received an event (or was created) this recently is live.
pub const LIVE_WINDOW_MS: i64 = 60_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EventCounts {
    pub client: i64,
    pub server: i64,
    pub system: i64,
    pub total: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub events: EventCounts,
    /// Events whose `type` is `error`.
    pub errors: i64,
    /// `response.done` events.
    pub responses: i64,
    pub usage: Usage,
    pub first_event_ts: Option<f64>,
    pub last_event_ts: Option<f64>,
}

/// A recorded session. Times are ms since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    pub id: SessionId,
    pub created_at: i64,
    pub ended_at: Option<i64>,
    pub label: String,
    pub flow: String,
    pub model: Option<String>,
    pub config: Option<serde_json::Value>,
    pub call_id: Option<String>,
    /// Seqs `1..=acked_seq` are all stored.
    pub acked_seq: i64,
    pub stats: Stats,
    /// The server's clock when the last event was received.
    pub last_received_at: Option<i64>,
    /// Still being recorded: not ended, and an event (or its creation) within [`LIVE_WINDOW_MS`].
    pub live: bool,
    /// The session this one was seeded from.
    pub seeded_from: Option<SessionId>,
    /// The client's `User-Agent`, for sessions the gateway recorded.
    pub user_agent: Option<String>,
    /// Why the recording lacks events, when something is known to be missing.
    pub incomplete: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SessionQuery {
    pub limit: u32,
    /// Only sessions older than this one (cursor from `next_before`).
    pub before: Option<SessionId>,
    /// Matches label, id, model, flow, call id or user agent (case-insensitive substring), or the text of the session's
    /// events (transcripts, tool calls, errors: every word, as a prefix).
    pub q: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionPage {
    pub sessions: Vec<Session>,
    pub next_before: Option<SessionId>,
}

/// The token sums are read through `CAST(… AS INTEGER)`: a sum that once overflowed into a REAL (before sums
/// saturated) reads as the largest integer rather than failing every read of its session.
macro_rules! session_columns {
    () => {
        "id, created_at, ended_at, label, flow, model, config, call_id, \
     acked_seq, client_events, server_events, system_events, error_count, response_count, \
     CAST(input_tokens AS INTEGER) AS input_tokens, CAST(output_tokens AS INTEGER) AS output_tokens, \
     CAST(total_tokens AS INTEGER) AS total_tokens, CAST(cached_tokens AS INTEGER) AS cached_tokens, \
     CAST(input_text_tokens AS INTEGER) AS input_text_tokens, \
     CAST(input_audio_tokens AS INTEGER) AS input_audio_tokens, \
     CAST(output_text_tokens AS INTEGER) AS output_text_tokens, \
     CAST(output_audio_tokens AS INTEGER) AS output_audio_tokens, \
     first_event_ts, last_event_ts, last_received_at, seeded_from, user_agent, incomplete"
    };
}

/// Still being recorded: not ended, not an import (a finished recording), and heard from recently.
fn is_live(ended_at: Option<i64>, flow: &str, heard: i64) -> bool {
    ended_at.is_none() && flow != "import" && crate::now_ms() - heard < LIVE_WINDOW_MS
}

/// A session row's columns by name, from either driver: the readers' sqlx pool or the writer's rusqlite
/// connection. One mapping, so the two can't drift apart.
pub(crate) trait Columns {
    fn text(&self, name: &str) -> Result<Option<String>>;
    fn int(&self, name: &str) -> Result<Option<i64>>;
    fn real(&self, name: &str) -> Result<Option<f64>>;
}

impl Columns for SqliteRow {
    fn text(&self, name: &str) -> Result<Option<String>> {
        Ok(self.try_get(name)?)
    }
    fn int(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.try_get(name)?)
    }
    fn real(&self, name: &str) -> Result<Option<f64>> {
        Ok(self.try_get(name)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, name: &str) -> Result<Option<String>> {
        Ok(self.get(name)?)
    }
    fn int(&self, name: &str) -> Result<Option<i64>> {
        Ok(self.get(name)?)
    }
    fn real(&self, name: &str) -> Result<Option<f64>> {
        Ok(self.get(name)?)
    }
}

pub(crate) fn from_row(row: &impl Columns) -> Result<Session> {
    // NOT NULL columns (the schema's) read as their type's zero if they ever were NULL.
    let n = |name| row.int(name).map(Option::unwrap_or_default);
    let id = row.text("id")?.unwrap_or_default();
    let config = row.text("config")?;
    let created_at = n("created_at")?;
    let ended_at = row.int("ended_at")?;
    let last_received_at = row.int("last_received_at")?;
    let seeded_from = row.text("seeded_from")?;
    let heard = last_received_at.unwrap_or(created_at).max(created_at);
    let flow = row.text("flow")?.unwrap_or_default();
    let (client, server, system) = (
        n("client_events")?,
        n("server_events")?,
        n("system_events")?,
    );
    Ok(Session {
        // The column only ever holds ids this crate wrote.
        id: SessionId::parse(&id).ok_or_else(|| {
            sqlx::Error::Decode(format!("malformed session id in the database: {id}").into())
        })?,
        created_at,
        ended_at,
        last_received_at,
        live: is_live(ended_at, &flow, heard),
        seeded_from: seeded_from.as_deref().and_then(SessionId::parse),
        label: row.text("label")?.unwrap_or_default(),
        user_agent: row.text("user_agent")?,
        incomplete: row.text("incomplete")?,
        flow,
        model: row.text("model")?,
        config: config.and_then(|c| serde_json::from_str(&c).ok()),
        call_id: row.text("call_id")?,
        acked_seq: n("acked_seq")?,
        stats: Stats {
            events: EventCounts {
                client,
                server,
                system,
                total: client.saturating_add(server).saturating_add(system),
            },
            errors: n("error_count")?,
            responses: n("response_count")?,
            usage: Usage {
                input_tokens: n("input_tokens")?,
                output_tokens: n("output_tokens")?,
                total_tokens: n("total_tokens")?,
                cached_tokens: n("cached_tokens")?,
                input_text_tokens: n("input_text_tokens")?,
                input_audio_tokens: n("input_audio_tokens")?,
                output_text_tokens: n("output_text_tokens")?,
                output_audio_tokens: n("output_audio_tokens")?,
            },
            first_event_ts: row.real("first_event_ts")?,
            last_event_ts: row.real("last_event_ts")?,
        },
    })
}

/// One session by id, for either driver: the writer's (which also sees an import in progress).
const SELECT_BY_ID: &str = concat!("SELECT ", session_columns!(), " FROM sessions WHERE id = ?");
/// One session by id, for readers: not an import in progress.
const SELECT_VISIBLE_BY_ID: &str = concat!(
    "SELECT ",
    session_columns!(),
    " FROM sessions WHERE id = ? AND importing = 0"
);

pub(crate) async fn fetch(conn: &mut SqliteConnection, id: SessionId) -> Result<Option<Session>> {
    let row = sqlx::query(SELECT_VISIBLE_BY_ID)
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Runs on the writer's connection, inside its transaction.
pub(crate) fn fetch_sync(conn: &rusqlite::Connection, id: SessionId) -> Result<Option<Session>> {
    let mut stmt = conn.prepare_cached(SELECT_BY_ID)?;
    let mut rows = stmt.query([id.to_string()])?;
    rows.next()?.map(from_row).transpose()
}

/// Runs on the writer's connection, inside its transaction. Answers the new session's id. A `hidden`
/// session is an import in progress: no reader sees it until [`reveal`].
pub(crate) fn insert(
    conn: &rusqlite::Connection,
    new: NewSession,
    hidden: bool,
) -> Result<SessionId> {
    let id = SessionId::new();
    conn.prepare_cached(
        "INSERT INTO sessions (id, created_at, label, flow, model, config, call_id, importing, user_agent) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(rusqlite::params![
        id.to_string(),
        crate::now_ms(),
        new.label.unwrap_or_default(),
        new.flow.unwrap_or_else(|| "manual".to_owned()),
        new.model,
        new.config.map(|c| c.to_string()),
        new.call_id,
        hidden,
        new.user_agent.map(|ua| cut(ua, MAX_USER_AGENT_BYTES)),
    ])?;
    Ok(id)
}

/// What a session ran with, as its server last said it (`session.created` / `session.updated`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RanWith {
    pub model: Option<String>,
    pub config: Option<serde_json::Value>,
}

impl RanWith {
    /// From the `session` of a `session.created` or `session.updated` event; none from anything else.
    pub(crate) fn from_session_event(event: &str) -> Option<Self> {
        #[derive(serde::Deserialize)]
        struct SessionEvent {
            session: serde_json::Map<String, serde_json::Value>,
        }
        let SessionEvent { session } = serde_json::from_str(event).ok()?;
        let model = session
            .get("model")
            .and_then(|m| m.as_str())
            .filter(|m| !m.is_empty())
            .map(str::to_owned);
        Some(Self {
            model,
            config: Some(serde_json::Value::Object(session)),
        })
    }
}

/// Runs on the writer's connection, inside its transaction: a finished import becomes visible, ended, with
/// what it ran with (the values given at its creation stay where the events say nothing).
pub(crate) fn reveal(
    conn: &rusqlite::Connection,
    id: SessionId,
    ran_with: RanWith,
) -> Result<Option<Session>> {
    let changed = conn
        .prepare_cached(
            "UPDATE sessions SET importing = 0, ended_at = coalesce(ended_at, ?), \
             model = coalesce(?, model), config = coalesce(?, config) WHERE id = ? AND importing = 1",
        )?
        .execute(rusqlite::params![
            crate::now_ms(),
            ran_with.model,
            ran_with.config.map(|c| c.to_string()),
            id.to_string()
        ])?;
    if changed == 0 {
        return Ok(None);
    }
    fetch_sync(conn, id)
}

/// Runs on the writer's connection, inside its transaction.
pub(crate) fn update(
    conn: &rusqlite::Connection,
    id: SessionId,
    patch: SessionPatch,
) -> Result<Option<Session>> {
    let changed = conn
        .prepare_cached(
            "UPDATE sessions SET label = COALESCE(?, label), call_id = COALESCE(call_id, ?), \
             seeded_from = COALESCE(seeded_from, ?), incomplete = COALESCE(incomplete, ?), \
             ended_at = CASE WHEN ? AND ended_at IS NULL THEN ? ELSE ended_at END WHERE id = ?",
        )?
        .execute(rusqlite::params![
            patch.label,
            patch.call_id,
            patch.seeded_from.map(|s| s.to_string()),
            patch.incomplete.map(|r| cut(r, MAX_USER_AGENT_BYTES * 4)),
            patch.ended,
            crate::now_ms(),
            id.to_string(),
        ])?;
    if changed == 0 {
        return Ok(None);
    }
    fetch_sync(conn, id)
}

/// Runs on the writer's connection, inside its transaction; events and type counts go with it (ON DELETE
/// CASCADE).
pub(crate) fn delete(conn: &rusqlite::Connection, pk: i64) -> Result<bool> {
    let gone = conn
        .prepare_cached("DELETE FROM sessions WHERE pk = ?")?
        .execute([pk])?;
    Ok(gone > 0)
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

pub(crate) fn like_pattern(q: &str) -> String {
    let mut p = String::with_capacity(q.len() + 2);
    p.push('%');
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl Store {
    #[instrument(skip_all)]
    pub async fn create_session(&self, new: NewSession) -> Result<Session> {
        self.create_session_with(new, Vec::new()).await
    }

    /// Creates a session and stores its first events in the same commit (one fsync, not two).
    #[instrument(skip_all)]
    pub async fn create_session_with(
        &self,
        new: NewSession,
        events: Vec<NewEvent>,
    ) -> Result<Session> {
        self.write(|reply| writer::Job::Create {
            new,
            events,
            hidden: false,
            reply,
        })
        .await?
    }

    /// The session of an import in progress: invisible to every read until [`Store::reveal_import`].
    pub(crate) async fn create_hidden_session(&self, new: NewSession) -> Result<SessionId> {
        let session = self
            .write(|reply| writer::Job::Create {
                new,
                events: Vec::new(),
                hidden: true,
                reply,
            })
            .await??;
        Ok(session.id)
    }

    /// Makes a finished import visible, and ends it, in one commit.
    pub(crate) async fn reveal_import(
        &self,
        id: SessionId,
        ran_with: RanWith,
    ) -> Result<Option<Session>> {
        self.write(|reply| writer::Job::Reveal {
            id,
            ran_with,
            reply,
        })
        .await?
    }

    /// Deletes what imports that a crash interrupted left behind (called once, at start-up).
    pub(crate) async fn delete_unfinished_imports(&self) -> Result<usize> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM sessions WHERE importing = 1")
            .fetch_all(&self.pool)
            .await?;
        for id in &ids {
            if let Some(id) = SessionId::parse(id) {
                self.delete_session(id).await?;
            }
        }
        Ok(ids.len())
    }

    #[instrument(skip_all)]
    pub async fn get_session(&self, id: SessionId) -> Result<Option<Session>> {
        self.wait_until_committed().await?;
        let mut conn = self.pool.acquire().await?;
        fetch(&mut conn, id).await
    }

    /// The newest session of the upstream call `call_id`, if any.
    #[instrument(skip_all)]
    pub async fn session_of_call(&self, call_id: &str) -> Result<Option<Session>> {
        self.wait_until_committed().await?;
        let row = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE call_id = ? AND importing = 0 ORDER BY id DESC LIMIT 1"
        ))
        .bind(call_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    #[instrument(skip_all)]
    pub async fn update_session(
        &self,
        id: SessionId,
        patch: SessionPatch,
    ) -> Result<Option<Session>> {
        self.write(|reply| writer::Job::Update { id, patch, reply })
            .await?
    }

    /// Deletes a session and all its events. Returns whether it existed.
    #[instrument(skip_all)]
    pub async fn delete_session(&self, id: SessionId) -> Result<bool> {
        let deleted = self
            .write(|reply| writer::Job::Delete { id, reply })
            .await??;
        // Its audio goes after it: a crash in between leaves a directory the next start removes.
        self.delete_audio(id).await;
        Ok(deleted)
    }

    /// Newest first, `limit` at a time; `next_before` continues the listing.
    #[instrument(skip_all)]
    pub async fn list_sessions(&self, query: &SessionQuery) -> Result<SessionPage> {
        self.wait_until_committed().await?;
        let limit = query.limit.clamp(1, 500);
        let mut sql = sqlx::QueryBuilder::new(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE importing = 0"
        ));
        if let Some(before) = query.before {
            sql.push(" AND id < ").push_bind(before.to_string());
        }
        if let Some(q) = query.q.as_deref().filter(|q| !q.is_empty()) {
            let p = like_pattern(q);
            sql.push(" AND (label LIKE ")
                .push_bind(p.clone())
                .push(" ESCAPE '\\' OR id LIKE ")
                .push_bind(p.clone())
                .push(" ESCAPE '\\' OR model LIKE ")
                .push_bind(p.clone())
                .push(" ESCAPE '\\' OR flow LIKE ")
                .push_bind(p.clone())
                .push(" ESCAPE '\\' OR call_id LIKE ")
                .push_bind(p.clone())
                .push(" ESCAPE '\\' OR user_agent LIKE ")
                .push_bind(p)
                .push(" ESCAPE '\\'");
            if let Some(m) = crate::text::match_query(q) {
                sql.push(" OR pk IN (")
                    .push(crate::text::SESSIONS_MATCHING)
                    .push_bind(m)
                    .push(")");
            }
            sql.push(")");
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit) + 1);
        let rows = sql.build().fetch_all(&self.pool).await?;
        let mut sessions = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        let next_before = if sessions.len() > limit as usize {
            sessions.truncate(limit as usize);
            sessions.last().map(|s| s.id)
        } else {
            None
        };
        Ok(SessionPage {
            sessions,
            next_before,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(super::like_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }
}
