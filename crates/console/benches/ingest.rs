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
use realtime_testkit::console::create_session;
use serde_json::{Value, json};

const BATCH: usize = 50;

fn realistic(seq: u64, session: usize) -> Value {
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

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

async fn start_server(
    db: &std::path::Path,
    durability: Durability,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let url = format!("sqlite://{}", db.display());
    let mut config =
        realtime_console::Config::from_args(["realtime-console", "--database-url", url.as_str()])
            .unwrap();
    config.durability = durability;
    let state = realtime_console::AppState::new(config.settings().unwrap())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(realtime_console::serve(listener, state, async {
        let _ = rx.await;
    }));
    (base, tx)
}

/// The ceiling: direct inserts into the same schema, `per_commit` rows a transaction, on a connection with
/// the store writer's settings, in a fresh file (the store's own bench measures it the same way).
async fn raw_ceiling(
    db: &std::path::Path,
    durability: Durability,
    events: u64,
    per_commit: usize,
) -> f64 {
    let rows: Vec<realtime_store::NewEvent> = (1..=events)
        .map(|seq| {
            realtime_store::NewEvent::parse(
                &serde_json::value::RawValue::from_string(realistic(seq, 0).to_string()).unwrap(),
            )
            .unwrap()
        })
        .collect();
    let took = realtime_store::bench::raw_inserts(db, durability, &rows, per_commit)
        .await
        .unwrap();
    events as f64 / took.as_secs_f64()
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

async fn http_ingest(
    base: &str,
    client: &reqwest::Client,
    bodies: &[Arc<Vec<String>>],
) -> (f64, Histogram<u64>) {
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

/// Median, lowest and highest of a few figures.
fn spread(mut xs: Vec<f64>) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[xs.len() / 2], xs[0], xs[xs.len() - 1])
}

const ROUNDS: usize = 3;
const PHASES: [(usize, usize); 3] = [(1, 400), (10, 100), (100, 20)];

async fn ingest(dir: &std::path::Path, client: &reqwest::Client) {
    println!(
        "== ingest (batches of {BATCH} events of ~300 B; {} cores; median of {ROUNDS} rounds, range in brackets)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let phase_bodies: Vec<_> = PHASES.iter().map(|&(s, b)| bodies(s, b)).collect();
    for durability in [Durability::Full, Durability::Normal] {
        let (base, stop) =
            start_server(&dir.join(format!("ingest-{durability}.db")), durability).await;
        let raw = dir.join("raw.db");
        let mut ceiling = Vec::new();
        let mut small = Vec::new();
        let mut http: Vec<Vec<(f64, Histogram<u64>)>> = vec![Vec::new(); PHASES.len()];
        for _ in 0..ROUNDS {
            ceiling.push(raw_ceiling(&raw, durability, 200_000, 1000).await);
            small.push(raw_ceiling(&raw, durability, 50_000, BATCH).await);
            for (i, bodies) in phase_bodies.iter().enumerate() {
                http[i].push(http_ingest(&base, client, bodies).await);
            }
        }
        let _ = stop.send(());
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
        for ((sessions, _), runs) in PHASES.iter().zip(http) {
            let (rate, lo, hi) = spread(runs.iter().map(|(r, _)| *r).collect());
            let mut h = Histogram::<u64>::new(3).unwrap();
            for (_, run) in &runs {
                h.add(run).unwrap();
            }
            println!(
                "HTTP, {sessions:>3} concurrent sessions:            {rate:>7.0} events/s  [{lo:.0}–{hi:.0}]  ({:.0}% of ceiling)  request p50 {:.2} ms  p99 {:.2} ms",
                100.0 * rate / c,
                ms(&h, 0.5),
                ms(&h, 0.99)
            );
        }
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
    let (base, _stop) = start_server(&db, Durability::default()).await;
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
