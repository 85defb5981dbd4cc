//! WAL checkpoints on a thread of their own, so the writer never stops to copy the log into the database file.
//!
//! SQLite's automatic checkpoint runs inside whichever commit pushes the WAL past its threshold: the writer
//! would stall there copying pages and syncing the file while requests queue up. Here a second connection runs
//! a PASSIVE checkpoint every [`INTERVAL`], which never blocks the writer or readers; a page rewritten by
//! many commits in between is copied once. The writer keeps SQLite's own checkpoint at a far higher
//! threshold, only as a backstop should this thread fall behind.

use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use rusqlite::Connection;

use crate::{Durability, Error, Result};

/// How often the WAL is copied into the database file.
const INTERVAL: Duration = Duration::from_millis(200);
/// WAL pages (4 KiB) after which the writer checkpoints by itself.
pub(crate) const BACKSTOP_PAGES: i64 = 16_384;

/// Starts the checkpointer; it makes a last checkpoint and stops once `stop`'s sender is dropped.
pub(crate) fn spawn(path: &Path, durability: Durability, stop: Receiver<()>) -> Result<()> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(crate::BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", durability.synchronous())?;
    std::thread::Builder::new()
        .name("store-checkpoint".into())
        .spawn(move || {
            crate::run_in_background();
            loop {
                let last = match stop.recv_timeout(INTERVAL) {
                    Err(RecvTimeoutError::Timeout) => false,
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
                };
                if let Err(e) = checkpoint(&conn) {
                    tracing::warn!(error = %e, "WAL checkpoint failed; retrying later");
                }
                if last {
                    break;
                }
            }
        })
        .map_err(Error::Thread)?;
    Ok(())
}

fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}
