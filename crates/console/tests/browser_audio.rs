//! The console page records both voices of a call (issue 16), in headless Chromium against the real server and
//! its built-in emulator: the microphone's track has the fake microphone's tones at the times the page heard
//! them, mute records silence, the model's track has sound while the model speaks and near-silence otherwise,
//! and a chunk sent twice is stored once.
//!
//! Needs Debian's `chromium` and `chromium-driver`; fails (never skips) without them. Prints the bytes per
//! minute of each track and the timing offsets it measured:
//! `cargo test -p realtime-console --test browser_audio -- --nocapture`.
//! The CPU figure (recording on against off, one run): `… --test browser_audio -- --ignored --nocapture`.

use std::time::Duration;

use realtime_testkit::browser::Browser;
use realtime_testkit::console_page::{self, connect, disconnect, fill_config, wait_entry};
use realtime_testkit::wav;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");
const PROBE: &str = include_str!("audio_probe.js");

/// The fake microphone's loop: 1 s of 440 Hz, 1 s of silence, 1 s of 880 Hz, 1 s of silence.
fn tones() -> Vec<i16> {
    [
        wav::tone(440.0, 1.0, 0.5),
        wav::silence(1.0),
        wav::tone(880.0, 1.0, 0.5),
        wav::silence(1.0),
    ]
    .concat()
}

async fn install_probe(b: &Browser) {
    b.eval(&format!("{PROBE}; return null")).await;
}

/// Waits until the page's audio uploader has every chunk acknowledged: its stats.
async fn wait_uploaded(b: &Browser) -> Value {
    b.wait_until(
        "(() => { const a = window.consoleDebug.audio();
           return a && !a.recording && a.pending === 0 && a.state === 'closed' && a; })()",
        "every audio chunk is acknowledged",
    )
    .await
}

/// The recorded `track` of session `id`, decoded in the page (audio_probe.js `analyse`).
async fn analyse(b: &Browser, id: &str, track: &str, windows: Value) -> Value {
    b.eval_async(&format!(
        "return window.audioProbe.analyse({}, {}, {windows})",
        json!(id),
        json!(track)
    ))
    .await
}

/// Prints a track's bytes per minute, from the console's listing and the decoded duration.
fn report_rate(track: &str, a: &Value) {
    let bytes = a["bytes"].as_f64().unwrap();
    let secs = a["duration"].as_f64().unwrap();
    println!(
        "{track} track: {bytes} bytes for {secs:.1} s of audio in {} chunks = {:.0} bytes per minute",
        a["chunks"],
        bytes / secs * 60.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_microphone_track_has_the_tones_where_the_page_heard_them_and_mute_records_silence() {
    let (server, b) = console_page::launch_with_mic(BIN, &[], &tones()).await;
    assert_eq!(
        b.eval("return document.getElementById('record-audio').checked")
            .await,
        json!(true),
        "record audio is on by default"
    );
    // The tones would be taken for speech: no answers, the model's track stays quiet.
    fill_config(&b, json!({"turn.create_response": false})).await;
    let id = connect(&b, "unified").await;
    install_probe(&b).await;
    b.eval("return window.audioProbe.listen()").await;

    // Two loops of the tones, then mute across a whole loop (a tone would be in it), then unmuted again.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let muted_at = b
        .eval("document.getElementById('mute').click(); return Date.now()")
        .await;
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let unmuted_at = b
        .eval("document.getElementById('mute').click(); return Date.now()")
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let onsets = b.eval("return window.audioProbe.stopListening()").await;
    disconnect(&b, &id).await;
    let stats = wait_uploaded(&b).await;
    assert_eq!(stats["duplicates"], 0, "{stats}");

    let (m0, m1) = (muted_at.as_f64().unwrap(), unmuted_at.as_f64().unwrap());
    let a = analyse(&b, &id, "user", json!([[m0 + 150.0, m1 - 150.0]])).await;
    assert_eq!(a["contentType"], "audio/webm", "{a}");
    report_rate("user", &a);

    // The tones, decoded, each 1 s long and 2 s after the other one, outside the muted stretch.
    let segments: Vec<&Value> = a["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["tone"] != "")
        .collect();
    let whole: Vec<&&Value> = segments
        .iter()
        .filter(|s| s["to"].as_f64().unwrap() - s["from"].as_f64().unwrap() > 500.0)
        .collect();
    assert!(whole.len() >= 5, "at least five whole tones: {segments:?}");
    // The first and the last may be cut by the recording's ends.
    let inner = &whole[1..whole.len() - 1];
    for pair in inner.windows(2) {
        let (x, y) = (pair[0], pair[1]);
        if y["at"].as_f64().unwrap() > m0 && x["at"].as_f64().unwrap() < m1 {
            continue; // the mute is between them
        }
        assert_ne!(x["tone"], y["tone"], "440 and 880 alternate: {whole:?}");
        let gap = y["from"].as_f64().unwrap() - x["from"].as_f64().unwrap();
        assert!(
            (gap - 2000.0).abs() < 60.0,
            "a tone starts 2 s after the other one began: {gap} ms ({whole:?})"
        );
    }
    for s in inner {
        let len = s["to"].as_f64().unwrap() - s["from"].as_f64().unwrap();
        let (at, end) = (s["at"].as_f64().unwrap(), s["end"].as_f64().unwrap());
        let cut_by_mute =
            (at < m0 + 200.0 && end > m0 - 200.0) || (at < m1 + 200.0 && end > m1 - 200.0);
        if !cut_by_mute {
            assert!(
                (len - 1000.0).abs() < 60.0,
                "a tone lasts 1 s: {len} ms ({s})"
            );
        }
    }

    // On the events' clock: each tone begins (chunk 0's X-Audio-Start + its offset in the decoded track)
    // within 100 ms of when the page, listening to the same microphone track live, heard it begin.
    let mut matched = 0;
    let mut worst: f64 = 0.0;
    let mut offsets = vec![];
    for onset in onsets.as_array().unwrap() {
        let heard = onset["at"].as_f64().unwrap();
        let Some(rec) = whole
            .iter()
            .find(|s| (s["at"].as_f64().unwrap() - heard).abs() < 500.0)
        else {
            continue;
        };
        assert_eq!(rec["tone"], onset["tone"], "{rec} {onset}");
        let off = rec["at"].as_f64().unwrap() - heard;
        worst = worst.max(off.abs());
        offsets.push(off.round());
        matched += 1;
    }
    println!(
        "tone onsets: {matched} matched, recorded minus heard live (ms): {offsets:?}, worst {worst:.0} ms"
    );
    assert!(
        matched >= 3,
        "the live onsets {onsets} match recorded ones {whole:?}"
    );
    assert!(
        worst < 100.0,
        "within 100 ms of the events' clock: {worst} ms"
    );

    // Mute records silence: across a whole loop of the tones, nothing.
    let quiet = &a["rms"][0];
    assert!(quiet["samples"].as_u64().unwrap() > 48_000 * 3, "{quiet}");
    assert!(
        quiet["max"].as_f64().unwrap() < 0.01,
        "muted is silent: {quiet}"
    );

    // The peaks the inspector draws: loud inside a tone, 0 while muted.
    let peaks: Value = server
        .get_json(&format!("/api/sessions/{id}/audio/peaks"))
        .await;
    assert_eq!(peaks["interval_ms"], 20, "{peaks}");
    let lane = peak_lane(&peaks["tracks"]["user"]);
    let at = |ms: f64| {
        lane.iter()
            .find(|(t, _)| (*t..*t + 20.0).contains(&ms))
            .map(|(_, p)| *p)
    };
    let mid = |s: &Value| (s["at"].as_f64().unwrap() + s["end"].as_f64().unwrap()) / 2.0;
    for s in &whole[1..whole.len() - 1] {
        let p = at(mid(s)).unwrap_or_else(|| panic!("a peak at {}", mid(s)));
        // At least the tone's 0.5 of full scale (128): the browser's gain control may raise it.
        assert!(p >= 100, "a tone's peaks are loud: {p} ({s})");
    }
    let muted_peaks: Vec<u8> = lane
        .iter()
        .filter(|(t, _)| *t > m0 + 150.0 && *t < m1 - 150.0)
        .map(|(_, p)| *p)
        .collect();
    assert!(muted_peaks.len() > 150, "{}", muted_peaks.len());
    assert!(muted_peaks.iter().all(|p| *p <= 2), "{muted_peaks:?}");
    b.close().await;
    drop(server);
}

/// `[(ms on the events' clock, peak)]` of a track's peaks (`[{start, peaks: base64}]`).
fn peak_lane(chunks: &Value) -> Vec<(f64, u8)> {
    use base64::Engine as _;
    let mut out = vec![];
    for c in chunks.as_array().unwrap() {
        let start = c["start"].as_f64().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(c["peaks"].as_str().unwrap())
            .unwrap();
        out.extend(
            bytes
                .iter()
                .enumerate()
                .map(|(i, p)| (start + i as f64 * 20.0, *p)),
        );
    }
    out
}

/// `[(from, to)]` of the probe's spans of sound.
fn sounds(v: &Value) -> Vec<(f64, f64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| (s["from"].as_f64().unwrap(), s["to"].as_f64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_track_sounds_between_output_audio_buffer_started_and_stopped() {
    let (server, b) = console_page::launch(BIN, &[]).await;
    let id = connect(&b, "ephemeral").await;
    install_probe(&b).await;
    b.eval("window.audioProbe.listenRemote(); return null")
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut spans = vec![];
    let mut from = 0;
    for text in ["hello, tell me something", "and something else"] {
        b.type_and_enter("text-input", text).await;
        let (i, started) = wait_entry(&b, from, "server", "output_audio_buffer.started").await;
        let (j, stopped) = wait_entry(&b, i, "server", "output_audio_buffer.stopped").await;
        spans.push((
            started["ts"].as_f64().unwrap(),
            stopped["ts"].as_f64().unwrap(),
        ));
        from = j;
        // Room for a quiet stretch once the answer's audio has played.
        tokio::time::sleep(Duration::from_millis(3000)).await;
    }
    let heard = sounds(&b.eval("return window.audioProbe.stopSounds()").await);
    let rtp = b
        .eval_async("return window.consoleDebug.inboundAudio()")
        .await;
    disconnect(&b, &id).await;
    wait_uploaded(&b).await;
    let recorded = sounds(
        &b.eval_async(&format!(
            "return window.audioProbe.recordedSounds({}, 'model')",
            json!(id)
        ))
        .await,
    );

    // The sound plays behind its events: the audio's path (the emulator's 20 ms frames, the network, the
    // browser's jitter buffer) lags the data channel, by more when the machine is loaded. Figures:
    let concealed = rtp["concealedSamples"].as_f64().unwrap_or(0.0)
        / rtp["totalSamplesReceived"].as_f64().unwrap_or(1.0);
    let buffered = rtp["jitterBufferDelay"].as_f64().unwrap_or(0.0)
        / rtp["jitterBufferEmittedCount"].as_f64().unwrap_or(1.0);
    println!(
        "events {spans:?}\nheard live {heard:?}\nrecorded {recorded:?}\njitter buffer {:.0} ms on average, {:.1}% of samples concealed",
        buffered * 1000.0,
        concealed * 100.0
    );
    // Each stretch of sound belongs to the answer whose `started` came last before it: none comes before
    // the first. Per answer, where its sound begins and ends, heard live and in the recording.
    let per_answer = |sounds: &[(f64, f64)]| -> Vec<(f64, f64)> {
        let mut out: Vec<Option<(f64, f64)>> = vec![None; spans.len()];
        for &(f, t) in sounds {
            let k = spans
                .iter()
                .rposition(|(s, _)| f > s - 100.0)
                .unwrap_or_else(|| {
                    panic!("sound at {f} before any output_audio_buffer.started: {spans:?}")
                });
            let span = out[k].get_or_insert((f, t));
            span.1 = t;
        }
        out.into_iter()
            .enumerate()
            .map(|(k, s)| s.unwrap_or_else(|| panic!("no sound for answer {k}: {sounds:?}")))
            .collect()
    };
    let (heard, recorded) = (per_answer(&heard), per_answer(&recorded));
    for (k, ((s, e), ((hf, ht), (rf, rt)))) in
        spans.iter().zip(heard.iter().zip(&recorded)).enumerate()
    {
        println!(
            "answer {k}: heard from {:.0} ms after output_audio_buffer.started to {:.0} ms after stopped; \
             recorded minus heard: start {:.0} ms, end {:.0} ms",
            hf - s,
            ht - e,
            rf - hf,
            rt - ht
        );
        // The recording is what the page played, on the events' clock.
        assert!(
            (rf - hf).abs() < 200.0 && (rt - ht).abs() < 200.0,
            "answer {k}: recorded {rf}..{rt}, heard {hf}..{ht}"
        );
        // The sound covers the answer's span.
        assert!(
            *rf < s + 500.0 && *rt > e - 200.0,
            "answer {k}: sound {rf}..{rt} for the span {s}..{e}"
        );
    }

    // Loud between started and stopped (less 200 ms at either end), near-silence elsewhere: before the first
    // answer and from 200 ms after each answer's sound ended.
    let windows = json!([
        [spans[0].0 + 200.0, spans[0].1 - 200.0],
        [spans[1].0 + 200.0, spans[1].1 - 200.0],
        [spans[0].0 - 1000.0, spans[0].0 - 100.0],
        [recorded[0].1 + 200.0, spans[1].0 - 100.0],
        [recorded[1].1 + 200.0, recorded[1].1 + 1500.0]
    ]);
    let a = analyse(&b, &id, "model", windows).await;
    report_rate("model", &a);
    let w = a["rms"].as_array().unwrap();
    for (i, w) in w.iter().enumerate() {
        assert!(
            w["samples"].as_u64().unwrap() > 4800,
            "window {i} is in the track: {a}"
        );
    }
    let rms: Vec<f64> = w.iter().map(|w| w["rms"].as_f64().unwrap_or(0.0)).collect();
    println!(
        "model track RMS: speaking {:?}, quiet {:?}",
        &rms[..2],
        &rms[2..]
    );
    assert!(
        rms[0] > 0.02 && rms[1] > 0.02,
        "the model is heard while it speaks: {rms:?}"
    );
    assert!(
        rms[2..].iter().all(|r| *r < 0.002),
        "near-silence otherwise: {rms:?}"
    );
    b.close().await;
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_sent_twice_is_stored_once_and_the_switch_turns_recording_off() {
    let (server, b) = console_page::launch(BIN, &[]).await;
    let id = connect(&b, "ephemeral").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    disconnect(&b, &id).await;
    wait_uploaded(&b).await;
    let status = b
        .eval("return document.getElementById('rec-audio').textContent")
        .await;
    let status = status.as_str().unwrap();
    assert!(
        status.starts_with("audio ")
            && status.ends_with(" uploaded")
            && !status.contains("pending"),
        "the status says how much is uploaded, nothing pending: {status}"
    );
    let url = server.url(&format!("/api/sessions/{id}/audio/user"));
    let http = reqwest::Client::new();
    let before = http.get(&url).send().await.unwrap().bytes().await.unwrap();
    let listing: Value = server.get_json(&format!("/api/sessions/{id}/audio")).await;
    let user = listing["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["track"] == "user")
        .unwrap()
        .clone();
    let first = &user["chunks"][0];
    // Chunk 0's bytes are the track's first `bytes`: the same PUT again, as a page would resend it.
    let n = first["bytes"].as_u64().unwrap() as usize;
    let res = http
        .put(format!("{url}/0"))
        .header("Content-Type", user["mime"].as_str().unwrap())
        .header("X-Audio-Start", first["start"].to_string())
        .body(before[..n].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer, json!({"track": "user", "seq": 0, "stored": false}));
    let after = http.get(&url).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(before, after, "the track's bytes are unchanged");

    // Off: the next call records no audio, and the switch holds across a reload.
    b.click("record-audio").await;
    b.open_console(&server.url("/")).await;
    assert_eq!(
        b.eval("return document.getElementById('record-audio').checked")
            .await,
        json!(false)
    );
    let id2 = connect(&b, "ephemeral").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    disconnect(&b, &id2).await;
    assert_eq!(
        b.eval("return window.consoleDebug.audio()").await,
        Value::Null
    );
    let listing: Value = server.get_json(&format!("/api/sessions/{id2}/audio")).await;
    assert_eq!(listing["tracks"], json!([]), "{listing}");
    b.close().await;
    drop(server);
}

/// How many chunks the page's IndexedDB holds for session `id` (not acknowledged yet).
async fn chunks_kept(b: &Browser, id: &str) -> u64 {
    b.eval_async(&format!(
        "const db = await new Promise((ok, ko) => {{
           const r = indexedDB.open('realtime-console-audio', 1); r.onsuccess = () => ok(r.result); r.onerror = ko; }});
         const all = await new Promise((ok) => {{
           const q = db.transaction('chunks').objectStore('chunks').getAll(); q.onsuccess = () => ok(q.result); }});
         db.close();
         return all.filter((c) => c.sessionId === {}).length;",
        json!(id)
    ))
    .await
    .as_u64()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_survives_a_server_kill_during_upload_and_a_page_reload() {
    let (mut server, b) = console_page::launch_with_mic(BIN, &[], &tones()).await;
    fill_config(&b, json!({"turn.create_response": false})).await;
    let id = connect(&b, "unified").await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let acked = b.eval("return window.consoleDebug.audio().uploaded").await;
    // SIGKILL: the call goes with it; the page stops recording and keeps what it has not got acknowledged.
    server.kill().await;
    b.wait_until(
        "(() => { const a = window.consoleDebug.audio(); return a && !a.recording && a.pending > 0; })()",
        "the call is lost and chunks are pending",
    )
    .await;
    let before = b.eval("return window.consoleDebug.audio()").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.restart().await;
    // Reload at once: what the old page had not got acknowledged is in IndexedDB for the new one.
    let kept = chunks_kept(&b, &id).await;
    b.open_console(&server.url("/")).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while chunks_kept(&b, &id).await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the new page uploads what the old one left"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let listing: Value = server.get_json(&format!("/api/sessions/{id}/audio")).await;
    println!(
        "before the kill {acked} chunks acknowledged; then {} pending, {kept} kept in IndexedDB at the reload",
        before["pending"]
    );
    let mut total = 0;
    for t in listing["tracks"].as_array().unwrap() {
        let seqs: Vec<u64> = t["chunks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(
            seqs,
            (0..seqs.len() as u64).collect::<Vec<_>>(),
            "no chunk lost: {listing}"
        );
        total += seqs.len() as u64;
    }
    assert_eq!(
        total,
        before["chunks"].as_u64().unwrap(),
        "every chunk recorded is stored: {before} {listing}"
    );
    assert!(total >= acked.as_u64().unwrap() + 2, "{acked} {listing}");
    install_probe(&b).await;
    let a = analyse(&b, &id, "user", json!([])).await;
    assert!(
        a["duration"].as_f64().unwrap() > 3.0,
        "the track decodes whole: {a}"
    );
    b.close().await;
    drop(server);
}

/// CPU of the browser (every process of it, from /proc) over calls of 15 s with "record audio" on and off,
/// three of each in one run, interleaved (on off off on on off) so that what else runs on the machine weighs
/// on both alike. A figure for the README, not a test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn browser_cpu_while_recording_against_not_recording() {
    let (server, b) = console_page::launch_with_mic(BIN, &[], &wav::voice(4.0)).await;
    fill_config(&b, json!({"turn.create_response": false})).await;
    const CALL: Duration = Duration::from_secs(15);
    let mut figures = vec![];
    for on in [true, false, false, true, true, false] {
        let checked = b
            .eval("return document.getElementById('record-audio').checked")
            .await;
        if checked != json!(on) {
            b.click("record-audio").await;
        }
        let id = connect(&b, "unified").await;
        let before = b.cpu_by_kind();
        tokio::time::sleep(CALL).await;
        let after = b.cpu_by_kind();
        disconnect(&b, &id).await;
        let used = |kind: &str| {
            after.get(kind).copied().unwrap_or_default()
                - before.get(kind).copied().unwrap_or_default()
        };
        let total: Duration = after.keys().map(|k| used(k)).sum();
        let pct = |d: Duration| d.as_secs_f64() / CALL.as_secs_f64() * 100.0;
        println!(
            "record audio {}: browser CPU {:.1}% of a core over {} s (renderer {:.1}%, audio service {:.1}%, \
             gpu {:.1}%, network {:.1}%, browser {:.1}%)",
            if on { "on " } else { "off" },
            pct(total),
            CALL.as_secs(),
            pct(used("renderer")),
            pct(used("utility:audio")),
            pct(used("gpu-process")),
            pct(used("utility:network")),
            pct(used("browser")),
        );
        figures.push((on, pct(total)));
    }
    let mean = |want: bool| {
        let v: Vec<f64> = figures
            .iter()
            .filter(|(on, _)| *on == want)
            .map(|(_, p)| *p)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    println!(
        "mean browser CPU: recording {:.1}%, not recording {:.1}% of a core",
        mean(true),
        mean(false)
    );
    b.close().await;
    drop(server);
}
