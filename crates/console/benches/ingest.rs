//! `just bench`: ingest and read figures for the event store, printed, never asserted.
//!
//! Ingest: HTTP batches of 50 realistic (~300 B) events from 1, 10 and 100 concurrent sessions, against the
//! raw ceiling measured in the same run (the same schema, direct inserts in 1000-row transactions), for
//! each durability. Every figure is the median of [`ROUNDS`] rounds, taken in turn, with the range beside it.
//! A second reference, direct inserts committed 50 rows at a time, is what SQLite alone can do when each
//! commit holds one request's batch: what one session would get if every answer waited for its own commit.
//! An HTTP phase's clock stops when every event it sent is readable, not when the last one is acknowledged.
//! Reading: a session of 1M events — first page, filtered pages, a deep page, and JSONL export throughput.
//!
//! `cargo bench -p realtime-console --bench ingest -- ingest` runs only the ingest part, `-- read` only reading.
//! The store's own figures, without HTTP: `cargo bench -p realtime-store --bench ingest`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use realtime_store::Durability;
use realtime_store::bench::{BATCH, PHASES, ROUNDS, Rounds, Run, ms, realistic};
use realtime_testkit::console::{ConsoleApp, create_session};
use serde_json::{Value, json};

/// The console serving the database file `db` with `durability`.
async fn start_server(db: &std::path::Path, durability: Durability) -> ConsoleApp {
    let url = format!("sqlite://{}", db.display());
    ConsoleApp::start_with(|config| {
        config.database_url = url;
        config.durability = durability;
    })
    .await
}

/// Request bodies for `sessions` sessions, built before any clock starts: the figure is the server's, not
/// serde's on the client.
fn bodies(sessions: usize, batches_per_session: usize) -> Vec<Arc<Vec<String>>> {
    (0..sessions)
        .map(|s| {
            Arc::new(
                (0..batches_per_session)
                    .map(|b| {
                        let evs: Vec<Value> = (1..=BATCH as u64)
                            .map(|i| realistic((b * BATCH) as u64 + i, s))
                            .collect();
                        json!({"events": evs}).to_string()
                    })
                    .collect(),
            )
        })
        .collect()
}

async fn http_ingest(base: &str, client: &reqwest::Client, bodies: &[Arc<Vec<String>>]) -> Run {
    let sessions = bodies.len();
    let batches_per_session = bodies[0].len();
    let mut ids = Vec::new();
    for _ in 0..sessions {
        ids.push(create_session(client, base, "").await);
    }
    let t = Instant::now();
    let mut tasks = Vec::new();
    let first = ids[0].clone();
    for (id, bodies) in ids.into_iter().zip(bodies.iter().cloned()) {
        let client = client.clone();
        let url = format!("{base}/api/sessions/{id}/events");
        tasks.push(tokio::spawn(async move {
            let mut h = Histogram::<u64>::new(3).unwrap();
            for body in bodies.iter() {
                let start = Instant::now();
                let res = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert!(res.status().is_success());
                res.bytes().await.unwrap();
                h.record(start.elapsed().as_micros() as u64).unwrap();
            }
            h
        }));
    }
    let mut all = Histogram::<u64>::new(3).unwrap();
    for t in tasks {
        all.add(t.await.unwrap()).unwrap();
    }
    // The clock stops once every event is readable, not just acknowledged: a read waits for the writer to
    // commit what it has answered.
    let res = client
        .get(format!("{base}/api/sessions/{first}"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let events = (sessions * batches_per_session * BATCH) as f64;
    (events / t.elapsed().as_secs_f64(), all)
}

async fn time_requests(client: &reqwest::Client, url: &str, n: usize) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new(3).unwrap();
    for _ in 0..n {
        let start = Instant::now();
        let res = client.get(url).send().await.unwrap();
        assert!(res.status().is_success(), "{url}");
        res.bytes().await.unwrap();
        h.record(start.elapsed().as_micros() as u64).unwrap();
    }
    h
}

async fn ingest(dir: &std::path::Path, client: &reqwest::Client) {
    println!(
        "== ingest (batches of {BATCH} events of ~300 B; {} cores; median of {ROUNDS} rounds, range in brackets)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let phase_bodies: Vec<_> = PHASES.iter().map(|&(s, b)| bodies(s, b)).collect();
    for durability in [Durability::Full, Durability::Normal] {
        let app = start_server(&dir.join(format!("ingest-{durability}.db")), durability).await;
        let base = app.base.as_str();
        let raw = dir.join("raw.db");
        let mut rounds = Rounds::default();
        for _ in 0..ROUNDS {
            rounds.measure_raw(&raw, durability).await;
            for (i, bodies) in phase_bodies.iter().enumerate() {
                rounds.push(i, http_ingest(base, client, bodies).await);
            }
        }
        drop(app);
        rounds.print(durability, "HTTP", "request");
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(200)
        .build()
        .unwrap();
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if only.as_deref() != Some("read") {
        ingest(dir.path(), &client).await;
    }
    if only.as_deref() != Some("ingest") {
        read(dir.path(), &client).await;
    }
}

async fn read(dir: &std::path::Path, client: &reqwest::Client) {
    let db = dir.join("read.db");
    println!("\n== reading a session of 1M events");
    // Loaded through the store itself, then served: one store at a time has a database open.
    let store = realtime_store::Store::open_path(&db).await.unwrap();
    let sid = store
        .create_session(realtime_store::NewSession {
            label: Some("1M".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .id;
    let id = sid.to_string();
    let t = Instant::now();
    for chunk in 0..1000u64 {
        let batch = (1..=1000u64)
            .map(|i| {
                let e = realistic(chunk * 1000 + i, 0);
                realtime_store::NewEvent::parse(
                    &serde_json::value::RawValue::from_string(e.to_string()).unwrap(),
                )
                .unwrap()
            })
            .collect();
        store.append_events(sid, batch).await.unwrap();
    }
    println!(
        "loaded 1M events through the store in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    store.close().await;
    drop(store);
    let app = start_server(&db, Durability::default()).await;
    let base = app.base.as_str();
    let events_url = format!("{base}/api/sessions/{id}/events");
    for (name, query) in [
        ("first page (100)", "limit=100"),
        ("deep page after seq 900000", "limit=100&after_seq=900000"),
        ("type prefix response. (~96%)", "limit=100&type=response."),
        (
            "exact type response.done (1%)",
            "limit=100&type=response.done",
        ),
        (
            "exact type error, deep (1%)",
            "limit=100&type=error&after_seq=500000",
        ),
        (
            "prefix input_audio_buffer. (3%)",
            "limit=100&type=input_audio_buffer.",
        ),
        ("direction=server", "limit=100&direction=server"),
    ] {
        let h = time_requests(client, &format!("{events_url}?{query}"), 300).await;
        println!(
            "{name:<34} p50 {:>6.2} ms  p99 {:>6.2} ms",
            ms(&h, 0.5),
            ms(&h, 0.99)
        );
    }
    let start = Instant::now();
    let res = client
        .get(format!("{base}/api/sessions/{id}/events.jsonl"))
        .send()
        .await
        .unwrap();
    let mut bytes = 0usize;
    let mut res = res;
    while let Some(chunk) = res.chunk().await.unwrap() {
        bytes += chunk.len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "export JSONL: {:.1} MB in {secs:.2} s = {:.0} MB/s",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / secs
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
}
