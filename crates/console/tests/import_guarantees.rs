//! An import against the real binary: it appears whole or not at all, a `kill -9` in the middle included; its
//! cost grows with its size, not with its size squared; and one endless line is refused at the line bound.

use std::time::{Duration, Instant};

use futures::StreamExt;
use realtime_testkit::process::ConsoleProcess;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");

/// One test at a time: the timing ratio is measured on a machine the other test would share.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn line(seq: u64, filler: &str) -> String {
    format!(
        "{}\n",
        json!({"seq": seq, "ts": seq, "direction": "server",
               "event": {"type": "response.output_audio_transcript.delta", "delta": filler}})
    )
}

/// Rows in the database file itself, read beside the server.
async fn rows(db: &std::path::Path) -> (i64, i64) {
    let url = format!("sqlite://{}?mode=ro", db.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let counts =
        sqlx::query_as("SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM events)")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_midway_leaves_nothing_behind() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut server = ConsoleProcess::start(BIN, &[]).await;
    // 1,500 lines, then the upload stalls: two batches of it are stored, the session is not visible.
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<String, std::io::Error>>();
    tx.unbounded_send(Ok((1..=1500).map(|s| line(s, "x")).collect()))
        .unwrap();
    let url = server.url("/api/sessions/import");
    let upload = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .body(reqwest::Body::wrap_stream(rx))
            .send()
            .await
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while rows(&server.db()).await.1 < 1000 {
        assert!(Instant::now() < deadline, "the import never stored a batch");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let listed = server.get_json("/api/sessions").await;
    assert_eq!(
        listed["sessions"],
        json!([]),
        "an import in progress is not listed"
    );

    server.kill().await;
    let _ = upload.await;
    drop(tx);
    server.restart().await;
    let listed = server.get_json("/api/sessions").await;
    assert_eq!(listed["sessions"], json!([]));
    assert_eq!(rows(&server.db()).await, (0, 0), "not a row of it is left");
    assert!(
        server
            .logs()
            .contains("deleted what imports interrupted by the last stop had stored"),
        "{}",
        server.logs()
    );
}

/// Posts `body` in 64 KiB chunks, as a browser uploads a file; the answer and how long it took.
async fn import(server: &ConsoleProcess, body: &[u8]) -> (u16, Value, Duration) {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let started = Instant::now();
    let res = reqwest::Client::new()
        .post(server.url("/api/sessions/import"))
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let value = res.json().await.unwrap_or(Value::Null);
    (status, value, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_time_grows_linearly_and_an_endless_line_is_refused_early() {
    let _one = ONE_AT_A_TIME.lock().await;
    let server = ConsoleProcess::start(BIN, &[]).await;
    // Lines of ~100 KiB, so each spans many chunks: the case that was rescanned on every chunk.
    let filler = "w".repeat(100 * 1024);
    let body = |mib: usize| -> Vec<u8> {
        let per_line = line(1, &filler).len();
        (1..=(mib << 20) / per_line)
            .flat_map(|s| line(s as u64, &filler).into_bytes())
            .collect()
    };
    let small = body(16);
    let large = body(128);
    let best = |times: &[Duration]| times.iter().copied().min().unwrap();
    let mut small_times = Vec::new();
    let mut large_times = Vec::new();
    // Alternated, best of three each: the machine's noise is what a single run would measure.
    for round in 0..3 {
        let (status, s, t) = import(&server, &small).await;
        assert_eq!(status, 201, "{s}");
        small_times.push(t);
        let (status, s, t) = import(&server, &large).await;
        assert_eq!(status, 201, "round {round}: {s}");
        large_times.push(t);
    }
    let (t16, t128) = (best(&small_times), best(&large_times));
    println!(
        "import: 16 MiB in {:.2} s, 128 MiB in {:.2} s (best of 3 each): {:.1}x for 8x the bytes",
        t16.as_secs_f64(),
        t128.as_secs_f64(),
        t128.as_secs_f64() / t16.as_secs_f64()
    );
    assert!(
        t128 <= t16 * 10,
        "128 MiB took {t128:?}, more than 10x the {t16:?} of 16 MiB"
    );

    // A line that never ends: 1 MiB of it, then the upload waits for ever. The server answers anyway, so it
    // stopped at the line bound rather than reading (and scanning) what it was sent until the end.
    let start = futures::stream::iter(
        vec![b'x'; 1 << 20]
            .chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let endless = start.chain(futures::stream::pending());
    let res = tokio::time::timeout(
        Duration::from_secs(60),
        reqwest::Client::new()
            .post(server.url("/api/sessions/import"))
            .body(reqwest::Body::wrap_stream(endless))
            .send(),
    )
    .await
    .expect("answered while the upload is still going")
    .unwrap();
    assert_eq!(res.status(), 413);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["param"], "line 1", "{body}");
    assert_eq!(body["error"]["code"], "line_too_long", "{body}");
}
