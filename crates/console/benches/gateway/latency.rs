//! Figure 1, the added latency per relayed frame: round trips of a small client event the emulator answers at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::SinkExt;
use hdrhistogram::Histogram;
use realtime_store::bench::ms;
use realtime_testkit::process::machine_cpu_time;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::{Emulator, Target, close, connect, ours, quiet, until};

/// Round trips a row, shared among its sessions, over rounds that take the targets in turn.
const ROUND_TRIPS: usize = 4000;
const ROUNDS: usize = 4;
/// Round trips each session makes before any is timed.
const WARMUP: usize = 20;
/// How far apart a paced session's round trips start: an audio app's 20 ms appends.
const PACE: Duration = Duration::from_millis(20);
/// Timed round trips of each paced session, a round.
const PACED_ROUND_TRIPS: usize = 50;

/// The client event timed: the emulator answers it at once with one `error`.
fn probe() -> String {
    json!({"type": "conversation.item.retrieve", "item_id": "item_not_there"}).to_string()
}

/// `per_session` timed round trips on one new socket, after [`WARMUP`] and once every session is ready, back
/// to back or (`pace`: the interval and this session's offset within it) one an interval; and the size of
/// the answer.
async fn round_trips(
    url: String,
    per_session: usize,
    ready: Arc<tokio::sync::Barrier>,
    pace: Option<(Duration, Duration)>,
) -> (Histogram<u64>, usize) {
    let (mut socket, _) = connect(&url).await;
    until(&mut socket, "session.created").await;
    let probe = Message::text(probe());
    let mut answer = 0;
    let mut h = Histogram::<u64>::new(3).unwrap();
    let mut ticks = None;
    for i in 0..WARMUP + per_session {
        if i == WARMUP {
            ready.wait().await;
            if let Some((every, offset)) = pace {
                let mut interval =
                    tokio::time::interval_at(tokio::time::Instant::now() + offset, every);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticks = Some(interval);
            }
        }
        if let Some(ticks) = &mut ticks {
            ticks.tick().await;
        }
        let t = Instant::now();
        socket.send(probe.clone()).await.unwrap();
        answer = until(&mut socket, "error").await.len();
        if i >= WARMUP {
            h.record(t.elapsed().as_micros() as u64).unwrap();
        }
    }
    close(socket).await;
    (h, answer)
}

pub async fn figure(targets: &[Target<'_>], emulator: &Emulator) {
    println!(
        "\n1. Added latency per relayed frame: round trips of a `conversation.item.retrieve` of an unknown item, \
         answered at once by an `error`, in {ROUNDS} rounds that take the targets in turn (each session's first \
         {WARMUP} untimed). Added = (gateway - direct) / 2 at the same quantile: a round trip relays two frames, one \
         each way."
    );
    println!(
        "a. Back to back on each session, {ROUND_TRIPS} a row: the machine saturated, so what the gateway and its \
         recording cost shows as CPU the others wait for."
    );
    let answer = table(targets, emulator, None).await;
    println!(
        "b. Paced: each session starts one every {} ms (an audio app's appends), {PACED_ROUND_TRIPS} a session a \
         round, the sessions spread over the interval.",
        PACE.as_millis()
    );
    table(targets, emulator, Some(PACE)).await;
    println!(
        "  (frames of {} B up and {answer} B down; x direct: the round trip's p50/p99 over the direct one's)",
        probe().len()
    );
}

/// One table of figure 1: back to back, or paced; the size of the answer.
async fn table(targets: &[Target<'_>], emulator: &Emulator, pace: Option<Duration>) -> usize {
    let mut answer = 0;
    println!(
        "{:>8}  {:<24} {:>9} {:>9} {:>10} {:>10} {:>11}",
        "sessions", "target", "rtt p50", "rtt p99", "added p50", "added p99", "x direct"
    );
    for sessions in [1, 10, 100] {
        let mut rows = vec![Histogram::<u64>::new(3).unwrap(); targets.len()];
        quiet(targets, emulator).await;
        let (machine, mine, wall) = (machine_cpu_time(), ours(targets, emulator), Instant::now());
        for _ in 0..ROUNDS {
            for (target, h) in targets.iter().zip(&mut rows) {
                let ready = Arc::new(tokio::sync::Barrier::new(sessions));
                let per_session = match pace {
                    Some(_) => PACED_ROUND_TRIPS,
                    None => ROUND_TRIPS / ROUNDS / sessions,
                };
                let tasks: Vec<_> = (0..sessions)
                    .map(|i| {
                        let pace = pace.map(|every| (every, every * i as u32 / sessions as u32));
                        tokio::spawn(round_trips(
                            target.url.clone(),
                            per_session,
                            ready.clone(),
                            pace,
                        ))
                    })
                    .collect();
                for task in tasks {
                    let (times, size) = task.await.unwrap();
                    h.add(times).unwrap();
                    answer = size;
                }
            }
        }
        let others = (machine_cpu_time() - machine).saturating_sub(ours(targets, emulator) - mine);
        let others = 100.0 * others.as_secs_f64() / wall.elapsed().as_secs_f64();
        let mut direct = (0.0, 0.0);
        for (target, h) in targets.iter().zip(&rows) {
            let (p50, p99) = (ms(h, 0.5), ms(h, 0.99));
            if target.console.is_none() {
                direct = (p50, p99);
                println!(
                    "{sessions:>8}  {:<24} {p50:>6.3} ms {p99:>6.3} ms   (other processes: {others:.0}% of a core)",
                    target.name
                );
            } else {
                println!(
                    "{sessions:>8}  {:<24} {p50:>6.3} ms {p99:>6.3} ms {:>7.3} ms {:>7.3} ms {:>5.1}/{:.1}",
                    target.name,
                    (p50 - direct.0) / 2.0,
                    (p99 - direct.1) / 2.0,
                    p50 / direct.0,
                    p99 / direct.1
                );
            }
        }
    }
    answer
}
