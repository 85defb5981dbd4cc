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
use realtime_store::{Durability, NewEvent, SessionId, Store};
use serde_json::value::RawValue;
use serde_json::{Value, json};

const BATCH: usize = 50;
const ROUNDS: usize = 3;
/// Concurrent sessions, and batches each sends: 20,000 events a phase.
const PHASES: [(usize, usize); 3] = [(1, 400), (10, 100), (100, 20)];

/// The events the console's ingest bench sends, as the store receives them once parsed.
fn realistic(seq: u64, session: usize) -> NewEvent {
    let event = match seq % 100 {
        0 => {
            json!({"type": "response.done", "event_id": format!("event_{seq:010}"), "response": {"id": "resp_CkV2q3Jz8aBcDe", "status": "completed", "usage": {"total_tokens": 120, "input_tokens": 40, "output_tokens": 80}}})
        }
        1 => {
            json!({"type": "error", "event_id": format!("event_{seq:010}"), "error": {"type": "invalid_request_error", "code": "invalid_value", "message": "Invalid value"}})
        }
        2..=6 => {
            json!({"type": "response.output_text.delta", "event_id": format!("event_{seq:010}"), "response_id": "resp_CkV2q3Jz8aBcDe", "item_id": "item_CkV2q3Jz8aBcDf", "output_index": 0, "content_index": 0, "delta": "some streamed text, a few words at a time"})
        }
        7..=9 => {
            json!({"type": "input_audio_buffer.speech_started", "event_id": format!("event_{seq:010}"), "audio_start_ms": seq * 20, "item_id": "item_CkV2q3Jz8aBcDg"})
        }
        _ => {
            json!({"type": "response.output_audio_transcript.delta", "event_id": format!("event_{seq:010}"), "response_id": "resp_CkV2q3Jz8aBcDe", "item_id": "item_CkV2q3Jz8aBcDf", "output_index": 0, "content_index": 0, "delta": format!("word {seq} of session {session}, streamed to the browser as the model speaks")})
        }
    };
    let element: Value = json!({"seq": seq, "ts": 1_732_390_000_000.0 + seq as f64 * 12.5, "direction": "server", "event": event});
    NewEvent::parse(&RawValue::from_string(element.to_string()).unwrap()).unwrap()
}

/// Each session's batches, built before any clock starts: the figure is the store's, not serde's.
fn batches(sessions: usize, batches_per_session: usize) -> Vec<Vec<Vec<NewEvent>>> {
    (0..sessions)
        .map(|s| {
            (0..batches_per_session)
                .map(|b| {
                    (1..=BATCH as u64)
                        .map(|i| realistic((b * BATCH) as u64 + i, s))
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// The ceiling and its 50-row reference, in events per second.
async fn raw(db: &std::path::Path, durability: Durability, events: u64, per_commit: usize) -> f64 {
    let rows: Vec<NewEvent> = (1..=events).map(|seq| realistic(seq, 0)).collect();
    let took = realtime_store::bench::raw_inserts(db, durability, &rows, per_commit)
        .await
        .unwrap();
    events as f64 / took.as_secs_f64()
}

/// One phase: every session sends its batches one after another, all sessions at once.
async fn append(store: &Store, batches: Vec<Vec<Vec<NewEvent>>>) -> (f64, Histogram<u64>) {
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

/// Median, lowest and highest of a few figures.
fn spread(mut xs: Vec<f64>) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[xs.len() / 2], xs[0], xs[xs.len() - 1])
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
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
        let mut ceiling = Vec::new();
        let mut small = Vec::new();
        let mut phases: Vec<Vec<(f64, Histogram<u64>)>> = vec![Vec::new(); PHASES.len()];
        for _ in 0..ROUNDS {
            ceiling.push(raw(&raw_db, durability, 200_000, 1000).await);
            small.push(raw(&raw_db, durability, 50_000, BATCH).await);
            for (i, batches) in phase_batches.iter().enumerate() {
                phases[i].push(append(&store, batches.clone()).await);
            }
        }
        store.close().await;
        let (c, c_lo, c_hi) = spread(ceiling);
        let (r, r_lo, r_hi) = spread(small);
        println!("\n-- durability {durability}");
        println!(
            "raw ceiling (direct inserts, 1000-row transactions): {c:>7.0} events/s  [{c_lo:.0}–{c_hi:.0}]"
        );
        println!(
            "raw, {BATCH}-row transactions (one commit per batch):   {r:>7.0} events/s  [{r_lo:.0}–{r_hi:.0}]  ({:.0}% of ceiling)",
            100.0 * r / c
        );
        for ((sessions, _), runs) in PHASES.iter().zip(phases) {
            let (rate, lo, hi) = spread(runs.iter().map(|(r, _)| *r).collect());
            let mut h = Histogram::<u64>::new(3).unwrap();
            for (_, run) in &runs {
                h.add(run).unwrap();
            }
            println!(
                "store, {sessions:>3} concurrent sessions:           {rate:>7.0} events/s  [{lo:.0}–{hi:.0}]  ({:.0}% of ceiling)  append p50 {:.2} ms  p99 {:.2} ms",
                100.0 * rate / c,
                ms(&h, 0.5),
                ms(&h, 0.99)
            );
        }
    }
}
