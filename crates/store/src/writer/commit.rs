//! The commit policy: when the writer commits its open transaction, and what a commit must also do. An
//! answered batch is in the intake log already, so most commits only make batches visible to readers and
//! need no sync; the commits that answer something themselves, or let the log start over, must reach the disk.

use std::time::{Duration, Instant};

use super::thread::Writer;
use crate::{Durability, Error, Result};

/// The open transaction is committed when no job has come for this long (as soon as the queue is empty while
/// someone follows live; a reader that must see a batch has it committed at once, see `ReaderWaits`). Longer
/// than the gateway recordings' 20 ms tick, so that their steady batches share the commits of [`COMMIT_AGE`]
/// rather than each tick paying a commit of its own (every page it touched written to the WAL again),
const IDLE: Duration = Duration::from_millis(25);
/// or once it holds this many events,
const COMMIT_EVENTS: usize = 20_000;
/// or once it is this old, under a load that never lets the writer idle. Large transactions are most of the
/// gain with many sessions at once: each commit writes every page it touched, and interleaved sessions touch
/// many. In interleaved A/B runs of the ingest bench (`full`), 250 ms rather than 20 ms gave a median of
/// 94k rather than 75k events/s with 100 sessions, 99k rather than 84k with 10, 86k rather than 79k with 1.
const COMMIT_AGE: Duration = Duration::from_millis(250);
/// Once the intake log holds this much, the next commit is made durable and the log starts over.
const LOG_RESET_BYTES: u64 = 64 << 20;

/// Why the writer commits, which decides whether the commit must be durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Commit {
    /// No job came for [`IDLE`], or at once when someone follows commits live.
    Idle,
    /// A reader waits to see every batch answered before it.
    ReaderWaits,
    /// The transaction reached [`COMMIT_EVENTS`] or [`COMMIT_AGE`] under a load that never lets it idle.
    Grown,
    /// Any of the three above once the log holds [`LOG_RESET_BYTES`]: made durable, the log can start over.
    LogFull,
    /// Creates, updates and deletes, answered once their commit is on disk; the jobs of one group share it.
    SessionJobs,
    /// A batch too large for the intake log, answered once its commit is on disk.
    Unlogged,
    /// What replaying the intake log stored, on disk before the log starts over.
    Replayed,
    /// The store is closing: everything on disk, and the log left empty.
    Stop,
}

impl Commit {
    fn durable(self) -> bool {
        !matches!(self, Commit::Idle | Commit::ReaderWaits | Commit::Grown)
    }
}

impl Writer {
    /// How long the writer waits for a job before it commits: with no transaction open, as long as it takes.
    pub(super) fn idle_wait(&self) -> Option<Duration> {
        self.tx_started?;
        // Someone follows commits live: they see a batch once it is committed, so don't wait.
        Some(if self.hub.followed() {
            Duration::ZERO
        } else {
            IDLE
        })
    }

    pub(super) fn grown(&self) -> bool {
        self.tx_started.is_some_and(|t| t.elapsed() >= COMMIT_AGE)
            || self.uncommitted >= COMMIT_EVENTS
    }

    /// Opens a transaction unless one is open.
    pub(super) fn begin(&mut self) -> rusqlite::Result<()> {
        if self.tx_started.is_none() {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.tx_started = Some(Instant::now());
        }
        Ok(())
    }

    pub(super) fn commit_or_recover(&mut self, why: Commit) {
        if self.commit(why).is_err() {
            self.recover();
        }
    }

    /// Commits the open transaction and announces it, then lets the log start over when nothing in it still
    /// needs it. With `normal` durability that is after every commit: the WAL survives the process as the log
    /// would. With `full`, every commit so far must be made durable first (a sync of the WAL).
    pub(super) fn commit(&mut self, why: Commit) -> Result<()> {
        let why = if !why.durable() && self.log.used() >= LOG_RESET_BYTES {
            Commit::LogFull
        } else {
            why
        };
        if self.tx_started.is_some() {
            if let Err(e) = self.conn.execute_batch("COMMIT") {
                tracing::error!(error = %e, ?why, "event store commit failed");
                return Err(e.into());
            }
            self.tx_started = None;
            self.uncommitted = 0;
            self.hub.publish(std::mem::take(&mut self.changes));
            self.progress.committed.send_replace(self.acked);
        }
        let full = self.durability == Durability::Full;
        if full && !why.durable() {
            return Ok(());
        }
        if full {
            self.sync_wal().map_err(|e| {
                tracing::error!(error = %e, ?why, "could not sync the database's WAL to disk");
                Error::Intake(e)
            })?;
        }
        if self.log.used() > 0 {
            self.log.reset().map_err(|e| {
                tracing::error!(error = %e, "could not start the intake log over");
                Error::Intake(e)
            })?;
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
}
