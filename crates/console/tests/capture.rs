//! Server-side capture: the console attaches a sideband of its own to every WebRTC call whose id it knows, and
//! records the call's server events, whatever the browser forwards. A real WebRTC peer (str0m, over UDP on
//! loopback) makes the calls; the console's built-in emulator answers them.

use std::time::Duration;

use realtime_console::Config;
use realtime_testkit::clients::python;
use realtime_testkit::console::ConsoleApp;
use realtime_testkit::peer::PeerCall;
use serde_json::{Value, json};

/// The first seq of the server's own range (2^50): what the console records itself goes there.
const SERVER_SEQ_START: i64 = 1 << 50;

/// A call through `/api/rt/session` (the server's key, the unified interface).
async fn call(app: &ConsoleApp) -> (PeerCall, Value) {
    PeerCall::dial(|offer| async move {
        app.http
            .post(app.url("/api/rt/session"))
            .header("content-type", "application/sdp")
            .body(offer)
            .send()
            .await
            .unwrap()
    })
    .await
}

fn user_says(text: &str) -> Value {
    json!({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": text}]}})
}

/// The session's events once `done` holds for them (the tap writes a sideband's events 2 s after they
/// happened); panics after a while.
async fn stored_once(app: &ConsoleApp, sid: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..200 {
        let events = app.stored(sid).await;
        if done(&events) {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the session never got there: {:?}",
        types(&app.stored(sid).await)
    );
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

/// The server events stored, by `event_id`: each at most once.
fn server_ids(events: &[Value]) -> Vec<String> {
    let ids: Vec<String> = events
        .iter()
        .filter(|e| e["direction"] == "server")
        .map(|e| e["event"]["event_id"].as_str().unwrap().to_owned())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        ids.len(),
        "a server event is stored twice: {ids:?}"
    );
    ids
}

fn has_done(events: &[Value]) -> bool {
    events.iter().any(|e| e["type"] == "response.done")
}

#[tokio::test]
async fn a_call_whose_client_forwards_nothing_still_holds_its_server_events() {
    let app = ConsoleApp::start().await;
    let (mut peer, _) = call(&app).await;
    let sid = peer.session_id.clone().unwrap();
    peer.send(&user_says("hello")).await;
    peer.send(&json!({"type": "response.create"})).await;
    let heard = peer.until("response.done").await;

    let events = stored_once(&app, &sid, has_done).await;
    let stored = server_ids(&events);
    for e in &heard {
        let id = e["event_id"].as_str().unwrap();
        assert!(
            stored.iter().any(|s| s == id),
            "{} ({id}) was not captured: {stored:?}",
            e["type"]
        );
    }
    let capture: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "console.capture")
        .map(|e| &e["event"]["state"])
        .collect();
    assert_eq!(capture, [&json!("attached")]);

    // The call ends: the capture's sideband closes, and the session is ended.
    peer.leave().await;
    let ended = stored_once(&app, &sid, |events| {
        events
            .iter()
            .any(|e| e["type"] == "console.capture" && e["event"]["state"] == "closed")
    })
    .await;
    assert!(
        ended
            .iter()
            .all(|e| e["seq"].as_i64().unwrap() == 1
                || e["seq"].as_i64().unwrap() >= SERVER_SEQ_START)
    );
    for _ in 0..100 {
        if app.session(&sid).await.1["ended_at"].is_i64() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the session was not ended with the call");
}

/// Forwards `events` as the console page's recorder does: seqs from `next`, one batch.
async fn forward(app: &ConsoleApp, sid: &str, next: &mut u64, events: &[(&str, Value)]) {
    let batch: Vec<Value> = events
        .iter()
        .map(|(direction, event)| {
            *next += 1;
            realtime_testkit::console::event(*next - 1, direction, event.clone())
        })
        .collect();
    let (status, ack) = app.post_events(sid, json!(batch)).await;
    assert_eq!(status, 200, "{ack}");
}

#[tokio::test]
async fn a_client_that_also_forwards_gets_every_event_stored_once_in_its_own_order() {
    let app = ConsoleApp::start().await;
    let (mut peer, created) = call(&app).await;
    let sid = peer.session_id.clone().unwrap();
    let mut next = 2;
    forward(&app, &sid, &mut next, &[("server", created)]).await;
    let (hello, create) = (user_says("hello"), json!({"type": "response.create"}));
    peer.send(&hello).await;
    peer.send(&create).await;
    forward(
        &app,
        &sid,
        &mut next,
        &[("client", hello), ("client", create)],
    )
    .await;
    // Forwarded as they come, like the page's recorder (which sends every 250 ms).
    loop {
        let e = peer.event().await;
        let done = e["type"] == "response.done";
        forward(&app, &sid, &mut next, &[("server", e)]).await;
        if done {
            break;
        }
    }
    let forwarded = next - 2;

    // After the tap's grace, nothing the browser stored comes a second time.
    tokio::time::sleep(realtime_console_grace()).await;
    let events = stored_once(&app, &sid, has_done).await;
    let ids = server_ids(&events);
    let browser: Vec<&Value> = events
        .iter()
        .filter(|e| (2..SERVER_SEQ_START).contains(&e["seq"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        browser.len() as u64,
        forwarded,
        "the browser's copies are the ones kept"
    );
    assert_eq!(
        types(&events[1..4]),
        [
            "session.created",
            "conversation.item.create",
            "response.create"
        ],
        "the browser's client events stay in order among the server events"
    );
    let from_tap = events
        .iter()
        .filter(|e| e["direction"] == "server" && e["seq"].as_i64().unwrap() >= SERVER_SEQ_START)
        .count();
    assert!(ids.len() as u64 >= forwarded - 2, "{ids:?}");
    assert_eq!(
        from_tap,
        0,
        "the sideband's copies were all dropped: {:?}",
        types(&events)
    );
}

/// The tap's grace plus a margin for the last release.
fn realtime_console_grace() -> Duration {
    Duration::from_millis(2_500)
}

#[tokio::test]
async fn a_tab_closed_mid_answer_leaves_the_rest_of_the_answer_recorded() {
    let app = ConsoleApp::start().await;
    let (mut peer, created) = call(&app).await;
    let sid = peer.session_id.clone().unwrap();
    let mut next = 2;
    forward(&app, &sid, &mut next, &[("server", created)]).await;
    peer.send(&user_says("tell me a long story")).await;
    peer.send(&json!({"type": "response.create"})).await;
    // The page forwards up to the answer's first delta, then its tab is gone: nothing more is forwarded, and
    // its peer connection stops without a goodbye.
    loop {
        let e = peer.event().await;
        let delta = e["type"].as_str().unwrap().ends_with(".delta");
        forward(&app, &sid, &mut next, &[("server", e)]).await;
        if delta {
            break;
        }
    }
    drop(peer);

    let events = stored_once(&app, &sid, has_done).await;
    server_ids(&events);
    let after: Vec<String> = events
        .iter()
        .filter(|e| e["direction"] == "server" && e["seq"].as_i64().unwrap() >= SERVER_SEQ_START)
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert!(after.iter().any(|t| t == "response.done"), "{after:?}");
    assert!(
        after.iter().any(|t| t.ends_with(".delta")),
        "the deltas after the close are there: {after:?}"
    );
}

#[tokio::test]
async fn a_sideband_through_the_gateway_records_into_its_calls_session() {
    let app = ConsoleApp::start().await;
    let (mut peer, _) = call(&app).await;
    let sid = peer.session_id.clone().unwrap();
    let call_id = peer.call_id.clone();
    let base = app.url("/v1");
    let args = [base.as_str(), call_id.as_str()];
    let (got, _) = tokio::join!(
        python("sideband.py", &args),
        peer.until("output_audio_buffer.stopped")
    );
    assert_eq!(got["metadata"], json!({"from": "sideband"}), "{got}");

    let events = stored_once(&app, &sid, |events| {
        events
            .iter()
            .any(|e| e["type"] == "output_audio_buffer.stopped")
            && events.iter().any(|e| e["type"] == "console.closed")
    })
    .await;
    server_ids(&events);
    let sent: Vec<String> = events
        .iter()
        .filter(|e| e["direction"] == "client")
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        sent,
        ["session.update", "response.create"],
        "the sideband's own events"
    );
    let page = app.get_json("/api/sessions").await;
    assert_eq!(
        page["sessions"].as_array().unwrap().len(),
        1,
        "no session of its own"
    );
}

#[tokio::test]
async fn with_sideband_off_nothing_is_captured() {
    let app = ConsoleApp::start_with(|c: &mut Config| c.sideband = false).await;
    let (mut peer, _) = call(&app).await;
    let sid = peer.session_id.clone().unwrap();
    peer.send(&user_says("hello")).await;
    peer.send(&json!({"type": "response.create"})).await;
    peer.until("response.done").await;
    tokio::time::sleep(realtime_console_grace()).await;
    let events = app.stored(&sid).await;
    assert_eq!(
        types(&events),
        ["console.call"],
        "only the server's own record of the call"
    );
}
