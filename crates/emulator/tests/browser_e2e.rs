//! End-to-end in headless Chromium: a page on the emulator's origin mints an ephemeral key, connects over
//! WebRTC with its (fake) microphone and talks to the scripted model through the real HTTP API, the
//! `oai-events` data channel and the audio track, as a voice app would.
//!
//! Needs Debian's `chromium` and `chromium-driver`; fails (never skips) without them.
//! Prints the connect time and a text turn's time to first delta: `cargo test -p realtime-emulator --test
//! browser_e2e -- --nocapture`.

use std::time::Duration;

use realtime_testkit::browser::{Browser, Page};
use realtime_testkit::emulator::EmulatorApp;
use realtime_testkit::wav::{silence, voice};

/// The test page: a minimal Realtime client over WebRTC, as a voice app would write it.
const PAGE: &[realtime_testkit::emulator::PageFile] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("browser/index.html"),
    ),
    (
        "/client.js",
        "text/javascript; charset=utf-8",
        include_str!("browser/client.js"),
    ),
];
use realtime_emulator::{EmulatorConfig, Pace};
use serde_json::{Value, json};

const API_KEY: &str = "sk-test-browser";

fn user_text(text: &str) -> Value {
    json!({
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
    })
}

/// Sends the events in order; returns the cursor before the first and when the last left (ms, page clock).
async fn send_all(page: &Page<'_>, events: &[Value]) -> (u64, f64) {
    let mut cursor = None;
    let mut sent_at = 0.0;
    for event in events {
        let sent = page.call("send", vec![event.clone()]).await;
        cursor.get_or_insert(sent["cursor"].as_u64().unwrap());
        sent_at = sent["at"].as_f64().unwrap();
    }
    (cursor.unwrap(), sent_at)
}

/// Waits for the first event of `kind` from `cursor`: (its index, arrival time, the event).
async fn wait_for(page: &Page<'_>, kind: &str, cursor: u64) -> (u64, f64, Value) {
    let found = page.call("waitFor", vec![json!(kind), json!(cursor)]).await;
    (
        found["index"].as_u64().unwrap(),
        found["at"].as_f64().unwrap(),
        found["event"].clone(),
    )
}

async fn events_between(page: &Page<'_>, from: u64, to: u64) -> Vec<Value> {
    page.call("events", vec![json!(from), json!(to)])
        .await
        .as_array()
        .unwrap()
        .clone()
}

async fn audio_energy(page: &Page<'_>) -> f64 {
    page.call("audioStats", vec![]).await["totalAudioEnergy"]
        .as_f64()
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_app_talks_to_the_emulator_over_webrtc() {
    let app = EmulatorApp::with_page(
        EmulatorConfig {
            pace: Pace::Realistic,
            ..EmulatorConfig::default()
        },
        PAGE,
    )
    .await;
    let browser = Browser::launch_with(&silence(1.0), &[]).await;
    let page = browser.open(&app.url("/"), "rt").await;

    // Connect: mint an ek_ key, post the offer with it, open the data channel.
    let connected = page.call("connect", vec![json!(API_KEY)]).await;
    assert_eq!(connected["ephemeralKey"], "ek_");
    assert!(
        connected["location"]
            .as_str()
            .unwrap()
            .starts_with("/v1/realtime/calls/rtc_"),
        "{connected}"
    );
    let answer = connected["answer"].as_str().unwrap();
    assert!(
        answer.contains("urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
        "the answer keeps RFC 6464:\n{answer}"
    );
    println!(
        "connect time (offer created -> data channel open): {:.0} ms",
        connected["connectMs"].as_f64().unwrap()
    );

    let (index, _, created) = wait_for(&page, "session.created", 0).await;
    assert_eq!(index, 0, "session.created comes first: {created}");

    // Give the session a function tool, as agents-js does on open.
    let tools = json!([{
        "type": "function",
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    }]);
    let (cursor, _) = send_all(
        &page,
        &[json!({"type": "session.update", "session": {"type": "realtime", "tools": tools}})],
    )
    .await;
    let (_, _, updated) = wait_for(&page, "session.updated", cursor).await;
    assert_eq!(
        updated["session"]["tools"][0]["name"], "get_weather",
        "{updated}"
    );

    // A text turn: transcript deltas on the channel, audible audio on the track.
    let (cursor, sent_at) = send_all(
        &page,
        &[
            user_text("hello from the browser"),
            json!({"type": "response.create"}),
        ],
    )
    .await;
    let (_, first_delta_at, _) =
        wait_for(&page, "response.output_audio_transcript.delta", cursor).await;
    println!(
        "text turn time to first transcript delta (response.create sent -> first delta; Realistic pace \
         includes the scripted model's 300 ms think time): {:.0} ms",
        first_delta_at - sent_at
    );
    wait_for(&page, "output_audio_buffer.started", cursor).await;
    let (done_index, _, done) = wait_for(&page, "response.done", cursor).await;
    assert_eq!(done["response"]["status"], "completed", "{done}");
    let turn = events_between(&page, cursor, done_index + 1).await;
    let deltas: String = turn
        .iter()
        .filter(|e| e["type"] == "response.output_audio_transcript.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert!(
        deltas.contains("hello from the browser"),
        "the model answers what was said: {deltas:?}"
    );
    assert!(
        !turn
            .iter()
            .any(|e| e["type"] == "response.output_audio.delta"),
        "no audio deltas over WebRTC: the audio is on the track"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = page.call("audioStats", vec![]).await;
    assert_eq!(stats["codec"], "audio/opus", "{stats}");
    assert!(
        stats["bytesReceived"].as_f64().unwrap() > 0.0,
        "audio arrives: {stats}"
    );
    assert!(
        stats["totalSamplesReceived"].as_f64().unwrap() > 0.0,
        "and is decoded: {stats}"
    );
    assert!(
        stats["totalAudioEnergy"].as_f64().unwrap() > 0.0,
        "and is audible: {stats}"
    );

    // A tool call round trip: naming the tool calls it; its output is answered in words.
    let (cursor, _) = send_all(
        &page,
        &[
            user_text("what is the get weather in Paris?"),
            json!({"type": "response.create"}),
        ],
    )
    .await;
    let (_, _, done) = wait_for(&page, "response.done", cursor).await;
    let call = &done["response"]["output"][0];
    assert_eq!(call["type"], "function_call", "{done}");
    assert_eq!(call["name"], "get_weather", "{done}");
    let output = json!({
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": call["call_id"], "output": "{\"temp_c\":21}"},
    });
    let (cursor, _) = send_all(&page, &[output, json!({"type": "response.create"})]).await;
    let (_, _, transcript) = wait_for(&page, "response.output_audio_transcript.done", cursor).await;
    assert!(
        transcript["transcript"].as_str().unwrap().contains("21"),
        "the answer uses the tool's output: {transcript}"
    );
    wait_for(&page, "response.done", cursor).await;

    // Cancel while the model speaks: the response ends cancelled and the audio goes quiet.
    let long =
        "please tell me a long story about the sea and the ships that sail on it, in many words";
    let (cursor, _) = send_all(
        &page,
        &[user_text(long), json!({"type": "response.create"})],
    )
    .await;
    let (_, _, started) = wait_for(&page, "output_audio_buffer.started", cursor).await;
    let (cursor, _) = send_all(&page, &[json!({"type": "response.cancel"})]).await;
    let (_, _, done) = wait_for(&page, "response.done", cursor).await;
    assert_eq!(done["response"]["id"], started["response_id"], "{done}");
    assert_eq!(done["response"]["status"], "cancelled", "{done}");
    // Past the jitter buffer, the browser decodes silence.
    page.call("sleep", vec![json!(500)]).await;
    let before = audio_energy(&page).await;
    page.call("sleep", vec![json!(1000)]).await;
    let after = audio_energy(&page).await;
    assert!(
        after - before < 1e-4,
        "the audio stopped after the cancel: energy grew by {}",
        after - before
    );

    // Hang up from the backend: the browser sees the call end.
    let hangup = page.call("hangup", vec![json!(API_KEY)]).await;
    assert_eq!(hangup["status"], 200, "{hangup}");
    let closed = page.call("waitClosed", vec![]).await;
    assert_eq!(closed["channel"], "closed", "{closed}");

    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speaking_over_the_model_interrupts_it() {
    // Long answers (150 ms of audio per character), so the next utterance lands while the model speaks.
    let app = EmulatorApp::with_page(
        EmulatorConfig {
            pace: Pace::Realistic,
            audio_per_char: Duration::from_millis(150),
            ..EmulatorConfig::default()
        },
        PAGE,
    )
    .await;
    // The microphone loops: 0.5 s of silence, 0.6 s of speech, 2 s of silence.
    let mic: Vec<i16> = [vec![0; 24_000], voice(0.6), vec![0; 2 * 48_000]].concat();
    let browser = Browser::launch_with(&mic, &[]).await;
    let page = browser.open(&app.url("/"), "rt").await;
    // Chromium's echo canceller hears the model in the speakers and mutes a synthetic voice talking over it
    // (a person's voice fares better): capture the microphone as it is.
    let raw_mic = json!({"audio": {"echoCancellation": false, "noiseSuppression": false, "autoGainControl": false}});
    page.call("connect", vec![json!(API_KEY), raw_mic]).await;

    // The first utterance is heard through the RTP audio levels, committed and answered.
    let (cursor, _, _) = wait_for(&page, "input_audio_buffer.speech_started", 0).await;
    wait_for(&page, "input_audio_buffer.speech_stopped", cursor).await;
    let (cursor, _, committed) = wait_for(&page, "input_audio_buffer.committed", cursor).await;
    assert!(
        committed["item_id"].as_str().unwrap().starts_with("item_"),
        "{committed}"
    );
    let (cursor, _, started) = wait_for(&page, "output_audio_buffer.started", cursor).await;

    // The next utterance starts while the answer plays: the model stops talking.
    let (cursor, _, _) = wait_for(&page, "input_audio_buffer.speech_started", cursor).await;
    let (_, _, cleared) = wait_for(&page, "output_audio_buffer.cleared", cursor).await;
    assert_eq!(cleared["response_id"], started["response_id"], "{cleared}");

    // The user leaves: the emulator notices and forgets the call, so a backend hangup finds nothing.
    page.call("leave", vec![]).await;
    page.call("sleep", vec![json!(2000)]).await;
    let hangup = page.call("hangup", vec![json!(API_KEY)]).await;
    assert_eq!(
        hangup["status"], 404,
        "the call ended when the browser closed it: {hangup}"
    );

    browser.close().await;
}

/// The energy the browser's decoder played between two times (ms, page clock), from a `traceEnergy` trace.
fn energy_between(trace: &[(f64, f64)], from: f64, to: f64) -> f64 {
    let at = |t: f64| {
        trace
            .iter()
            .take_while(|(at, _)| *at <= t)
            .last()
            .map_or(0.0, |(_, e)| *e)
    };
    at(to) - at(from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_and_the_emulator_decode_each_others_opus() {
    // No RFC 6464 in the answer: Chromium sends no audio levels, so the emulator hears the caller only by
    // decoding Chromium's Opus. Its voice goes the other way, encoded by the emulator, decoded by Chromium.
    let app = EmulatorApp::with_page(
        EmulatorConfig {
            pace: Pace::Realistic,
            rtc_audio_level: false,
            ..EmulatorConfig::default()
        },
        PAGE,
    )
    .await;
    // 1 s of silence, 0.8 s of speech, then silence long enough that the loop never comes round again.
    let mic: Vec<i16> = [vec![0; 48_000], voice(0.8), vec![0; 30 * 48_000]].concat();
    let browser = Browser::launch_with(&mic, &[]).await;
    let page = browser.open(&app.url("/"), "rt").await;
    let raw_mic = json!({"audio": {"echoCancellation": false, "noiseSuppression": false, "autoGainControl": false}});
    let connected = page.call("connect", vec![json!(API_KEY), raw_mic]).await;
    let answer = connected["answer"].as_str().unwrap();
    assert!(
        !answer.contains("ssrc-audio-level"),
        "the answer leaves RFC 6464 out:\n{answer}"
    );
    page.call("traceEnergy", vec![]).await;

    // Chromium's Opus, decoded by the emulator, is heard as speech: server VAD starts and ends a turn.
    let (cursor, _, started) = wait_for(&page, "input_audio_buffer.speech_started", 0).await;
    let (cursor, _, stopped) = wait_for(&page, "input_audio_buffer.speech_stopped", cursor).await;
    let heard =
        stopped["audio_end_ms"].as_u64().unwrap() - started["audio_start_ms"].as_u64().unwrap();
    assert!(
        (500..=1500).contains(&heard),
        "0.8 s of speech is heard as about that long (prefix padding and silence included): {heard} ms"
    );

    // The emulator's Opus, decoded by Chromium: energy while the model speaks, near none before or after.
    let (cursor, speaking_at, _) = wait_for(&page, "output_audio_buffer.started", cursor).await;
    let (_, quiet_at, _) = wait_for(&page, "output_audio_buffer.stopped", cursor).await;
    page.call("sleep", vec![json!(2500)]).await;
    let trace: Vec<(f64, f64)> = page
        .call("energySamples", vec![])
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
        .collect();
    // The jitter buffer plays behind the events, the more so on a busy machine: the answer's window runs a
    // second past `stopped`, and "after" is the 1.5 s past that.
    let trace_start = trace[0].0;
    let before = energy_between(&trace, trace_start, speaking_at);
    let during = energy_between(&trace, speaking_at, quiet_at + 1000.0);
    let after = energy_between(&trace, quiet_at + 1000.0, quiet_at + 2500.0);
    println!(
        "received audio energy: before the answer {before:.6} over {:.0} ms, during {during:.6} over {:.0} ms, \
         after {after:.6} over 1500 ms",
        speaking_at - trace_start,
        quiet_at - speaking_at
    );
    assert!(
        during > 1e-3,
        "Chromium decodes the emulator's voice: energy {during} while it speaks"
    );
    assert!(
        before < during / 100.0 && after < during / 100.0,
        "and near silence outside it: {before} before, {during} during, {after} after"
    );

    browser.close().await;
}
