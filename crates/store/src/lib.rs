//! realtime-store: the SQLite event store of realtime-console — recorded sessions, their events and live stats.
//!
//! Reads go through a small connection pool. Every write goes through one writer task that commits many
//! requests together (group commit): a commit costs an fsync, so committing once per HTTP request would cap
//! ingest far below what SQLite can do.

mod domain;
mod events;
mod import;
mod live;
mod sessions;
mod text;
mod timeline;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::{mpsc, oneshot};

pub use domain::{
    Direction, FieldError, FieldErrorKind, MAX_EVENT_BYTES, NewEvent, SessionId, Usage,
};
pub use events::{EventPage, EventQuery, StoredEvent};
pub use import::ImportError;
pub use live::Change;
pub use sessions::{
    EventCounts, LIVE_WINDOW_MS, NewSession, Session, SessionPage, SessionPatch, SessionQuery,
    Stats,
};
pub use timeline::{Mark, Timeline, TimelinePoint};
pub use writer::{AppendError, AppendOutcome};

/// Errors of the store itself (not of the caller's input).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the store's writer has stopped")]
    WriterGone,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The event store. Cheap to clone: clones share the pool and the writer.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    writer: mpsc::Sender<writer::Job>,
    hub: live::Hub,
}

fn options(url: &str) -> Result<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a batch acknowledged to the browser is on disk, even across a power cut. Group commit is what
        // keeps the fsync affordable.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10)))
}

impl Store {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or `sqlite::memory:` is not
    /// supported: the writer and readers need a shared file), runs migrations and starts the writer.
    pub async fn open(url: &str) -> Result<Self> {
        let opts = options(url)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.clone())
            .await?;
        sqlx::migrate!("../../migrations").run(&pool).await?;
        let hub = live::Hub::new();
        let writer = writer::spawn(opts, hub.clone()).await?;
        Ok(Self { pool, writer, hub })
    }

    /// Opens the SQLite file at `path`.
    pub async fn open_path(path: &Path) -> Result<Self> {
        Self::open(&format!("sqlite://{}", path.display())).await
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn write<T>(&self, job: impl FnOnce(oneshot::Sender<T>) -> writer::Job) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.writer
            .send(job(tx))
            .await
            .map_err(|_| Error::WriterGone)?;
        rx.await.map_err(|_| Error::WriterGone)
    }

    /// Stores a batch of a session's events, all or nothing. Resent events (same `seq`, same content) count
    /// as duplicates; the same `seq` with other content rejects the whole batch.
    pub async fn append_events(
        &self,
        session: SessionId,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, AppendError> {
        self.write(|reply| writer::Job::Append {
            session,
            events,
            reply,
        })
        .await
        .map_err(AppendError::Store)?
    }

    /// Closes the pool; the writer stops once every clone of the store is dropped.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
