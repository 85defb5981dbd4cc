//! `TestApp`: the real router served on 127.0.0.1:0 over a fresh SQLite file, with one helper per endpoint.
#![allow(dead_code)] // each test binary uses a different subset

use serde_json::{Value, json};

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        }
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("console.db").display());
        let config = realtime_console::Config::from_args([
            "realtime-console",
            "--database-url",
            url.as_str(),
        ])
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = realtime_console::AppState::new(config.settings().unwrap())
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(realtime_console::serve(listener, state, async {
            let _ = rx.await;
        }));
        Self {
            base,
            client: reqwest::Client::new(),
            dir,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path`, its body as JSON (whatever the status).
    pub async fn get_json(&self, path: &str) -> Value {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// GET a page; answers its body as text.
    pub async fn get_text(&self, path: &str) -> String {
        self.client
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn create_session(&self, body: Value) -> Value {
        let res = self
            .client
            .post(self.url("/api/sessions"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        res.json().await.unwrap()
    }

    pub async fn new_session_id(&self) -> String {
        self.create_session(json!({})).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn post_events_raw(&self, id: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let res = self
            .client
            .post(self.url(&format!("/api/sessions/{id}/events")))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_events(&self, id: &str, events: Value) -> (u16, Value) {
        self.post_events_raw(id, json!({ "events": events }).to_string())
            .await
    }

    pub async fn events(&self, id: &str, query: &str) -> (u16, Value) {
        let res = self
            .client
            .get(self.url(&format!("/api/sessions/{id}/events?{query}")))
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    pub async fn session(&self, id: &str) -> (u16, Value) {
        let res = self
            .client
            .get(self.url(&format!("/api/sessions/{id}")))
            .send()
            .await
            .unwrap();
        (
            res.status().as_u16(),
            res.json().await.unwrap_or(Value::Null),
        )
    }

    pub async fn export(&self, id: &str) -> String {
        let res = self
            .client
            .get(self.url(&format!("/api/sessions/{id}/events.jsonl")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.text().await.unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A realistic server event of about 300 bytes.
pub fn realistic_event(seq: u64) -> Value {
    json!({
        "type": "response.output_audio_transcript.delta",
        "event_id": format!("event_{seq:012}"),
        "response_id": "resp_CkV2q3Jz8aBcDeFgHiJkL",
        "item_id": "item_CkV2q3Jz8aBcDeFgHiJkM",
        "output_index": 0,
        "content_index": 0,
        "delta": format!("word {seq} of a realistic assistant transcript, streamed delta by delta to the browser")
    })
}

pub fn event(seq: u64, direction: &str, event: Value) -> Value {
    json!({ "seq": seq, "ts": 1_732_390_000_000.0 + seq as f64 * 10.5, "direction": direction, "event": event })
}

/// The `{"error":{…}}` envelope's fields, asserting its shape.
pub fn error_of(body: &Value) -> (&str, &str, Option<&str>) {
    let e = &body["error"];
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "envelope without a message: {body}"
    );
    assert!(e["type"].is_string(), "envelope without a type: {body}");
    (
        e["code"].as_str().unwrap_or_default(),
        e["message"].as_str().unwrap(),
        e["param"].as_str(),
    )
}
