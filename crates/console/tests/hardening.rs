//! What a careless or hostile client sends must get a clear error, change nothing, and leave every read working:
//! overflowing usage, seqs in the server's range, a rebound `Host`, a secret in a protocol-relative redirect, the
//! access cookie, bounds on types, models and labels, the built-in emulator's rate limit and access rules, and a
//! fuzz of malformed ingest bodies. A real server on 127.0.0.1:0 over a real SQLite file.

use realtime_testkit::console::{
    Access, ConsoleApp, OFFER, RecordingUpstream, code_and_param, no_redirects, session_id_of,
};
use serde_json::{Value, json};

fn event(seq: i64, direction: &str, event: Value) -> Value {
    json!({"seq": seq, "ts": 1_732_390_000_000.0 + seq as f64, "direction": direction, "event": event})
}

fn done(seq: i64, total_tokens: Value) -> Value {
    event(
        seq,
        "server",
        json!({"type": "response.done", "response": {"usage": {"total_tokens": total_tokens}}}),
    )
}

/// Every read a user makes of a session answers 200: the library, the session, its page, events, export.
async fn every_read_works(app: &ConsoleApp, id: &str) {
    for path in [
        "/api/sessions".to_owned(),
        "/sessions".to_owned(),
        format!("/api/sessions/{id}"),
        format!("/sessions/{id}"),
        format!("/api/sessions/{id}/events"),
        format!("/api/sessions/{id}/events.jsonl"),
        format!("/api/sessions/{id}/export.json"),
        format!("/api/sessions/{id}/types"),
        format!("/api/sessions/{id}/timeline"),
        "/api/sessions?q=tokens".to_owned(),
    ] {
        let res = app.http.get(app.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "GET {path}");
    }
}

#[tokio::test]
async fn usage_outside_its_bound_is_refused_and_no_event_can_break_a_read() {
    let (app, id) = ConsoleApp::with_session().await;
    // Two batches of the largest i64: refused, each naming the field, nothing stored.
    for seq in [1, 2] {
        let (status, body) = app
            .post_events(&id, json!([done(seq, json!(i64::MAX))]))
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            code_and_param(&body),
            (
                "invalid_value".into(),
                Some("events[0].event.response.usage.total_tokens".into())
            )
        );
    }
    let (status, body) = app.post_events(&id, json!([done(1, json!(-5))])).await;
    assert_eq!(status, 400, "{body}");
    let session = app.session(&id).await.1;
    assert_eq!(session["stats"]["events"]["total"], 0, "{session}");

    // The largest accepted count, a thousand times in one batch: summed exactly.
    let batch: Vec<Value> = (1..=1000).map(|s| done(s, json!(1_000_000_000))).collect();
    let (status, body) = app.post_events(&id, Value::Array(batch)).await;
    assert_eq!(status, 200, "{body}");
    let session = app.session(&id).await.1;
    assert_eq!(
        session["stats"]["usage"]["total_tokens"],
        1_000_000_000_000_i64
    );
    every_read_works(&app, &id).await;

    // An import with the overflowing data: 400 naming its line, and no session left behind.
    let before = app.get_json("/api/sessions").await["sessions"].clone();
    let body = format!("{}\n{}\n", done(1, json!(1)), done(2, json!(i64::MAX)));
    let res = app.import(None, body).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(code_and_param(&body).1.as_deref(), Some("line 2"), "{body}");
    assert_eq!(app.get_json("/api/sessions").await["sessions"], before);
}

#[tokio::test]
async fn client_seqs_stop_below_the_servers_range_and_hangup_still_works() {
    let upstream = RecordingUpstream::start().await;
    let app = ConsoleApp::with_upstream(&upstream).await;
    let res = app.call_raw(OFFER).await;
    assert_eq!(res.status(), 201);
    let sid = session_id_of(&res);
    for seq in [i64::MAX, 1 << 50] {
        let (status, body) = app
            .post_events(&sid, json!([event(seq, "client", json!({"type": "x"}))]))
            .await;
        assert_eq!(status, 400, "{seq}: {body}");
        assert_eq!(code_and_param(&body).1.as_deref(), Some("events[0].seq"));
    }
    // The largest client seq is fine, and the server's own events still go after it.
    let (status, _) = app
        .post_events(
            &sid,
            json!([event((1 << 50) - 1, "client", json!({"type": "x"}))]),
        )
        .await;
    assert_eq!(status, 200);
    let res = app.hangup(&sid).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let session = app.session(&sid).await.1;
    assert!(session["ended_at"].is_i64(), "{session}");
    let events = app.stored(&sid).await;
    let last = events.last().unwrap();
    assert_eq!(last["event"]["type"], "console.hangup");
    assert_eq!(last["seq"], 1_i64 << 50);
}

#[tokio::test]
async fn a_rebound_host_is_misdirected_on_every_route() {
    let app = ConsoleApp::start_with(|_| {}).await;
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    let evil = format!("evil.example:{port}");
    let origin = format!("http://{evil}");
    // The reproduction: curl with a rebound name mints a key.
    let mint = app
        .http
        .post(app.url("/api/rt/token"))
        .header("host", &evil)
        .header("origin", &origin)
        .send()
        .await
        .unwrap();
    assert_eq!(mint.status(), 421);
    let body: Value = mint.json().await.unwrap();
    assert_eq!(code_and_param(&body).0, "misdirected_request");
    for path in [
        "/",
        "/sessions",
        "/api/sessions",
        "/healthz",
        "/static/app.css",
        "/emulator/v1/realtime/calls",
    ] {
        let res = app
            .http
            .get(app.url(path))
            .header("host", &evil)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 421, "GET {path}");
    }
    // The same port on loopback names passes; another port does not.
    for (host, status) in [
        (format!("localhost:{port}"), 200),
        (format!("127.0.0.1:{port}"), 200),
        (format!("[::1]:{port}"), 200),
        ("127.0.0.1:1".to_owned(), 421),
    ] {
        let res = app
            .http
            .get(app.url("/api/sessions"))
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{host}");
    }
    // A name the server is told about passes.
    let allowed = ConsoleApp::start_with(|c| c.allowed_hosts = vec!["console.lan".into()]).await;
    let port = allowed.base.rsplit(':').next().unwrap().to_owned();
    let res = allowed
        .http
        .get(allowed.url("/api/sessions"))
        .header("host", format!("console.lan:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn the_access_cookie_is_random_secure_over_tls_and_never_redirects_off_site() {
    let secret = "0123456789abcdef-access";
    let app = ConsoleApp::start_with(|c| {
        c.access_secret = Some(realtime_console::config::AccessSecret::new(secret));
    })
    .await;
    let open = |path: &str, tls: bool| {
        let mut req = app.http.get(app.url(&format!("{path}?access={secret}")));
        if tls {
            req = req.header("x-forwarded-proto", "https");
        }
        req.send()
    };
    let a = open("/", false).await.unwrap();
    let b = open("/", true).await.unwrap();
    let cookie = |res: &reqwest::Response| res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let (ca, cb) = (cookie(&a), cookie(&b));
    let value = |c: &str| c.split(';').next().unwrap().to_owned();
    assert_ne!(value(&ca), value(&cb), "one random value per browser");
    assert!(
        !ca.contains("Secure") && cb.contains("; Secure"),
        "{ca} / {cb}"
    );
    // The cookie lets that browser in.
    let res = app
        .get_as("/api/sessions", Access::Cookie(&value(&ca)))
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .get_as("/api/sessions", Access::Cookie("console_access=0000"))
        .await;
    assert_eq!(res.status(), 401);
    // `//evil.example/?access=…` stays on this site.
    let res = open("//evil.example/", false).await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/evil.example/");
    let res = open("/\\evil.example/", false).await.unwrap();
    assert_eq!(res.headers()["location"], "/evil.example/");
}

#[tokio::test]
async fn the_built_in_emulator_keeps_the_rate_limit_and_the_access_rules() {
    let app = ConsoleApp::start_with(|c| {
        c.rt_rate_per_min = 1;
        c.rt_rate_burst = 3;
    })
    .await;
    let token: Value = app.token(json!({})).await.json().await.unwrap();
    let key = token["value"].as_str().unwrap();
    let calls_url = token["console"]["calls_url"].as_str().unwrap();
    let offer = |origin: &'static str| {
        app.http
            .post(calls_url)
            .bearer_auth(key)
            .header("content-type", "application/sdp")
            .header("origin", origin)
            .body(realtime_emulator::rtc::CHROMIUM_OFFER)
            .send()
    };
    // A page on another origin may post its offer (the ephemeral key is what counts), but one key holds a
    // bounded number of calls, and offers count against the per-IP limit.
    let mut statuses = Vec::new();
    let mut codes = Vec::new();
    for _ in 0..4 {
        let res = offer("http://localhost:5173").await.unwrap();
        statuses.push(res.status().as_u16());
        let retry = res.headers().get("retry-after").cloned();
        if res.status() != 201 {
            codes.push((
                code_and_param(&res.json().await.unwrap()).0,
                retry.is_some(),
            ));
        }
    }
    assert_eq!(statuses, [201, 201, 429, 429]);
    assert_eq!(
        codes,
        [
            ("call_limit_reached".to_owned(), false),
            ("rate_limit_exceeded".to_owned(), true)
        ]
    );

    // With an access secret, the emulator needs the browser's access cookie as every page does.
    let secret = "0123456789abcdef-access";
    let guarded = ConsoleApp::start_with(|c| {
        c.access_secret = Some(realtime_console::config::AccessSecret::new(secret));
    })
    .await;
    let res = guarded
        .http
        .get(guarded.url(&format!("/?access={secret}")))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let token: Value = guarded
        .token_as(Access::Cookie(&cookie))
        .await
        .json()
        .await
        .unwrap();
    let key = token["value"].as_str().unwrap();
    let calls_url = token["console"]["calls_url"].as_str().unwrap();
    let post = |with_cookie: bool| {
        let mut req = guarded
            .http
            .post(calls_url)
            .bearer_auth(key)
            .header("content-type", "application/sdp")
            .body(realtime_emulator::rtc::CHROMIUM_OFFER);
        if with_cookie {
            req = req.header("cookie", &cookie);
        }
        req.send()
    };
    assert_eq!(post(false).await.unwrap().status(), 401);
    assert_eq!(post(true).await.unwrap().status(), 201);
}

#[tokio::test]
async fn long_types_models_and_labels_are_refused() {
    let (app, id) = ConsoleApp::with_session().await;
    let (status, body) = app
        .post_events(
            &id,
            json!([event(1, "client", json!({"type": "x".repeat(200_000)}))]),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        code_and_param(&body).1.as_deref(),
        Some("events[0].event.type")
    );
    let res = app
        .http
        .post(app.url("/api/sessions"))
        .json(&json!({"model": "m".repeat(900_000)}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(code_and_param(&body).1.as_deref(), Some("model"));
    // An import's label follows the rules of a new session's.
    let before = app.get_json("/api/sessions").await["sessions"].clone();
    let res = app
        .import(
            Some(&"l".repeat(300)),
            format!("{}\n", event(1, "client", json!({"type": "x"}))),
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(code_and_param(&body).1.as_deref(), Some("label"));
    assert_eq!(app.get_json("/api/sessions").await["sessions"], before);
}

#[tokio::test]
async fn a_missing_static_file_says_so() {
    let app = ConsoleApp::start_with(|_| {}).await;
    let res = no_redirects()
        .get(app.url("/static/js/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("There is no such file"));
}

/// Mutations of a valid batch: truncations, flipped bytes, wrong types, huge and negative numbers, deep
/// nesting, bad UTF-8, duplicate and unknown fields. Whatever a client sends, the server answers 2xx or 4xx
/// with the envelope, stores nothing of a refused batch, and every read keeps working.
#[tokio::test]
async fn fuzzed_ingest_bodies_never_break_the_server() {
    let (app, id) = ConsoleApp::with_session().await;
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let valid = |seq: i64| {
        json!({"events": [
            event(seq, "server", json!({"type": "response.done", "response": {"usage": {"total_tokens": 10, "input_tokens": 4}}})),
            event(seq + 1, "client", json!({"type": "conversation.item.create", "item": {"type": "message"}})),
        ]})
        .to_string()
    };
    let fragments: [&str; 14] = [
        "9223372036854775807",
        "-9223372036854775808",
        "1e400",
        "-1",
        "null",
        "\"\"",
        "[]",
        "{}",
        "\"response.done\"",
        "1125899906842624",
        "{\"type\":\"response.done\",\"response\":{\"usage\":{\"total_tokens\":-1}}}",
        &"[".repeat(200),
        "\"\\ud800\"",
        "0.5",
    ];
    let mut statuses = std::collections::BTreeMap::<u16, u32>::new();
    let mut stored_total = 0i64;
    // `FUZZ_CASES=20000 cargo test … fuzzed` for a longer run.
    let cases: u32 = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000);
    for case in 0..cases {
        let seq = 1 + i64::from(case) * 2;
        let mut body = valid(seq).into_bytes();
        match rng.u8(0..6) {
            0 => body.truncate(rng.usize(0..body.len())),
            1 => {
                for _ in 0..rng.usize(1..4) {
                    let at = rng.usize(0..body.len());
                    body[at] = rng.u8(..);
                }
            }
            2 => {
                // Replace a JSON value (after a colon) with a hostile fragment.
                let colons: Vec<usize> = body
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b':')
                    .map(|(i, _)| i)
                    .collect();
                let at = colons[rng.usize(0..colons.len())] + 1;
                let end = body[at..]
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']'))
                    .map_or(body.len(), |p| at + p);
                let fragment = fragments[rng.usize(0..fragments.len())].as_bytes();
                body.splice(at..end, fragment.iter().copied());
            }
            3 => {
                let at = rng.usize(0..body.len());
                body.splice(at..at, b",\"extra\":1".iter().copied());
            }
            4 => body = vec![rng.u8(..); rng.usize(0..64)],
            _ => {
                let at = rng.usize(0..body.len());
                body.splice(at..at, [0xff, 0xfe]);
            }
        }
        let before = app.session(&id).await.1["stats"]["events"]["total"]
            .as_i64()
            .unwrap();
        let res = app
            .http
            .post(app.url(&format!("/api/sessions/{id}/events")))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        *statuses.entry(status).or_default() += 1;
        assert!(
            status < 500,
            "{status} for {:?}",
            String::from_utf8_lossy(&body)
        );
        let answer: Value = res.json().await.unwrap();
        let after = app.session(&id).await.1["stats"]["events"]["total"]
            .as_i64()
            .unwrap();
        if status == 200 {
            assert_eq!(
                after - before,
                answer["stored"].as_i64().unwrap(),
                "{answer}"
            );
        } else {
            code_and_param(&answer);
            assert_eq!(after, before, "a refused batch stored nothing: {answer}");
        }
        stored_total = after;
    }
    println!("{cases} fuzzed ingest bodies: answers {statuses:?}, {stored_total} events stored");
    every_read_works(&app, &id).await;
}
