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
}

/// A change to a session: a new label, the upstream call id, and/or marking it ended.
#[derive(Debug, Clone, Default)]
pub struct SessionPatch {
    pub label: Option<String>,
    pub call_id: Option<String>,
    pub ended: bool,
    /// The session this one was seeded from ("Open in console"); set once, later values are ignored.
    pub seeded_from: Option<SessionId>,
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
}

#[derive(Debug, Clone, Default)]
pub struct SessionQuery {
    pub limit: u32,
    /// Only sessions older than this one (cursor from `next_before`).
    pub before: Option<SessionId>,
    /// Matches label, id, model, flow or call id (case-insensitive substring), or the text of the session's
    /// events (transcripts, tool calls, errors: every word, as a prefix).
    pub q: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionPage {
    pub sessions: Vec<Session>,
    pub next_before: Option<SessionId>,
}

macro_rules! session_columns {
    () => {
        "id, created_at, ended_at, label, flow, model, config, call_id, \
     acked_seq, client_events, server_events, system_events, error_count, response_count, input_tokens, \
     output_tokens, total_tokens, cached_tokens, input_text_tokens, input_audio_tokens, output_text_tokens, \
     output_audio_tokens, first_event_ts, last_event_ts, last_received_at, seeded_from"
    };
}

/// Still being recorded: not ended, not an import (a finished recording), and heard from recently.
fn is_live(ended_at: Option<i64>, flow: &str, heard: i64) -> bool {
    ended_at.is_none() && flow != "import" && crate::now_ms() - heard < LIVE_WINDOW_MS
}

fn from_row(row: &SqliteRow) -> Result<Session> {
    let id: String = row.try_get("id")?;
    let config: Option<String> = row.try_get("config")?;
    let created_at: i64 = row.try_get("created_at")?;
    let ended_at: Option<i64> = row.try_get("ended_at")?;
    let last_received_at: Option<i64> = row.try_get("last_received_at")?;
    let seeded_from: Option<String> = row.try_get("seeded_from")?;
    let heard = last_received_at.unwrap_or(created_at).max(created_at);
    let flow: String = row.try_get("flow")?;
    let (client, server, system): (i64, i64, i64) = (
        row.try_get("client_events")?,
        row.try_get("server_events")?,
        row.try_get("system_events")?,
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
        label: row.try_get("label")?,
        flow,
        model: row.try_get("model")?,
        config: config.and_then(|c| serde_json::from_str(&c).ok()),
        call_id: row.try_get("call_id")?,
        acked_seq: row.try_get("acked_seq")?,
        stats: Stats {
            events: EventCounts {
                client,
                server,
                system,
                total: client + server + system,
            },
            errors: row.try_get("error_count")?,
            responses: row.try_get("response_count")?,
            usage: Usage {
                input_tokens: row.try_get("input_tokens")?,
                output_tokens: row.try_get("output_tokens")?,
                total_tokens: row.try_get("total_tokens")?,
                cached_tokens: row.try_get("cached_tokens")?,
                input_text_tokens: row.try_get("input_text_tokens")?,
                input_audio_tokens: row.try_get("input_audio_tokens")?,
                output_text_tokens: row.try_get("output_text_tokens")?,
                output_audio_tokens: row.try_get("output_audio_tokens")?,
            },
            first_event_ts: row.try_get("first_event_ts")?,
            last_event_ts: row.try_get("last_event_ts")?,
        },
    })
}

pub(crate) async fn fetch(conn: &mut SqliteConnection, id: SessionId) -> Result<Option<Session>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        session_columns!(),
        " FROM sessions WHERE id = ?"
    ))
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Runs inside the writer's transaction.
pub(crate) async fn insert(conn: &mut SqliteConnection, new: NewSession) -> Result<Session> {
    let id = SessionId::new();
    sqlx::query(
        "INSERT INTO sessions (id, created_at, label, flow, model, config, call_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(crate::now_ms())
    .bind(new.label.unwrap_or_default())
    .bind(new.flow.unwrap_or_else(|| "manual".to_owned()))
    .bind(new.model)
    .bind(new.config.map(|c| c.to_string()))
    .bind(new.call_id)
    .execute(&mut *conn)
    .await?;
    Ok(fetch(conn, id).await?.ok_or(sqlx::Error::RowNotFound)?)
}

/// Runs inside the writer's transaction.
pub(crate) async fn update(
    conn: &mut SqliteConnection,
    id: SessionId,
    patch: SessionPatch,
) -> Result<Option<Session>> {
    let done = sqlx::query(
        "UPDATE sessions SET label = COALESCE(?, label), call_id = COALESCE(?, call_id), \
         seeded_from = COALESCE(seeded_from, ?), \
         ended_at = CASE WHEN ? AND ended_at IS NULL THEN ? ELSE ended_at END WHERE id = ?",
    )
    .bind(patch.label)
    .bind(patch.call_id)
    .bind(patch.seeded_from.map(|s| s.to_string()))
    .bind(patch.ended)
    .bind(crate::now_ms())
    .bind(id.to_string())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    fetch(conn, id).await
}

/// Runs inside the writer's transaction; events and type counts go with it (ON DELETE CASCADE).
pub(crate) async fn delete(conn: &mut SqliteConnection, id: SessionId) -> Result<bool> {
    let done = sqlx::query("DELETE FROM sessions WHERE id = ?")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
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
        self.write(|reply| writer::Job::Create { new, events, reply })
            .await?
    }

    #[instrument(skip_all)]
    pub async fn get_session(&self, id: SessionId) -> Result<Option<Session>> {
        let mut conn = self.pool.acquire().await?;
        fetch(&mut conn, id).await
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
        self.write(|reply| writer::Job::Delete { id, reply })
            .await?
    }

    /// Newest first, `limit` at a time; `next_before` continues the listing.
    #[instrument(skip_all)]
    pub async fn list_sessions(&self, query: &SessionQuery) -> Result<SessionPage> {
        let limit = query.limit.clamp(1, 500);
        let mut sql = sqlx::QueryBuilder::new(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE 1"
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
