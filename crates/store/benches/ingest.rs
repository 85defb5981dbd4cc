//! `just bench`: ingest figures for the event store's own API, printed, never asserted.
//!
//! Batches of 50 realistic (~300 B) events through [`Store::append_events`] from 1, 10 and 100 concurrent
//! sessions, each sending its next batch once the last is answered (as a browser does), against the raw
//! ceiling measured in the same run (the same schema, direct inserts in 1000-row transactions), for each
//! durability. Every figure is the median of [`ROUNDS`] rounds, taken in turn, with the range beside it.
//! A second reference, direct inserts committed 50 rows at a time, is what SQLite alone can do when each
//! commit holds one request's batch: what one session would get if every answer waited for its own commit.
//! A phase's clock stops when every event it sent is readable, not when the last one is acknowledged.
//!
//! The same phases over HTTP, with the console's parsing and routing on top: `cargo bench -p
//! realtime-console --bench ingest`.

use std::time::Instant;

use hdrhistogram::Histogram;
use realtime_store::bench::{BATCH, PHASES, ROUNDS, Rounds, Run, realistic_parsed};
use realtime_store::{Durability, NewEvent, SessionId, Store};

/// Each session's batches, built before any clock starts: the figure is the store's, not serde's.
fn batches(sessions: usize, batches_per_session: usize) -> Vec<Vec<Vec<NewEvent>>> {
    (0..sessions)
        .map(|s| {
            (0..batches_per_session)
                .map(|b| {
                    (1..=BATCH as u64)
                        .map(|i| realistic_parsed((b * BATCH) as u64 + i, s))
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// One phase: every session sends its batches one after another, all sessions at once.
async fn append(store: &Store, batches: Vec<Vec<Vec<NewEvent>>>) -> Run {
    let events: usize = batches.iter().flatten().map(Vec::len).sum();
    let mut ids: Vec<SessionId> = Vec::new();
    for _ in 0..batches.len() {
        ids.push(store.create_session(Default::default()).await.unwrap().id);
    }
    let t = Instant::now();
    let mut tasks = Vec::new();
    for (&id, batches) in ids.iter().zip(batches) {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut h = Histogram::<u64>::new(3).unwrap();
            for batch in batches {
                let start = Instant::now();
                store.append_events(id, batch).await.unwrap();
                h.record(start.elapsed().as_micros() as u64).unwrap();
            }
            h
        }));
    }
    let mut all = Histogram::<u64>::new(3).unwrap();
    for task in tasks {
        all.add(task.await.unwrap()).unwrap();
    }
    // A read waits for the writer to commit what it has answered.
    store.get_session(ids[0]).await.unwrap().unwrap();
    (events as f64 / t.elapsed().as_secs_f64(), all)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    println!(
        "== store ingest (batches of {BATCH} events of ~300 B; {} cores; median of {ROUNDS} rounds, range in brackets)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let phase_batches: Vec<_> = PHASES.iter().map(|&(s, b)| batches(s, b)).collect();
    for durability in [Durability::Full, Durability::Normal] {
        let url = format!(
            "sqlite://{}",
            dir.path().join(format!("ingest-{durability}.db")).display()
        );
        let store = Store::open_with(&url, durability).await.unwrap();
        let raw_db = dir.path().join("raw.db");
        let mut rounds = Rounds::default();
        for _ in 0..ROUNDS {
            rounds.measure_raw(&raw_db, durability).await;
            for (i, batches) in phase_batches.iter().enumerate() {
                rounds.push(i, append(&store, batches.clone()).await);
            }
        }
        store.close().await;
        rounds.print(durability, "store", "append");
    }
}
