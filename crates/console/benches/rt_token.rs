//! `/api/rt/token` figures, printed, never asserted: the console in front of a local recording upstream,
//! against the same upstream called directly in the same run, at 1 and 16 concurrent clients.
//!
//! The difference is what the console adds per mint: parsing and merging the overrides, creating the
//! console session and recording its opening event (one SQLite commit, synced to disk: the default
//! durability), and one more HTTP hop.
//! Client, console and upstream share this machine's cores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use realtime_token::ApiKey;
use realtime_token::testing::RecordingUpstream;
use serde_json::{Value, json};

const KEY: &str = "sk-bench-0000000000000000";
const WARMUP: usize = 200;
const REQUESTS: usize = 3000;

struct Target {
    url: String,
    body: Value,
    bearer: Option<&'static str>,
}

async fn run(
    http: &reqwest::Client,
    target: &Arc<Target>,
    clients: usize,
) -> (f64, Histogram<u64>) {
    for _ in 0..WARMUP {
        send(http, target).await;
    }
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let http = http.clone();
            let target = Arc::clone(target);
            let share = REQUESTS / clients + usize::from(i < REQUESTS % clients);
            tokio::spawn(async move {
                let mut h = Histogram::<u64>::new(3).unwrap();
                for _ in 0..share {
                    let t = Instant::now();
                    send(&http, &target).await;
                    h.record(t.elapsed().as_micros() as u64).unwrap();
                }
                h
            })
        })
        .collect();
    let mut all = Histogram::<u64>::new(3).unwrap();
    for task in tasks {
        all.add(task.await.unwrap()).unwrap();
    }
    (REQUESTS as f64 / started.elapsed().as_secs_f64(), all)
}

async fn send(http: &reqwest::Client, target: &Target) {
    let mut req = http.post(&target.url).json(&target.body);
    if let Some(key) = target.bearer {
        req = req.bearer_auth(key);
    }
    let res = req.send().await.expect("request");
    assert!(res.status().is_success(), "{}", res.status());
    res.bytes().await.expect("body");
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let upstream = RecordingUpstream::start().await;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let mut config =
            realtime_console::Config::from_args(["realtime-console", "--database-url", url.as_str()])
                .unwrap();
        config.openai_api_key = Some(ApiKey::new(KEY));
        config.openai_base_url = upstream.base_url();
        config.rt_rate_per_min = 0;
        let state = realtime_console::AppState::new(config.settings().unwrap())
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let console = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(realtime_console::serve(listener, state, async {
            let _ = rx.await;
        }));

        let direct = Arc::new(Target {
            url: format!("{}/realtime/client_secrets", upstream.base_url()),
            body: json!({
                "expires_after": {"anchor": "created_at", "seconds": 600},
                "session": {"type": "realtime", "model": "gpt-realtime", "instructions": "Be brief."}
            }),
            bearer: Some(KEY),
        });
        let through = Arc::new(Target {
            url: format!("{console}/api/rt/token"),
            body: json!({"session": {"instructions": "Be brief."}}),
            bearer: None,
        });
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();

        println!("rt_token: {REQUESTS} mints per row after {WARMUP} warm-up, latency in ms");
        println!(
            "{:<34} {:>7} {:>9} {:>8} {:>8} {:>8}",
            "target", "clients", "req/s", "p50", "p99", "max"
        );
        for clients in [1, 16] {
            let mut p50 = Vec::new();
            for (name, target) in [
                ("upstream directly", &direct),
                ("/api/rt/token -> upstream", &through),
            ] {
                let (rate, h) = run(&http, target, clients).await;
                p50.push(ms(&h, 0.5));
                println!(
                    "{name:<34} {clients:>7} {rate:>9.0} {:>8.2} {:>8.2} {:>8.2}",
                    ms(&h, 0.5),
                    ms(&h, 0.99),
                    h.max() as f64 / 1000.0
                );
            }
            println!(
                "{:<34} {clients:>7} {:>9} {:>8.2}",
                "added by the console (p50)",
                "",
                p50[1] - p50[0]
            );
        }
        let _ = tx.send(());
        let _ = server.await;
    });
}
