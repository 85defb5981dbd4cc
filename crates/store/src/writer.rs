//! The single writer: takes every write job waiting in its queue, applies each in its own savepoint and
//! commits them all at once (group commit). A job that fails its own checks is rolled back alone.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::{Connection, Row, SqliteConnection, sqlite::SqliteConnectOptions};
use tokio::sync::{mpsc, oneshot};

use crate::domain::{Direction, NewEvent, SessionId, Usage};
use crate::live::{Change, Hub};
use crate::sessions::{self, NewSession, Session, SessionPatch};
use crate::{Error, Result, text};

/// Caps one commit so a flood of requests cannot make one transaction (and its latency) unbounded.
const MAX_EVENTS_PER_COMMIT: usize = 20_000;
/// Rows per INSERT statement: one statement per row costs more in sqlx's round trips than SQLite's work.
const ROWS_PER_INSERT: usize = 100;

/// The answer to an accepted batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AppendOutcome {
    /// The largest n such that seqs 1..=n of the session are all stored.
    pub acked_seq: i64,
    pub stored: u64,
    pub duplicates: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("no such session")]
    UnknownSession,
    /// `index` is the element of the batch whose `seq` is already stored with other content.
    #[error("seq {seq} is already stored with different content")]
    Conflict { index: usize, seq: i64 },
    #[error(transparent)]
    Store(#[from] Error),
}

impl From<sqlx::Error> for AppendError {
    fn from(e: sqlx::Error) -> Self {
        AppendError::Store(Error::Db(e))
    }
}

pub(crate) enum Job {
    Append {
        session: SessionId,
        events: Vec<NewEvent>,
        reply: oneshot::Sender<Result<AppendOutcome, AppendError>>,
    },
    Create {
        new: NewSession,
        /// Stored in the same commit as the session: its opening events.
        events: Vec<NewEvent>,
        reply: oneshot::Sender<Result<Session>>,
    },
    Update {
        id: SessionId,
        patch: SessionPatch,
        reply: oneshot::Sender<Result<Option<Session>>>,
    },
    Delete {
        id: SessionId,
        reply: oneshot::Sender<Result<bool>>,
    },
}

impl Job {
    fn weight(&self) -> usize {
        match self {
            Job::Append { events, .. } => events.len().max(1),
            _ => 1,
        }
    }
}

/// The result of one job, held until the group's commit succeeds.
enum Done {
    Append(
        oneshot::Sender<Result<AppendOutcome, AppendError>>,
        Result<AppendOutcome, AppendError>,
    ),
    Create(oneshot::Sender<Result<Session>>, Result<Session>),
    Update(
        oneshot::Sender<Result<Option<Session>>>,
        Result<Option<Session>>,
    ),
    Delete(oneshot::Sender<Result<bool>>, Result<bool>),
}

impl Done {
    /// True when the database failed midway through the job: what it wrote may be partial, so the whole group
    /// is rolled back. A job refused for its input (unknown session, seq conflict) has written nothing.
    fn is_db_failure(&self) -> bool {
        matches!(
            self,
            Done::Append(_, Err(AppendError::Store(_)))
                | Done::Create(_, Err(_))
                | Done::Update(_, Err(_))
                | Done::Delete(_, Err(_))
        )
    }

    fn reply(self) {
        // A caller that went away (client disconnected) doesn't need its answer; the work is committed.
        match self {
            Done::Append(tx, r) => drop(tx.send(r)),
            Done::Create(tx, r) => drop(tx.send(r)),
            Done::Update(tx, r) => drop(tx.send(r)),
            Done::Delete(tx, r) => drop(tx.send(r)),
        }
    }

    /// The commit failed: nothing of this job is stored.
    fn fail(self, why: &str) {
        let e = || Error::Db(sqlx::Error::Protocol(why.to_owned()));
        match self {
            Done::Append(tx, _) => drop(tx.send(Err(AppendError::Store(e())))),
            Done::Create(tx, _) => drop(tx.send(Err(e()))),
            Done::Update(tx, _) => drop(tx.send(Err(e()))),
            Done::Delete(tx, _) => drop(tx.send(Err(e()))),
        }
    }
}

pub(crate) async fn spawn(opts: SqliteConnectOptions, hub: Hub) -> Result<mpsc::Sender<Job>> {
    let conn = SqliteConnection::connect_with(&opts).await?;
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(run(conn, rx, hub));
    Ok(tx)
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Job>, hub: Hub) {
    let mut group = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut weight = first.weight();
        group.push(first);
        while weight < MAX_EVENTS_PER_COMMIT {
            match rx.try_recv() {
                Ok(job) => {
                    weight += job.weight();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        commit_group(&mut conn, group.drain(..), &hub).await;
    }
    let _ = conn.close().await;
}

async fn commit_group(conn: &mut SqliteConnection, jobs: impl Iterator<Item = Job>, hub: &Hub) {
    let mut done = Vec::new();
    let mut changes = Vec::new();
    let outcome: Result<(), sqlx::Error> = async {
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        // No savepoint per job: a job checks its input before it writes anything, so a refused job leaves
        // nothing to undo, and each savepoint would cost two more round trips to SQLite.
        for job in jobs {
            let (d, change) = apply(conn, job).await;
            let failed = d.is_db_failure();
            changes.extend(change);
            done.push(d);
            if failed {
                return Err(sqlx::Error::Protocol("a write of the group failed".into()));
            }
        }
        sqlx::query("COMMIT").execute(&mut *conn).await?;
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => {
            hub.publish(changes);
            done.into_iter().for_each(Done::reply);
        }
        Err(e) => {
            tracing::error!(error = %e, "event store commit failed; the group is rolled back");
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            done.into_iter()
                .for_each(|d| d.fail("the event store could not commit"));
        }
    }
}

/// Applies one job; the change it makes is announced to live followers once the group commits.
async fn apply(conn: &mut SqliteConnection, job: Job) -> (Done, Option<Change>) {
    match job {
        Job::Append {
            session,
            events,
            reply,
        } => {
            let result = append(conn, session, &events).await;
            let change = match &result {
                Ok((outcome, ingested)) if outcome.stored > 0 => Some(Change::Appended {
                    session,
                    ingested: *ingested,
                }),
                _ => None,
            };
            (Done::Append(reply, result.map(|(o, _)| o)), change)
        }
        Job::Create { new, events, reply } => {
            let result = create(conn, new, &events).await;
            let change = match &result {
                Ok((session, ingested)) if *ingested > 0 => Some(Change::Appended {
                    session: session.id,
                    ingested: *ingested,
                }),
                _ => None,
            };
            (Done::Create(reply, result.map(|(s, _)| s)), change)
        }
        Job::Update { id, patch, reply } => {
            let result = sessions::update(conn, id, patch).await;
            let change = matches!(result, Ok(Some(_))).then_some(Change::Updated { session: id });
            (Done::Update(reply, result), change)
        }
        Job::Delete { id, reply } => {
            let result = match text::forget_session(conn, id).await {
                Ok(()) => sessions::delete(conn, id).await,
                Err(e) => Err(e.into()),
            };
            let change = matches!(result, Ok(true)).then_some(Change::Deleted { session: id });
            (Done::Delete(reply, result), change)
        }
    }
}

/// Stats of the events a batch newly stored, added to the session row in one UPDATE.
#[derive(Default)]
struct Delta {
    client: i64,
    server: i64,
    system: i64,
    errors: i64,
    responses: i64,
    usage: Usage,
    first_ts: Option<f64>,
    last_ts: Option<f64>,
    types: HashMap<String, i64>,
}

impl Delta {
    fn add(&mut self, e: &NewEvent) {
        match e.direction {
            Direction::Client => self.client += 1,
            Direction::Server => self.server += 1,
            Direction::System => self.system += 1,
        }
        match e.event_type.as_str() {
            "error" => self.errors += 1,
            "response.done" => {
                self.responses += 1;
                self.usage.add(&Usage::from_response_done(e.event.get()));
            }
            _ => {}
        }
        self.first_ts = Some(self.first_ts.map_or(e.ts, |t| t.min(e.ts)));
        self.last_ts = Some(self.last_ts.map_or(e.ts, |t| t.max(e.ts)));
        *self.types.entry(e.event_type.clone()).or_default() += 1;
    }
}

/// Creates a session with its first events, all in the caller's transaction.
async fn create(
    conn: &mut SqliteConnection,
    new: NewSession,
    events: &[NewEvent],
) -> Result<(Session, i64)> {
    let session = sessions::insert(conn, new).await?;
    if events.is_empty() {
        return Ok((session, 0));
    }
    let ingested = match append(conn, session.id, events).await {
        Ok((_, ingested)) => ingested,
        Err(AppendError::Store(e)) => return Err(e),
        // A fresh session holds nothing to conflict with; a seq twice in `events` is the caller's bug.
        Err(e) => return Err(Error::Db(sqlx::Error::Protocol(e.to_string()))),
    };
    let session = sessions::fetch(conn, session.id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok((session, ingested))
}

/// Stores a batch; answers the outcome and the session's ingest count after it (the `ingest_no` of its last
/// new event).
async fn append(
    conn: &mut SqliteConnection,
    session: SessionId,
    events: &[NewEvent],
) -> Result<(AppendOutcome, i64), AppendError> {
    let row = sqlx::query(
        "SELECT pk, acked_seq, (SELECT coalesce(max(ingest_no), 0) FROM events WHERE session_pk = sessions.pk) \
         FROM sessions WHERE id = ?",
    )
    .bind(session.to_string())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppendError::UnknownSession)?;
    let pk: i64 = row.get(0);
    let acked: i64 = row.get(1);
    let base: i64 = row.get(2);
    let now = crate::now_ms();
    let mut duplicates = 0u64;
    // A seq twice in one batch is settled here: the database can't tell which of two rows it kept.
    let mut first_at: HashMap<i64, usize> = HashMap::with_capacity(events.len());
    let mut fresh: Vec<(usize, &NewEvent)> = Vec::with_capacity(events.len());
    for (index, e) in events.iter().enumerate() {
        match first_at.get(&e.seq) {
            None => {
                first_at.insert(e.seq, index);
                fresh.push((index, e));
            }
            Some(&i) if events[i].same_content(e.ts, e.direction, e.event.get()) => duplicates += 1,
            Some(_) => return Err(AppendError::Conflict { index, seq: e.seq }),
        }
    }
    // Resends are found before anything is written, so a conflict refuses the batch with nothing to undo.
    let before = stored_among(conn, pk, &fresh).await?;
    let mut new_rows: Vec<&NewEvent> = Vec::with_capacity(fresh.len());
    for (index, e) in fresh {
        match before.get(&e.seq) {
            None => new_rows.push(e),
            Some((ts, d, ev)) if e.same_content(*ts, *d, ev) => duplicates += 1,
            Some(_) => return Err(AppendError::Conflict { index, seq: e.seq }),
        }
    }
    if new_rows.is_empty() {
        let outcome = AppendOutcome {
            acked_seq: acked,
            stored: 0,
            duplicates,
        };
        return Ok((outcome, base));
    }
    // ingest_no grows by one per stored event, in commit order: the live stream's cursor.
    let mut delta = Delta::default();
    for (chunk_no, chunk) in new_rows.chunks(ROWS_PER_INSERT).enumerate() {
        let first_no = base + (chunk_no * ROWS_PER_INSERT) as i64 + 1;
        let mut sql = sqlx::QueryBuilder::new(
            "INSERT INTO events (session_pk, seq, ts, received_at, direction, type, event, ingest_no) ",
        );
        let mut no = first_no;
        sql.push_values(chunk, |mut row, e| {
            row.push_bind(pk)
                .push_bind(e.seq)
                .push_bind(e.ts)
                .push_bind(now)
                .push_bind(e.direction.as_str())
                .push_bind(&e.event_type)
                .push_bind(e.event.get())
                .push_bind(no);
            no += 1;
        });
        sql.build().execute(&mut *conn).await?;
        for (i, e) in chunk.iter().enumerate() {
            text::index_event(conn, pk, first_no + i as i64, e).await?;
            delta.add(e);
        }
    }
    let ingested = base + new_rows.len() as i64;
    // acked_seq can only move when this batch stored the seq right after it.
    let acked = if new_rows.iter().any(|e| e.seq == acked + 1) {
        contiguous_end(conn, pk, acked).await?
    } else {
        acked
    };
    record_stats(conn, pk, &delta, now, acked).await?;
    let outcome = AppendOutcome {
        acked_seq: acked,
        stored: new_rows.len() as u64,
        duplicates,
    };
    Ok((outcome, ingested))
}

/// The events among `fresh` that the session already holds, by seq.
async fn stored_among(
    conn: &mut SqliteConnection,
    pk: i64,
    fresh: &[(usize, &NewEvent)],
) -> Result<HashMap<i64, (f64, Direction, String)>, sqlx::Error> {
    let mut found = HashMap::new();
    for chunk in fresh.chunks(500) {
        let mut sql = sqlx::QueryBuilder::new(
            "SELECT seq, ts, direction, event FROM events WHERE session_pk = ",
        );
        sql.push_bind(pk).push(" AND seq IN (");
        let mut list = sql.separated(", ");
        for (_, e) in chunk {
            list.push_bind(e.seq);
        }
        sql.push(")");
        for row in sql.build().fetch_all(&mut *conn).await? {
            let direction: String = row.get(2);
            // The column's CHECK constraint admits only the three directions.
            let direction = direction.parse::<Direction>().unwrap_or(Direction::System);
            found.insert(row.get::<i64, _>(0), (row.get(1), direction, row.get(3)));
        }
    }
    Ok(found)
}

async fn record_stats(
    conn: &mut SqliteConnection,
    pk: i64,
    d: &Delta,
    now: i64,
    acked: i64,
) -> Result<(), sqlx::Error> {
    let u = &d.usage;
    sqlx::query(
        "UPDATE sessions SET client_events = client_events + ?, server_events = server_events + ?, \
         system_events = system_events + ?, error_count = error_count + ?, response_count = response_count + ?, \
         input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, total_tokens = total_tokens + ?, \
         cached_tokens = cached_tokens + ?, input_text_tokens = input_text_tokens + ?, \
         input_audio_tokens = input_audio_tokens + ?, output_text_tokens = output_text_tokens + ?, \
         output_audio_tokens = output_audio_tokens + ?, \
         first_event_ts = min(coalesce(first_event_ts, ?), ?), last_event_ts = max(coalesce(last_event_ts, ?), ?), \
         last_received_at = ?, acked_seq = ? WHERE pk = ?",
    )
    .bind(d.client)
    .bind(d.server)
    .bind(d.system)
    .bind(d.errors)
    .bind(d.responses)
    .bind(u.input_tokens)
    .bind(u.output_tokens)
    .bind(u.total_tokens)
    .bind(u.cached_tokens)
    .bind(u.input_text_tokens)
    .bind(u.input_audio_tokens)
    .bind(u.output_text_tokens)
    .bind(u.output_audio_tokens)
    .bind(d.first_ts)
    .bind(d.first_ts)
    .bind(d.last_ts)
    .bind(d.last_ts)
    .bind(now)
    .bind(acked)
    .bind(pk)
    .execute(&mut *conn)
    .await?;
    let mut sql = sqlx::QueryBuilder::new("INSERT INTO session_types (session_pk, type, count) ");
    sql.push_values(&d.types, |mut row, (ty, n)| {
        row.push_bind(pk).push_bind(ty).push_bind(n);
    });
    sql.push(" ON CONFLICT (session_pk, type) DO UPDATE SET count = count + excluded.count");
    sql.build().execute(&mut *conn).await?;
    Ok(())
}

/// The end of the contiguous run of stored seqs that starts right after `acked` (whose next seq is stored).
/// Walks only events stored since the last advance, so a gap early in a long session costs nothing per batch.
async fn contiguous_end(
    conn: &mut SqliteConnection,
    pk: i64,
    acked: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT e.seq FROM events e WHERE e.session_pk = ?1 AND e.seq > ?2 \
         AND NOT EXISTS (SELECT 1 FROM events f WHERE f.session_pk = ?1 AND f.seq = e.seq + 1) \
         ORDER BY e.seq LIMIT 1",
    )
    .bind(pk)
    .bind(acked)
    .fetch_one(conn)
    .await
}
