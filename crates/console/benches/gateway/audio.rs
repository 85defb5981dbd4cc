//! Figures 2 and 3: sessions streaming audio both ways in real time, through the gateway and directly: frames
//! lost and recorded, CPU, and how many sessions are held without a late chunk.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use realtime_testkit::process::{ConsoleProcess, thread_cpu_times};
use serde_json::Value;

use super::session::{Level, level};
use super::{Emulator, Target, quiet};

/// Sessions of the streaming figure, and how long they stream.
const STREAMING: (usize, Duration) = (100, Duration::from_secs(10));
/// How long each level of the sessions-held figure streams, and the levels.
const LEVEL: Duration = Duration::from_secs(6);
const LEVELS: [usize; 6] = [8, 16, 32, 64, 128, 256];

/// What the library holds of a recorded session, once its recording has ended: the `event_id`s of its client
/// and server events in seq order, its system events, and its incomplete mark.
struct Stored {
    client: Vec<String>,
    server: Vec<String>,
    server_types: Vec<String>,
    system: usize,
    incomplete: Option<String>,
}

/// Library session `id` once its recording has ended: the relay is done and its recorder has stored what it had.
async fn ended(console: &ConsoleProcess, http: &reqwest::Client, id: &str) -> Value {
    for _ in 0..1200 {
        let session: Value = http
            .get(console.url(&format!("/api/sessions/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !session["ended_at"].is_null() {
            return session;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the recording of {id} never ended");
}

/// `session` is the session as [`ended`] answered.
async fn stored(console: &ConsoleProcess, http: &reqwest::Client, session: &Value) -> Stored {
    let id = session["id"].as_str().unwrap();
    let events = realtime_testkit::console::stored(http, &console.url(""), id).await;
    let of = |direction: &str, field: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["direction"] == direction)
            .map(|e| e["event"][field].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    Stored {
        client: of("client", "event_id"),
        server: of("server", "event_id"),
        server_types: of("server", "type"),
        system: events.iter().filter(|e| e["direction"] == "system").count(),
        incomplete: session["incomplete"].as_str().map(str::to_owned),
    }
}

/// How many of `want` are not in `got`.
fn missing(want: &[String], got: &[String]) -> usize {
    let got: HashSet<&String> = got.iter().collect();
    want.iter().filter(|id| !got.contains(id)).count()
}

pub async fn streaming(targets: &[Target<'_>], emulator: &Emulator) {
    let (n, length) = STREAMING;
    println!(
        "\n2. {n} sessions streaming audio both ways in real time for {} s: up, a 20 ms `input_audio_buffer.append` \
         (PCM16 24 kHz, 1.3 kB) every 20 ms; down, the model speaking answer after answer (`response.create` on \
         each `response.done`, no turn detection) in the emulator's 100 ms `response.output_audio.delta` chunks \
         (6.5 kB), ~10 a second, with their transcript deltas. CPU in % of one core over the run.",
        length.as_secs()
    );
    quiet(targets, emulator).await;
    let direct = level(&targets[0], emulator, n, length).await;
    println!("  {:<24} {}", targets[0].name, direct.summary());
    let emulator_alone = direct.core(direct.emulator_cpu);
    println!(
        "  {:<24} CPU: emulator {emulator_alone:.0}%, client {:.0}%, other processes {:.0}%",
        "",
        direct.core(direct.client_cpu),
        direct.core(direct.others_cpu)
    );
    for target in &targets[1..] {
        let console = target.console.unwrap();
        quiet(targets, emulator).await;
        let threads = thread_cpu_times(console.pid());
        let relayed = level(target, emulator, n, length).await;
        let threads: Vec<String> = thread_cpu_times(console.pid())
            .into_iter()
            .map(|(name, used)| {
                (
                    name.clone(),
                    used.saturating_sub(threads.get(&name).copied().unwrap_or_default()),
                )
            })
            .filter(|(_, used)| !used.is_zero())
            .map(|(name, used)| format!("{name} {:.0}%", relayed.core(used)))
            .collect();
        println!("  {:<24} {}", target.name, relayed.summary());
        if relayed.seen[0].library.is_some() {
            library_figures(console, &relayed).await;
        }
        let console_core = relayed.core(relayed.console_cpu);
        println!(
            "  {:<24} CPU: console {console_core:.0}% ({:.2}% a session, {:.2}x the emulator's own {emulator_alone:.0}% \
             for these sessions; by thread: {}), emulator {:.0}%, client {:.0}%, other processes {:.0}%",
            "",
            console_core / n as f64,
            console_core / emulator_alone,
            threads.join(", "),
            relayed.core(relayed.emulator_cpu),
            relayed.core(relayed.client_cpu),
            relayed.core(relayed.others_cpu)
        );
    }
}

/// Frames lost and frames recorded: what the client sent and received against the library, read back once
/// every recording has ended.
async fn library_figures(console: &ConsoleProcess, relayed: &Level) {
    let closed = Instant::now();
    let http = reqwest::Client::new();
    let mut sessions = Vec::with_capacity(relayed.seen.len());
    for seen in &relayed.seen {
        sessions.push(ended(console, &http, seen.library.as_deref().unwrap()).await);
    }
    let lag = closed.elapsed();
    let read = Instant::now();
    let mut library = Vec::with_capacity(sessions.len());
    for session in &sessions {
        library.push(stored(console, &http, session).await);
    }
    let read = read.elapsed();
    let (mut up_lost, mut down_lost, mut out_of_order, mut incomplete) = (0, 0, 0, 0);
    let mut lost_types = std::collections::BTreeSet::new();
    let (mut relayed_frames, mut stored_frames, mut system) = (0, 0, 0);
    for (seen, stored) in relayed.seen.iter().zip(&library) {
        up_lost += missing(&seen.sent, &stored.client);
        let received: HashSet<&String> = seen.received.iter().collect();
        for (id, ty) in stored.server.iter().zip(&stored.server_types) {
            if !received.contains(id) {
                down_lost += 1;
                lost_types.insert(ty.as_str());
            }
        }
        out_of_order += usize::from(seen.sent != stored.client || seen.received != stored.server);
        relayed_frames += seen.sent.len() + seen.received.len();
        stored_frames += stored.client.len() + stored.server.len();
        system += stored.system;
        incomplete += usize::from(stored.incomplete.is_some());
    }
    println!(
        "  {:<24} frames lost: {up_lost} of {} client-sent (sent, not in the library), {down_lost} of {} \
         server-sent (in the library, not received by the client{}; {} received)",
        "",
        relayed.sum(|s| s.sent.len()),
        library.iter().map(|s| s.server.len()).sum::<usize>(),
        if lost_types.is_empty() {
            String::new()
        } else {
            format!(": {lost_types:?}")
        },
        relayed.sum(|s| s.received.len())
    );
    println!(
        "  {:<24} recorded: {stored_frames} of {relayed_frames} frames relayed ({:.2}%; {out_of_order} sessions not in \
         the order relayed, {incomplete} marked incomplete) and {system} system events; every recording ended \
         {:.1} s after the last socket closed, read back in {:.1} s",
        "",
        100.0 * stored_frames as f64 / relayed_frames as f64,
        lag.as_secs_f64(),
        read.as_secs_f64()
    );
}

pub async fn held(targets: &[Target<'_>], emulator: &Emulator) {
    println!(
        "\n3. Sessions held: the sessions of 2. for {} s a level, doubling, until one sees a chunk more than 40 ms \
         behind its schedule (from its answer's first chunk, 100 ms of audio a chunk); then halving the gap \
         between the last level held and the first missed until it is at most an eighth of the one held.",
        LEVEL.as_secs()
    );
    let mut held = Vec::new();
    for target in targets {
        let mut most = 0;
        let mut failed = None;
        for n in LEVELS {
            if !holds(targets, target, emulator, n).await {
                failed = Some(n);
                break;
            }
            most = n;
        }
        // Then halfway between the last level held and the first missed, and again, to within an eighth.
        if let Some(mut failed) = failed.filter(|_| most > 0) {
            while failed - most > most / 8 {
                let between = (most + failed) / 2;
                if holds(targets, target, emulator, between).await {
                    most = between;
                } else {
                    failed = between;
                }
            }
        }
        held.push(most);
    }
    let ratio = |a: usize, b: usize| match b {
        0 => "n/a".to_owned(),
        b => format!("{:.0}%", 100.0 * a as f64 / b as f64),
    };
    println!(
        "  held without a late chunk (levels from {} to {}; 0: not even the first): direct {}, recording off {}, \
         recording {}: recording holds {} of recording off ({} of direct)",
        LEVELS[0],
        LEVELS[LEVELS.len() - 1],
        held[0],
        held[1],
        held[2],
        ratio(held[2], held[1]),
        ratio(held[2], held[0])
    );
}

/// Whether the level went through a recording gateway (its sessions have library ids).
fn console_recording(level: &Level) -> bool {
    level.seen.iter().all(|s| s.library.is_some())
}

/// One level of `n` sessions on `target`, printed: whether no chunk came late.
async fn holds(targets: &[Target<'_>], target: &Target<'_>, emulator: &Emulator, n: usize) -> bool {
    quiet(targets, emulator).await;
    let level = level(target, emulator, n, LEVEL).await;
    let recorded = match target.console {
        Some(console) if console_recording(&level) => {
            let closed = Instant::now();
            let http = reqwest::Client::new();
            let mut frames = 0;
            for seen in &level.seen {
                let session = ended(console, &http, seen.library.as_deref().unwrap()).await;
                let counts = &session["stats"]["events"];
                frames += counts["client"].as_u64().unwrap() + counts["server"].as_u64().unwrap();
            }
            let relayed = level.sum(|s| s.sent.len() + s.received.len());
            format!(
                ", recorded {frames} of {relayed} frames, the last {:.1} s after its socket closed",
                closed.elapsed().as_secs_f64()
            )
        }
        _ => String::new(),
    };
    let console_cpu = target
        .console
        .map(|_| format!("console {:.0}%, ", level.core(level.console_cpu)))
        .unwrap_or_default();
    println!(
        "  {:<24} {n:>4} sessions: {}{recorded}; CPU {console_cpu}emulator {:.0}%, client {:.0}%, others {:.0}%",
        target.name,
        level.summary(),
        level.core(level.emulator_cpu),
        level.core(level.client_cpu),
        level.core(level.others_cpu)
    );
    level.sum(|s| s.late) == 0
}
