//! Clients that hold the server hostage: connections that never finish their headers, bodies that stop
//! arriving, and more connections than the server serves. Each is cut off or refused with a clear answer, while
//! uploads that keep sending and live streams stay up. A real server on 127.0.0.1:0, short timeouts.

use std::time::Duration;

use futures::StreamExt;
use realtime_testkit::console::{ConsoleApp, code_and_param};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Generous bound for "the server did it": never a measure of how fast.
const DEADLINE: Duration = Duration::from_secs(15);

async fn short_timeouts() -> ConsoleApp {
    ConsoleApp::start_with(|c| {
        c.header_timeout_secs = 1;
        c.body_timeout_secs = 1;
    })
    .await
}

fn addr(app: &ConsoleApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; what it sent.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(DEADLINE, stream.read_to_end(&mut out))
        .await
        .expect("the server closes the connection")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_request_that_never_finishes_its_headers_is_closed() {
    let app = short_timeouts().await;
    let host = addr(&app);
    let mut conns = Vec::new();
    for _ in 0..20 {
        let mut s = TcpStream::connect(&host).await.unwrap();
        s.write_all(format!("GET / HTTP/1.1\r\nHost: {host}\r\n").as_bytes())
            .await
            .unwrap();
        conns.push(s);
    }
    // An idle keep-alive connection goes the same way.
    let mut idle = TcpStream::connect(&host).await.unwrap();
    idle.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    for s in &mut conns {
        read_to_close(s).await;
    }
    let answered = read_to_close(&mut idle).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_body_that_stops_arriving_gets_408_and_one_that_keeps_coming_is_taken() {
    let app = short_timeouts().await;
    let host = addr(&app);
    let mut s = TcpStream::connect(&host).await.unwrap();
    s.write_all(
        format!(
            "POST /api/sessions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: 100\r\n\r\n{{\"label\":"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let answer = read_to_close(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(code_and_param(&body).0, "request_timeout");

    // An import that trickles in over three times the timeout, never pausing as long: stored whole.
    let lines: Vec<String> = (1..=6)
        .map(|seq| {
            format!(
                "{}\n",
                json!({"seq": seq, "ts": seq, "direction": "server", "event": {"type": "x"}})
            )
        })
        .collect();
    let body = futures::stream::iter(lines).then(|line| async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok::<_, std::io::Error>(line)
    });
    let res = app.import(None, reqwest::Body::wrap_stream(body)).await;
    assert_eq!(res.status(), 201);
    let session: Value = res.json().await.unwrap();
    assert_eq!(session["stats"]["events"]["total"], 6);
}

#[tokio::test]
async fn a_live_stream_outlasts_the_timeouts() {
    let app = short_timeouts().await;
    let id = app.new_session_id().await;
    let mut live = app
        .http
        .get(app.url(&format!("/api/sessions/{id}/live")))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    // Quiet for three times both timeouts, then an event: the stream is still there to carry it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let res = app
        .http
        .post(app.url(&format!("/api/sessions/{id}/events")))
        .json(&json!({"events": [{"seq": 1, "ts": 1, "direction": "server", "event": {"type": "late"}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut seen = String::new();
    tokio::time::timeout(DEADLINE, async {
        while !seen.contains("\"late\"") {
            let chunk = live.chunk().await.unwrap().expect("the stream stays open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("the event arrives on the stream");
}

#[tokio::test]
async fn connections_beyond_the_cap_get_a_clear_503() {
    let app = ConsoleApp::start_with(|c| c.max_connections = 4).await;
    let host = addr(&app);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(&host).await.unwrap());
    }
    // Let the server take them all before the next one knocks.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = TcpStream::connect(&host).await.unwrap();
    extra
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let answer = read_to_close(&mut extra).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too_many_connections"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    drop(held);
    tokio::time::timeout(DEADLINE, async {
        loop {
            if let Ok(res) = app.http.get(app.url("/healthz")).send().await
                && res.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("served again once the held connections are gone");
}
