//! The console as a drop-in OpenAI base URL (`/v1`), driven by the official SDKs unchanged: the relayed
//! session works, and the library holds every event the client sent and received, in order, once.

use realtime_testkit::clients::{assert_the_agent_ran_its_tool, node, python};
use realtime_testkit::console::{ConsoleApp, error_of};
use realtime_testkit::schema::schemas;
use serde_json::{Value, json};

/// A WebSocket client of the gateway (`/v1/realtime?model=gpt-realtime`), presenting `auth`.
async fn gateway_ws(
    app: &ConsoleApp,
    auth: realtime_testkit::ws::Auth<'_>,
) -> realtime_testkit::ws::WsClient {
    let url = app
        .url("/v1/realtime?model=gpt-realtime")
        .replacen("http", "ws", 1);
    realtime_testkit::ws::WsClient::connect(&url, auth).await
}

/// The newest session in the library once its recording has ended (the client closed first: the recording
/// may lag behind on a loaded machine), and its events, in seq order.
async fn newest(app: &ConsoleApp) -> (Value, Vec<Value>) {
    let mut session = Value::Null;
    for _ in 0..200 {
        let page = app.get_json("/api/sessions?limit=1").await;
        session = page["sessions"][0].clone();
        if !session["ended_at"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let id = session["id"].as_str().expect("a session").to_owned();
    (session, app.stored(&id).await)
}

fn of(events: &[Value], direction: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["direction"] == direction)
        .map(|e| e["event"].clone())
        .collect()
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// The server events stored are exactly the ones the client read, in the same order (the client may stop
/// reading before the last ones, `rate_limits.updated` after the final `response.done`), each once.
fn assert_server_events_match(stored: &[Value], got: &Value) {
    let read = got["events"].as_array().expect("the script's events");
    assert!(
        stored.len() >= read.len(),
        "{} stored, {} read",
        stored.len(),
        read.len()
    );
    assert_eq!(
        &stored[..read.len()],
        read.as_slice(),
        "in the same order, byte for byte"
    );
    let mut ids: Vec<&str> = stored
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    let all = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all, "no server event is stored twice");
    for e in stored {
        schemas().check_server_event(e);
    }
}

/// The session's frames are numbered 2, 3, … in the order the relay saw them, after its opening event.
fn assert_contiguous(events: &[Value]) {
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    let want: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(seqs, want);
    assert_eq!(events[0]["type"], "console.gateway");
}

#[tokio::test]
async fn the_python_sdk_through_the_gateway_text_turn_and_tool_round_trip() {
    let app = ConsoleApp::start().await;
    let got = python("realtime_ws.py", &[&app.url("/v1")]).await;
    assert_eq!(got["call_status"], "completed", "{got}");
    assert!(got["final"].as_str().unwrap().contains("21"), "{got}");

    let (session, events) = newest(&app).await;
    assert_eq!(session["flow"], "gateway_ws");
    assert_eq!(session["model"], "gpt-realtime");
    assert!(
        session["user_agent"]
            .as_str()
            .unwrap()
            .starts_with("OpenAI/Python"),
        "{session}"
    );
    assert!(
        session["ended_at"].is_i64(),
        "the session ended with the socket: {session}"
    );
    assert_eq!(session["incomplete"], Value::Null);
    assert_contiguous(&events);
    assert_server_events_match(&of(&events, "server"), &got);
    let sent = of(&events, "client");
    assert_eq!(
        types(&sent),
        [
            "session.update",
            "conversation.item.create",
            "response.create",
            "conversation.item.create",
            "response.create",
            "conversation.item.create",
            "response.create",
        ]
    );
    assert_eq!(sent[5]["item"]["type"], "function_call_output");
    // The closes, as the relay saw them: the SDK's, then the upstream's answer.
    let system = of(&events, "system");
    let closes: Vec<(&Value, &Value)> = system
        .iter()
        .filter(|e| e["type"] == "console.closed")
        .map(|e| (&e["by"], &e["code"]))
        .collect();
    assert_eq!(
        closes.first(),
        Some(&(&json!("client"), &json!(1000))),
        "{system:?}"
    );
}

#[tokio::test]
async fn the_python_sdk_through_the_gateway_audio_turn() {
    let app = ConsoleApp::start().await;
    let got = python("realtime_audio.py", &[&app.url("/v1"), "600", "600", "800"]).await;
    assert_eq!(got["response_status"], "completed", "{got}");

    let (_, events) = newest(&app).await;
    assert_contiguous(&events);
    let server = of(&events, "server");
    assert_server_events_match(&server, &got);
    let t = types(&server);
    assert!(t.contains(&"input_audio_buffer.committed"), "{t:?}");
    assert!(t.contains(&"input_audio_buffer.speech_stopped"), "{t:?}");
    let sent = of(&events, "client");
    let appends = sent
        .iter()
        .filter(|e| e["type"] == "input_audio_buffer.append")
        .count();
    assert_eq!(appends, 20, "2 s of audio in 100 ms pieces");
}

#[tokio::test]
async fn the_agents_sdk_over_websocket_in_node_through_the_gateway() {
    let app = ConsoleApp::start().await;
    let url = app
        .url("/v1/realtime?model=gpt-realtime")
        .replacen("http", "ws", 1);
    let got = node(
        "agents-ws.mjs",
        &[&url, "what does get_weather say for Paris?"],
        &[],
    )
    .await;
    assert_the_agent_ran_its_tool(&got);

    let (session, events) = newest(&app).await;
    assert_eq!(session["flow"], "gateway_ws");
    assert_contiguous(&events);
    let server = of(&events, "server");
    assert!(
        types(&server).contains(&"response.function_call_arguments.done"),
        "{:?}",
        types(&server)
    );
    let sent = of(&events, "client");
    assert!(
        sent.iter().any(|e| e["type"] == "conversation.item.create"
            && e["item"]["type"] == "function_call_output"),
        "the tool's output went through the gateway: {:?}",
        types(&sent)
    );
}

#[tokio::test]
async fn an_upstream_refusal_reaches_the_client_with_its_status_and_no_session_is_made() {
    let app = ConsoleApp::start().await;
    let url = app
        .url("/v1/realtime?call_id=rtc_gone")
        .replacen("http", "ws", 1);
    let status =
        realtime_testkit::ws::WsClient::refused(&url, realtime_testkit::ws::Auth::Bearer("sk-any"))
            .await;
    assert_eq!(
        status, 404,
        "the emulator's 404 for a call that is gone, not a 101 then a close"
    );
    let page = app.get_json("/api/sessions").await;
    assert_eq!(page["sessions"], json!([]));

    // Not an upgrade: the envelope, not a bare 400.
    let res = app
        .http
        .get(app.url("/v1/realtime?model=gpt-realtime"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 426);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_of(&body).0, "websocket_required");
}

#[tokio::test]
async fn the_python_sdk_mints_calls_and_hangs_up_through_the_gateway() {
    let app = ConsoleApp::start().await;
    let offer = app.dir.path().join("offer.sdp");
    std::fs::write(&offer, realtime_emulator::rtc::CHROMIUM_OFFER).unwrap();
    let got = python("rest.py", &[&app.url("/v1"), offer.to_str().unwrap()]).await;
    assert_eq!(got["secret_prefix"], "ek_", "{got}");
    assert_eq!(got["instructions"], "Be brief.", "{got}");
    assert_eq!(got["status"], 201, "{got}");
    assert_eq!(got["content_type"], "application/sdp", "{got}");
    assert_eq!(got["answer_starts"], "v=0\r", "{got}");
    assert_eq!(
        got["second_hangup"],
        json!({"status": 404, "code": "call_not_found"}),
        "the upstream's 404 comes back as it was: {got}"
    );

    let call_id = got["call_id"].as_str().unwrap();
    let (session, events) = newest(&app).await;
    assert_eq!(session["flow"], "gateway_call");
    assert_eq!(session["call_id"], call_id);
    assert_eq!(
        session["model"], "gpt-realtime",
        "from the multipart `session` part"
    );
    assert!(
        session["ended_at"].is_i64(),
        "the hangup ended it: {session}"
    );
    let system = of(&events, "system");
    assert_eq!(system[0]["type"], "console.gateway");
    let hangups: Vec<&Value> = system
        .iter()
        .filter(|e| e["type"] == "console.hangup")
        .map(|e| &e["status"])
        .collect();
    assert_eq!(hangups, [&json!(200), &json!(404)]);
    let page = app.get_json("/api/sessions").await;
    assert_eq!(
        page["sessions"].as_array().unwrap().len(),
        1,
        "the mint is no session of its own"
    );
}

#[tokio::test]
async fn an_ek_key_with_raw_sdp_makes_a_call_with_the_session_it_was_minted_with() {
    let app = ConsoleApp::start().await;
    let minted: Value = app
        .http
        .post(app.url("/v1/realtime/client_secrets"))
        .json(&json!({"session": {"type": "realtime", "model": "gpt-realtime", "instructions": "Speak like a pirate."}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ek = minted["value"].as_str().unwrap();
    assert!(ek.starts_with("ek_"), "{minted}");
    let res = app
        .http
        .post(app.url("/v1/realtime/calls"))
        .bearer_auth(ek)
        .header("content-type", "application/sdp")
        .body(realtime_emulator::rtc::CHROMIUM_OFFER)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&app.url("/v1/realtime/calls/rtc_")),
        "the Location names the call on the gateway: {location}"
    );
    let sid = res.headers()["x-console-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let (_, session) = app.session(&sid).await;
    assert_eq!(session["flow"], "gateway_call");
    assert_eq!(session["config"]["instructions"], "Speak like a pirate.");
    assert_eq!(session["call_id"], location.rsplit('/').next().unwrap());
    let stored = app.stored(&sid).await;
    let text = serde_json::to_string(&stored).unwrap();
    assert!(!text.contains(ek), "the ek_ key is in no stored event");

    // A key the emulator never minted: its 401, as it came.
    let res = app
        .http
        .post(app.url("/v1/realtime/calls"))
        .bearer_auth("ek_never_minted")
        .header("content-type", "application/sdp")
        .body(realtime_emulator::rtc::CHROMIUM_OFFER)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

/// One text turn over `client`: its `response.done`.
async fn turn(client: &mut realtime_testkit::ws::WsClient, text: &str) -> Value {
    client
        .send(
            &json!({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": text}]}}),
        )
        .await;
    client.send(&json!({"type": "response.create"})).await;
    client.until("response.done").await.pop().unwrap()
}

#[tokio::test]
async fn the_store_failing_mid_relay_leaves_the_conversation_going_and_the_session_marked_incomplete()
 {
    use realtime_testkit::ws::Auth;
    let app = ConsoleApp::start().await;
    let mut client = gateway_ws(&app, Auth::Bearer("sk-any")).await;
    client.expect("session.created").await;
    assert_eq!(
        turn(&mut client, "before").await["response"]["status"],
        "completed"
    );

    // The disk fills up: every write of the store fails, for longer than the recording's retries last.
    app.store.faults().disk_full(true);
    let during = turn(&mut client, "during").await;
    assert_eq!(
        during["response"]["status"], "completed",
        "the relay goes on"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1800)).await;
    app.store.faults().disk_full(false);

    assert_eq!(
        turn(&mut client, "after").await["response"]["status"],
        "completed"
    );
    client.close().await;
    let sid = app.get_json("/api/sessions?limit=1").await["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut session = Value::Null;
    for _ in 0..100 {
        session = app.session(&sid).await.1;
        if session["ended_at"].is_i64() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let reason = session["incomplete"].as_str().unwrap_or_default();
    assert!(reason.contains("failed mid-relay"), "{session}");
    let stored = app.stored(&sid).await;
    let dones: Vec<&Value> = stored
        .iter()
        .filter(|e| e["type"] == "response.done")
        .map(|e| &e["event"]["response"]["id"])
        .collect();
    assert!(
        !dones.contains(&&during["response"]["id"]),
        "the turn during the failure is not stored"
    );
    assert_eq!(dones.len(), 2, "the turns before and after it are");
    let page = app.get_text("/sessions").await;
    assert!(page.contains("incomplete-badge"), "the library shows it");
}

#[tokio::test]
async fn the_upstreams_close_code_and_reason_reach_the_client_and_the_recording() {
    use realtime_testkit::ws::{Auth, Closed};
    let app = ConsoleApp::start().await;
    // The retired beta's subprotocol: the API (and the emulator) answers with an error and closes the socket
    // with a code of its own; the gateway forwards the subprotocol as it came and copies the close.
    let mut client = gateway_ws(&app, Auth::Protocols("realtime, openai-beta.realtime-v1")).await;
    let (events, closed) = client.closed().await;
    assert_eq!(events[0]["type"], "error", "{events:?}");
    let Closed::Frame(code, reason) = closed else {
        panic!("no close frame: {closed:?}");
    };
    assert_ne!(code, 1006);
    let (_, stored) = newest(&app).await;
    let by_server = stored
        .iter()
        .find(|e| e["type"] == "console.closed" && e["event"]["by"] == "server")
        .expect("the upstream's close is recorded");
    assert_eq!(by_server["event"]["code"], code);
    assert_eq!(by_server["event"]["reason"], reason.as_str());
}

#[tokio::test]
async fn a_frame_too_large_to_keep_is_relayed_and_the_session_says_what_it_lacks() {
    use realtime_testkit::ws::Auth;
    let app = ConsoleApp::start().await;
    let mut client = gateway_ws(&app, Auth::Bearer("sk-any")).await;
    client.expect("session.created").await;
    // 2 MiB of text in one event: more than the store keeps in one event (256 KiB), well under 16 MiB. (Audio
    // that large is kept: its payload goes into the session's track, see audio.rs.)
    let text = "A".repeat(2 << 20);
    client
        .send(
            &json!({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": text}]}}),
        )
        .await;
    client
        .send(&json!({"type": "input_audio_buffer.clear"}))
        .await;
    client.until("input_audio_buffer.cleared").await;
    client.close().await;

    let (session, stored) = newest(&app).await;
    let note = stored
        .iter()
        .find(|e| e["type"] == "console.frame_not_kept")
        .expect("the frame is accounted for");
    assert_eq!(note["event"]["event_type"], "conversation.item.create");
    assert_eq!(note["event"]["direction"], "client");
    assert!(note["event"]["bytes"].as_u64().unwrap() > 2 << 20);
    let types: Vec<&str> = stored.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"input_audio_buffer.clear"), "{types:?}");
    let mut incomplete = session["incomplete"].clone();
    for _ in 0..50 {
        if incomplete.is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        incomplete = newest(&app).await.0["incomplete"].clone();
    }
    assert!(
        incomplete.as_str().unwrap().contains("larger than"),
        "{incomplete}"
    );
}

#[tokio::test]
async fn pings_are_answered_per_hop_and_an_expired_session_closes_through_the_relay() {
    use realtime_testkit::ws::{Auth, Closed};
    // An upstream of its own that pings every 50 ms and ends sessions after 1 s.
    let emulator =
        realtime_testkit::emulator::EmulatorApp::start(realtime_emulator::EmulatorConfig {
            ws_ping_interval: std::time::Duration::from_millis(50),
            max_session: std::time::Duration::from_secs(1),
            ..realtime_emulator::EmulatorConfig::default()
        })
        .await;
    let app = ConsoleApp::start_with(|c| {
        c.openai_api_key = Some(realtime_token::ApiKey::new("sk-gateway-test"));
        c.openai_base_url = emulator.base.clone();
    })
    .await;
    let mut client = gateway_ws(&app, Auth::None).await;
    client.expect("session.created").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    client
        .send(&json!({"type": "input_audio_buffer.clear"}))
        .await;
    client.expect("input_audio_buffer.cleared").await;
    let (events, closed) = client.closed().await;
    assert_eq!(
        client.pings, 0,
        "the upstream's pings are the relay's to answer, not forwarded"
    );
    assert_eq!(events.last().unwrap()["error"]["code"], "session_expired");
    assert!(matches!(closed, Closed::Frame(1001, _)), "{closed:?}");
    let (_, stored) = newest(&app).await;
    assert!(
        stored.iter().any(|e| e["type"] == "console.closed"
            && e["event"]["by"] == "server"
            && e["event"]["code"] == 1001),
        "the upstream's close is recorded"
    );
}

#[tokio::test]
async fn frames_are_recorded_as_the_exact_text_that_went_over_the_wire() {
    use realtime_testkit::ws::Auth;
    let app = ConsoleApp::start().await;
    let mut client = gateway_ws(&app, Auth::Bearer("sk-any")).await;
    client.expect("session.created").await;
    // Spacing, key order and number formatting of the client's own: nothing is re-serialised.
    let odd = r#"{ "event_id":"evt_odd_1",  "type" : "input_audio_buffer.clear" }"#;
    client.send_raw(odd).await;
    client.expect("input_audio_buffer.cleared").await;
    client.close().await;
    let (session, _) = newest(&app).await;
    let export = app.export(session["id"].as_str().unwrap()).await;
    assert!(
        export.contains(&format!(r#""direction":"client","event":{odd}}}"#)),
        "{export}"
    );
}

#[tokio::test]
async fn the_servers_key_obeys_the_rate_limit_and_other_sites_are_refused() {
    use realtime_testkit::ws::{Auth, WsClient};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let app = ConsoleApp::start_with(|c| {
        c.rt_rate_per_min = 10;
        c.rt_rate_burst = 2;
    })
    .await;
    let url = app
        .url("/v1/realtime?model=gpt-realtime")
        .replacen("http", "ws", 1);
    for _ in 0..2 {
        gateway_ws(&app, Auth::None).await.close().await;
    }
    assert_eq!(WsClient::refused(&url, Auth::None).await, 429);
    let res = app
        .http
        .post(app.url("/v1/realtime/client_secrets"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        429,
        "minting with the server's key shares the budget"
    );

    // A page on another site cannot open a session with the server's key.
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 403),
        other => panic!(
            "a cross-site upgrade was not refused: {:?}",
            other.map(|_| ())
        ),
    }
}
