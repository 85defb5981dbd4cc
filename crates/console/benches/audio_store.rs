//! `just bench`: what a gateway WebSocket session costs the store per minute of call, with its audio payloads
//! moved into the session's tracks (now) against the same events stored with the payloads in them (before),
//! in one run. Printed, never asserted.
//!
//! The call: six turns, each 10 s of the user's 24 kHz PCM appended in 20 ms pieces (sent as fast as the
//! gateway relays them), a commit and the built-in emulator's spoken answer. "Before" is the same session's
//! export, payloads put back, imported into a store of its own (an import keeps events as they are). Sizes are
//! the database's pages in use (`Store::database_bytes`, less an empty store's) plus the audio folder.

use std::path::Path;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use realtime_testkit::console::ConsoleApp;
use realtime_testkit::ws::{Auth, WsClient};
use serde_json::json;

const TURNS: usize = 6;
const TURN_SECONDS: usize = 10;

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}

/// Bytes of the files of a closed store in `dir`.
fn store_bytes(dir: &Path) -> u64 {
    fn walk(p: &Path) -> u64 {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => std::fs::read_dir(p)
                .map(|d| d.filter_map(|e| e.ok()).map(|e| walk(&e.path())).sum())
                .unwrap_or(0),
            Ok(m) => m.len(),
            Err(_) => 0,
        }
    }
    walk(dir)
}

/// The database's bytes in use and the audio folder's.
async fn sizes(app: &ConsoleApp) -> (u64, u64) {
    let db = app.store.database_bytes().await.unwrap();
    (db, store_bytes(&app.store.audio_dir()))
}

async fn run() {
    let empty = sizes(&ConsoleApp::start().await).await.0;

    let app = ConsoleApp::start().await;
    let url = app
        .url("/v1/realtime?model=gpt-realtime")
        .replacen("http", "ws", 1);
    let began = Instant::now();
    let mut client = WsClient::connect(&url, Auth::Bearer("sk-bench")).await;
    client.expect("session.created").await;
    client
        .send(
            &json!({"type": "session.update", "session": {"type": "realtime",
            "audio": {"input": {"turn_detection": null}}}}),
        )
        .await;
    client.until("session.updated").await;
    let mut model_bytes = 0usize;
    for turn in 0..TURNS {
        for k in 0..TURN_SECONDS * 50 {
            let samples: Vec<u8> = (0..480)
                .flat_map(|i| {
                    let t = (k * 480 + i) as f64 / 24_000.0;
                    let hz = 220.0 * (turn + 1) as f64;
                    ((6_000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16).to_le_bytes()
                })
                .collect();
            client
                .send(&json!({"type": "input_audio_buffer.append", "audio": STANDARD.encode(samples)}))
                .await;
        }
        client
            .send(&json!({"type": "input_audio_buffer.commit"}))
            .await;
        client.send(&json!({"type": "response.create"})).await;
        for e in client.until("response.done").await {
            if e["type"] == "response.output_audio.delta" {
                model_bytes += STANDARD.decode(e["delta"].as_str().unwrap()).unwrap().len();
            }
        }
    }
    client.close().await;
    let took = began.elapsed();
    let mut session = serde_json::Value::Null;
    for _ in 0..400 {
        session = app.get_json("/api/sessions?limit=1").await["sessions"][0].clone();
        if !session["ended_at"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let id = session["id"].as_str().unwrap().to_owned();
    let events = session["stats"]["events"]["total"].as_u64().unwrap_or(0);
    let wire = app
        .get_text(&format!("/api/sessions/{id}/events.jsonl"))
        .await;
    let (db, audio) = sizes(&app).await;
    let after = db.saturating_sub(empty) + audio;

    let before_app = ConsoleApp::start().await;
    let res = before_app.import(None, wire.clone()).await;
    assert_eq!(res.status(), 201, "the export imports");
    let before = sizes(&before_app).await.0.saturating_sub(empty);

    // A minute of call: the user's audio streams in real time, so the call lasts as long as it does, plus the
    // model's answers.
    let call_minutes = (TURNS * TURN_SECONDS) as f64 / 60.0 + model_bytes as f64 / 48_000.0 / 60.0;
    let kib = |b: u64| b as f64 / 1024.0 / call_minutes;
    println!(
        "audio store: a gateway session of {TURNS} turns, {} s of user audio and {:.1} s of the model's, {events} events, {:.1} s to run",
        TURNS * TURN_SECONDS,
        model_bytes as f64 / 48_000.0,
        took.as_secs_f64()
    );
    println!(
        "  per minute of call: payloads in the events (before) {:.0} KiB; payloads in tracks (now) {:.0} KiB, of which audio {:.0} KiB and events {:.0} KiB; now/before {:.2}",
        kib(before),
        kib(after),
        kib(audio),
        kib(after.saturating_sub(audio)),
        after as f64 / before.max(1) as f64
    );
    println!(
        "  the export with payloads put back: {:.0} KiB per minute",
        kib(wire.len() as u64)
    );
}
