//! The console served in-process on 127.0.0.1:0 over a fresh SQLite file, in front of the built-in emulator
//! or a [`RecordingUpstream`], with one helper per endpoint; and the shapes of what tests send and check.

use realtime_console::{AppState, Config};
use realtime_token::ApiKey;
use serde_json::{Value, json};

pub use realtime_token::testing::{RecordingUpstream, Reply, Route, fixtures};

/// A key no real account has, so any occurrence of it in output is a leak.
pub const CANARY_KEY: &str = "sk-canary-7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c1e";

/// An SDP offer shaped like a browser's (PROTOCOL §3.1), for an upstream that does not parse it.
pub const OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:1\r\na=sctp-port:5000\r\n";

/// The console's configuration for a test, through clap (the environment ignored): the database in `dir`,
/// the built-in emulator as upstream, no rate limit, a short upstream timeout so stalls become 504s quickly.
pub fn test_config(dir: &std::path::Path) -> Config {
    let url = format!("sqlite://{}", dir.join("console.db").display());
    let mut config = Config::from_args([
        "realtime-console",
        "--database-url",
        url.as_str(),
        "--port",
        "0",
    ])
    .unwrap();
    config.rt_rate_per_min = 0;
    config.upstream_timeout_ms = 500;
    config
}

pub struct ConsoleApp {
    pub base: String,
    /// Shows redirects rather than following them.
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    /// The server's store (the same writer and file), for tests that inspect it or inject its faults.
    pub store: realtime_store::Store,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl ConsoleApp {
    /// With the built-in emulator as its upstream.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// [`ConsoleApp::start`] with one session created: the setup of a test of one recording.
    pub async fn with_session() -> (Self, String) {
        let app = Self::start().await;
        let id = app.new_session_id().await;
        (app, id)
    }

    /// [`ConsoleApp::start`], with the configuration changed first.
    pub async fn start_with(change: impl FnOnce(&mut Config)) -> Self {
        Self::serve(None, change).await
    }

    /// In front of `upstream`, with [`CANARY_KEY`] as the server's key.
    pub async fn with_upstream(upstream: &RecordingUpstream) -> Self {
        Self::serve(Some(upstream), |_| {}).await
    }

    pub async fn with_upstream_and(
        upstream: &RecordingUpstream,
        change: impl FnOnce(&mut Config),
    ) -> Self {
        Self::serve(Some(upstream), change).await
    }

    async fn serve(upstream: Option<&RecordingUpstream>, change: impl FnOnce(&mut Config)) -> Self {
        crate::init_test_log();
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        if let Some(upstream) = upstream {
            config.openai_api_key = Some(ApiKey::new(CANARY_KEY));
            config.openai_base_url = upstream.base_url();
            // The recording upstream is REST only: no sideband to capture a call through.
            config.sideband = false;
        }
        change(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(config.settings().unwrap()).await.unwrap();
        let store = state.store.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(realtime_console::serve(listener, state, async {
            let _ = rx.await;
        }));
        Self {
            base,
            http: no_redirects(),
            dir,
            store,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// `GET path`: the status and the JSON body (`null` when it is none).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let res = self.http.get(self.url(path)).send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// `GET path`, which must answer 200; its JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// `GET path`: its body as text, whatever the status.
    pub async fn get_text(&self, path: &str) -> String {
        let res = self.http.get(self.url(path)).send().await.unwrap();
        res.text().await.unwrap()
    }

    /// `POST /api/sessions`, which must answer 201; the session.
    pub async fn create_session(&self, body: Value) -> Value {
        let res = self
            .http
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

    /// `GET /api/sessions/{id}`: the status and the session (or the error).
    pub async fn session(&self, id: &str) -> (u16, Value) {
        self.get(&format!("/api/sessions/{id}")).await
    }

    /// `PATCH /api/sessions/{id}` with a JSON body.
    pub async fn patch_session(&self, id: &str, body: &Value) -> reqwest::Response {
        self.http
            .patch(self.url(&format!("/api/sessions/{id}")))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `DELETE /api/sessions/{id}`.
    pub async fn delete_session(&self, id: &str) -> reqwest::Response {
        self.http
            .delete(self.url(&format!("/api/sessions/{id}")))
            .send()
            .await
            .unwrap()
    }

    /// `POST /api/sessions/import` with a JSONL body, and `?label=` as given (not encoded) if any.
    pub async fn import(
        &self,
        label: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let query = label.map(|l| format!("?label={l}")).unwrap_or_default();
        self.http
            .post(self.url(&format!("/api/sessions/import{query}")))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_events_raw(&self, id: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let res = self
            .http
            .post(self.url(&format!("/api/sessions/{id}/events")))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// `POST /api/sessions/{id}/events` with `{"events": events}`.
    pub async fn post_events(&self, id: &str, events: Value) -> (u16, Value) {
        self.post_events_raw(id, json!({ "events": events }).to_string())
            .await
    }

    /// `GET /api/sessions/{id}/events?{query}`: the status and the page.
    pub async fn events(&self, id: &str, query: &str) -> (u16, Value) {
        self.get(&format!("/api/sessions/{id}/events?{query}"))
            .await
    }

    /// Every stored event of a session, in seq order, read page by page.
    pub async fn stored(&self, id: &str) -> Vec<Value> {
        stored(&self.http, &self.base, id).await
    }

    /// `GET /api/sessions/{id}/events.jsonl`, which must answer 200.
    pub async fn export(&self, id: &str) -> String {
        let res = self
            .http
            .get(self.url(&format!("/api/sessions/{id}/events.jsonl")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.text().await.unwrap()
    }

    /// `POST /api/rt/token` with a JSON body.
    pub async fn token(&self, body: Value) -> reqwest::Response {
        self.http
            .post(self.url("/api/rt/token"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// `POST /api/rt/token` with no body, from a client that shows its `access` to a guarded console.
    pub async fn token_as(&self, access: Access<'_>) -> reqwest::Response {
        access
            .on(self.http.post(self.url("/api/rt/token")))
            .send()
            .await
            .unwrap()
    }

    /// `GET path` from a client that shows its `access` to a guarded console.
    pub async fn get_as(&self, path: &str, access: Access<'_>) -> reqwest::Response {
        access
            .on(self.http.get(self.url(path)))
            .send()
            .await
            .unwrap()
    }

    /// `POST /api/rt/session` with a raw SDP offer.
    pub async fn call_raw(&self, sdp: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/rt/session"))
            .header("content-type", "application/sdp")
            .body(sdp.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// `POST /api/rt/session` as multipart `sdp` + optional `session`.
    pub async fn call_form(&self, sdp: &str, session: Option<&Value>) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new().part(
            "sdp",
            reqwest::multipart::Part::text(sdp.to_owned())
                .mime_str("application/sdp")
                .unwrap(),
        );
        if let Some(session) = session {
            form = form.part(
                "session",
                reqwest::multipart::Part::text(session.to_string())
                    .mime_str("application/json")
                    .unwrap(),
            );
        }
        self.http
            .post(self.url("/api/rt/session"))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn hangup(&self, session_id: &str) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/api/rt/session/{session_id}/hangup")))
            .send()
            .await
            .unwrap()
    }
}

/// What a client shows a console that has an access secret.
#[derive(Clone, Copy)]
pub enum Access<'a> {
    /// A secret as a bearer token, as a script sends it.
    Bearer(&'a str),
    /// A `name=value` cookie, as a browser sends the one it got for opening a page with `?access=`.
    Cookie(&'a str),
}

impl Access<'_> {
    fn on(self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Access::Bearer(secret) => req.bearer_auth(secret),
            Access::Cookie(cookie) => req.header("cookie", cookie),
        }
    }
}

impl Drop for ConsoleApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Every stored event of session `id` on the console at `base`, in seq order, read page by page.
pub async fn stored(http: &reqwest::Client, base: &str, id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = 0i64;
    loop {
        let page: Value = http
            .get(format!(
                "{base}/api/sessions/{id}/events?limit=1000&after_seq={after}"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        out.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["next_after_seq"].as_i64() {
            Some(n) => after = n,
            None => return out,
        }
    }
}

/// `POST {base}/api/sessions` with a label, which must answer 201; the new session's id.
pub async fn create_session(http: &reqwest::Client, base: &str, label: &str) -> String {
    let res = http
        .post(format!("{base}/api/sessions"))
        .json(&json!({ "label": label }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let session: Value = res.json().await.unwrap();
    session["id"].as_str().unwrap().to_owned()
}

/// The console session an `/api/rt/*` answer was recorded in: its `x-console-session-id` header.
pub fn session_id_of(res: &reqwest::Response) -> String {
    res.headers()["x-console-session-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// A client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A batch element: `{"seq","ts","direction","event"}`.
pub fn event(seq: u64, direction: &str, event: Value) -> Value {
    json!({ "seq": seq, "ts": 1_732_390_000_000.0 + seq as f64 * 10.5, "direction": direction, "event": event })
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

/// The `{"error":{…}}` envelope's `(code, message, param)`, asserting its shape.
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

/// `(code, param)` of an error envelope, owned.
pub fn code_and_param(body: &Value) -> (String, Option<String>) {
    let (code, _, param) = error_of(body);
    (code.to_owned(), param.map(str::to_owned))
}

/// Asserts `text` contains neither the canary key (nor a part of it) nor the given secrets.
pub fn assert_no_secret(text: &str, secrets: &[&str]) {
    assert!(!text.contains(CANARY_KEY), "the API key leaked: {text}");
    assert!(
        !text.contains("canary"),
        "part of the API key leaked: {text}"
    );
    for secret in secrets {
        assert!(!text.contains(secret), "a secret leaked: {text}");
    }
}
