//! One session streaming audio both ways in real time, and a level: many of them at once, with the CPU each
//! process used meanwhile.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::SinkExt;
use realtime_testkit::process::{ConsoleProcess, cpu_time, machine_cpu_time};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{Emulator, Head, Socket, Target, connect, next};

/// A chunk later than this behind its schedule counts as late.
const LATE: Duration = Duration::from_millis(40);
/// PCM16 at 24 kHz: 20 ms is 480 samples.
const FRAME_SAMPLES: usize = 480;

/// 20 ms appends of a 440 Hz tone: a second's worth, base64, cycled.
fn tone() -> Vec<String> {
    (0..50)
        .map(|k| {
            let mut pcm = Vec::with_capacity(FRAME_SAMPLES * 2);
            for i in 0..FRAME_SAMPLES {
                let t = (k * FRAME_SAMPLES + i) as f64 / 24_000.0;
                let v =
                    ((std::f64::consts::TAU * 440.0 * t).sin() * f64::from(i16::MAX) / 3.0) as i16;
                pcm.extend_from_slice(&v.to_le_bytes());
            }
            STANDARD.encode(pcm)
        })
        .collect()
}

/// What one streaming session sent and saw.
#[derive(Default)]
pub struct Seen {
    pub library: Option<String>,
    /// `event_id`s of the client events sent and of the server events received, in order.
    pub sent: Vec<String>,
    pub received: Vec<String>,
    pub chunks: usize,
    pub late: usize,
    /// The latest a chunk came behind its schedule.
    pub worst: Duration,
    pub responses: usize,
    /// `error` events, but for those answering the events that end the session (see [`stream`]).
    pub errors: usize,
    /// The client events of the ending, whose errors are expected.
    pub ending: Vec<String>,
    /// The response in progress: when its first chunk came, and the audio received since.
    pub schedule: Option<(Instant, Duration)>,
}

impl Seen {
    /// Takes a server event in: counts it, and times an audio chunk against its response's schedule.
    fn take(&mut self, text: &str) -> String {
        let now = Instant::now();
        let head: Head<'_> = serde_json::from_str(text).unwrap();
        self.received.push(head.event_id.unwrap_or_default());
        match &*head.kind {
            "response.output_audio.delta" => {
                let bytes = head.delta.map_or(0, |d| d.len() / 4 * 3);
                let length = Duration::from_secs_f64(bytes as f64 / 2.0 / 24_000.0);
                let (start, heard) = self.schedule.get_or_insert((now, Duration::ZERO));
                let behind = now.saturating_duration_since(*start + *heard);
                self.worst = self.worst.max(behind);
                self.late += usize::from(behind > LATE);
                *heard += length;
                self.chunks += 1;
            }
            "response.done" => {
                self.schedule = None;
                self.responses += 1;
            }
            "error" => {
                let answers = head.error.and_then(|e| e.event_id).unwrap_or_default();
                if self.ending.last() == Some(&answers) {
                    return "ended".into();
                }
                self.errors += usize::from(!self.ending.contains(&answers));
            }
            _ => {}
        }
        head.kind.into_owned()
    }

    async fn send(&mut self, socket: &mut Socket, mut event: Value) -> String {
        let id = format!("event_bench_{}", self.sent.len());
        event["event_id"] = id.clone().into();
        socket.send(Message::text(event.to_string())).await.unwrap();
        self.sent.push(id.clone());
        id
    }
}

/// One session for `length`: 20 ms appends in real time (no turn detection), while the model speaks answer after
/// answer. Then it ends so that nothing is in flight when the client closes: the answer in progress is cancelled
/// (an error if it had just ended), and the `error` answering a last `conversation.item.retrieve` of an unknown
/// item is the emulator's last word, as it handles a socket's events in order.
pub async fn stream(url: String, length: Duration) -> Seen {
    let (mut socket, library) = connect(&url).await;
    let mut seen = Seen {
        library,
        ..Seen::default()
    };
    while seen.take(&next(&mut socket).await.unwrap()) != "session.created" {}
    let update = json!({"type": "session.update", "session": {"type": "realtime", "output_modalities": ["audio"],
        "audio": {"input": {"turn_detection": null}}}});
    seen.send(&mut socket, update).await;
    while seen.take(&next(&mut socket).await.unwrap()) != "session.updated" {}
    seen.send(&mut socket, json!({"type": "response.create"}))
        .await;
    let tone = tone();
    let started = Instant::now();
    let mut frames = tokio::time::interval(Duration::from_millis(20));
    frames.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    loop {
        tokio::select! {
            _ = frames.tick() => {
                if started.elapsed() >= length {
                    break;
                }
                let audio = &tone[seen.sent.len() % tone.len()];
                seen.send(&mut socket, json!({"type": "input_audio_buffer.append", "audio": audio})).await;
            }
            text = next(&mut socket) => {
                let text = text.expect("the socket stayed open");
                if seen.take(&text) == "response.done" {
                    seen.send(&mut socket, json!({"type": "response.create"})).await;
                }
            }
        }
    }
    let cancel = seen
        .send(&mut socket, json!({"type": "response.cancel"}))
        .await;
    seen.ending.push(cancel);
    let last = seen
        .send(
            &mut socket,
            json!({"type": "conversation.item.retrieve", "item_id": "item_bench_end"}),
        )
        .await;
    seen.ending.push(last);
    while seen.take(&next(&mut socket).await.expect("the socket stayed open")) != "ended" {}
    let _ = socket.close(None).await;
    while let Some(text) = next(&mut socket).await {
        seen.take(&text);
    }
    seen
}

/// A level: `n` streaming sessions at once, with the CPU each process used meanwhile.
pub struct Level {
    pub seen: Vec<Seen>,
    pub wall: Duration,
    pub console_cpu: Duration,
    pub emulator_cpu: Duration,
    pub client_cpu: Duration,
    /// What every other process of the machine used meanwhile (other work on a shared machine).
    pub others_cpu: Duration,
}

pub async fn level(target: &Target<'_>, emulator: &Emulator, n: usize, length: Duration) -> Level {
    let console_cpu = target.console.map(ConsoleProcess::cpu).unwrap_or_default();
    let emulator_cpu = emulator.cpu();
    let client_cpu = cpu_time(std::process::id());
    let machine = machine_cpu_time();
    let wall = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| tokio::spawn(stream(target.url.clone(), length)))
        .collect();
    let mut seen = Vec::with_capacity(n);
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    let wall = wall.elapsed();
    let console_cpu = target.console.map(ConsoleProcess::cpu).unwrap_or_default() - console_cpu;
    let emulator_cpu = emulator.cpu() - emulator_cpu;
    let client_cpu = cpu_time(std::process::id()) - client_cpu;
    let ours = console_cpu + emulator_cpu + client_cpu;
    Level {
        seen,
        wall,
        console_cpu,
        emulator_cpu,
        client_cpu,
        others_cpu: (machine_cpu_time() - machine).saturating_sub(ours),
    }
}

impl Level {
    pub fn sum(&self, f: impl Fn(&Seen) -> usize) -> usize {
        self.seen.iter().map(f).sum()
    }

    pub fn worst(&self) -> Duration {
        self.seen.iter().map(|s| s.worst).max().unwrap_or_default()
    }

    /// Share of a core a process used over the level.
    pub fn core(&self, cpu: Duration) -> f64 {
        100.0 * cpu.as_secs_f64() / self.wall.as_secs_f64()
    }

    pub fn summary(&self) -> String {
        format!(
            "{} answers, {} chunks, worst {:.1} ms behind, {} later than 40 ms, {} errors",
            self.sum(|s| s.responses),
            self.sum(|s| s.chunks),
            self.worst().as_secs_f64() * 1e3,
            self.sum(|s| s.late),
            self.sum(|s| s.errors)
        )
    }
}
