//! The live stream `GET /api/sessions/{id}/live` on a real server: commit order, resume with
//! `Last-Event-ID`, and every event exactly once across reconnects while events are being ingested.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use realtime_testkit::console::{ConsoleApp, event};
use serde_json::{Value, json};

/// One server-sent event.
#[derive(Debug, Clone)]
struct Frame {
    id: Option<String>,
    kind: String,
    data: String,
}

/// A minimal SSE client over reqwest: enough of the spec for this server (`id`, `event`, `data`, `retry`).
struct Sse {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl Sse {
    async fn open(app: &ConsoleApp, id: &str, last_event_id: Option<&str>) -> Sse {
        let mut req = app
            .http
            .get(app.url(&format!("/api/sessions/{id}/live")))
            .header("accept", "text/event-stream");
        if let Some(last) = last_event_id {
            req = req.header("last-event-id", last);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Sse {
            body: res.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next frame (comments and keep-alives skipped); `None` when the stream ends.
    async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut frame = Frame {
                    id: None,
                    kind: "message".into(),
                    data: String::new(),
                };
                let mut any = false;
                for line in block.lines() {
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "id" => frame.id = Some(value.to_owned()),
                        "event" => frame.kind = value.to_owned(),
                        "data" => {
                            if any {
                                frame.data.push('\n');
                            }
                            frame.data.push_str(value);
                            any = true;
                        }
                        _ => {}
                    }
                }
                if any {
                    return Some(frame);
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.body.next())
                .await
                .expect("the stream went quiet")?
                .ok()?;
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next `event` frame: its id and the stored event.
    async fn next_event(&mut self) -> (String, Value) {
        loop {
            let f = self.next().await.expect("the stream ended");
            if f.kind == "event" {
                return (
                    f.id.expect("events carry an id"),
                    serde_json::from_str(&f.data).unwrap(),
                );
            }
        }
    }
}

fn batch(seqs: &[u64]) -> Value {
    Value::Array(
        seqs.iter()
            .map(|&s| {
                event(
                    s,
                    "server",
                    json!({"type": "response.output_text.delta", "delta": format!("d{s}")}),
                )
            })
            .collect(),
    )
}

async fn post(app: &ConsoleApp, id: &str, seqs: &[u64]) {
    let (status, body) = app.post_events(id, batch(seqs)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn events_come_in_commit_order_with_growing_ids_and_the_session_first() {
    let (app, id) = ConsoleApp::with_session().await;
    post(&app, &id, &[1, 2]).await;
    let mut sse = Sse::open(&app, &id, None).await;
    let first = sse.next().await.unwrap();
    assert_eq!(first.kind, "session");
    assert_eq!(
        serde_json::from_str::<Value>(&first.data).unwrap()["id"],
        id
    );
    // A gap (3) filled after later seqs: the stream says what was committed, in the order it was.
    post(&app, &id, &[4, 5]).await;
    post(&app, &id, &[3]).await;
    let mut seqs = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let (eid, e) = sse.next_event().await;
        ids.push(eid.parse::<i64>().unwrap());
        seqs.push(e["seq"].as_i64().unwrap());
        assert_eq!(e["event"]["delta"], format!("d{}", e["seq"]));
        assert_eq!(e["direction"], "server");
    }
    assert_eq!(seqs, vec![1, 2, 4, 5, 3]);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_resumes_without_a_gap_or_a_double() {
    let (app, id) = ConsoleApp::with_session().await;
    post(&app, &id, &[1, 2, 3, 5]).await;
    let mut sse = Sse::open(&app, &id, None).await;
    let mut got = Vec::new();
    let mut last = String::new();
    for _ in 0..2 {
        let (eid, e) = sse.next_event().await;
        got.push(e["seq"].as_i64().unwrap());
        last = eid;
    }
    drop(sse);
    // While nobody listens: the gap is filled and more arrives; a resend changes nothing.
    post(&app, &id, &[4, 6]).await;
    post(&app, &id, &[1, 2]).await;
    let mut sse = Sse::open(&app, &id, Some(&last)).await;
    for _ in 0..4 {
        got.push(sse.next_event().await.1["seq"].as_i64().unwrap());
    }
    post(&app, &id, &[7]).await;
    got.push(sse.next_event().await.1["seq"].as_i64().unwrap());
    assert_eq!(got, vec![1, 2, 3, 5, 4, 6, 7]);
}

#[tokio::test]
async fn no_event_is_missing_or_doubled_across_reconnects_during_ingest() {
    let (app, id) = ConsoleApp::with_session().await;
    const TOTAL: u64 = 1500;
    // Batches of 1–40 events, each batch's last seq held back and sent with the next batch (a gap filled
    // late), some batches sent twice (a retry of an acknowledged batch).
    let writer = {
        let app_base = app.base.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let url = format!("{app_base}/api/sessions/{id}/events");
            let mut next = 1u64;
            let mut held: Option<u64> = None;
            while next <= TOTAL {
                let n = fastrand::u64(1..=40).min(TOTAL - next + 1);
                let mut seqs: Vec<u64> = (next..next + n).collect();
                next += n;
                let hold = if next <= TOTAL { seqs.pop() } else { None };
                seqs.extend(held.take());
                held = hold;
                let body = json!({ "events": batch(&seqs) });
                for _ in 0..(1 + u8::from(fastrand::u8(0..10) == 0)) {
                    let res = client.post(&url).json(&body).send().await.unwrap();
                    assert_eq!(res.status(), 200);
                }
                if fastrand::u8(0..4) == 0 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            if let Some(h) = held {
                let res = client
                    .post(&url)
                    .json(&json!({"events": batch(&[h])}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
            }
        })
    };
    let mut seen: BTreeMap<i64, u32> = BTreeMap::new();
    let mut last: Option<String> = None;
    let mut reconnects = 0;
    while seen.len() < TOTAL as usize {
        let mut sse = Sse::open(&app, &id, last.as_deref()).await;
        // Read a random number of events, then hang up mid-stream.
        for _ in 0..fastrand::usize(1..=120) {
            let (eid, e) = sse.next_event().await;
            *seen.entry(e["seq"].as_i64().unwrap()).or_default() += 1;
            last = Some(eid);
            if seen.len() == TOTAL as usize {
                break;
            }
        }
        reconnects += 1;
    }
    writer.await.unwrap();
    assert!(reconnects > 1);
    let doubled: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "delivered twice: {doubled:?}");
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (1..=TOTAL as i64).collect::<Vec<_>>()
    );
    // And nothing more is pending after the last one.
    let mut sse = Sse::open(&app, &id, last.as_deref()).await;
    post(&app, &id, &[TOTAL + 1]).await;
    assert_eq!(sse.next_event().await.1["seq"], TOTAL + 1);
}

#[tokio::test]
async fn the_stream_says_when_the_session_ends_or_is_deleted_and_refuses_bad_cursors() {
    let (app, id) = ConsoleApp::with_session().await;
    let mut sse = Sse::open(&app, &id, None).await;
    assert_eq!(sse.next().await.unwrap().kind, "session");
    let caught_up = sse.next().await.unwrap();
    assert_eq!(
        (caught_up.kind.as_str(), caught_up.data.as_str()),
        ("caught-up", "0")
    );
    let res = app.patch_session(&id, &json!({"ended": true})).await;
    assert_eq!(res.status(), 200);
    let ended = sse.next().await.unwrap();
    assert_eq!(ended.kind, "session");
    let s: Value = serde_json::from_str(&ended.data).unwrap();
    assert!(s["ended_at"].is_i64() && s["live"] == false);
    let res = app.delete_session(&id).await;
    assert_eq!(res.status(), 204);
    assert_eq!(sse.next().await.unwrap().kind, "deleted");
    assert!(sse.next().await.is_none());

    let res = app
        .http
        .get(app.url(&format!("/api/sessions/{id}/live")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let other = app.new_session_id().await;
    let res = app
        .http
        .get(app.url(&format!("/api/sessions/{other}/live")))
        .header("last-event-id", "x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}
