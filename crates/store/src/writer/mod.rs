//! The single writer: one OS thread that owns the store's SQLite write connection and its intake log. Every
//! write goes through it. The life of a batch of events:
//!
//! 1. Received: [`crate::Store::append_events`] queues a job; the writer takes every job waiting at the time
//!    as one group (queue.rs).
//! 2. Checked against what is stored, which settles its answer: stored, duplicates, 409 conflict, `acked_seq`.
//!    Nothing is written (check.rs).
//! 3. Logged: the group's accepted batches go into the intake log in one write, synced with `full` (intake.rs).
//! 4. Answered: from here the log keeps the batch through a crash.
//! 5. Applied: its rows, text and stats go into a transaction that stays open across groups (apply.rs).
//! 6. Committed when the queue goes quiet, a reader waits, or the transaction has grown (commit.rs). After a
//!    failure or a crash, what the log holds is replayed (recovery.rs).
//! 7. Checkpointed: a thread of its own copies the WAL into the database file (checkpoint.rs).
//!
//! Why answer before applying:
//! - A 200 costs one sequential write (and sync), not the inserts and a commit of its own.
//! - SQLite commits thousands of events at a time rather than one request's batch. With many sessions at
//!   once, that is most of the gain: each commit rewrites the pages it touched, and interleaved sessions
//!   touch many.
//! - Nothing acknowledged is lost in a crash: what no durable commit covers yet is in the log.
//!
//! Creating, revealing, updating and deleting sessions are rare (session_jobs.rs). Each answers only after a
//! durable commit, which also covers everything before it; those that arrive together share one.
//!
//! Readers use a pool of other connections, which see committed data only. A read first waits for every
//! batch acknowledged before it to be committed ([`Handle::wait_until_committed`]): if some are not yet, it
//! asks the writer to commit.
//!
//! The writer calls SQLite directly (rusqlite, prepared statements cached) rather than through sqlx's async
//! driver: that driver runs each statement on a worker thread and hands every statement and its result across
//! threads, and those hand-offs (about ten per batch) cost more than SQLite's own work for a 50-event batch.

mod apply;
mod check;
mod commit;
mod queue;
mod recovery;
mod session_jobs;
mod thread;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde::Serialize;
use tokio::sync::{oneshot, watch};

pub(crate) use check::Seqs;
pub(crate) use queue::Job;

use crate::intake::{self, IntakeLog, Record};
use crate::live::Hub;
use crate::{Durability, Error, Result, checkpoint};

/// How long opening a store waits for another writer of the same database to let go of it.
const LOCK_WAIT: Duration = Duration::from_secs(5);
/// How long a read waits for the writer to commit what was acknowledged before it.
const COMMIT_WAIT_TIMEOUT: Duration = Duration::from_secs(30);

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
    /// The server's range of seqs is used up (it would take 2^63 - 2^50 events of the server's own).
    #[error("the session's server seqs are used up")]
    SeqsExhausted,
    #[error(transparent)]
    Store(#[from] Error),
}

impl From<rusqlite::Error> for AppendError {
    fn from(e: rusqlite::Error) -> Self {
        AppendError::Store(Error::Sqlite(e))
    }
}

/// How far acknowledgements and commits have come, shared by the writer and the store's handles.
#[derive(Debug)]
struct Progress {
    /// Appends acknowledged so far that stored something.
    acked: AtomicU64,
    /// How many of those the last commit covers.
    committed: watch::Sender<u64>,
}

/// The store's side of the writer: its queue and its progress.
#[derive(Clone, Debug)]
pub(crate) struct Handle {
    jobs: flume::Sender<Job>,
    progress: Arc<Progress>,
}

impl Handle {
    pub(crate) async fn send(&self, job: Job) -> Result<()> {
        self.jobs
            .send_async(job)
            .await
            .map_err(|_| Error::WriterGone)
    }

    /// Stops the writer once it has committed everything durably and emptied its log.
    pub(crate) async fn stop(&self) {
        let (done, stopped) = oneshot::channel();
        if self.send(Job::Stop(done)).await.is_ok() {
            let _ = stopped.await;
        }
    }

    /// Waits until every batch acknowledged so far is committed, so a read sees it.
    pub(crate) async fn wait_until_committed(&self) -> Result<()> {
        let want = self.progress.acked.load(Ordering::Acquire);
        let mut committed = self.progress.committed.subscribe();
        if *committed.borrow_and_update() >= want {
            return Ok(());
        }
        self.send(Job::ReaderWaits).await?;
        match tokio::time::timeout(COMMIT_WAIT_TIMEOUT, committed.wait_for(|c| *c >= want)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(Error::WriterGone),
            Err(_) => Err(Error::NotCommitted),
        }
    }
}

/// The writer connection's settings, `PRAGMA name = value` in this order, apart from `synchronous`: the
/// writer's commits are never synced one by one (the intake log is what makes an answered batch durable).
pub(crate) fn pragmas() -> [(&'static str, String); 5] {
    [
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
        // A transaction of thousands of events from many sessions dirties thousands of pages; they stay in
        // memory until the commit rather than spilling into the WAL midway (64 MiB at most).
        ("cache_size", "-65536".to_owned()),
    ]
}

/// Applies [`pragmas`] and the writer's statement cache to its connection.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(crate::BUSY_TIMEOUT)?;
    conn.execute_batch("PRAGMA synchronous = NORMAL")?;
    for (name, value) in pragmas() {
        conn.execute_batch(&format!("PRAGMA {name} = {value}"))?;
    }
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Opens the writer's connection to the store's file (already created, in WAL mode and migrated by the pool)
/// and its intake log, replays what the log holds, and starts the writer's thread.
pub(crate) async fn start(path: &Path, durability: Durability, hub: Hub) -> Result<Handle> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    let (log, records) = open_log(&intake::path_for(path)).await?;
    let (stop_checkpoints, stop) = std::sync::mpsc::channel::<()>();
    checkpoint::spawn(path, durability, stop)?;
    let (jobs, queue) = queue::bounded();
    let progress = Arc::new(Progress {
        acked: AtomicU64::new(0),
        committed: watch::Sender::new(0),
    });
    let wal = crate::beside(path, "-wal");
    let writer = thread::Writer::new(conn, log, wal, durability, hub, progress.clone());
    let started = thread::spawn(writer, records, queue, stop_checkpoints)?;
    started.await.map_err(|_| Error::WriterGone)??;
    Ok(Handle { jobs, progress })
}

/// Opens the intake log, waiting a moment if it is locked: a store of this database that is shutting down
/// (a restart, a test that reopens it) lets go of it once its last commit is done.
async fn open_log(path: &Path) -> Result<(IntakeLog, Vec<Record>)> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match IntakeLog::open(path) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            result => return result.map_err(Error::Intake),
        }
    }
}

#[cfg(test)]
mod tests;
