//! Crash safety: a real server process is killed with SIGKILL while several sessions stream batches into it.
//! After a restart on the same file, every acknowledged event is there exactly once; after the clients resend
//! what was not acknowledged, every event is. Run for both durabilities: `normal` promises this much too.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use realtime_testkit::console::{event, realistic_event};
use realtime_testkit::process::ConsoleProcess;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");

const SESSIONS: usize = 4;
const EVENTS_PER_SESSION: u64 = 4_000;
const BATCH: u64 = 50;

fn events_of(session: usize) -> Vec<Value> {
    (1..=EVENTS_PER_SESSION)
        .map(|seq| {
            let dir = if seq % 7 == 0 { "client" } else { "server" };
            event(seq, dir, json!({"type": "response.output_audio_transcript.delta", "session": session, "n": seq, "body": realistic_event(seq)}))
        })
        .collect()
}

/// Streams a session's events from just after `acked`, one batch in flight, until done or the server dies.
async fn stream(
    client: reqwest::Client,
    base: String,
    id: String,
    events: Arc<Vec<Value>>,
    acked: Arc<AtomicI64>,
) {
    loop {
        let from = acked.load(Ordering::SeqCst) as usize;
        if from >= events.len() {
            return;
        }
        let to = (from + BATCH as usize).min(events.len());
        let res = client
            .post(format!("{base}/api/sessions/{id}/events"))
            .json(&json!({"events": &events[from..to]}))
            .send()
            .await;
        let Ok(res) = res else { return };
        let Ok(ack) = res.json::<Value>().await else {
            return;
        };
        let n = ack["acked_seq"].as_i64().expect("a 200 carries acked_seq");
        acked.fetch_max(n, Ordering::SeqCst);
    }
}

/// One [`stream`] task per session.
fn stream_all(
    client: &reqwest::Client,
    base: &str,
    ids: &[String],
    events: &[Arc<Vec<Value>>],
    acked: &[Arc<AtomicI64>],
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..SESSIONS)
        .map(|i| {
            tokio::spawn(stream(
                client.clone(),
                base.to_owned(),
                ids[i].clone(),
                events[i].clone(),
                acked[i].clone(),
            ))
        })
        .collect()
}

fn assert_prefix_exactly_once(stored: &[Value], sent: &[Value], n: usize, id: &str) {
    let seqs: Vec<i64> = stored.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    let mut dedup = seqs.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), seqs.len(), "{id}: a seq is stored twice");
    for (i, want) in sent.iter().take(n).enumerate() {
        let got = stored
            .get(i)
            .unwrap_or_else(|| panic!("{id}: acknowledged seq {} is missing", i + 1));
        assert_eq!(
            got["seq"],
            want["seq"],
            "{id}: acknowledged seq {} is missing",
            i + 1
        );
        assert_eq!(got["event"], want["event"], "{id}: seq {} changed", i + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_kill_9_and_resends_complete_the_sessions() {
    survive_kill_9("full").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_durability_normal_acknowledged_events_survive_kill_9_too() {
    survive_kill_9("normal").await;
}

async fn survive_kill_9(durability: &str) {
    let env = [("STORE_DURABILITY", durability)];
    let client = reqwest::Client::new();
    let mut server = ConsoleProcess::start(BIN, &env).await;
    let base = server.url("");

    let mut ids = Vec::new();
    for i in 0..SESSIONS {
        ids.push(server.create_session(&format!("crash {i}")).await);
    }
    let events: Vec<Arc<Vec<Value>>> = (0..SESSIONS).map(|i| Arc::new(events_of(i))).collect();
    let acked: Vec<Arc<AtomicI64>> = (0..SESSIONS).map(|_| Arc::new(AtomicI64::new(0))).collect();

    let tasks = stream_all(&client, &base, &ids, &events, &acked);
    // Kill once a good part, but not all, is acknowledged.
    let total = || acked.iter().map(|a| a.load(Ordering::SeqCst)).sum::<i64>();
    let target = (SESSIONS as i64 * EVENTS_PER_SESSION as i64) / 4;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while total() < target && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().await; // SIGKILL: no shutdown code runs
    for t in tasks {
        t.await.unwrap();
    }
    let acked_at_kill: Vec<i64> = acked.iter().map(|a| a.load(Ordering::SeqCst)).collect();
    eprintln!("acknowledged per session at the kill: {acked_at_kill:?}");
    let all = SESSIONS as i64 * EVENTS_PER_SESSION as i64;
    assert!(
        acked_at_kill.iter().sum::<i64>() < all,
        "the kill must land mid-stream: {acked_at_kill:?}"
    );

    // Again, on the same port and database.
    server.restart().await;
    for i in 0..SESSIONS {
        let got = server.stored(&ids[i]).await;
        assert_prefix_exactly_once(&got, &events[i], acked_at_kill[i] as usize, &ids[i]);
    }

    // The clients resend everything they hold unacknowledged (some of it may already be stored).
    let tasks = stream_all(&client, &base, &ids, &events, &acked);
    for t in tasks {
        t.await.unwrap();
    }
    for i in 0..SESSIONS {
        let got = server.stored(&ids[i]).await;
        assert_eq!(
            got.len(),
            EVENTS_PER_SESSION as usize,
            "{}: every event is stored once",
            ids[i]
        );
        assert_prefix_exactly_once(&got, &events[i], EVENTS_PER_SESSION as usize, &ids[i]);
        let s = server.get_json(&format!("/api/sessions/{}", ids[i])).await;
        assert_eq!(s["acked_seq"], EVENTS_PER_SESSION);
        assert_eq!(
            s["stats"]["events"]["total"], EVENTS_PER_SESSION,
            "stats count each event once"
        );
    }
    drop(server);
}
