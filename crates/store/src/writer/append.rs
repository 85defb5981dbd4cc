//! One batch of a session's events, in two steps: [`plan`] checks it against what is stored and settles the
//! answer (stored, duplicates, conflict, `acked_seq`) without writing, and [`apply`] writes it. The writer
//! answers between the two, once the batch is in the intake log, so a 200 does not wait for the inserts.
//!
//! `plan` reads the writer's own connection, which sees everything applied so far, committed or not. The
//! writer applies every planned batch before it plans another batch of the same session, so a plan never
//! misses a batch that was planned before it.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::{AppendError, AppendOutcome};
use crate::domain::{Direction, NewEvent, SERVER_SEQ_START, SessionId, Usage};
use crate::live::Change;
use crate::text;

/// A batch that stores something, checked and answered, not yet written.
pub(crate) struct Plan {
    pub session: SessionId,
    pk: i64,
    /// The session's `ingest_no` before this batch: its new events get base+1, base+2, …
    base: i64,
    /// The session's `acked_seq` once this batch is stored.
    acked: i64,
    pub received_at: i64,
    /// The events this batch newly stores, in the batch's order.
    pub rows: Vec<NewEvent>,
}

/// Gives the server's own events the session's next free seqs of the server's range: one past the largest
/// stored there, or [`SERVER_SEQ_START`]. Checked: the range ends at `i64::MAX`.
pub(crate) fn number_server_events(
    conn: &Connection,
    session: SessionId,
    events: &mut [NewEvent],
) -> Result<(), AppendError> {
    let largest: Option<Option<i64>> = conn
        .prepare_cached(
            "SELECT (SELECT max(seq) FROM events WHERE session_pk = sessions.pk AND seq >= ?) \
             FROM sessions WHERE id = ?",
        )?
        .query_row(params![SERVER_SEQ_START, session.to_string()], |r| r.get(0))
        .optional()?;
    let largest = largest.ok_or(AppendError::UnknownSession)?;
    let mut next = match largest {
        None => SERVER_SEQ_START,
        Some(seq) => seq.checked_add(1).ok_or(AppendError::SeqsExhausted)?,
    };
    for e in events {
        e.seq = next;
        next = next.checked_add(1).ok_or(AppendError::SeqsExhausted)?;
    }
    Ok(())
}

/// Checks a batch and settles its answer, writing nothing. The outcome comes with a plan when the batch
/// stores anything.
pub(crate) fn plan(
    conn: &Connection,
    session: SessionId,
    events: Vec<NewEvent>,
    received_at: i64,
) -> Result<(AppendOutcome, Option<Plan>), AppendError> {
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
    let mut duplicates = 0u64;
    // A seq twice in one batch is settled here: the database can't tell which of two rows it kept.
    let mut first_at: HashMap<i64, usize> = HashMap::with_capacity(events.len());
    let mut new_rows: Vec<usize> = Vec::with_capacity(events.len());
    // Only a seq at or below the session's largest can be stored already.
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
        new_rows.push(index);
    }
    if new_rows.is_empty() {
        let outcome = AppendOutcome {
            acked_seq: acked,
            stored: 0,
            duplicates,
        };
        return Ok((outcome, None));
    }
    let rows: Vec<NewEvent> = if new_rows.len() == events.len() {
        events
    } else {
        let mut events: Vec<Option<NewEvent>> = events.into_iter().map(Some).collect();
        new_rows.iter().filter_map(|&i| events[i].take()).collect()
    };
    let acked = acked_after(acked, max_seq, &rows, |end| stored_run_end(conn, pk, end))?;
    let plan = Plan {
        session,
        pk,
        base,
        acked,
        received_at,
        rows,
    };
    let outcome = AppendOutcome {
        acked_seq: plan.acked,
        stored: plan.rows.len() as u64,
        duplicates,
    };
    Ok((outcome, Some(plan)))
}

/// Writes a planned batch: its events, their text for search, and the session's stats and type counts.
/// Answers the change to announce once it commits.
pub(crate) fn apply(conn: &Connection, plan: &Plan) -> rusqlite::Result<Change> {
    let Plan {
        session,
        pk,
        base,
        acked,
        received_at,
        ref rows,
    } = *plan;
    insert_rows(conn, pk, base, received_at, rows)?;
    let mut delta = Delta::default();
    for (i, e) in rows.iter().enumerate() {
        text::index_event(conn, pk, base + i as i64 + 1, e)?;
        delta.add(e);
    }
    record_stats(conn, pk, &delta, received_at, acked)?;
    Ok(Change::Appended {
        session,
        ingested: base + rows.len() as i64,
    })
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
    received_at: i64,
    rows: &[NewEvent],
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
            insert.raw_bind_parameter(at + 4, received_at)?;
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
         input_tokens = min(input_tokens + ?, 9223372036854775807), \
         output_tokens = min(output_tokens + ?, 9223372036854775807), \
         total_tokens = min(total_tokens + ?, 9223372036854775807), \
         cached_tokens = min(cached_tokens + ?, 9223372036854775807), \
         input_text_tokens = min(input_text_tokens + ?, 9223372036854775807), \
         input_audio_tokens = min(input_audio_tokens + ?, 9223372036854775807), \
         output_text_tokens = min(output_text_tokens + ?, 9223372036854775807), \
         output_audio_tokens = min(output_audio_tokens + ?, 9223372036854775807), \
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

/// The session's `acked_seq` once `rows` (none of them stored yet) are, without storing them: the end of the
/// contiguous run from 1, walked through the batch's seqs and, where the batch has the next seq missing, the
/// database's. `max_seq` is the largest seq stored; `stored_run_end(n)` answers the end of the run of stored
/// seqs that starts at n+1, or `None` if n+1 is not stored.
///
/// Most batches take no query: `acked_seq` can only move when the batch holds the seq right after it, and
/// then the database can add to it only if something is stored above it (a gap that this batch may fill).
/// Each query is one index walk, from where the batch's own seqs left off; a batch fills at most as many
/// gaps as it has runs of seqs.
pub(crate) fn acked_after(
    acked: i64,
    max_seq: i64,
    rows: &[NewEvent],
    mut stored_run_end: impl FnMut(i64) -> rusqlite::Result<Option<i64>>,
) -> rusqlite::Result<i64> {
    if !rows.iter().any(|e| e.seq == acked + 1) {
        return Ok(acked);
    }
    let mut seqs: Vec<i64> = rows.iter().map(|e| e.seq).collect();
    seqs.sort_unstable();
    let mut seqs = seqs.into_iter().skip_while(|&s| s <= acked).peekable();
    let mut end = acked;
    loop {
        while seqs.next_if_eq(&(end + 1)).is_some() {
            end += 1;
        }
        if end >= max_seq {
            return Ok(end);
        }
        match stored_run_end(end)? {
            // No seq of the batch lies inside a stored run: the batch's new rows are not stored.
            Some(run_end) => end = run_end,
            None => return Ok(end),
        }
    }
}

/// The end of the run of stored seqs that starts at `end + 1`, or `None` if `end + 1` is not stored. Walks
/// only the run itself.
fn stored_run_end(conn: &Connection, pk: i64, end: i64) -> rusqlite::Result<Option<i64>> {
    let run_end: Option<Option<i64>> = conn
        .prepare_cached(
            "SELECT (SELECT e.seq FROM events e WHERE e.session_pk = ?1 AND e.seq > ?2 \
             AND NOT EXISTS (SELECT 1 FROM events f WHERE f.session_pk = ?1 AND f.seq = e.seq + 1) \
             ORDER BY e.seq LIMIT 1) \
             WHERE EXISTS (SELECT 1 FROM events WHERE session_pk = ?1 AND seq = ?2 + 1)",
        )?
        .query_row(params![pk, end], |r| r.get(0))
        .optional()?;
    Ok(run_end.flatten())
}
