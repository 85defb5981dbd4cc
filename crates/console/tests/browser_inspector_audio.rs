//! The inspector's audio in headless Chromium against the real server: a gateway WebSocket session whose
//! client speaks (known PCM, appended) and is answered by the emulator's voice, then cuts in while it speaks.
//! The inspector draws both lanes where the sound is, marks the barge-in, plays the tracks with the event
//! list following, and a transcript line seeks the player. And the time to show both lanes of a 60-minute
//! session, printed (`cargo test -p realtime-console --test browser_inspector_audio -- --nocapture`). And an
//! Opus session recorded in the page with MediaRecorder: it plays, and its stereo mix is made in the browser.
//!
//! Needs Debian's `chromium` and `chromium-driver`; fails (never skips) without them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use realtime_testkit::browser::Browser;
use realtime_testkit::process::ConsoleProcess;
use realtime_testkit::ws::{Auth, WsClient};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");
const RATE: usize = 24_000;

fn silence(ms: usize) -> Vec<i16> {
    vec![0; RATE * ms / 1000]
}

/// 440 Hz at a third of full scale: speech to the emulator's VAD.
fn tone(ms: usize) -> Vec<i16> {
    (0..RATE * ms / 1000)
        .map(|i| {
            let t = i as f64 / RATE as f64;
            ((std::f64::consts::TAU * 440.0 * t).sin() * f64::from(i16::MAX) / 3.0) as i16
        })
        .collect()
}

/// Appends `samples` in 100 ms pieces, as a client streaming its microphone does (faster than real time).
async fn append(ws: &mut WsClient, samples: &[i16]) {
    for piece in samples.chunks(RATE / 10) {
        let bytes: Vec<u8> = piece.iter().flat_map(|s| s.to_le_bytes()).collect();
        ws.send(&json!({"type": "input_audio_buffer.append", "audio": STANDARD.encode(bytes)}))
            .await;
    }
}

/// A gateway session: 600 ms of silence, 1.2 s of tone, 800 ms of silence; the emulator answers in audio
/// and, after a few of its deltas, the user speaks again over it. Returns the session's id.
async fn spoken_session(server: &ConsoleProcess) -> String {
    let url = server
        .url("/v1/realtime?model=gpt-realtime")
        .replacen("http", "ws", 1);
    let mut ws = WsClient::connect(&url, Auth::Bearer("sk-audio-test")).await;
    ws.expect("session.created").await;
    ws.send(&json!({"type": "session.update", "session": {
        "type": "realtime",
        "output_modalities": ["audio"],
        "audio": {
            "input": {"format": {"type": "audio/pcm", "rate": RATE}, "turn_detection": {"type": "server_vad"}},
            "output": {"format": {"type": "audio/pcm", "rate": RATE}},
        },
    }}))
    .await;
    ws.until("session.updated").await;
    let first: Vec<i16> = [silence(600), tone(1200), silence(800)].concat();
    append(&mut ws, &first).await;
    // The answer's audio streams at real time: after half a second of it, cut in.
    let mut deltas = 0;
    while deltas < 5 {
        let e = ws.event().await;
        if e["type"] == "response.output_audio.delta" {
            deltas += 1;
        }
    }
    append(&mut ws, &[silence(300), tone(1000), silence(800)].concat()).await;
    // The barge-in cancels the first answer; the second is answered in full.
    let mut done = 0;
    while done < 2 {
        if ws.event().await["type"] == "response.done" {
            done += 1;
        }
    }
    ws.close().await;
    let page = server.get_json("/api/sessions?limit=1").await;
    page["sessions"][0]["id"].as_str().unwrap().to_owned()
}

async fn wait_audio(b: &Browser) -> Value {
    b.wait_until(
        "window.inspectorDebug && window.inspectorDebug.ready && window.inspectorDebug.audio() \
         && window.inspectorDebug.audio().spans > 0 && window.inspectorDebug.audio()",
        "the inspector loads the session's audio and its turns' spans",
    )
    .await
}

/// The columns of the lanes' canvas where each lane has sound: `{user: [x…], model: [x…], width}`. Sound is
/// an opaque pixel on the lane's middle row (the spans' tint is translucent) that is not part of a line
/// across the lane (the cursor, a barge-in: opaque on the lane's top row too); x past the lane's name.
async fn lane_columns(b: &Browser) -> Value {
    b.eval(
        "const c = document.querySelector('#audio-lanes canvas');
         const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
         const opaque = (x, y) => d[(y * c.width + x) * 4 + 3] === 255;
         const lane = (top) => {
           const h = c.height / 2, xs = [];
           for (let x = 40; x < c.width; x++) if (opaque(x, top + h / 2) && !opaque(x, top + 1)) xs.push(x);
           return xs;
         };
         return { user: lane(0), model: lane(c.height / 2), width: c.width };",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_plays_a_spoken_session_with_its_events_and_transcript() {
    let server = ConsoleProcess::start(BIN, &[]).await;
    let id = spoken_session(&server).await;
    let tracks = server.get_json(&format!("/api/sessions/{id}/audio")).await;
    let events = server.stored(&id).await;
    let of =
        |ty: &str| -> Vec<&Value> { events.iter().filter(|e| e["event"]["type"] == ty).collect() };
    let speech = of("input_audio_buffer.speech_started");
    assert_eq!(speech.len(), 2, "two turns of speech");
    let first_delta = of("response.output_audio.delta")[0];

    let b = Browser::launch().await;
    b.goto(&server.url(&format!("/sessions/{id}"))).await;
    let audio = wait_audio(&b).await;
    assert_eq!(audio["tracks"], json!(["user", "model"]), "{audio}");
    assert_eq!(audio["playing"], json!(false));
    assert!(
        audio["bargeIns"].as_i64().unwrap() >= 1,
        "the cut-in is marked: {audio}"
    );

    // Both lanes are drawn, and the user's first sound where its tone was sent: 600 ms into its track.
    let lanes = lane_columns(&b).await;
    // The lanes span the events and the audio together (the session starts before its audio).
    let (t0, t1) = (
        audio["strip"]["t0"].as_f64().unwrap(),
        audio["strip"]["t1"].as_f64().unwrap(),
    );
    let width = lanes["width"].as_f64().unwrap();
    let user: Vec<f64> = lanes["user"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!(!user.is_empty(), "the user's lane is drawn: {lanes}");
    assert!(
        !lanes["model"].as_array().unwrap().is_empty(),
        "the model's lane is drawn: {lanes}"
    );
    let user_start = tracks["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["track"] == "user")
        .unwrap()["start"]
        .as_f64()
        .unwrap();
    let first_sound = t0 + user[0] / width * (t1 - t0);

    let ms_per_px = (t1 - t0) / width;
    assert!(
        (first_sound - (user_start + 600.0)).abs() <= 40.0 + 2.0 * ms_per_px,
        "the tone is drawn {} ms into the user's track, sent 600 ms into it",
        first_sound - user_start
    );

    // Playing moves the event cursor (the list's selection) along the events: sampled in the page from the
    // click on, every 20 ms, until the audio ends.
    b.eval(
        "window.__selected = [];
         window.__drift = [];
         const user = document.querySelector('audio[data-track=user]');
         const sample = () => {
           const s = document.querySelector('#log .lp-row.lp-sel .lp-seq');
           const seq = s ? Number(s.textContent) : null;
           if (seq !== null && window.__selected.at(-1) !== seq) window.__selected.push(seq);
           // How far the user's element is behind the clock (its track is one chunk, from the audio's start).
           const a = window.inspectorDebug.audio();
           if (a.playing && !user.paused) window.__drift.push(Math.round((a.pos - a.span.t0) - user.currentTime * 1000));
         };
         window.__sampler = setInterval(sample, 20);
         document.querySelector('#audio-player [data-act=toggle]').click();
         return null;",
    )
    .await;
    b.wait_until(
        "window.__selected.length >= 3 || !window.inspectorDebug.audio().playing",
        "the selection moves as the audio plays, or the audio ends",
    )
    .await;
    let heard = b
        .eval(
            "const a = window.inspectorDebug.audio();
             return { selected: window.__selected, pos: a.pos - a.span.t0, playing: a.playing,
                      user: document.querySelector('audio[data-track=user]').currentTime,
                      model: document.querySelector('audio[data-track=model]').currentTime };",
        )
        .await;
    println!("playing: {heard}");
    let selected: Vec<i64> = heard["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_i64().unwrap())
        .collect();
    assert!(
        selected.len() >= 2 && selected.windows(2).all(|w| w[0] < w[1]),
        "the selection moves on along the events as the audio plays: {heard}"
    );
    // Let it play on a little, to see the user's track keep in step.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let drift = b
        .eval("const d = window.__drift; return [d.slice(0, 3), d.slice(-3), d.length];")
        .await;
    println!("user track behind the clock (ms), first and last samples: {drift}");
    b.eval(
        "clearInterval(window.__sampler);
         if (window.inspectorDebug.audio().playing) document.querySelector('#audio-player [data-act=toggle]').click();
         return null;",
    )
    .await;

    // Clicking an event in the list (one heard, on screen) seeks the player to its ts.
    let (a0, a1) = (
        audio["span"]["t0"].as_f64().unwrap(),
        audio["span"]["t1"].as_f64().unwrap(),
    );
    let heard_seqs: Vec<&Value> = events
        .iter()
        .filter(|e| (a0..a1).contains(&e["ts"].as_f64().unwrap()))
        .map(|e| &e["seq"])
        .collect();
    let row = b
        .eval(&format!(
            "const heard = new Set({});
             const row = [...document.querySelectorAll('#log .lp-row')]
               .find(r => heard.has(Number(r.querySelector('.lp-seq').textContent)));
             row.click();
             return Number(row.querySelector('.lp-seq').textContent);",
            json!(heard_seqs)
        ))
        .await;
    let ts = events
        .iter()
        .find(|e| e["seq"] == row)
        .unwrap_or_else(|| panic!("no event {row}"))["ts"]
        .as_f64()
        .unwrap();
    let pos = b.eval("return window.inspectorDebug.audio().pos").await;
    assert!(
        (pos.as_f64().unwrap() - ts).abs() < 1.0,
        "the player stands at event {row}'s ts {ts}: {pos}"
    );

    // A transcript line seeks the player: the second user turn to where its speech starts in the user's
    // track (audio_start_ms counts the audio the server received, so it is that far into the track's file).
    let want = speech[1]["event"]["audio_start_ms"].as_f64().unwrap() / 1000.0;
    let item = speech[1]["event"]["item_id"].as_str().unwrap();
    let seq = b
        .eval(&format!(
            "const turn = window.inspectorDebug.turnOf({});
             document.querySelector(`#transcript .tv-turn[data-seq='${{turn.seq}}']`).click();
             return turn.seq;",
            json!(item)
        ))
        .await;
    let got = b
        .wait_until(
            &format!(
                "(() => {{ const t = document.querySelector('audio[data-track=user]').currentTime; \
                 return Math.abs(t - {want}) < 0.05 ? t : null; }})()"
            ),
            "the user's track is sought to the line's speech",
        )
        .await;
    println!("transcript line (seq {seq}) → user track at {got} s, speech at {want} s");
    // And the assistant's first line to its first audio, in the model's track.
    let model_start = tracks["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["track"] == "model")
        .unwrap()["start"]
        .as_f64()
        .unwrap();
    let want = (first_delta["ts"].as_f64().unwrap() - model_start) / 1000.0;
    let item = first_delta["event"]["item_id"].as_str().unwrap();
    b.eval(&format!(
        "const turn = window.inspectorDebug.turnOf({});
         document.querySelector(`#transcript .tv-turn[data-seq='${{turn.seq}}']`).click();
         return null;",
        json!(item)
    ))
    .await;
    b.wait_until(
        &format!(
            "(() => {{ const t = document.querySelector('audio[data-track=model]').currentTime; \
             return Math.abs(t - {want}) < 0.05 ? String(t) : null; }})()"
        ),
        "the model's track is sought to the line's first audio",
    )
    .await;

    // A replay at 2× is heard, at 2×; at 10× it is not.
    b.select_css("#replay [data-act=speed]", "2").await;
    b.eval("document.querySelector('#replay [data-act=play]').click(); return null")
        .await;
    let rate = b
        .wait_until(
            "(() => { const a = window.inspectorDebug.audio(), u = document.querySelector('audio[data-track=user]');
                      return a.playing && !u.paused && Math.abs(u.playbackRate / 2 - 1) < 0.06 ? u.playbackRate : null; })()",
            "the replay plays the user's track at 2×",
        )
        .await;
    println!("replay at 2×: the user's track plays at {rate}");
    b.select_css("#replay [data-act=speed]", "10").await;
    b.wait_until(
        "!window.inspectorDebug.audio().playing && document.querySelector('audio[data-track=user]').paused",
        "a replay at 10× is silent",
    )
    .await;
    b.close().await;
}

/// `minutes` of a track as chunks of a minute (Opus, as the console page uploads it; the bytes are not
/// decoded by anyone here), each with its peaks: one byte per 20 ms, a wavering loudness.
async fn put_track(server: &ConsoleProcess, id: &str, track: &str, t0: f64, minutes: usize) {
    let http = reqwest::Client::new();
    for seq in 0..minutes {
        let peaks: Vec<u8> = (0..3000)
            .map(|i| ((i * 7 + seq * 13 + track.len() * 31) % 256) as u8)
            .collect();
        let res = http
            .put(server.url(&format!("/api/sessions/{id}/audio/{track}/{seq}")))
            .header("content-type", "audio/webm;codecs=opus")
            .header("x-audio-start", (t0 + seq as f64 * 60_000.0).to_string())
            .header("x-audio-peaks", STANDARD.encode(&peaks))
            .body(vec![0x1a, 0x45, 0xdf, 0xa3, seq as u8])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixty_minute_session_shows_both_lanes() {
    let server = ConsoleProcess::start(BIN, &[]).await;
    let id = server.create_session("an hour").await;
    let t0 = 1_764_000_000_000.0_f64;
    // An event a minute, so the strip spans the hour too.
    let events: Vec<Value> = (0..=60)
        .map(|i| {
            json!({"seq": i + 1, "ts": t0 + f64::from(i) * 60_000.0, "direction": "server",
                   "event": {"type": "rate_limits.updated", "rate_limits": []}})
        })
        .collect();
    let res = reqwest::Client::new()
        .post(server.url(&format!("/api/sessions/{id}/events")))
        .json(&json!({ "events": events }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    put_track(&server, &id, "user", t0, 60).await;
    put_track(&server, &id, "model", t0 + 500.0, 60).await;

    let b = Browser::launch().await;
    for run in 0..3 {
        b.goto(&server.url(&format!("/sessions/{id}"))).await;
        b.wait_until(
            "performance.getEntriesByName('inspector:audio-lanes', 'measure').length > 0",
            "the lanes are drawn",
        )
        .await;
        let lanes = lane_columns(&b).await;
        let drawn = |k: &str| lanes[k].as_array().unwrap().len();
        // Every column past the label holds sound (the peaks never fall to 0 for a whole column).
        assert!(drawn("user") > 1000 && drawn("model") > 1000, "{lanes}");
        let times = b
            .eval(
                "const m = performance.getEntriesByName('inspector:audio-lanes', 'measure')[0];
                 const draw = performance.getEntriesByName('inspector:audio-lanes-draw', 'measure')[0];
                 const nav = performance.getEntriesByType('navigation')[0];
                 const res = (path) => performance.getEntriesByType('resource')
                   .find(e => new URL(e.name).pathname.endsWith(path));
                 const peaks = res('/audio/peaks'), listing = res('/audio');
                 return { fetch_and_draw_ms: m.duration, draw_ms: draw.duration, since_navigation_ms: m.startTime + m.duration,
                          dom_content_loaded_ms: nav.domContentLoadedEventEnd,
                          peaks: [peaks.startTime, peaks.responseEnd], listing: [listing.startTime, listing.responseEnd] };",
            )
            .await;
        println!(
            "60-minute session, 180,000 peaks a track, run {run}: both lanes drawn {:.0} ms after navigation \
             (peaks fetched, decoded and drawn in {:.0} ms, of which decoded and drawn {:.0} ms; DOMContentLoaded at {:.0} ms; peaks requested \
             at {:.0} ms and in at {:.0} ms, listing {:.0}–{:.0} ms)",
            times["since_navigation_ms"].as_f64().unwrap(),
            times["fetch_and_draw_ms"].as_f64().unwrap(),
            times["draw_ms"].as_f64().unwrap(),
            times["dom_content_loaded_ms"].as_f64().unwrap(),
            times["peaks"][0].as_f64().unwrap(),
            times["peaks"][1].as_f64().unwrap(),
            times["listing"][0].as_f64().unwrap(),
            times["listing"][1].as_f64().unwrap(),
        );
    }
    b.close().await;
}

/// Records `ms` of a `hz` tone in the page with MediaRecorder (Opus, 500 ms slices, as the console page
/// records) and uploads the slices as `track`'s chunks from `start` on the events' clock.
fn record_and_upload(id: &str, track: &str, hz: u32, ms: u32, start: f64) -> String {
    format!(
        "const ctx = new AudioContext();
         const osc = new OscillatorNode(ctx, {{ frequency: {hz} }});
         const gain = new GainNode(ctx, {{ gain: 0.3 }});
         const dst = ctx.createMediaStreamDestination();
         osc.connect(gain).connect(dst);
         osc.start();
         const rec = new MediaRecorder(dst.stream, {{ mimeType: 'audio/webm;codecs=opus' }});
         const slices = [];
         rec.ondataavailable = (e) => slices.push(e.data);
         rec.start(500);
         await new Promise((r) => setTimeout(r, {ms}));
         await new Promise((r) => {{ rec.onstop = r; rec.stop(); }});
         ctx.close();
         for (const [seq, blob] of slices.entries()) {{
           const res = await fetch(`/api/sessions/{id}/audio/{track}/${{seq}}`, {{
             method: 'PUT', body: blob,
             headers: {{ 'content-type': 'audio/webm;codecs=opus', 'x-audio-start': String({start} + seq * 500) }},
           }});
           if (res.status !== 201) throw new Error(`chunk ${{seq}}: ${{res.status}} ${{await res.text()}}`);
         }}
         return slices.length;"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opus_session_plays_and_its_stereo_mix_is_made_in_the_browser() {
    let server = ConsoleProcess::start(BIN, &[]).await;
    let id = server.create_session("opus").await;
    let t0 = 1_764_000_000_000.0_f64;
    let events: Vec<Value> = (0..=4)
        .map(|i| {
            json!({"seq": i + 1, "ts": t0 + f64::from(i) * 1000.0, "direction": "server",
                   "event": {"type": "rate_limits.updated", "rate_limits": []}})
        })
        .collect();
    let res = reqwest::Client::new()
        .post(server.url(&format!("/api/sessions/{id}/events")))
        .json(&json!({ "events": events }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // The user says 440 Hz for 2 s from t0; the model 880 Hz for 2 s from t0 + 1.5 s. No peaks uploaded.
    let b = Browser::launch().await;
    b.goto(&server.url(&format!("/sessions/{id}"))).await;
    b.wait_until(
        "window.inspectorDebug && window.inspectorDebug.ready",
        "the inspector loads",
    )
    .await;
    assert_eq!(
        b.eval("return document.getElementById('audio-player').hidden && document.getElementById('audio-lanes').hidden")
            .await,
        json!(true),
        "no audio yet: no lanes, no player"
    );
    b.eval_async(&record_and_upload(&id, "user", 440, 2000, t0))
        .await;
    b.eval_async(&record_and_upload(&id, "model", 880, 2000, t0 + 1500.0))
        .await;
    b.goto(&server.url(&format!("/sessions/{id}"))).await;
    let audio = wait_audio_loaded(&b).await;
    assert_eq!(audio["tracks"], json!(["user", "model"]), "{audio}");

    // The stereo mix, decoded and encoded in the page: the user on the left, the model on the right, each
    // where it was said.
    let mix = b
        .eval_async(
            "const made = [];
             const create = URL.createObjectURL;
             URL.createObjectURL = (blob) => { made.push(blob); return create(blob); };
             const button = [...document.querySelectorAll('#audio-player .audio-export button')]
               .find((x) => x.textContent === 'stereo mix');
             button.click();
             for (let i = 0; i < 200 && !made.length; i++) await new Promise((r) => setTimeout(r, 50));
             URL.createObjectURL = create;
             const ctx = new OfflineAudioContext(2, 1, 48000);
             const buf = await ctx.decodeAudioData(await made[0].arrayBuffer());
             const rms = (ch, a, z) => {
               const d = buf.getChannelData(ch);
               let s = 0;
               const i0 = Math.floor(a * buf.sampleRate), i1 = Math.floor(z * buf.sampleRate);
               for (let i = i0; i < i1; i++) s += d[i] * d[i];
               return Math.round(1000 * Math.sqrt(s / (i1 - i0))) / 1000;
             };
             return { channels: buf.numberOfChannels, seconds: buf.duration,
                      left: [rms(0, 0.2, 1.8), rms(0, 2.3, 3.3)], right: [rms(1, 0.2, 1.3), rms(1, 1.7, 3.3)] };",
        )
        .await;
    println!("stereo mix of the Opus tracks: {mix}");
    assert_eq!(mix["channels"], 2, "{mix}");
    let rms = |side: &str, i: usize| mix[side][i].as_f64().unwrap();
    assert!(
        rms("left", 0) > 0.1 && rms("left", 1) < 0.01,
        "the user on the left, while they spoke: {mix}"
    );
    assert!(
        rms("right", 0) < 0.01 && rms("right", 1) > 0.1,
        "the model on the right, from when it spoke: {mix}"
    );

    // And the Opus tracks play in the player.
    b.eval("document.querySelector('#audio-player [data-act=toggle]').click(); return null")
        .await;
    b.wait_until(
        "document.querySelector('audio[data-track=user]').currentTime > 0.3",
        "the user's Opus track plays",
    )
    .await;
    b.close().await;
}

async fn wait_audio_loaded(b: &Browser) -> Value {
    b.wait_until(
        "window.inspectorDebug && window.inspectorDebug.ready && window.inspectorDebug.audio()",
        "the inspector loads the session's audio",
    )
    .await
}
