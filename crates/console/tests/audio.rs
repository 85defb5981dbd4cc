//! A session's audio: chunks uploaded as the console page's recorder does (idempotent, acknowledged,
//! surviving a `kill -9`), and a gateway WebSocket session's voices turned into its tracks, with the events'
//! payloads put back on export, byte for byte.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use realtime_testkit::console::{ConsoleApp, error_of};
use realtime_testkit::process::ConsoleProcess;
use realtime_testkit::ws::{Auth, WsClient};
use serde_json::{Value, json};

const OPUS: &str = "audio/webm;codecs=opus";

async fn put(
    http: &reqwest::Client,
    url: &str,
    mime: &str,
    start: &str,
    body: &'static [u8],
) -> (u16, Value) {
    let res = http
        .put(url)
        .header("content-type", mime)
        .header("x-audio-start", start)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn bytes(http: &reqwest::Client, url: &str, range: Option<&str>) -> (u16, Vec<u8>) {
    let mut req = http.get(url);
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn a_chunk_is_stored_once_and_a_resend_is_acknowledged_without_storing_it_again() {
    let (app, id) = ConsoleApp::with_session().await;
    let chunk =
        |track: &str, seq: &str| app.url(&format!("/api/sessions/{id}/audio/{track}/{seq}"));
    let http = &app.http;

    let (status, body) = put(http, &chunk("user", "0"), OPUS, "1000.5", b"chunk-zero|").await;
    assert_eq!(
        (status, &body),
        (201, &json!({"track": "user", "seq": 0, "stored": true}))
    );
    // The acknowledgement was lost: the recorder sends it again.
    let (status, body) = put(http, &chunk("user", "0"), OPUS, "1000.5", b"chunk-zero|").await;
    assert_eq!(
        (status, &body),
        (200, &json!({"track": "user", "seq": 0, "stored": false}))
    );
    // Other bytes at a stored seq change nothing.
    let (status, body) = put(http, &chunk("user", "0"), OPUS, "1000.5", b"other").await;
    assert_eq!(status, 409);
    assert_eq!(error_of(&body).0, "audio_chunk_conflict");
    let res = http
        .put(chunk("user", "1"))
        .header("content-type", OPUS)
        .header("x-audio-start", "2000")
        .header("x-audio-peaks", STANDARD.encode([0u8, 128, 255]))
        .body("chunk-one")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let track = app.url(&format!("/api/sessions/{id}/audio/user"));
    assert_eq!(
        bytes(http, &track, None).await,
        (200, b"chunk-zero|chunk-one".to_vec()),
        "the chunks in seq order, each once"
    );
    assert_eq!(
        bytes(http, &track, Some("bytes=6-12")).await,
        (206, b"zero|ch".to_vec())
    );
    assert_eq!(bytes(http, &track, Some("bytes=99-")).await.0, 416);

    let listed = app.get_json(&format!("/api/sessions/{id}/audio")).await;
    assert_eq!(listed["tracks"][0]["mime"], OPUS);
    assert_eq!(listed["tracks"][0]["start"], 1000.5);
    assert_eq!(listed["tracks"][0]["bytes"], 20);
    assert_eq!(
        listed["tracks"][0]["chunks"],
        json!([{"seq": 0, "start": 1000.5, "bytes": 11}, {"seq": 1, "start": 2000.0, "bytes": 9}])
    );
    let peaks = app
        .get_json(&format!("/api/sessions/{id}/audio/peaks"))
        .await;
    assert_eq!(peaks["interval_ms"], 20);
    assert_eq!(
        peaks["tracks"]["user"][1]["peaks"],
        STANDARD.encode([0u8, 128, 255])
    );

    // Bad input: a clear error, and nothing changes.
    for (url, mime, start, code) in [
        (
            chunk("user", "2"),
            "audio/ogg",
            "3000",
            "audio_format_mismatch",
        ),
        (
            chunk("user", "2"),
            OPUS,
            "soon",
            "missing_required_parameter",
        ),
        (chunk("voice", "2"), OPUS, "3000", "invalid_value"),
        (chunk("user", "-1"), OPUS, "3000", "invalid_value"),
        (chunk("user", "1000000"), OPUS, "3000", "invalid_value"),
    ] {
        let (status, body) = put(http, &url, mime, start, b"x").await;
        assert!((400..500).contains(&status), "{url} {status}");
        assert_eq!(error_of(&body).0, code, "{url}: {body}");
    }
    let unknown = app.url("/api/sessions/019ad1c2-0000-7000-8000-000000000000/audio/user/0");
    assert_eq!(put(http, &unknown, OPUS, "1", b"x").await.0, 404);
    let too_large = http
        .put(chunk("user", "2"))
        .header("content-type", OPUS)
        .header("x-audio-start", "3000")
        .body(vec![0u8; (4 << 20) + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status(), 413);
    assert_eq!(
        bytes(http, &track, None).await.1,
        b"chunk-zero|chunk-one".to_vec()
    );

    // Deleting the session deletes its audio.
    let dir = app.store.audio_dir().join(&id);
    assert!(dir.exists());
    assert_eq!(app.delete_session(&id).await.status(), 204);
    assert!(!dir.exists(), "{}", dir.display());
    assert_eq!(bytes(http, &track, None).await.0, 404);
}

#[tokio::test]
async fn no_acknowledged_chunk_is_lost_to_a_kill_9_during_upload() {
    let mut console = ConsoleProcess::start(env!("CARGO_BIN_EXE_realtime-console"), &[]).await;
    let id = console.create_session("audio upload").await;
    let http = reqwest::Client::new();
    let url = console.url(&format!("/api/sessions/{id}/audio/model/"));
    // Uploads as fast as they are acknowledged, the way the recorder does, until the server is gone.
    let uploader = tokio::spawn(async move {
        let mut acked = Vec::new();
        for seq in 0u32.. {
            let body = format!("chunk {seq} ").repeat(200);
            let sent = http
                .put(format!("{url}{seq}"))
                .header("content-type", OPUS)
                .header("x-audio-start", (1_000 * seq).to_string())
                .body(body)
                .send()
                .await;
            match sent {
                Ok(res) if res.status() == 201 => acked.push(seq),
                _ => break,
            }
        }
        acked
    });
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    console.kill().await;
    let acked = uploader.await.unwrap();
    assert!(acked.len() > 5, "the upload ran: {} chunks", acked.len());
    console.restart().await;

    let listed = console.get_json(&format!("/api/sessions/{id}/audio")).await;
    let stored: Vec<u64> = listed["tracks"][0]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["seq"].as_u64().unwrap())
        .collect();
    for seq in &acked {
        assert!(
            stored.contains(&(*seq as u64)),
            "acknowledged chunk {seq} is stored"
        );
    }
    let track = reqwest::get(console.url(&format!("/api/sessions/{id}/audio/model")))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let whole: String = stored
        .iter()
        .map(|seq| format!("chunk {seq} ").repeat(200))
        .collect();
    assert_eq!(track, whole.as_bytes(), "every stored chunk is whole");
    println!(
        "kill -9 during upload: {} chunks acknowledged, {} stored after the restart",
        acked.len(),
        stored.len()
    );
    console.kill().await;
}

/// A 24 kHz tone, as 16-bit PCM.
fn tone(hz: f64, samples: usize, phase: usize) -> Vec<i16> {
    (0..samples)
        .map(|i| {
            let t = (i + phase) as f64 / 24_000.0;
            (8_000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16
        })
        .collect()
}

fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// The data of a 16-bit WAV file, after checking its header.
fn wav_data(wav: &[u8], channels: u16, rate: u32) -> &[u8] {
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(&wav[8..16], b"WAVEfmt ");
    assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), channels);
    assert_eq!(
        u32::from_le_bytes([wav[24], wav[25], wav[26], wav[27]]),
        rate
    );
    let len = u32::from_le_bytes([wav[40], wav[41], wav[42], wav[43]]) as usize;
    assert_eq!(wav.len(), 44 + len);
    &wav[44..]
}

/// What a gateway session with both voices went through.
struct Call {
    id: String,
    sent_pcm: Vec<i16>,
    sent_frames: Vec<String>,
    events: Vec<Value>,
    model_pcm: Vec<u8>,
    minutes: f64,
}

/// One audio turn through the gateway: known PCM appended, the model's spoken answer.
async fn gateway_call(app: &ConsoleApp) -> Call {
    let url = app
        .url("/v1/realtime?model=gpt-realtime")
        .replacen("http", "ws", 1);
    let began = std::time::Instant::now();
    let mut client = WsClient::connect(&url, Auth::Bearer("sk-any")).await;
    client.expect("session.created").await;
    // Known PCM, in appends of 100 ms: a tone the emulator's VAD hears as speech.
    let mut sent_pcm = Vec::new();
    let mut sent_frames = Vec::new();
    for k in 0..10 {
        let samples = tone(440.0, 2_400, k * 2_400);
        let frame = json!({"type": "input_audio_buffer.append", "audio": STANDARD.encode(pcm_bytes(&samples))});
        sent_frames.push(serde_json::to_string(&frame).unwrap());
        client.send(&frame).await;
        sent_pcm.extend(samples);
    }
    client
        .send(&json!({"type": "input_audio_buffer.commit"}))
        .await;
    client.send(&json!({"type": "response.create"})).await;
    let events = client.until("response.done").await;
    let model_pcm: Vec<u8> = events
        .iter()
        .filter(|e| e["type"] == "response.output_audio.delta")
        .flat_map(|e| STANDARD.decode(e["delta"].as_str().unwrap()).unwrap())
        .collect();
    assert!(!model_pcm.is_empty(), "the model answered with audio");
    client.close().await;
    let call_minutes = began.elapsed().as_secs_f64() / 60.0;

    let mut session = Value::Null;
    for _ in 0..200 {
        session = app.get_json("/api/sessions?limit=1").await["sessions"][0].clone();
        if !session["ended_at"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let id = session["id"].as_str().unwrap().to_owned();
    assert!(session["incomplete"].is_null(), "{session}");
    Call {
        id,
        sent_pcm,
        sent_frames,
        events,
        model_pcm,
        minutes: call_minutes,
    }
}

#[tokio::test]
async fn a_gateway_sessions_voices_become_its_tracks_and_export_gives_back_the_wire_bytes() {
    let app = ConsoleApp::start().await;
    let Call {
        id,
        sent_pcm,
        sent_frames,
        events,
        model_pcm,
        minutes: call_minutes,
    } = gateway_call(&app).await;

    // The tracks hold exactly what went over the wire.
    let user = bytes(
        &app.http,
        &app.url(&format!("/api/sessions/{id}/audio/user")),
        None,
    )
    .await;
    assert_eq!(user.0, 200);
    assert_eq!(
        wav_data(&user.1, 1, 24_000),
        pcm_bytes(&sent_pcm).as_slice(),
        "the appended samples"
    );
    let model = bytes(
        &app.http,
        &app.url(&format!("/api/sessions/{id}/audio/model")),
        None,
    )
    .await;
    assert_eq!(
        wav_data(&model.1, 1, 24_000),
        model_pcm.as_slice(),
        "the deltas' samples"
    );

    // The stored events keep a reference in place of each payload…
    let stored = app.stored(&id).await;
    let appends: Vec<&Value> = stored
        .iter()
        .filter(|e| e["type"] == "input_audio_buffer.append")
        .collect();
    assert_eq!(appends.len(), 10);
    for e in &appends {
        let audio = e["event"]["audio"].as_str().unwrap();
        assert!(audio.starts_with("rc-audio:user:"), "{audio}");
    }
    // …and the export puts it back: each line's event is the frame as it went, byte for byte.
    let export = app
        .get_text(&format!("/api/sessions/{id}/events.jsonl"))
        .await;
    let exported: Vec<String> = export
        .lines()
        .filter(|l| l.contains("input_audio_buffer.append"))
        .map(|l| {
            let start = l.find(",\"event\":").unwrap() + ",\"event\":".len();
            l[start..l.len() - 1].to_owned()
        })
        .collect();
    assert_eq!(exported, sent_frames);
    let exported_deltas: Vec<Value> = export
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .filter(|e| e["type"] == "response.output_audio.delta")
        .collect();
    let received_deltas: Vec<Value> = events
        .iter()
        .filter(|e| e["type"] == "response.output_audio.delta")
        .cloned()
        .collect();
    assert_eq!(exported_deltas, received_deltas);
    let small = app
        .get_text(&format!("/api/sessions/{id}/events.jsonl?audio=references"))
        .await;
    assert!(small.contains("rc-audio:model:"));
    assert!(!small.contains(&STANDARD.encode(&model_pcm[..300])));

    // The stereo mix: the user on the left, the model on the right, on the events' clock.
    let mix = bytes(
        &app.http,
        &app.url(&format!("/api/sessions/{id}/audio/mix.wav")),
        None,
    )
    .await;
    assert_eq!(mix.0, 200);
    let frames: Vec<(i16, i16)> = wav_data(&mix.1, 2, 24_000)
        .chunks_exact(4)
        .map(|f| {
            (
                i16::from_le_bytes([f[0], f[1]]),
                i16::from_le_bytes([f[2], f[3]]),
            )
        })
        .collect();
    let left: Vec<i16> = frames.iter().map(|f| f.0).collect();
    let right: Vec<i16> = frames.iter().map(|f| f.1).collect();
    let first = left.iter().position(|s| *s != 0).unwrap();
    assert_eq!(
        &left[first - 1..first - 1 + sent_pcm.len()],
        sent_pcm.as_slice()
    );
    let model_samples: Vec<i16> = model_pcm
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let model_first = right.iter().position(|s| *s != 0).unwrap();
    let lead = model_samples.iter().position(|s| *s != 0).unwrap();
    assert!(
        model_first > first,
        "the model answers after the user spoke"
    );
    assert_eq!(
        &right[model_first - lead..model_first - lead + model_samples.len()],
        model_samples.as_slice()
    );

    // What the store keeps per minute of this call: the events' text with the payloads in it (as before
    // audio tracks), and now: the events with references, plus the tracks' audio.
    let kib_per_minute = |bytes: usize| bytes as f64 / 1024.0 / call_minutes;
    println!(
        "gateway session ({:.1} s): events with payloads {:.0} KiB/min; with references {:.0} KiB/min + tracks {:.0} KiB/min",
        call_minutes * 60.0,
        kib_per_minute(export.len()),
        kib_per_minute(small.len()),
        kib_per_minute(user.1.len() + model.1.len() - 88)
    );
}

#[tokio::test]
async fn a_bundle_exports_imports_and_exports_again_as_the_same_bytes() {
    let app = ConsoleApp::start().await;
    let call = gateway_call(&app).await;
    let bundle_of = |id: &str| {
        let url = app.url(&format!("/api/sessions/{id}/bundle.jsonl"));
        let http = app.http.clone();
        async move { http.get(url).send().await.unwrap().bytes().await.unwrap() }
    };
    let first = bundle_of(&call.id).await;
    let text = std::str::from_utf8(&first).unwrap();
    assert!(
        text.starts_with(r#"{"bundle":"realtime-console/bundle-1","session":{"#),
        "{}",
        &text[..200]
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with(r#"{"audio":{"track":"model""#))
    );

    let res = app.import(None, first.clone()).await;
    assert_eq!(res.status(), 201);
    let imported: Value = res.json().await.unwrap();
    let copy = imported["id"].as_str().unwrap();
    assert_ne!(copy, call.id);
    assert_eq!(imported["flow"], "import");
    let again = bundle_of(copy).await;
    assert_eq!(
        std::str::from_utf8(&again).unwrap(),
        text,
        "export, import and export again: the same bytes"
    );
    // The copy plays like the original: the same tracks, and its JSONL export is the wire's.
    for track in ["user", "model"] {
        let of = |id: &str| app.url(&format!("/api/sessions/{id}/audio/{track}"));
        assert_eq!(
            bytes(&app.http, &of(copy), None).await,
            bytes(&app.http, &of(&call.id), None).await
        );
    }
    assert_eq!(
        app.get_text(&format!("/api/sessions/{copy}/events.jsonl"))
            .await,
        app.get_text(&format!("/api/sessions/{}/events.jsonl", call.id))
            .await
    );

    // A bundle that goes wrong midway is not imported at all, audio included.
    let sessions_before = app.get_json("/api/sessions").await["sessions"]
        .as_array()
        .unwrap()
        .len();
    let broken = format!(
        "{}{{\"audio\":{{\"track\":\"user\",\"seq\":9,\"start\":1,\"mime\":\"audio/pcm\",\"peaks\":\"\"}},\"data\":\"not base64!\"}}\n",
        text
    );
    let res = app.import(None, broken).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(error_of(&body).1.contains("base64"), "{body}");
    assert_eq!(
        app.get_json("/api/sessions").await["sessions"]
            .as_array()
            .unwrap()
            .len(),
        sessions_before
    );
    let dirs = std::fs::read_dir(app.store.audio_dir()).unwrap().count();
    assert_eq!(
        dirs, 2,
        "the original's audio and the first copy's, nothing of the failed import"
    );
}
