//! The single writer: one OS thread with its own SQLite connection. It takes every write job waiting in its
//! queue, applies them one after another and commits them all at once (group commit). A job checks its input
//! before it writes anything, so a refused job leaves nothing to undo and does not disturb the others.
//!
//! The writer calls SQLite directly (rusqlite, prepared statements cached) rather than through sqlx's async
//! driver: that driver runs each statement on a worker thread and hands every statement and its result across
//! threads, and those hand-offs (about ten per batch) cost more than SQLite's own work for a 50-event batch.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::domain::{Direction, NewEvent, SessionId, Usage};
use crate::live::{Change, Hub};
use crate::sessions::{self, NewSession, Session, SessionPatch};
use crate::{Durability, Error, Result, checkpoint, text};

/// Caps one commit so a flood of requests cannot make one transaction (and its latency) unbounded.
const MAX_EVENTS_PER_COMMIT: usize = 20_000;
/// Jobs that may wait for the writer before senders wait too (back-pressure).
const QUEUE: usize = 1024;

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

impl From<rusqlite::Error> for AppendError {
    fn from(e: rusqlite::Error) -> Self {
        AppendError::Store(Error::Write(e))
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

    /// The job was not applied: its group could not commit.
    fn refuse(self) {
        let e = || Error::NotCommitted;
        match self {
            Job::Append { reply, .. } => drop(reply.send(Err(AppendError::Store(e())))),
            Job::Create { reply, .. } => drop(reply.send(Err(e()))),
            Job::Update { reply, .. } => drop(reply.send(Err(e()))),
            Job::Delete { reply, .. } => drop(reply.send(Err(e()))),
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
    fn fail(self) {
        let e = || Error::NotCommitted;
        match self {
            Done::Append(tx, _) => drop(tx.send(Err(AppendError::Store(e())))),
            Done::Create(tx, _) => drop(tx.send(Err(e()))),
            Done::Update(tx, _) => drop(tx.send(Err(e()))),
            Done::Delete(tx, _) => drop(tx.send(Err(e()))),
        }
    }
}

/// The writer connection's settings, `PRAGMA name = value` in this order.
pub(crate) fn pragmas(durability: Durability) -> [(&'static str, String); 5] {
    [
        ("synchronous", durability.synchronous().to_owned()),
        // Checkpoints run on their own thread (see checkpoint.rs); this is only the backstop.
        ("wal_autocheckpoint", checkpoint::BACKSTOP_PAGES.to_string()),
        // After a burst the WAL file shrinks back to this size when it is next reused, rather than keeping
        // its high-water mark on disk.
        (
            "journal_size_limit",
            (checkpoint::BACKSTOP_PAGES * 4096).to_string(),
        ),
        ("foreign_keys", "ON".to_owned()),
        // Statement journals (an FTS insert may need one) in memory, not in a temp file per statement.
        ("temp_store", "MEMORY".to_owned()),
    ]
}

/// Applies [`pragmas`] and the writer's statement cache to its connection.
fn configure(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    conn.busy_timeout(crate::BUSY_TIMEOUT)?;
    for (name, value) in pragmas(durability) {
        conn.execute_batch(&format!("PRAGMA {name} = {value}"))?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Opens the writer's connection to the store's file (already created, in WAL mode and migrated by the pool)
/// and starts its thread.
pub(crate) fn spawn(path: &Path, durability: Durability, hub: Hub) -> Result<mpsc::Sender<Job>> {
    let conn = Connection::open(path)?;
    configure(&conn, durability)?;
    let (stop_checkpoints, stop) = std::sync::mpsc::channel::<()>();
    checkpoint::spawn(path, durability, stop)?;
    let (tx, rx) = mpsc::channel(QUEUE);
    std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || {
            run(conn, rx, hub);
            drop(stop_checkpoints);
        })
        .map_err(Error::Thread)?;
    Ok(tx)
}

/// Runs until every sender (every clone of the store) is gone.
fn run(mut conn: Connection, mut rx: mpsc::Receiver<Job>, hub: Hub) {
    let mut group = Vec::new();
    while let Some(first) = rx.blocking_recv() {
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
        commit_group(&mut conn, std::mem::take(&mut group), &hub);
    }
}

fn commit_group(conn: &mut Connection, jobs: Vec<Job>, hub: &Hub) {
    let mut done = Vec::with_capacity(jobs.len());
    let mut changes = Vec::new();
    let mut jobs = jobs.into_iter();
    match apply_all(conn, &mut jobs, &mut done, &mut changes) {
        Ok(()) => {
            hub.publish(changes);
            done.into_iter().for_each(Done::reply);
        }
        Err(e) => {
            tracing::error!(error = %e, "event store commit failed; the group is rolled back");
            done.into_iter().for_each(Done::fail);
            jobs.for_each(Job::refuse);
        }
    }
}

/// Applies the jobs in one transaction and commits it. On an error the transaction is rolled back (as it is
/// dropped) and the jobs not yet applied are left in `jobs`.
fn apply_all(
    conn: &mut Connection,
    jobs: &mut impl Iterator<Item = Job>,
    done: &mut Vec<Done>,
    changes: &mut Vec<Change>,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for job in jobs {
        let (d, change) = apply(&tx, job);
        let failed = d.is_db_failure();
        changes.extend(change);
        done.push(d);
        if failed {
            return Err(Error::NotCommitted);
        }
    }
    tx.commit()?;
    Ok(())
}

/// Applies one job; the change it makes is announced to live followers once the group commits.
fn apply(conn: &Connection, job: Job) -> (Done, Option<Change>) {
    match job {
        Job::Append {
            session,
            events,
            reply,
        } => {
            let result = append(conn, session, &events);
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
            let result = create(conn, new, &events);
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
            let result = sessions::update(conn, id, patch);
            let change = matches!(result, Ok(Some(_))).then_some(Change::Updated { session: id });
            (Done::Update(reply, result), change)
        }
        Job::Delete { id, reply } => {
            let result = delete(conn, id);
            let change = matches!(result, Ok(true)).then_some(Change::Deleted { session: id });
            (Done::Delete(reply, result), change)
        }
    }
}

fn delete(conn: &Connection, id: SessionId) -> Result<bool> {
    let pk: Option<i64> = conn
        .prepare_cached("SELECT pk FROM sessions WHERE id = ?")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    let Some(pk) = pk else {
        return Ok(false);
    };
    text::forget_session(conn, pk)?;
    sessions::delete(conn, pk)
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
        if let Some(n) = self.types.get_mut(&e.event_type) {
            *n += 1;
        } else {
            self.types.insert(e.event_type.clone(), 1);
        }
    }
}

/// Creates a session with its first events, all in the caller's transaction.
fn create(conn: &Connection, new: NewSession, events: &[NewEvent]) -> Result<(Session, i64)> {
    let id = sessions::insert(conn, new)?;
    let ingested = if events.is_empty() {
        0
    } else {
        match append(conn, id, events) {
            Ok((_, ingested)) => ingested,
            Err(AppendError::Store(e)) => return Err(e),
            // A fresh session holds nothing to conflict with; a seq twice in `events` is the caller's bug.
            Err(e) => return Err(Error::Refused(e.to_string())),
        }
    };
    let session = sessions::fetch_sync(conn, id)?.ok_or(Error::NotCommitted)?;
    Ok((session, ingested))
}

/// Stores a batch; answers the outcome and the session's ingest count after it (the `ingest_no` of its last
/// new event).
fn append(
    conn: &Connection,
    session: SessionId,
    events: &[NewEvent],
) -> Result<(AppendOutcome, i64), AppendError> {
    let (pk, acked, max_seq, base): (i64, i64, i64, i64) = conn
        .prepare_cached(
            "SELECT pk, acked_seq, \
             (SELECT coalesce(max(seq), 0) FROM events WHERE session_pk = sessions.pk), \
             (SELECT coalesce(max(ingest_no), 0) FROM events WHERE session_pk = sessions.pk) \
             FROM sessions WHERE id = ?",
        )?
        .query_row([session.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?
        .ok_or(AppendError::UnknownSession)?;
    let now = crate::now_ms();
    let mut duplicates = 0u64;
    // A seq twice in one batch is settled here: the database can't tell which of two rows it kept.
    let mut first_at: HashMap<i64, usize> = HashMap::with_capacity(events.len());
    let mut new_rows: Vec<&NewEvent> = Vec::with_capacity(events.len());
    // Resends are found before anything is written, so a conflict refuses the batch with nothing to undo. Only
    // a seq at or below the session's largest can be stored already.
    let mut stored = conn.prepare_cached(
        "SELECT ts, direction, event FROM events WHERE session_pk = ? AND seq = ?",
    )?;
    for (index, e) in events.iter().enumerate() {
        if let Some(&i) = first_at.get(&e.seq) {
            if events[i].same_content(e.ts, e.direction, e.event.get()) {
                duplicates += 1;
                continue;
            }
            return Err(AppendError::Conflict { index, seq: e.seq });
        }
        first_at.insert(e.seq, index);
        if e.seq <= max_seq {
            let before: Option<(f64, String, String)> = stored
                .query_row(params![pk, e.seq], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            if let Some((ts, direction, event)) = before {
                // The column's CHECK constraint admits only the three directions.
                let direction = direction.parse::<Direction>().unwrap_or(Direction::System);
                if e.same_content(ts, direction, &event) {
                    duplicates += 1;
                    continue;
                }
                return Err(AppendError::Conflict { index, seq: e.seq });
            }
        }
        new_rows.push(e);
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
    insert_rows(conn, pk, base, now, &new_rows)?;
    let mut delta = Delta::default();
    for (i, e) in new_rows.iter().enumerate() {
        text::index_event(conn, pk, base + i as i64 + 1, e)?;
        delta.add(e);
    }
    let ingested = base + new_rows.len() as i64;
    let acked = advance_acked(conn, pk, acked, max_seq, &new_rows)?;
    record_stats(conn, pk, &delta, now, acked)?;
    let outcome = AppendOutcome {
        acked_seq: acked,
        stored: new_rows.len() as u64,
        duplicates,
    };
    Ok((outcome, ingested))
}

/// Rows per INSERT statement: a statement per row adds its own work (binding, cursors, reset) to every event.
/// In 16 interleaved comparisons on the ingest bench (10 and 100 sessions, both durabilities), 25
/// rows a statement gave a median of 9% more events/s (from -4% to +28%; the machine's noise is about ±15%).
const ROWS_PER_INSERT: usize = 25;

/// `INSERT INTO events … VALUES` with 1 to [`ROWS_PER_INSERT`] rows, built once (`[n - 1]` has n rows).
static INSERTS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    (1..=ROWS_PER_INSERT)
        .map(|n| {
            let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; n].join(", ");
            format!(
                "INSERT INTO events (session_pk, seq, ts, received_at, direction, type, event, ingest_no) \
                 VALUES {rows}"
            )
        })
        .collect()
});

/// Inserts `rows` in their order, with `ingest_no` base+1, base+2, …
fn insert_rows(
    conn: &Connection,
    pk: i64,
    base: i64,
    now: i64,
    rows: &[&NewEvent],
) -> rusqlite::Result<()> {
    let mut ingest_no = base;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut insert = conn.prepare_cached(&INSERTS[chunk.len() - 1])?;
        for (i, e) in chunk.iter().enumerate() {
            ingest_no += 1;
            let at = i * 8;
            insert.raw_bind_parameter(at + 1, pk)?;
            insert.raw_bind_parameter(at + 2, e.seq)?;
            insert.raw_bind_parameter(at + 3, e.ts)?;
            insert.raw_bind_parameter(at + 4, now)?;
            insert.raw_bind_parameter(at + 5, e.direction.as_str())?;
            insert.raw_bind_parameter(at + 6, &e.event_type)?;
            insert.raw_bind_parameter(at + 7, e.event.get())?;
            insert.raw_bind_parameter(at + 8, ingest_no)?;
        }
        insert.raw_execute()?;
    }
    Ok(())
}

fn record_stats(
    conn: &Connection,
    pk: i64,
    d: &Delta,
    now: i64,
    acked: i64,
) -> rusqlite::Result<()> {
    let u = &d.usage;
    conn.prepare_cached(
        "UPDATE sessions SET client_events = client_events + ?, server_events = server_events + ?, \
         system_events = system_events + ?, error_count = error_count + ?, response_count = response_count + ?, \
         input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, total_tokens = total_tokens + ?, \
         cached_tokens = cached_tokens + ?, input_text_tokens = input_text_tokens + ?, \
         input_audio_tokens = input_audio_tokens + ?, output_text_tokens = output_text_tokens + ?, \
         output_audio_tokens = output_audio_tokens + ?, \
         first_event_ts = min(coalesce(first_event_ts, ?14), ?14), \
         last_event_ts = max(coalesce(last_event_ts, ?15), ?15), \
         last_received_at = ?16, acked_seq = ?17 WHERE pk = ?18",
    )?
    .execute(params![
        d.client,
        d.server,
        d.system,
        d.errors,
        d.responses,
        u.input_tokens,
        u.output_tokens,
        u.total_tokens,
        u.cached_tokens,
        u.input_text_tokens,
        u.input_audio_tokens,
        u.output_text_tokens,
        u.output_audio_tokens,
        d.first_ts,
        d.last_ts,
        now,
        acked,
        pk
    ])?;
    let mut upsert = conn.prepare_cached(
        "INSERT INTO session_types (session_pk, type, count) VALUES (?, ?, ?) \
         ON CONFLICT (session_pk, type) DO UPDATE SET count = count + excluded.count",
    )?;
    for (ty, n) in &d.types {
        upsert.execute(params![pk, ty, n])?;
    }
    Ok(())
}

/// The session's new `acked_seq` once `new_rows` are stored. It can only move when this batch stored the seq
/// right after it. The batch's own seqs settle it, unless the session already held seqs above `acked` (a gap
/// that this batch may fill), where the walk goes on in the database.
fn advance_acked(
    conn: &Connection,
    pk: i64,
    acked: i64,
    max_seq: i64,
    new_rows: &[&NewEvent],
) -> rusqlite::Result<i64> {
    if !new_rows.iter().any(|e| e.seq == acked + 1) {
        return Ok(acked);
    }
    let mut seqs: Vec<i64> = new_rows.iter().map(|e| e.seq).collect();
    seqs.sort_unstable();
    let mut end = acked;
    for seq in seqs {
        if seq == end + 1 {
            end = seq;
        } else if seq > end + 1 {
            break;
        }
    }
    if max_seq <= acked {
        return Ok(end);
    }
    contiguous_end(conn, pk, end - 1)
}

/// The end of the contiguous run of stored seqs that starts right after `acked` (whose next seq is stored).
/// Walks only events stored since the last advance, so a gap early in a long session costs nothing per batch.
fn contiguous_end(conn: &Connection, pk: i64, acked: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT e.seq FROM events e WHERE e.session_pk = ?1 AND e.seq > ?2 \
         AND NOT EXISTS (SELECT 1 FROM events f WHERE f.session_pk = ?1 AND f.seq = e.seq + 1) \
         ORDER BY e.seq LIMIT 1",
    )?
    .query_row(params![pk, acked], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_connection_gets_every_setting() {
        let dir = tempfile::tempdir().unwrap();
        for (durability, synchronous) in [(Durability::Full, 2), (Durability::Normal, 1)] {
            let conn = Connection::open(dir.path().join("w.db")).unwrap();
            configure(&conn, durability).unwrap();
            let read = |name: &str| -> i64 {
                conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
                    .unwrap()
            };
            assert_eq!(read("synchronous"), synchronous);
            assert_eq!(read("wal_autocheckpoint"), checkpoint::BACKSTOP_PAGES);
            assert_eq!(
                read("journal_size_limit"),
                checkpoint::BACKSTOP_PAGES * 4096
            );
            assert_eq!(read("foreign_keys"), 1);
            assert_eq!(read("temp_store"), 2, "MEMORY");
        }
    }
}
