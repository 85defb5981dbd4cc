//! What a `kill -9` of the console costs a relayed session's recording. A client streams through the gateway
//! (an append every 2 ms, and the model answering) to an upstream of its own (an emulator in this test
//! process), and the console is killed mid-stream. After a restart the session's recording must be exactly
//! what was forwarded up to some moment, in each direction: nothing missing before it, nothing out of order.
//! What it lacks is the frames forwarded in the last N ms before the kill; the test prints N for each round
//! (the README quotes the figures).

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use realtime_testkit::emulator::EmulatorApp;
use realtime_testkit::process::ConsoleProcess;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");
const ROUNDS: usize = 3;

/// 20 ms of silence at 24 kHz, PCM16, base64: 960 bytes of zeros.
fn append() -> String {
    let zeros = "A".repeat(1280);
    json!({"type": "input_audio_buffer.append", "audio": zeros}).to_string()
}

/// Streams through the gateway for `stream_for`, then kills the console; what was sent and received, each
/// with when, and when the kill was sent.
async fn stream_then_kill(
    server: &mut ConsoleProcess,
    stream_for: Duration,
) -> (Vec<(Instant, String)>, Vec<(Instant, String)>, Instant) {
    let url = server
        .url("/v1/realtime?model=gpt-realtime")
        .replacen("http", "ws", 1);
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", "Bearer sk-crash-test".parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let (mut tx, mut rx) = socket.split();
    let mut sent = Vec::new();
    let mut received = Vec::new();
    let setup = json!({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"],
        "audio": {"input": {"turn_detection": null}}}})
    .to_string();
    let item =
        json!({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "keep talking"}]}})
        .to_string();
    for text in [setup, item] {
        tx.send(Message::text(text.clone())).await.unwrap();
        sent.push((Instant::now(), text));
    }
    let started = Instant::now();
    // Faster than real time (an append every 2 ms), so the window is measured finer than the pace.
    let mut tick = tokio::time::interval(Duration::from_millis(2));
    let mut n = 0u64;
    let killed = loop {
        tokio::select! {
            _ = tick.tick() => {
                if started.elapsed() >= stream_for {
                    let at = Instant::now();
                    server.kill().await;
                    break at;
                }
                n += 1;
                // Every 100th tick asks for a response (an error while one is active: a frame all the same).
                let text = if n.is_multiple_of(100) { json!({"type": "response.create"}).to_string() } else { append() };
                tx.send(Message::text(text.clone())).await.unwrap();
                sent.push((Instant::now(), text));
            }
            frame = rx.next() => match frame {
                Some(Ok(Message::Text(text))) => received.push((Instant::now(), text.to_string())),
                Some(Ok(_)) => {}
                _ => panic!("the relay dropped the client before the kill"),
            },
        }
    };
    // Whatever was still on the way in before the kill counts as forwarded.
    while let Ok(Some(Ok(frame))) =
        tokio::time::timeout(Duration::from_millis(200), rx.next()).await
    {
        if let Message::Text(text) = frame {
            received.push((Instant::now(), text.to_string()));
        }
    }
    (sent, received, killed)
}

/// How many of `forwarded` the recording holds: it must hold exactly a prefix of them, in order.
fn prefix(forwarded: &[(Instant, String)], recorded: &[Value]) -> usize {
    assert!(
        recorded.len() <= forwarded.len(),
        "more recorded than forwarded"
    );
    for (i, stored) in recorded.iter().enumerate() {
        let sent: Value = serde_json::from_str(&forwarded[i].1).unwrap();
        assert_eq!(stored, &sent, "frame {i} is not the {i}th forwarded");
    }
    recorded.len()
}

#[tokio::test]
async fn a_kill_9_loses_only_the_frames_of_the_last_moments_before_it() {
    let emulator = EmulatorApp::start(realtime_emulator::EmulatorConfig::default()).await;
    let mut server = ConsoleProcess::start(
        BIN,
        &[
            ("OPENAI_API_KEY", "sk-console-crash-test"),
            ("OPENAI_BASE_URL", emulator.base.as_str()),
            ("RT_RATE_PER_MIN", "0"),
        ],
    )
    .await;
    let mut windows = Vec::new();
    for round in 0..ROUNDS {
        let (sent, received, killed) =
            stream_then_kill(&mut server, Duration::from_millis(1500)).await;
        server.restart().await;
        let page = server.get_json("/api/sessions?limit=1").await;
        let sid = page["sessions"][0]["id"].as_str().unwrap().to_owned();
        // The export, with the audio payloads the store keeps in tracks put back: what was relayed.
        let export = server
            .get_text(&format!("/api/sessions/{sid}/events.jsonl"))
            .await;
        let events: Vec<Value> = export
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let of = |direction: &str| -> Vec<Value> {
            events
                .iter()
                .filter(|e| e["direction"] == direction)
                .map(|e| e["event"].clone())
                .collect()
        };
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as i64).collect::<Vec<_>>(),
            "no hole in the recording"
        );
        let kept_sent = prefix(&sent, &of("client"));
        let kept_received = prefix(&received, &of("server"));
        assert!(
            kept_sent > 10 && kept_received > 0,
            "round {round}: the recording kept up until the kill"
        );
        // The oldest frame the recording lacks: how long before the kill it was forwarded.
        let lost_since = [sent.get(kept_sent), received.get(kept_received)]
            .into_iter()
            .flatten()
            .map(|(at, _)| *at)
            .min();
        let window = lost_since.map_or(Duration::ZERO, |at| killed.saturating_duration_since(at));
        println!(
            "round {round}: forwarded {} client + {} server frames, recorded {} + {}; lost the frames of the last {:.1} ms",
            sent.len(),
            received.len(),
            kept_sent,
            kept_received,
            window.as_secs_f64() * 1000.0
        );
        windows.push(window);
    }
    let worst = windows.iter().max().copied().unwrap_or_default();
    println!(
        "kill -9 loss window over {ROUNDS} rounds: at most {:.1} ms",
        worst.as_secs_f64() * 1000.0
    );
    server.kill().await;
}
