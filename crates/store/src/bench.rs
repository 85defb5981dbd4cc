//! For the ingest benches only (the `bench` feature), not part of the store's API: the workload both ingest
//! benches send (the store's own and the console's over HTTP), the raw ceiling they set their figures
//! against, and how the figures are printed, so the two stay comparable. The ceiling lives here because the
//! store owns every SQL statement and the writer's connection settings; a bench that wrote its own SQL would
//! need those settings public.

use std::path::Path;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::{Durability, NewEvent, Result, Store};

/// Events a batch.
pub const BATCH: usize = 50;
/// Rounds a figure is the median of.
pub const ROUNDS: usize = 3;
/// Concurrent sessions, and batches each sends: 20,000 events a phase.
pub const PHASES: [(usize, usize); 3] = [(1, 400), (10, 100), (100, 20)];

/// Event `seq` of a session as a client posts it (~300 B): mostly transcript deltas, some text deltas and
/// speech starts, an error and a `response.done` with usage every 100.
pub fn realistic(seq: u64, session: usize) -> Value {
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
    json!({"seq": seq, "ts": 1_732_390_000_000.0 + seq as f64 * 12.5, "direction": "server", "event": event})
}

/// [`realistic`] as the store receives it once parsed.
pub fn realistic_parsed(seq: u64, session: usize) -> NewEvent {
    let raw =
        serde_json::value::RawValue::from_string(realistic(seq, session).to_string()).unwrap();
    NewEvent::parse(&raw).unwrap()
}

/// A phase's run: events per second, and how long each batch took to be answered.
pub type Run = (f64, Histogram<u64>);

/// One durability's figures over the rounds: the two raw references and each phase's runs.
pub struct Rounds {
    ceiling: Vec<f64>,
    small: Vec<f64>,
    phases: Vec<Vec<Run>>,
}

impl Default for Rounds {
    fn default() -> Self {
        Rounds {
            ceiling: Vec::new(),
            small: Vec::new(),
            phases: vec![Vec::new(); PHASES.len()],
        }
    }
}

impl Rounds {
    /// The raw references of one round, in a fresh file at `db`: the ceiling (1000-row transactions) and
    /// one commit per [`BATCH`].
    pub async fn measure_raw(&mut self, db: &Path, durability: Durability) {
        self.ceiling
            .push(raw_rate(db, durability, 200_000, 1000).await);
        self.small
            .push(raw_rate(db, durability, 50_000, BATCH).await);
    }

    /// Phase `i`'s run of one round.
    pub fn push(&mut self, i: usize, run: Run) {
        self.phases[i].push(run);
    }

    /// Prints the figures, each phase as `{what}, N concurrent sessions` with the `{latency}` p50 and p99.
    pub fn print(self, durability: Durability, what: &str, latency: &str) {
        let (c, c_lo, c_hi) = spread(self.ceiling);
        let (r, r_lo, r_hi) = spread(self.small);
        println!("\n-- durability {durability}");
        println!(
            "raw ceiling (direct inserts, 1000-row transactions): {c:>7.0} events/s  [{c_lo:.0}–{c_hi:.0}]"
        );
        println!(
            "raw, {BATCH}-row transactions (one commit per batch):   {r:>7.0} events/s  [{r_lo:.0}–{r_hi:.0}]  ({:.0}% of ceiling)",
            100.0 * r / c
        );
        for ((sessions, _), runs) in PHASES.iter().zip(self.phases) {
            let (rate, lo, hi) = spread(runs.iter().map(|(r, _)| *r).collect());
            let mut h = Histogram::<u64>::new(3).unwrap();
            for (_, run) in &runs {
                h.add(run).unwrap();
            }
            let label = format!("{what}, {sessions:>3} concurrent sessions:");
            println!(
                "{label:<42}{rate:>7.0} events/s  [{lo:.0}–{hi:.0}]  ({:.0}% of ceiling)  {latency} p50 {:.2} ms  p99 {:.2} ms",
                100.0 * rate / c,
                ms(&h, 0.5),
                ms(&h, 0.99)
            );
        }
    }
}

/// Median, lowest and highest of a few figures.
pub fn spread(mut xs: Vec<f64>) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[xs.len() / 2], xs[0], xs[xs.len() - 1])
}

/// Quantile `q` of a histogram of microseconds, in milliseconds.
pub fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// Direct inserts of `events` realistic events, `per_commit` a transaction, in events per second.
async fn raw_rate(db: &Path, durability: Durability, events: u64, per_commit: usize) -> f64 {
    let rows: Vec<NewEvent> = (1..=events).map(|seq| realistic_parsed(seq, 0)).collect();
    let took = raw_inserts(db, durability, &rows, per_commit)
        .await
        .unwrap();
    events as f64 / took.as_secs_f64()
}

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
