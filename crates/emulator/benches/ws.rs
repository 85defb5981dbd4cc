//! Figures for the WebSocket transport (issue [emulator-ws]), measured against the `realtime-emulator` binary
//! in its own process, so its CPU is its own. No assertions: `just bench` prints them.
//!
//! 1. Server event types the emulator's source can emit, of those in `../shared/realtime/event-types.json`.
//! 2. First text delta over WebSocket at instant pace, p50 and p99, against a baseline measured in the same run:
//!    the round trip of a `session.update` (no model work) on the same sockets.
//! 3. Sessions held at realistic pace, each streaming audio both ways in real time (20 ms appends of speech and
//!    silence up, the answer's 100 ms `response.output_audio.delta` chunks down): how many before the first
//!    chunk arrives more than 40 ms behind its real-time schedule, and the emulator's CPU at each level.
//!
//! The client runs on the same 2-core machine (one thread), so the lateness includes its own scheduling.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const KEY: &str = "sk-bench-0123456789";
/// Text turns for the latency figures.
const TURNS: usize = 300;
/// A chunk later than this behind its schedule counts as late.
const LATE: Duration = Duration::from_millis(40);
/// How long each level of the sessions figure streams.
const LEVEL: Duration = Duration::from_secs(8);
/// The largest level tried.
const MAX_SESSIONS: usize = 256;
/// PCM16 at 24 kHz: 20 ms is 480 samples.
const FRAME_SAMPLES: usize = 480;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        event_types();
        first_text_delta().await;
        if std::env::var_os("WS_BENCH_SKIP_HELD").is_none() {
            sessions_held().await;
        }
    });
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Counts the server event types named as string literals in the emulator's source.
fn event_types() {
    let path = workspace().join("../shared/realtime/event-types.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("event types: {} not found, skipped", path.display());
        return;
    };
    let types: Value = serde_json::from_str(&text).unwrap();
    let server = types["server"].as_object().unwrap();
    let mut source = String::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                source.push_str(&std::fs::read_to_string(path).unwrap());
            }
        }
    }
    let missing: Vec<&str> = server
        .keys()
        .filter(|t| !source.contains(&format!("\"{t}\"")))
        .map(String::as_str)
        .collect();
    println!(
        "server event types the emulator can emit: {} of {} (not emitted: {})",
        server.len() - missing.len(),
        server.len(),
        missing.join(", ")
    );
}

/// The emulator binary on a port of the OS's choosing; killed on drop.
struct Emulator {
    child: Child,
    ws: String,
}

impl Emulator {
    async fn start(pace: &str) -> Emulator {
        let mut child = Command::new(env!("CARGO_BIN_EXE_realtime-emulator"))
            .args(["--port", "0", "--pace", pace])
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "warn,realtime_emulator=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the emulator binary runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the emulator printed where it listens");
            if let Some(at) = line.find("base_url=http://") {
                break line[at + "base_url=http://".len()..]
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .to_owned();
            }
        };
        // Keep reading its log so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Emulator {
            child,
            ws: format!("ws://{base}/realtime?model=gpt-realtime"),
        }
    }

    /// CPU time the process has used (user + system), from /proc.
    fn cpu(&self) -> Duration {
        let pid = self.child.id().unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th there.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // USER_HZ is 100 on Linux.
        Duration::from_millis(ticks * 10)
    }
}

async fn connect(url: &str) -> Socket {
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {KEY}")).unwrap(),
    );
    // TCP_NODELAY, as the SDKs' socket libraries set it: a client event is sent when it is written.
    let (socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
        .await
        .unwrap();
    socket
}

async fn send(socket: &mut Socket, event: Value) {
    socket.send(Message::text(event.to_string())).await.unwrap();
}

/// The next server event (pings and pongs skipped).
async fn next(socket: &mut Socket) -> Value {
    loop {
        match socket
            .next()
            .await
            .expect("the socket stayed open")
            .unwrap()
        {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(frame) => panic!("the emulator closed the socket: {frame:?}"),
            _ => {}
        }
    }
}

async fn until(socket: &mut Socket, ty: &str) -> Value {
    loop {
        let e = next(socket).await;
        if e["type"] == ty {
            return e;
        }
        assert_ne!(e["type"], "error", "{e}");
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

async fn first_text_delta() {
    let emulator = Emulator::start("instant").await;
    let mut baseline = Vec::with_capacity(TURNS);
    let mut first = Vec::with_capacity(TURNS);
    let mut connects = Vec::with_capacity(TURNS);
    for turn in 0..TURNS {
        let t = Instant::now();
        let mut socket = connect(&emulator.ws).await;
        until(&mut socket, "session.created").await;
        connects.push(t.elapsed());
        let t = Instant::now();
        send(
            &mut socket,
            json!({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"]}}),
        )
        .await;
        until(&mut socket, "session.updated").await;
        baseline.push(t.elapsed());
        send(
            &mut socket,
            json!({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                "content": [{"type": "input_text", "text": format!("Say something, turn {turn}.")}]}}),
        )
        .await;
        until(&mut socket, "conversation.item.done").await;
        let t = Instant::now();
        send(&mut socket, json!({"type": "response.create"})).await;
        until(&mut socket, "response.output_text.delta").await;
        first.push(t.elapsed());
        until(&mut socket, "response.done").await;
        let _ = socket.close(None).await;
    }
    for v in [&mut baseline, &mut first, &mut connects] {
        v.sort();
    }
    println!(
        "websocket, instant pace, {TURNS} sessions one after another (release emulator process, same host):"
    );
    println!(
        "  connect to session.created      p50 {}  p99 {}",
        ms(percentile(&connects, 0.5)),
        ms(percentile(&connects, 0.99))
    );
    println!(
        "  session.update round trip       p50 {}  p99 {}   (baseline)",
        ms(percentile(&baseline, 0.5)),
        ms(percentile(&baseline, 0.99))
    );
    println!(
        "  response.create to first delta  p50 {}  p99 {}   ratio to baseline p50 {:.2}",
        ms(percentile(&first, 0.5)),
        ms(percentile(&first, 0.99)),
        percentile(&first, 0.5).as_secs_f64() / percentile(&baseline, 0.5).as_secs_f64()
    );
}

/// 20 ms of a 440 Hz tone (speech to the default VAD) or of silence, as an append event.
fn append(speech: bool, phase: &mut usize) -> String {
    let mut pcm = Vec::with_capacity(FRAME_SAMPLES * 2);
    for _ in 0..FRAME_SAMPLES {
        let t = *phase as f64 / 24_000.0;
        *phase += 1;
        let v = if speech {
            ((std::f64::consts::TAU * 440.0 * t).sin() * f64::from(i16::MAX) / 3.0) as i16
        } else {
            0
        };
        pcm.extend_from_slice(&v.to_le_bytes());
    }
    json!({"type": "input_audio_buffer.append", "audio": STANDARD.encode(pcm)}).to_string()
}

/// What one streaming session saw.
#[derive(Default)]
struct Seen {
    chunks: usize,
    /// The latest a chunk came behind its schedule.
    worst: Duration,
    late: usize,
    responses: usize,
}

/// One session for `length`: appends 20 ms frames in real time (1 s of speech, then 3 s of silence, over and
/// over) while reading the answers, and times each audio chunk against a real-time schedule that starts at the
/// response's first chunk.
async fn stream(url: String, length: Duration) -> Seen {
    let mut socket = connect(&url).await;
    until(&mut socket, "session.created").await;
    let mut seen = Seen::default();
    let started = Instant::now();
    let mut frames = tokio::time::interval(Duration::from_millis(20));
    frames.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut frame = 0usize;
    let mut phase = 0usize;
    // The schedule of the response in progress: when its first chunk came, and the audio sent since.
    let mut schedule: Option<(Instant, Duration)> = None;
    loop {
        tokio::select! {
            _ = frames.tick() => {
                if started.elapsed() >= length {
                    break;
                }
                let speech = frame % 200 < 50;
                frame += 1;
                socket.send(Message::text(append(speech, &mut phase))).await.unwrap();
            }
            message = socket.next() => {
                let Some(Ok(Message::Text(text))) = message else { continue };
                let e: Value = serde_json::from_str(&text).unwrap();
                match e["type"].as_str() {
                    Some("response.output_audio.delta") => {
                        let now = Instant::now();
                        let bytes = e["delta"].as_str().unwrap().len() / 4 * 3;
                        let length = Duration::from_secs_f64(bytes as f64 / 2.0 / 24_000.0);
                        let (start, sent) = schedule.get_or_insert((now, Duration::ZERO));
                        let due = *start + *sent;
                        let behind = now.saturating_duration_since(due);
                        seen.worst = seen.worst.max(behind);
                        if behind > LATE {
                            seen.late += 1;
                        }
                        *sent += length;
                        seen.chunks += 1;
                    }
                    Some("response.done") => {
                        schedule = None;
                        seen.responses += 1;
                    }
                    Some("error") => panic!("{e}"),
                    _ => {}
                }
            }
        }
    }
    let _ = socket.close(None).await;
    seen
}

async fn sessions_held() {
    let emulator = Emulator::start("realistic").await;
    println!(
        "websocket, realistic pace, sessions streaming audio both ways in real time for {} s each level:",
        LEVEL.as_secs()
    );
    let mut n = 1;
    let mut cpu_one = None;
    let mut held = 0;
    while n <= MAX_SESSIONS {
        let cpu = emulator.cpu();
        let wall = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| tokio::spawn(stream(emulator.ws.clone(), LEVEL)))
            .collect();
        let mut all = Vec::with_capacity(n);
        for t in tasks {
            all.push(t.await.unwrap());
        }
        let wall = wall.elapsed();
        let used = emulator.cpu() - cpu;
        let chunks: usize = all.iter().map(|s| s.chunks).sum();
        let late: usize = all.iter().map(|s| s.late).sum();
        let responses: usize = all.iter().map(|s| s.responses).sum();
        let worst = all.iter().map(|s| s.worst).max().unwrap_or_default();
        let core = used.as_secs_f64() / wall.as_secs_f64();
        let per_session = core / n as f64;
        let ratio = *cpu_one.get_or_insert(per_session);
        println!(
            "  {n:>4} sessions: {responses:>4} answers, {chunks:>5} chunks, worst {} behind, {late} later than 40 ms; \
             emulator CPU {:.1}% of a core ({:.2}% a session, {:.2}x the 1-session figure)",
            ms(worst),
            core * 100.0,
            per_session * 100.0,
            per_session / ratio
        );
        if late > 0 {
            break;
        }
        held = n;
        n *= 2;
    }
    println!("  held without a late chunk: {held} sessions (levels tried up to {MAX_SESSIONS})");
}
