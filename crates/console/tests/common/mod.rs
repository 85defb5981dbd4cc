//! Helpers of the `/api/rt` tests: a console served on 127.0.0.1:0 in front of a recording upstream (or
//! the built-in emulator), the real binary run as a child process, and the schema checks of the token
//! crate's tests, included from there rather than written again.
#![allow(dead_code)] // each test binary uses a different subset

#[path = "../../../token/tests/common/mod.rs"]
mod token_common;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use realtime_console::{AppState, Config};
use realtime_token::ApiKey;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

#[allow(unused_imports)]
pub use realtime_token::testing::{RecordingUpstream, Reply, Route, fixtures};
#[allow(unused_imports)]
pub use token_common::{CANARY_KEY, assert_valid};

/// An SDP offer shaped like a browser's (PROTOCOL §3.1).
pub const OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:1\r\na=sctp-port:5000\r\n";

/// A console served in-process on 127.0.0.1:0 over a fresh SQLite file.
pub struct RtApp {
    pub base: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The test configuration: the recording upstream (when given) with [`CANARY_KEY`], no rate limit and a
/// short upstream timeout so stalls become 504s quickly.
pub fn config_for(upstream: Option<&RecordingUpstream>, dir: &tempfile::TempDir) -> Config {
    let url = format!("sqlite://{}", dir.path().join("console.db").display());
    let mut config =
        Config::from_args(["realtime-console", "--database-url", url.as_str()]).unwrap();
    if let Some(upstream) = upstream {
        config.openai_api_key = Some(ApiKey::new(CANARY_KEY));
        config.openai_base_url = upstream.base_url();
    }
    config.rt_rate_per_min = 0;
    config.upstream_timeout_ms = 500;
    config
}

impl RtApp {
    pub async fn spawn(upstream: &RecordingUpstream) -> Self {
        Self::spawn_with(Some(upstream), |_| {}).await
    }

    pub async fn spawn_with(
        upstream: Option<&RecordingUpstream>,
        change: impl FnOnce(&mut Config),
    ) -> Self {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt().with_test_writer().try_init();
        }
        let dir = tempfile::tempdir().unwrap();
        let mut config = config_for(upstream, &dir);
        change(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(config.settings().unwrap()).await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(realtime_console::serve(listener, state, async {
            let _ = rx.await;
        }));
        Self {
            base,
            http: no_redirects(),
            dir,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
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

    pub async fn session(&self, id: &str) -> Value {
        self.get_json(&format!("/api/sessions/{id}")).await
    }

    /// Every event of a session, oldest first.
    pub async fn events(&self, id: &str) -> Vec<Value> {
        let page = self
            .get_json(&format!("/api/sessions/{id}/events?limit=1000"))
            .await;
        page["events"].as_array().cloned().unwrap_or_default()
    }

    async fn get_json(&self, path: &str) -> Value {
        let res = self.http.get(self.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.unwrap()
    }
}

impl Drop for RtApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `(code, param)` of an error envelope.
pub fn code_and_param(body: &Value) -> (String, Option<String>) {
    let e = &body["error"];
    assert!(
        e["message"].is_string() && e["type"].is_string(),
        "not an error envelope: {body}"
    );
    (
        e["code"].as_str().unwrap_or_default().to_owned(),
        e["param"].as_str().map(str::to_owned),
    )
}

/// The real `realtime-console` binary, run with exactly `env` (nothing inherited, no `.env`: it runs in an
/// empty temporary folder), its stdout and stderr captured.
pub struct ServerProcess {
    pub child: tokio::process::Child,
    pub dir: tempfile::TempDir,
    /// Everything it printed so far, both streams interleaved by line.
    pub output: Arc<Mutex<String>>,
}

impl ServerProcess {
    pub fn start(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_realtime-console"));
        command
            .env_clear()
            .current_dir(dir.path())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.path().join("console.db").display()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("run the realtime-console binary");
        let output = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().unwrap(), Arc::clone(&output));
        collect(child.stderr.take().unwrap(), Arc::clone(&output));
        Self { child, dir, output }
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// The base URL from the "realtime-console listening on http://…" line, with an unspecified address
    /// replaced by loopback. Panics with the output if the server exits or never says it.
    pub async fn base_url(&mut self) -> String {
        for _ in 0..600 {
            if let Some(url) = listening_url(&self.output()) {
                return url.replace("0.0.0.0", "127.0.0.1");
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the server exited ({status}) before listening:\n{}",
                    self.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server never said where it listens:\n{}", self.output());
    }

    /// Waits for the process to exit on its own; its status and everything it printed.
    pub async fn exit(&mut self) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("the server exits")
            .unwrap();
        // Let the readers drain what is left in the pipes.
        tokio::time::sleep(Duration::from_millis(100)).await;
        (status, self.output())
    }

    /// SIGTERM, then waits for the graceful shutdown.
    pub async fn stop(&mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().expect("still running").to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(killed.success());
        self.exit().await
    }
}

fn collect(stream: impl AsyncRead + Unpin + Send + 'static, into: Arc<Mutex<String>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut out = into.lock().unwrap();
            out.push_str(&line);
            out.push('\n');
        }
    });
}

fn listening_url(output: &str) -> Option<String> {
    let marker = "realtime-console listening on ";
    let start = output.find(marker)? + marker.len();
    let url = output[start..].split_whitespace().next()?;
    Some(url.to_owned())
}
