//! The writer's thread: it plans appends in rounds, logs and answers them, writes them into the open
//! transaction, and decides when to commit; it recovers from a failure by replaying the intake log.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use flume::RecvTimeoutError;
use rusqlite::Connection;

use super::exclusive::{Done, apply_exclusive};
use super::{AppendError, AppendOutcome, AppendReply, Job, Progress, Seqs, append};
use crate::domain::{NewEvent, SessionId};
use crate::intake::{IntakeLog, Record};
use crate::live::{Change, Hub};
use crate::{Durability, Error, Result};

/// A group takes at most this many events' worth of jobs from the queue.
const MAX_GROUP_EVENTS: usize = 20_000;
/// The open transaction is committed when no job has come for this long (at a browser's pace, a batch is
/// committed a millisecond after its answer; as soon as the queue is empty while someone follows live),
const IDLE: Duration = Duration::from_millis(1);
/// or once it holds this many events,
const COMMIT_EVENTS: usize = 20_000;
/// or once it is this old, under a load that never lets the writer idle. Large transactions are most of the
/// gain with many sessions at once: each commit writes every page it touched, and interleaved sessions touch
/// many. In interleaved A/B runs of the ingest bench (`full`), 250 ms rather than 20 ms gave a median of
/// 94k rather than 75k events/s with 100 sessions, 99k rather than 84k with 10, 86k rather than 79k with 1.
const COMMIT_AGE: Duration = Duration::from_millis(250);
/// Once the intake log holds this much, the next commit is made durable and the log starts over.
const LOG_RESET_BYTES: u64 = 64 << 20;
/// A batch whose record would be larger than this is not logged: it is answered after a durable commit.
pub(super) const MAX_RECORD_BYTES: usize = 8 << 20;

/// The appends of one round: planned, waiting for their records to reach the log.
#[derive(Default)]
struct Round {
    replies: Vec<(AppendReply, AppendOutcome)>,
    plans: Vec<append::Plan>,
    /// A session appears once a round: its next batch is planned only after this one is applied.
    sessions: HashSet<SessionId>,
    /// A batch too large for the log: the round is answered after a durable commit instead.
    unlogged: bool,
}

pub(super) struct Writer {
    conn: Connection,
    log: IntakeLog,
    /// The database's WAL file: syncing it makes every commit so far durable.
    wal: PathBuf,
    durability: Durability,
    hub: Hub,
    progress: Arc<Progress>,
    /// The writer's own count of acknowledged appends (published in `progress.acked`).
    acked: u64,
    round: Round,
    /// What the open transaction changed, announced to live followers once it commits.
    changes: Vec<Change>,
    /// When the open transaction began; `None` when none is open.
    tx_started: Option<Instant>,
    /// Events written in the open transaction.
    uncommitted: usize,
    /// Creates, updates and deletes applied in the open transaction, answered once a durable commit covers
    /// them.
    held: Vec<Done>,
    /// False after a failure that replaying the log could not mend; appends are refused until it can.
    healthy: bool,
}

/// Starts the writer's thread. It first stores what the intake log holds (its records), and answers on the
/// returned channel whether that worked; then it serves jobs until the store closes.
pub(super) fn spawn(
    mut writer: Writer,
    records: Vec<Record>,
    jobs: flume::Receiver<Job>,
    stop_checkpoints: std::sync::mpsc::Sender<()>,
) -> Result<tokio::sync::oneshot::Receiver<Result<()>>> {
    let (ready, started) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || {
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
                writer.run(jobs);
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
            round: Round::default(),
            changes: Vec::new(),
            tx_started: None,
            uncommitted: 0,
            held: Vec::new(),
            healthy: true,
        }
    }

    /// Runs until every handle (every clone of the store) is gone or the store is closed.
    fn run(mut self, jobs: flume::Receiver<Job>) {
        let closed = loop {
            let first = if self.tx_started.is_some() {
                // Someone follows commits live: they see a batch once it is committed, so don't wait.
                let idle = if self.hub.followed() {
                    Duration::ZERO
                } else {
                    IDLE
                };
                match jobs.recv_timeout(idle) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout) => {
                        self.commit_or_recover();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break None,
                }
            } else {
                match jobs.recv() {
                    Ok(job) => job,
                    Err(_) => break None,
                }
            };
            let mut weight = first.weight();
            let mut group = vec![first];
            while weight < MAX_GROUP_EVENTS {
                match jobs.try_recv() {
                    Ok(job) => {
                        weight += job.weight();
                        group.push(job);
                    }
                    Err(_) => break,
                }
            }
            let mut settle = false;
            let mut stop = None;
            for job in group {
                match job {
                    Job::Append {
                        session,
                        events,
                        seqs,
                        reply,
                    } => self.intake(session, events, seqs, reply),
                    Job::Settle => settle = true,
                    Job::Stop(done) => stop = Some(done),
                    job => self.exclusive(job),
                }
            }
            self.finish_round();
            self.commit_held();
            if stop.is_some() {
                break stop;
            }
            let due = self.tx_started.is_some_and(|t| t.elapsed() >= COMMIT_AGE)
                || self.uncommitted >= COMMIT_EVENTS;
            if settle || due {
                self.commit_or_recover();
            }
        };
        // Store what is pending durably and leave an empty log behind.
        if let Err(e) = self.commit(true) {
            tracing::error!(error = %e, "the last commit before stopping failed; the intake log keeps the events");
        }
        // The log's lock goes with the writer: once `close` returns, the database can be opened again.
        drop(self);
        if let Some(done) = closed {
            let _ = done.send(());
        }
    }

    /// Plans one batch into the current round.
    fn intake(
        &mut self,
        session: SessionId,
        mut events: Vec<NewEvent>,
        seqs: Seqs,
        reply: AppendReply,
    ) {
        if !self.ready() {
            let _ = reply.send(Err(AppendError::Store(Error::NotCommitted)));
            return;
        }
        if self.round.sessions.contains(&session) {
            self.finish_round();
        }
        if let Err(e) = self.begin() {
            let _ = reply.send(Err(e.into()));
            return;
        }
        // Numbered from what is applied: every earlier batch of this session is (see above).
        if seqs == Seqs::ServerRange
            && let Err(e) = append::number_server_events(&self.conn, session, &mut events)
        {
            let _ = reply.send(Err(e));
            return;
        }
        match append::plan(&self.conn, session, events, crate::now_ms()) {
            Ok((outcome, Some(plan))) => {
                if IntakeLog::record_size(&plan.rows) > MAX_RECORD_BYTES {
                    self.round.unlogged = true;
                } else {
                    self.log.push(plan.session, plan.received_at, &plan.rows);
                }
                self.round.sessions.insert(session);
                self.round.plans.push(plan);
                self.round.replies.push((reply, outcome));
            }
            Ok((outcome, None)) => self.round.replies.push((reply, outcome)),
            Err(AppendError::Store(e)) => {
                // Recovery rolls back the open transaction, and creates, updates and deletes not yet committed
                // with it: what the round's other batches were planned against may not come back. Neither
                // logged nor answered, they are refused and can be resent.
                tracing::error!(error = %e, "the event store failed while checking a batch");
                let _ = reply.send(Err(AppendError::Store(e)));
                self.abandon_round();
                self.recover();
            }
            // Refused for its input: nothing was written.
            Err(refused) => drop(reply.send(Err(refused))),
        }
    }

    /// Makes the round's batches durable, answers them and writes them into the open transaction.
    fn finish_round(&mut self) {
        let Round {
            replies,
            plans,
            unlogged,
            ..
        } = std::mem::take(&mut self.round);
        if replies.is_empty() {
            return;
        }
        let logged = match self.log.flush(self.durability == Durability::Full) {
            Ok(()) => !unlogged,
            Err(e) => {
                tracing::error!(error = %e, "could not write the intake log; committing to the database instead");
                false
            }
        };
        self.acked += plans.len() as u64;
        self.progress.acked.store(self.acked, Ordering::Release);
        if logged {
            for (reply, outcome) in replies {
                let _ = reply.send(Ok(outcome));
            }
            if self.apply(&plans).is_err() {
                // Answered and in the log: replaying it stores them.
                self.recover();
            }
            return;
        }
        // Not in the log: the answers wait for a durable commit.
        let stored = self.apply(&plans).is_ok() && self.commit(true).is_ok();
        for (reply, outcome) in replies {
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

    fn apply(&mut self, plans: &[append::Plan]) -> rusqlite::Result<()> {
        for plan in plans {
            match append::apply(&self.conn, plan) {
                Ok(change) => {
                    self.changes.push(change);
                    self.uncommitted += plan.rows.len();
                }
                Err(e) => {
                    tracing::error!(error = %e, "the event store failed while writing a batch");
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Refuses every batch of the current round: none of them was logged or answered.
    fn abandon_round(&mut self) {
        let round = std::mem::take(&mut self.round);
        self.log.discard();
        for (reply, _) in round.replies {
            let _ = reply.send(Err(AppendError::Store(Error::NotCommitted)));
        }
    }

    /// A create, update or delete: applied after everything before it, answered once the group's durable
    /// commit ([`Writer::commit_held`]) covers it. The jobs of one group share that commit and its sync.
    fn exclusive(&mut self, job: Job) {
        self.finish_round();
        if !self.ready() {
            return job.refuse();
        }
        if let Err(e) = self.begin() {
            tracing::error!(error = %e, "could not begin a transaction");
            return job.refuse();
        }
        let Some((done, change)) = apply_exclusive(&self.conn, job) else {
            return;
        };
        if done.is_db_failure() {
            done.fail();
            self.recover();
            return;
        }
        self.changes.extend(change);
        self.held.push(done);
    }

    /// Commits durably for the creates, updates and deletes applied since the last call, then answers them.
    fn commit_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        if self.commit(true).is_ok() {
            self.held.drain(..).for_each(Done::reply);
        } else {
            self.recover();
        }
    }

    /// Whether the writer can take writes: after a failure that replaying the log could not mend, it tries
    /// again first.
    fn ready(&mut self) -> bool {
        if !self.healthy {
            self.recover();
        }
        self.healthy
    }

    /// Opens a transaction unless one is open.
    fn begin(&mut self) -> rusqlite::Result<()> {
        if self.tx_started.is_none() {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.tx_started = Some(Instant::now());
        }
        Ok(())
    }

    fn commit_or_recover(&mut self) {
        if self.commit(false).is_err() {
            self.recover();
        }
    }

    /// Commits the open transaction and announces it, then lets the log start over when nothing in it still
    /// needs it. With `normal` durability that is after every commit (the WAL survives the process as the log
    /// would). With `full`, every commit so far must be made durable first (a sync), which happens when the
    /// log has grown large or `durable` asks for it.
    fn commit(&mut self, durable: bool) -> Result<()> {
        if self.tx_started.is_some() {
            if let Err(e) = self.conn.execute_batch("COMMIT") {
                tracing::error!(error = %e, "event store commit failed");
                return Err(e.into());
            }
            self.tx_started = None;
            self.uncommitted = 0;
            self.hub.publish(std::mem::take(&mut self.changes));
            self.progress.committed.send_replace(self.acked);
        }
        let full = self.durability == Durability::Full;
        if !full || durable || self.log.used() >= LOG_RESET_BYTES {
            if full {
                self.sync_wal().map_err(|e| {
                    tracing::error!(error = %e, "could not sync the database's WAL to disk");
                    Error::Intake(e)
                })?;
            }
            if self.log.used() > 0 {
                self.log.reset().map_err(|e| {
                    tracing::error!(error = %e, "could not start the intake log over");
                    Error::Intake(e)
                })?;
            }
        }
        Ok(())
    }

    /// Syncs the WAL file, which makes every commit so far durable: a commit's pages are written to the WAL
    /// before COMMIT returns, and pages already copied out of the WAL were synced into the database file by
    /// the checkpoint that copied them, before SQLite would write over them.
    fn sync_wal(&self) -> std::io::Result<()> {
        match std::fs::File::open(&self.wal) {
            Ok(f) => f.sync_data(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Rolls back whatever is uncommitted and brings the database up to date from the intake log again.
    /// Creates, updates and deletes not yet committed are rolled back with it, and answered so.
    fn recover(&mut self) {
        self.rollback();
        self.held.drain(..).for_each(Done::fail);
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
    fn replay(&mut self, records: Vec<Record>) -> Result<usize> {
        let mut stored = 0;
        if !records.is_empty() {
            self.begin()?;
            for Record {
                session,
                received_at,
                events,
            } in records
            {
                let applied = match append::plan(&self.conn, session, events, received_at) {
                    Ok((_, Some(plan))) => append::apply(&self.conn, &plan)
                        .map(|change| {
                            self.changes.push(change);
                            plan.rows.len()
                        })
                        .map_err(Error::from),
                    // Already stored, or the session was deleted after the batch was accepted.
                    Ok((_, None)) | Err(AppendError::UnknownSession) => Ok(0),
                    Err(AppendError::Conflict { seq, .. }) => {
                        tracing::warn!(%session, seq, "intake log: a batch conflicts with what is stored; skipped");
                        Ok(0)
                    }
                    Err(AppendError::SeqsExhausted) => Ok(0),
                    Err(AppendError::Store(e)) => Err(e),
                };
                match applied {
                    Ok(n) => stored += n,
                    Err(e) => {
                        self.rollback();
                        return Err(e);
                    }
                }
            }
        }
        self.commit(true)?;
        Ok(stored)
    }

    /// Drops the open transaction and what it was going to announce.
    fn rollback(&mut self) {
        if self.tx_started.take().is_some() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        self.changes.clear();
        self.uncommitted = 0;
    }
}
