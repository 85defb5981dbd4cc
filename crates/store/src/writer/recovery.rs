//! Recovery: after the database failed midway, the writer rolls back what is uncommitted and replays the
//! intake log, which holds every batch answered since the last durable commit. The start-up replay after a
//! crash is the same replay.

use super::AppendError;
use super::check::{self, Seqs};
use super::commit::Commit;
use super::session_jobs::Done;
use super::thread::Writer;
use crate::intake::Record;
use crate::{Error, Result};

impl Writer {
    /// Whether the writer can take writes: after a failure that replaying the log could not mend, it tries
    /// again first.
    pub(super) fn ready(&mut self) -> bool {
        if !self.healthy {
            self.recover();
        }
        self.healthy
    }

    /// Rolls back whatever is uncommitted and brings the database up to date from the intake log again.
    /// Creates, updates and deletes not yet committed are rolled back with it, and answered so.
    pub(super) fn recover(&mut self) {
        self.rollback();
        self.awaiting_commit.drain(..).for_each(Done::fail);
        let result = match self.log.reread() {
            Ok(records) => self.replay(records),
            Err(e) => Err(Error::Intake(e)),
        };
        match result {
            Ok(n) => {
                tracing::warn!(
                    events = n,
                    "the event store recovered from the intake log after a failure"
                );
                self.healthy = true;
            }
            Err(e) => {
                tracing::error!(error = %e, "the event store could not recover; appends are refused until it can");
                self.healthy = false;
            }
        }
    }

    /// Stores the logged batches that the database does not hold yet, commits that durably and starts the log
    /// over. Batches already stored count as duplicates. Answers how many events were stored.
    pub(super) fn replay(&mut self, records: Vec<Record>) -> Result<usize> {
        let mut stored = 0;
        if !records.is_empty() {
            self.begin()?;
            for record in records {
                match self.replay_one(record) {
                    Ok(n) => stored += n,
                    Err(e) => {
                        self.rollback();
                        return Err(e);
                    }
                }
            }
        }
        self.commit(Commit::Replayed)?;
        Ok(stored)
    }

    fn replay_one(&mut self, record: Record) -> Result<usize> {
        let Record {
            session,
            received_at,
            events,
        } = record;
        // The log holds the seqs the batch was stored with, the server's own numbered already.
        match check::check(&self.conn, session, events, Seqs::Given, received_at) {
            Ok((_, Some(batch))) => {
                self.changes.push(super::apply::apply(&self.conn, &batch)?);
                Ok(batch.rows.len())
            }
            // Already stored, or the session was deleted after the batch was accepted.
            Ok((_, None)) | Err(AppendError::UnknownSession) => Ok(0),
            Err(AppendError::Conflict { seq, .. }) => {
                tracing::warn!(%session, seq, "intake log: a batch conflicts with what is stored; skipped");
                Ok(0)
            }
            Err(AppendError::SeqsExhausted) => Ok(0),
            Err(AppendError::Store(e)) => Err(e),
        }
    }

    /// Drops the open transaction and what it was going to announce.
    pub(super) fn rollback(&mut self) {
        if self.tx_started.take().is_some() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        self.changes.clear();
        self.uncommitted = 0;
    }
}
