//! The check step: a batch against what is stored, which settles its answer (stored, duplicates, 409
//! conflict, `acked_seq`) before anything is written. It only reads, so a refused batch, or one whose
//! answer is lost with a failed log write, leaves the database as it was. [`super::apply`] writes what it
//! accepted, after the answer.
//!
//! It reads the writer's own connection, which sees everything applied so far, committed or not. The writer
//! applies every accepted batch before it checks another batch of the same session, so a check never misses
//! a batch accepted before it.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::{AppendError, AppendOutcome};
use crate::domain::{Direction, NewEvent, SERVER_SEQ_START, SessionId};

/// Where an append's seqs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seqs {
    /// The events carry them: a client's recording, an import, a replayed record.
    Given,
    /// The server's own events: numbered in the check, from the session's next free seq at or above
    /// [`SERVER_SEQ_START`], so that they never meet a client's seqs whatever the client sends meanwhile.
    ServerRange,
}

/// A batch that stores something: checked and answered, not yet written.
pub(crate) struct Accepted {
    pub session: SessionId,
    pub pk: i64,
    /// The session's `ingest_no` before this batch: its new events get base+1, base+2, …
    pub base: i64,
    /// The session's `acked_seq` once this batch is stored.
    pub acked: i64,
    pub received_at: i64,
    /// The events this batch newly stores, in the batch's order.
    pub rows: Vec<NewEvent>,
}

/// Checks a batch and settles its answer, writing nothing. The answer comes with what to apply when the
/// batch stores anything.
pub(crate) fn check(
    conn: &Connection,
    session: SessionId,
    mut events: Vec<NewEvent>,
    seqs: Seqs,
    received_at: i64,
) -> Result<(AppendOutcome, Option<Accepted>), AppendError> {
    if seqs == Seqs::ServerRange {
        number_server_events(conn, session, &mut events)?;
    }
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
        // Only a seq at or below the session's largest can be stored already.
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
    let acked_after = acked_after(acked, max_seq, &rows, |end| stored_run_end(conn, pk, end))?;
    let outcome = AppendOutcome {
        acked_seq: acked_after,
        stored: rows.len() as u64,
        duplicates,
    };
    let accepted = Accepted {
        session,
        pk,
        base,
        acked: acked_after,
        received_at,
        rows,
    };
    Ok((outcome, Some(accepted)))
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
