//! The writer's thread and its state: it takes groups from the queue, checks each batch, logs and answers the
//! checked batches, applies them, and commits when the policy (commit.rs) says so.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use rusqlite::Connection;

use super::check::{self, Accepted, Seqs};
use super::commit::Commit;
use super::queue::{AppendReply, Job, Next, Queue};
use super::session_jobs::{Done, apply_session_job};
use super::{AppendError, AppendOutcome, Progress, apply};
use crate::domain::{NewEvent, SessionId};
use crate::intake::{IntakeLog, Record};
use crate::live::{Change, Hub};
use crate::{Durability, Error, Result};

/// A batch whose record would be larger than this is not logged: it is answered after a durable commit.
pub(super) const MAX_RECORD_BYTES: usize = 8 << 20;

/// The batches checked since the log was last written: each waits for that write to be answered, and is
/// applied after its answer.
#[derive(Default)]
struct Checked {
    answers: Vec<(AppendReply, AppendOutcome)>,
    accepted: Vec<Accepted>,
    /// A session's next batch is checked only once this one is applied, so that it is checked against it.
    sessions: HashSet<SessionId>,
    /// A batch too large for the log: these are answered after a durable commit instead.
    unlogged: bool,
}

pub(super) struct Writer {
    pub(super) conn: Connection,
    pub(super) log: IntakeLog,
    /// The database's WAL file: syncing it makes every commit so far durable.
    pub(super) wal: PathBuf,
    pub(super) durability: Durability,
    pub(super) hub: Hub,
    pub(super) progress: Arc<Progress>,
    /// The writer's own count of acknowledged appends (published in `progress.acked`).
    pub(super) acked: u64,
    checked: Checked,
    /// What the open transaction changed, announced to live followers once it commits.
    pub(super) changes: Vec<Change>,
    /// When the open transaction began; `None` when none is open.
    pub(super) tx_started: Option<Instant>,
    /// Events written in the open transaction.
    pub(super) uncommitted: usize,
    /// Session jobs applied in the open transaction, answered once a durable commit covers them.
    pub(super) awaiting_commit: Vec<Done>,
    /// False after a failure that replaying the log could not mend; appends are refused until it can.
    pub(super) healthy: bool,
}

/// Starts the writer's thread. It first stores what the intake log holds (its records), and answers on the
/// returned channel whether that worked; then it serves jobs until the store closes.
pub(super) fn spawn(
    mut writer: Writer,
    records: Vec<Record>,
    queue: Queue,
    stop_checkpoints: std::sync::mpsc::Sender<()>,
) -> Result<tokio::sync::oneshot::Receiver<Result<()>>> {
    let (ready, started) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || {
            crate::run_in_background();
            let replayed = writer.replay(records);
            let ok = replayed.is_ok();
            match replayed {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    events = n,
                    "stored the acknowledged events the intake log held from before the last stop"
                ),
                Err(ref e) => tracing::error!(error = %e, "could not replay the intake log"),
            }
            let _ = ready.send(replayed.map(drop));
            if ok {
                writer.run(queue);
            }
            drop(stop_checkpoints);
        })
        .map_err(Error::Thread)?;
    Ok(started)
}

impl Writer {
    pub(super) fn new(
        conn: Connection,
        log: IntakeLog,
        wal: PathBuf,
        durability: Durability,
        hub: Hub,
        progress: Arc<Progress>,
    ) -> Self {
        Self {
            conn,
            log,
            wal,
            durability,
            hub,
            progress,
            acked: 0,
            checked: Checked::default(),
            changes: Vec::new(),
            tx_started: None,
            uncommitted: 0,
            awaiting_commit: Vec::new(),
            healthy: true,
        }
    }

    /// Runs until every handle (every clone of the store) is gone or the store is closed.
    fn run(mut self, queue: Queue) {
        let closed = loop {
            let group = match queue.next(self.idle_wait()) {
                Next::Group(group) => group,
                Next::Idle => {
                    self.commit_or_recover(Commit::Idle);
                    continue;
                }
                Next::Closed => break None,
            };
            let mut reader_waits = false;
            let mut stop = None;
            for job in group {
                match job {
                    Job::Append {
                        session,
                        events,
                        seqs,
                        reply,
                    } => self.check(session, events, seqs, reply),
                    Job::ReaderWaits => reader_waits = true,
                    Job::Stop(done) => stop = Some(done),
                    job => self.session_job(job),
                }
            }
            self.log_answer_apply();
            self.commit_session_jobs();
            if stop.is_some() {
                break stop;
            }
            if reader_waits {
                self.commit_or_recover(Commit::ReaderWaits);
            } else if self.grown() {
                self.commit_or_recover(Commit::Grown);
            }
        };
        if let Err(e) = self.commit(Commit::Stop) {
            tracing::error!(error = %e, "the last commit before stopping failed; the intake log keeps the events");
        }
        // The log's lock goes with the writer: once `close` returns, the database can be opened again.
        drop(self);
        if let Some(done) = closed {
            let _ = done.send(());
        }
    }

    /// Checks one batch, and queues its record for the log if it stores anything.
    fn check(&mut self, session: SessionId, events: Vec<NewEvent>, seqs: Seqs, reply: AppendReply) {
        if !self.ready() {
            let _ = reply.send(Err(AppendError::Store(Error::NotCommitted)));
            return;
        }
        if self.checked.sessions.contains(&session) {
            self.log_answer_apply();
        }
        // The transaction is open before the check, so what it read stays true until the batch is applied.
        if let Err(e) = self.begin() {
            let _ = reply.send(Err(e.into()));
            return;
        }
        match check::check(&self.conn, session, events, seqs, crate::now_ms()) {
            Ok((outcome, Some(batch))) => {
                if IntakeLog::record_size(&batch.rows) > MAX_RECORD_BYTES {
                    self.checked.unlogged = true;
                } else {
                    self.log.push(batch.session, batch.received_at, &batch.rows);
                }
                self.checked.sessions.insert(session);
                self.checked.accepted.push(batch);
                self.checked.answers.push((reply, outcome));
            }
            Ok((outcome, None)) => self.checked.answers.push((reply, outcome)),
            Err(AppendError::Store(e)) => {
                // Recovery rolls back the open transaction, and session jobs not yet committed with it: what the
                // other checked batches were checked against may not come back. Neither logged nor answered,
                // they are refused and can be resent.
                tracing::error!(error = %e, "the event store failed while checking a batch");
                let _ = reply.send(Err(AppendError::Store(e)));
                self.refuse_checked();
                self.recover();
            }
            Err(refused) => drop(reply.send(Err(refused))),
        }
    }

    /// Makes the checked batches durable in the log, answers them and applies them.
    fn log_answer_apply(&mut self) {
        let Checked {
            answers,
            accepted,
            unlogged,
            ..
        } = std::mem::take(&mut self.checked);
        if answers.is_empty() {
            return;
        }
        let logged = match self.log.flush(self.durability == Durability::Full) {
            Ok(()) => !unlogged,
            Err(e) => {
                tracing::error!(error = %e, "could not write the intake log; committing to the database instead");
                false
            }
        };
        self.acked += accepted.len() as u64;
        self.progress.acked.store(self.acked, Ordering::Release);
        if logged {
            for (reply, outcome) in answers {
                let _ = reply.send(Ok(outcome));
            }
            if self.apply(&accepted).is_err() {
                // Answered and in the log: replaying it stores them.
                self.recover();
            }
            return;
        }
        // Not in the log: the answers wait for a durable commit.
        let stored = self.apply(&accepted).is_ok() && self.commit(Commit::Unlogged).is_ok();
        for (reply, outcome) in answers {
            let answer = if stored {
                Ok(outcome)
            } else {
                Err(AppendError::Store(Error::NotCommitted))
            };
            let _ = reply.send(answer);
        }
        if !stored {
            self.recover();
        }
    }

    fn apply(&mut self, accepted: &[Accepted]) -> rusqlite::Result<()> {
        for batch in accepted {
            match apply::apply(&self.conn, batch) {
                Ok(change) => {
                    self.changes.push(change);
                    self.uncommitted += batch.rows.len();
                }
                Err(e) => {
                    tracing::error!(error = %e, "the event store failed while writing a batch");
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Refuses every checked batch: none of them was logged or answered.
    fn refuse_checked(&mut self) {
        let checked = std::mem::take(&mut self.checked);
        self.log.discard();
        for (reply, _) in checked.answers {
            let _ = reply.send(Err(AppendError::Store(Error::NotCommitted)));
        }
    }

    /// A create, update or delete: applied after everything before it, answered once the group's durable
    /// commit ([`Writer::commit_session_jobs`]) covers it.
    fn session_job(&mut self, job: Job) {
        self.log_answer_apply();
        if !self.ready() {
            return job.refuse();
        }
        if let Err(e) = self.begin() {
            tracing::error!(error = %e, "could not begin a transaction");
            return job.refuse();
        }
        let Some((done, change)) = apply_session_job(&self.conn, job) else {
            return;
        };
        if done.is_db_failure() {
            done.fail();
            self.recover();
            return;
        }
        self.changes.extend(change);
        self.awaiting_commit.push(done);
    }

    /// Commits durably for the session jobs applied since the last call, then answers them.
    fn commit_session_jobs(&mut self) {
        if self.awaiting_commit.is_empty() {
            return;
        }
        if self.commit(Commit::SessionJobs).is_ok() {
            self.awaiting_commit.drain(..).for_each(Done::reply);
        } else {
            self.recover();
        }
    }
}
