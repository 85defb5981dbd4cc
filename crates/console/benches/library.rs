//! `just bench`: figures of the session library and inspector, printed, never asserted.
//!
//! A session of 1M events: the inspector's first rows in headless Chromium (navigation start → first row
//! painted), and the API's paging and type filters (p50/p99). A library of 10k sessions: paging and search
//! (label and event text). The live stream: delay from the start of an ingest request to the event reaching
//! a watching SSE client (p50/p99).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use hdrhistogram::Histogram;
use realtime_store::{NewEvent, NewSession, SessionPatch, Store};
use realtime_testkit::console::ConsoleApp;
use serde_json::{Value, json};

const BIG: u64 = 1_000_000;
const SESSIONS: usize = 10_000;

/// A realistic turn of about 50 events: speech, transcription, a response streamed as transcript deltas.
fn turn_event(seq: u64) -> (&'static str, Value) {
    let turn = seq / 50;
    let id = format!("event_{seq:010}");
    let item = format!("item_{turn:08}");
    let resp = format!("resp_{turn:08}");
    let e = match seq % 50 {
        0 => json!({"type": "input_audio_buffer.speech_started", "event_id": id, "item_id": item}),
        1 => json!({"type": "input_audio_buffer.speech_stopped", "event_id": id, "item_id": item}),
        2 => {
            json!({"type": "conversation.item.input_audio_transcription.completed", "event_id": id,
                    "item_id": item, "content_index": 0, "transcript": format!("question {turn} about the weather in Bergen")})
        }
        3 => json!({"type": "response.create", "event_id": id}),
        4 => {
            json!({"type": "response.created", "event_id": id, "response": {"id": resp, "status": "in_progress"}})
        }
        47 => {
            json!({"type": "response.output_audio_transcript.done", "event_id": id, "response_id": resp,
                     "item_id": item, "output_index": 0, "content_index": 0,
                     "transcript": format!("answer {turn}: rain, then more rain")})
        }
        48 if turn % 100 == 7 => json!({"type": "error", "event_id": id,
                     "error": {"type": "invalid_request_error", "code": "x", "message": "a recorded error"}}),
        49 => {
            json!({"type": "response.done", "event_id": id, "response": {"id": resp, "status": "completed",
                     "usage": {"total_tokens": 300, "input_tokens": 200, "output_tokens": 100}}})
        }
        _ => {
            json!({"type": "response.output_audio_transcript.delta", "event_id": id, "response_id": resp,
                    "item_id": item, "output_index": 0, "content_index": 0, "delta": format!("word {seq} ")})
        }
    };
    let direction = if seq % 50 == 3 { "client" } else { "server" };
    (direction, e)
}

fn new_event(seq: u64, direction: &str, event: &Value) -> NewEvent {
    let raw = json!({"seq": seq, "ts": 1_764_000_000_000.0 + seq as f64 * 20.0, "direction": direction, "event": event});
    let raw = serde_json::value::RawValue::from_string(raw.to_string()).unwrap();
    NewEvent::parse(&raw).unwrap()
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

fn report(name: &str, h: &Histogram<u64>) {
    println!(
        "  {name:<52} p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms   (n={})",
        ms(h, 0.5),
        ms(h, 0.99),
        h.max() as f64 / 1000.0,
        h.len()
    );
}

async fn timed_get(http: &reqwest::Client, url: &str, h: &mut Histogram<u64>) -> Value {
    let t = Instant::now();
    let res = http.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    let v: Value = res.json().await.unwrap();
    h.record(t.elapsed().as_micros() as u64).unwrap();
    v
}

async fn fill(store: &Store) -> String {
    let t = Instant::now();
    let big = store
        .create_session(NewSession {
            label: Some("a million events".into()),
            flow: Some("unified".into()),
            model: Some("gpt-realtime".into()),
            ..NewSession::default()
        })
        .await
        .unwrap();
    let mut seq = 1;
    while seq <= BIG {
        let batch: Vec<NewEvent> = (seq..(seq + 1000).min(BIG + 1))
            .map(|s| {
                let (d, e) = turn_event(s);
                new_event(s, d, &e)
            })
            .collect();
        seq += batch.len() as u64;
        store.append_events(big.id, batch).await.unwrap();
    }
    let ended = SessionPatch {
        ended: true,
        ..SessionPatch::default()
    };
    store.update_session(big.id, ended).await.unwrap();
    let took = t.elapsed();
    println!(
        "  stored {BIG} events (full-text indexed at ingest) in {:.1} s: {:.0} events/s",
        took.as_secs_f64(),
        BIG as f64 / took.as_secs_f64()
    );
    let t = Instant::now();
    let mut jobs = futures::stream::iter(0..SESSIONS)
        .map(|i| {
            let store = store.clone();
            async move {
                let s = store
                    .create_session(NewSession {
                        label: Some(format!("call {i:05}")),
                        flow: Some("ephemeral".into()),
                        ..NewSession::default()
                    })
                    .await
                    .unwrap();
                let said = json!({"type": "conversation.item.input_audio_transcription.completed",
                                  "item_id": "item_1", "content_index": 0,
                                  "transcript": format!("caller {i} asks about invoice {}", i * 7)});
                store
                    .append_events(s.id, vec![new_event(1, "server", &said)])
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(64);
    while jobs.next().await.is_some() {}
    println!(
        "  created {SESSIONS} more sessions in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    big.id.to_string()
}

async fn api_figures(http: &reqwest::Client, base: &str, big: &str) {
    println!("API, session of {BIG} events:");
    let mut h = Histogram::<u64>::new(3).unwrap();
    for _ in 0..200 {
        timed_get(
            http,
            &format!("{base}/api/sessions/{big}/events?after_seq=0&limit=500"),
            &mut h,
        )
        .await;
    }
    report("first page (500 events)", &h);
    for (name, query) in [
        ("page of 100 at a random position", ""),
        (
            "type=response.done (exact), random position",
            "&type=response.done",
        ),
        (
            "type=response. (prefix), random position",
            "&type=response.",
        ),
        ("type=error (sparse), random position", "&type=error"),
        ("direction=client, random position", "&direction=client"),
    ] {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for _ in 0..1000 {
            let after = fastrand::u64(0..BIG);
            timed_get(
                http,
                &format!("{base}/api/sessions/{big}/events?after_seq={after}&limit=100{query}"),
                &mut h,
            )
            .await;
        }
        report(name, &h);
    }
    let mut h = Histogram::<u64>::new(3).unwrap();
    for _ in 0..20 {
        timed_get(
            http,
            &format!("{base}/api/sessions/{big}/timeline?samples=300"),
            &mut h,
        )
        .await;
    }
    report("timeline (300 samples, turns, errors)", &h);

    println!("API, library of {} sessions:", SESSIONS + 1);
    let mut h = Histogram::<u64>::new(3).unwrap();
    let mut before: Option<String> = None;
    let mut pages = 0;
    loop {
        let cursor = before
            .as_deref()
            .map(|b| format!("&before={b}"))
            .unwrap_or_default();
        let page = timed_get(
            http,
            &format!("{base}/api/sessions?limit=50{cursor}"),
            &mut h,
        )
        .await;
        pages += 1;
        match page["next_before"].as_str() {
            Some(b) => before = Some(b.to_owned()),
            None => break,
        }
    }
    report(
        &format!("every page of 50, newest to oldest ({pages} pages)"),
        &h,
    );
    let mut h = Histogram::<u64>::new(3).unwrap();
    let mut t = Histogram::<u64>::new(3).unwrap();
    for i in 0..200 {
        let n = fastrand::usize(0..SESSIONS);
        timed_get(
            http,
            &format!("{base}/api/sessions?limit=50&q=call+{n:05}"),
            &mut h,
        )
        .await;
        let v = timed_get(
            http,
            &format!("{base}/api/sessions?limit=50&q=invoice+{}", n * 7),
            &mut t,
        )
        .await;
        if i == 0 {
            assert!(!v["sessions"].as_array().unwrap().is_empty());
        }
    }
    report("search by label (q=call 01234)", &h);
    report("search by event text (q=invoice 8638, FTS5)", &t);
}

async fn library_page(http: &reqwest::Client, base: &str) {
    let mut h = Histogram::<u64>::new(3).unwrap();
    for _ in 0..100 {
        let t = Instant::now();
        let res = http.get(format!("{base}/sessions")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let _ = res.text().await.unwrap();
        h.record(t.elapsed().as_micros() as u64).unwrap();
    }
    report("the /sessions page (HTML, first 50 rows)", &h);
}

/// Ingest → watching client: one event per POST, 10 ms apart, an SSE client following the session.
async fn live_delay(http: &reqwest::Client, base: &str) {
    let id = realtime_testkit::console::create_session(http, base, "live").await;
    let received: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let res = http
        .get(format!("{base}/api/sessions/{id}/live"))
        .send()
        .await
        .unwrap();
    let mut body = res.bytes_stream();
    let got = received.clone();
    let reader = tokio::spawn(async move {
        let mut buf = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            let at = Instant::now();
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let frame: String = buf.drain(..end + 2).collect();
                if !frame.contains("event: event") {
                    continue;
                }
                if let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: "))
                    && let Ok(v) = serde_json::from_str::<Value>(data)
                {
                    got.lock().unwrap().insert(v["seq"].as_i64().unwrap(), at);
                }
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    const N: i64 = 500;
    let mut sent = HashMap::new();
    let mut acked = Histogram::<u64>::new(3).unwrap();
    for seq in 1..=N {
        let (d, e) = turn_event(seq as u64);
        let body =
            json!({"events": [{"seq": seq, "ts": 1.0 + seq as f64, "direction": d, "event": e}]});
        let t = Instant::now();
        sent.insert(seq, t);
        let res = http
            .post(format!("{base}/api/sessions/{id}/events"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        acked.record(t.elapsed().as_micros() as u64).unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    reader.abort();
    let got = received.lock().unwrap();
    let mut h = Histogram::<u64>::new(3).unwrap();
    for (seq, t) in &sent {
        if let Some(r) = got.get(seq) {
            h.record(r.duration_since(*t).as_micros() as u64).unwrap();
        }
    }
    println!(
        "Live stream ({} of {N} events seen by the follower):",
        h.len()
    );
    report("POST /events answered (logged, fsync)", &acked);
    report("POST start → event at the SSE client", &h);
}

/// Navigation start → first row painted, in Chromium, on the 1M-event session.
async fn first_rows(base: &str, big: &str) {
    let b = realtime_testkit::browser::Browser::launch().await;
    let mut h = Histogram::<u64>::new(3).unwrap();
    let mut held = 0;
    for i in 0..6 {
        b.client
            .goto(&format!("{base}/sessions/{big}"))
            .await
            .unwrap();
        let v = b
            .wait_until(
                "performance.getEntriesByName('inspector:first-row')[0]?.startTime",
                "the first rows",
            )
            .await;
        b.wait_until("document.querySelector('#log .lp-row')", "a row in the DOM")
            .await;
        held = b
            .eval("return window.inspectorDebug.seqs().length")
            .await
            .as_u64()
            .unwrap();
        if i > 0 {
            // The first load warms the browser's cache of the page's modules, as any second visit would.
            h.record((v.as_f64().unwrap() * 1000.0) as u64).unwrap();
        }
    }
    println!("Inspector in headless Chromium, session of {BIG} events:");
    report("navigation start → first row painted (warm)", &h);
    println!("  events the page holds after loading: {held} of {BIG}");
    b.close().await;
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("library.db").display());
        println!("Setting up:");
        let store = Store::open(&url).await.unwrap();
        let big = fill(&store).await;
        store.close().await;
        drop(store);

        let app = ConsoleApp::start_with(|config| config.database_url = url).await;
        let base = app.base.as_str();
        let http = reqwest::Client::new();
        api_figures(&http, base, &big).await;
        library_page(&http, base).await;
        live_delay(&http, base).await;
        first_rows(base, &big).await;
        drop(app);
    });
}
