//! realtime-store: the SQLite event store of realtime-console — recorded sessions, their events and live stats.
//!
//! Reads go through a small sqlx connection pool. Every write goes through one writer thread (see
//! writer/mod.rs). It acknowledges a batch once the batch is in its intake log (intake.rs), one write and
//! one sync shared by every request waiting at the time, and commits to SQLite afterwards, thousands of events
//! at a time. Committing once per HTTP request would cap ingest far below what SQLite can do. A second thread
//! copies the WAL into the database file (checkpoints), so the writer never waits on that.

mod audio;
#[doc(hidden)]
#[cfg(feature = "bench")]
pub mod bench;
mod checkpoint;
mod domain;
mod events;
mod import;
mod intake;
mod live;
mod sessions;
mod text;
mod timeline;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::oneshot;

pub use audio::{
    APPENDED_CHUNK_BYTES, AudioError, AudioReader, ChunkInfo, ChunkOutcome, ChunkSync, Format,
    MAX_CHUNK_BYTES, MAX_CHUNK_SEQ, NewChunk, PEAK_MS, REFERENCE_PREFIX, Track, TrackAppender,
    TrackInfo, audio_reference, peaks_of, wav_header,
};
pub use domain::{
    Direction, FieldError, FieldErrorKind, MAX_CLIENT_SEQ, MAX_EVENT_BYTES, MAX_IMPORTED_SEQ,
    MAX_TYPE_BYTES, MAX_USAGE_TOKENS, NewEvent, SERVER_SEQ_START, SessionId, Usage,
};
pub use events::{AudioPayloads, EventPage, EventQuery, StoredEvent};
pub use import::{ImportError, MAX_IMPORT_LINE_BYTES};
pub use live::Change;
pub use sessions::{
    EventCounts, LIVE_WINDOW_MS, MAX_USER_AGENT_BYTES, NewSession, Session, SessionPage,
    SessionPatch, SessionQuery, Stats,
};
pub use timeline::{Mark, Timeline, TimelinePoint};
pub use writer::{AppendError, AppendOutcome};

/// Errors of the store itself (not of the caller's input).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// From one of the store's own rusqlite connections (the writer's, or an export's).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the store's writer has stopped")]
    WriterGone,
    #[error("could not start the store's writer thread: {0}")]
    Thread(std::io::Error),
    /// The intake log (or the sync that lets it start over) failed.
    #[error("intake log: {0}")]
    Intake(std::io::Error),
    /// The group of writes this one was committed with failed; nothing of it is stored.
    #[error("the event store could not commit")]
    NotCommitted,
    /// Reading or writing the sessions' audio files failed.
    #[error("audio files: {0}")]
    Audio(std::io::Error),
    /// A write the store refuses for the caller's own fault (a bug, not bad input from a user).
    #[error("refused: {0}")]
    Refused(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The event store. Cheap to clone: clones share the pool and the writer.
#[derive(Clone, Debug)]
pub struct Store {
    #[cfg(feature = "faults")]
    faults: Arc<Faults>,
    pool: SqlitePool,
    /// The database file, for connections of the store's own beside the pool (the writer's, exports').
    path: Arc<Path>,
    writer: writer::Handle,
    hub: live::Hub,
}

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Faults a test can switch on (feature `faults`).
#[cfg(feature = "faults")]
#[derive(Debug, Default)]
pub struct Faults {
    disk_full: std::sync::atomic::AtomicBool,
}

#[cfg(feature = "faults")]
impl Faults {
    /// While on, every append and session write fails as the store's writes do when the disk is full
    /// (`Error::NotCommitted`: nothing of it is stored); reads go on working.
    pub fn disk_full(&self, on: bool) {
        self.disk_full
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }
}

/// How far a write has gone when the store answers for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// A batch is synced to disk (in the intake log) before it is acknowledged: an acknowledged batch
    /// survives a crash of the server, of the OS, and a power cut. One sync covers every request waiting at
    /// the time. Creating, updating and deleting a session answer after a synced commit.
    #[default]
    Full,
    /// A batch is handed to the OS (written to the intake log, not synced) before it is acknowledged: an
    /// acknowledged batch survives a crash or `kill -9` of the server, but an OS crash or power cut may lose
    /// the last ones (the database stays consistent).
    Normal,
}

impl Durability {
    pub fn as_str(self) -> &'static str {
        match self {
            Durability::Full => "full",
            Durability::Normal => "normal",
        }
    }

    /// SQLite's `synchronous` setting that gives a commit this durability (the read pool and the
    /// checkpointer use it; the writer's own commits rely on the intake log instead).
    pub fn synchronous(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        }
    }
}

impl FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "full" => Ok(Durability::Full),
            "normal" => Ok(Durability::Normal),
            other => Err(format!(
                "`{other}` is not a durability: use `full` or `normal`"
            )),
        }
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn options(url: &str, durability: Durability) -> Result<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::from_str(durability.synchronous())?)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT))
}

impl Store {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or `sqlite::memory:` is not
    /// supported: the writer and readers need a shared file), runs migrations and starts the writer.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(url, Durability::default()).await
    }

    /// [`Store::open`] with a chosen durability.
    pub async fn open_with(url: &str, durability: Durability) -> Result<Self> {
        let opts = options(url, durability)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.clone())
            .await?;
        sqlx::migrate!("../../migrations").run(&pool).await?;
        let hub = live::Hub::new();
        let path: Arc<Path> = Arc::from(opts.get_filename());
        let writer = writer::start(&path, durability, hub.clone()).await?;
        let store = Self {
            #[cfg(feature = "faults")]
            faults: Arc::default(),
            pool,
            path,
            writer,
            hub,
        };
        let unfinished = store.delete_unfinished_imports().await?;
        if unfinished > 0 {
            tracing::warn!(
                sessions = unfinished,
                "deleted what imports interrupted by the last stop had stored"
            );
        }
        match store.delete_orphan_audio().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                sessions = n,
                "deleted the audio of sessions deleted before the last stop"
            ),
            Err(e) => {
                tracing::error!(error = %e, "could not look for the audio of deleted sessions")
            }
        }
        Ok(store)
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

    /// How many bytes the database's pages in use take (pages less free pages, times the page size), WAL
    /// included: what it holds, whatever its files' sizes. Audio files are not in it ([`Store::audio_dir`]).
    pub async fn database_bytes(&self) -> Result<u64> {
        self.wait_until_committed().await?;
        let mut conn = self.pool.acquire().await?;
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut *conn)
            .await?;
        let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
            .fetch_one(&mut *conn)
            .await?;
        let size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&mut *conn)
            .await?;
        Ok(((pages - free).max(0) * size) as u64)
    }

    /// The faults a test can switch on.
    #[cfg(feature = "faults")]
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    async fn write<T>(&self, job: impl FnOnce(oneshot::Sender<T>) -> writer::Job) -> Result<T> {
        #[cfg(feature = "faults")]
        if self
            .faults
            .disk_full
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(Error::NotCommitted);
        }
        let (tx, rx) = oneshot::channel();
        self.writer.send(job(tx)).await?;
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
            seqs: writer::Seqs::Given,
            reply,
        })
        .await
        .map_err(AppendError::Store)?
    }

    /// Stores an event the server records itself (made with [`NewEvent::unsequenced`]) at the session's next
    /// free seq of the server's range, from [`domain::SERVER_SEQ_START`] up: after everything a client has
    /// recorded, whatever the client does meanwhile.
    pub async fn append_server_event(
        &self,
        session: SessionId,
        event: NewEvent,
    ) -> Result<AppendOutcome, AppendError> {
        self.append_server_events(session, vec![event]).await
    }

    /// [`Store::append_server_event`] for several, numbered in their order, stored all or none.
    pub async fn append_server_events(
        &self,
        session: SessionId,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, AppendError> {
        self.write(|reply| writer::Job::Append {
            session,
            events,
            seqs: writer::Seqs::ServerRange,
            reply,
        })
        .await
        .map_err(AppendError::Store)?
    }

    /// Waits until every batch acknowledged so far is committed, so that a read sees it: reads go through
    /// the pool, which sees committed data only, and the writer answers a batch before it commits it.
    pub(crate) async fn wait_until_committed(&self) -> Result<()> {
        self.writer.wait_until_committed().await
    }

    /// Closes the store: the pool closes, and the writer commits everything it has acknowledged (durably),
    /// empties its intake log and stops. Writes through any clone of the store fail after this.
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.stop().await;
    }
}

/// A file that lives beside the database: `console.db` + `-wal` → `console.db-wal`.
pub(crate) fn beside(db: &Path, suffix: &str) -> std::path::PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(suffix);
    p.into()
}

/// How much lower than serving the store's own threads (the writer, the checkpointer) run: a nice value of 10.
/// On a busy machine the threads that answer requests and relay frames come first; the store's writes, which
/// answer no one directly (an ingest waits for them, a relay never does), take what is left. Linux gives each
/// thread its own nice value; elsewhere this changes nothing.
const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's priority to [`BACKGROUND_NICE`] (best effort). Public for the threads of other
/// crates that feed the store and answer no one either (the console's recordings of relayed sessions).
pub fn run_in_background() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(None, BACKGROUND_NICE) {
        tracing::debug!(error = %e, "could not lower a store thread's priority");
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
