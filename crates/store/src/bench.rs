//! For the ingest benches only, not part of the store's API: the raw ceiling they set the store's figures
//! against. It lives here because the store owns every SQL statement and the writer's connection settings;
//! a bench that wrote its own SQL would need those settings public.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::Connection;

use crate::{Durability, NewEvent, Result, Store};

/// Makes a fresh database at `db` holding one session, then inserts `events` straight into it, `per_commit`
/// rows a transaction, and answers how long the inserts took. The connection has the store writer's
/// settings, with `synchronous` from `durability`, so that each commit is as durable as an answered batch
/// (synced to disk with `full`). It skips everything the writer does besides inserting (checks, the intake
/// log, text for search, stats), which is what makes it a ceiling.
pub async fn raw_inserts(
    db: &Path,
    durability: Durability,
    events: &[NewEvent],
    per_commit: usize,
) -> Result<Duration> {
    let _ = std::fs::remove_file(db);
    let url = format!("sqlite://{}", db.display());
    let store = Store::open_with(&url, durability).await?;
    let session = store.create_session(Default::default()).await?;
    store.close().await;
    drop(store);
    let mut opts: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
    opts = opts
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .pragma("synchronous", durability.synchronous());
    for (name, value) in crate::writer::pragmas() {
        opts = opts.pragma(name, value);
    }
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await?;
    let pk: i64 = sqlx::query_scalar("SELECT pk FROM sessions WHERE id = ?")
        .bind(session.id.to_string())
        .fetch_one(&mut conn)
        .await?;
    let t = Instant::now();
    for chunk in events.chunks(per_commit) {
        let mut tx = conn.begin().await?;
        // Multi-row statements through sqlx: at least as fast as rusqlite's prepared single-row inserts here,
        // so the ceiling is a real one.
        for rows in chunk.chunks(100) {
            let mut sql = sqlx::QueryBuilder::new(
                "INSERT INTO events (session_pk, seq, ts, received_at, direction, type, event) ",
            );
            sql.push_values(rows, |mut b, e| {
                b.push_bind(pk)
                    .push_bind(e.seq)
                    .push_bind(e.seq as f64)
                    .push_bind(0i64)
                    .push_bind("server")
                    .push_bind(e.event_type.as_str())
                    .push_bind(e.event.get());
            });
            sql.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    let took = t.elapsed();
    let _ = conn.close().await;
    Ok(took)
}
