//! The emulator served in-process on 127.0.0.1:0 under `/v1` (or another prefix), over HTTP or TLS, optionally
//! with a test page on its origin, and one helper per endpoint.

use std::path::PathBuf;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use axum::serve::ListenerExt as _;
use realtime_emulator::{EmulatorConfig, Tls, TlsListener};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::schema::schemas;

/// The standard key the tests use (the default emulator takes any `sk-…`).
pub const KEY: &str = "sk-test-0123456789";

/// A file the test page needs: its path, content type and body.
pub type PageFile = (&'static str, &'static str, &'static str);

pub struct EmulatorApp {
    /// `http://127.0.0.1:<port>` (`https://` for [`EmulatorApp::start_tls`]).
    pub origin: String,
    /// `{origin}/v1`, the API's base URL.
    pub base: String,
    /// Trusts the emulator's certificate when it serves TLS.
    pub client: reqwest::Client,
    /// The self-signed certificate (PEM) a TLS emulator serves, for clients to trust
    /// (`NODE_EXTRA_CA_CERTS`); `None` over plain HTTP.
    pub cert_path: Option<PathBuf>,
    _cert_dir: Option<tempfile::TempDir>,
    server: tokio::task::JoinHandle<()>,
}

impl EmulatorApp {
    pub async fn start(config: EmulatorConfig) -> Self {
        Self::with_page(config, &[]).await
    }

    /// The emulator over HTTPS and WSS with a new self-signed certificate, as `realtime-emulator --tls`.
    pub async fn start_tls(config: EmulatorConfig) -> Self {
        let tls = Tls::self_signed().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("emulator-cert.pem");
        std::fs::write(&path, tls.cert_pem()).unwrap();
        let client = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(tls.cert_pem().as_bytes()).unwrap(),
            )
            .build()
            .unwrap();
        let mut app = Self::serve(config, "/v1", &[], Some(tls)).await;
        app.client = client;
        app.cert_path = Some(path);
        app._cert_dir = Some(dir);
        app
    }

    /// The emulator under `/v1`, and `files` at their paths on the same origin.
    pub async fn with_page(config: EmulatorConfig, files: &[PageFile]) -> Self {
        Self::serve(config, "/v1", files, None).await
    }

    /// The emulator under another prefix (the console mounts it at `/emulator/v1`); `base` follows it.
    pub async fn mounted_at(config: EmulatorConfig, prefix: &str) -> Self {
        Self::serve(config, prefix, &[], None).await
    }

    async fn serve(
        config: EmulatorConfig,
        prefix: &str,
        files: &[PageFile],
        tls: Option<Tls>,
    ) -> Self {
        crate::init_test_log();
        let mut app = Router::new();
        for &(path, content_type, body) in files {
            app = app.route(
                path,
                get(move || async move { ([(header::CONTENT_TYPE, content_type)], body) }),
            );
        }
        let app = app.nest(prefix, realtime_emulator::router(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (origin, server) = match tls {
            None => (
                format!("http://{addr}"),
                tokio::spawn(async move {
                    let listener = listener.tap_io(|tcp| {
                        let _ = tcp.set_nodelay(true);
                    });
                    axum::serve(listener, app).await.unwrap()
                }),
            ),
            Some(tls) => {
                let listener = TlsListener::new(listener, &tls).unwrap();
                (
                    format!("https://{addr}"),
                    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() }),
                )
            }
        };
        Self {
            base: format!("{origin}{prefix}"),
            origin,
            client: reqwest::Client::new(),
            cert_path: None,
            _cert_dir: None,
            server,
        }
    }

    /// The WebSocket endpoint with `query` (`"?model=gpt-realtime"`), for [`crate::ws::WsClient`]; `wss:`
    /// over TLS.
    pub fn ws_url(&self, query: &str) -> String {
        format!("{}/realtime{query}", self.base.replacen("http", "ws", 1))
    }

    /// A page (or any path) on the emulator's origin.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// `POST {base}{path}` with `key` and a JSON `body`.
    pub async fn post_json(&self, key: &str, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn mint(&self, key: &str, body: &Value) -> reqwest::Response {
        self.post_json(key, "/realtime/client_secrets", body).await
    }

    /// Mints with [`KEY`] and returns the body, validated against its schema.
    pub async fn mint_ok(&self, body: &Value) -> Value {
        let res = self.mint(KEY, body).await;
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        schemas().assert_valid("RealtimeCreateClientSecretResponse", &v);
        v
    }

    /// An ephemeral key minted with [`KEY`] and the default session.
    pub async fn ephemeral_key(&self) -> String {
        self.mint_ok(&serde_json::json!({})).await["value"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn call_sdp(&self, key: &str, sdp: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/realtime/calls", self.base))
            .bearer_auth(key)
            .header("content-type", "application/sdp")
            .body(sdp.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// A WebRTC call offered with a real Chromium offer and a new ephemeral key (nobody answers its media:
    /// enough for call control); its `rtc_…` id.
    pub async fn offered_call(&self) -> String {
        let ek = self.ephemeral_key().await;
        let res = self
            .call_sdp(&ek, realtime_emulator::rtc::CHROMIUM_OFFER)
            .await;
        assert_eq!(res.status(), 201);
        let location = res.headers()["location"].to_str().unwrap();
        location.rsplit('/').next().unwrap().to_owned()
    }

    pub async fn call_multipart(
        &self,
        key: &str,
        sdp: &str,
        session: Option<&Value>,
    ) -> reqwest::Response {
        let mut form = Form::new().part(
            "sdp",
            Part::text(sdp.to_owned())
                .mime_str("application/sdp")
                .unwrap(),
        );
        if let Some(s) = session {
            form = form.part(
                "session",
                Part::text(s.to_string())
                    .mime_str("application/json")
                    .unwrap(),
            );
        }
        self.client
            .post(format!("{}/realtime/calls", self.base))
            .bearer_auth(key)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn hangup(&self, key: &str, call_id: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/realtime/calls/{call_id}/hangup", self.base))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    /// `POST /emulator/sip/calls` (emulator-only): rings an incoming SIP call and delivers its webhook.
    pub async fn inject_sip_call(&self, key: &str, body: &Value) -> reqwest::Response {
        self.post_json(key, "/emulator/sip/calls", body).await
    }

    /// `POST /emulator/sip/calls/{call_id}/dtmf` (emulator-only): presses `digit` on an accepted SIP call.
    pub async fn sip_dtmf(&self, key: &str, call_id: &str, digit: &str) -> reqwest::Response {
        let path = format!("/emulator/sip/calls/{call_id}/dtmf");
        self.post_json(key, &path, &serde_json::json!({ "digit": digit }))
            .await
    }

    /// A SIP call-control endpoint: `action` is `accept`, `reject` or `refer`.
    pub async fn call_control(
        &self,
        key: &str,
        call_id: &str,
        action: &str,
        body: &Value,
    ) -> reqwest::Response {
        let path = format!("/realtime/calls/{call_id}/{action}");
        self.post_json(key, &path, body).await
    }
}

impl Drop for EmulatorApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Asserts an error envelope with `status` and `code`, schema-valid, and returns its `error` object.
pub async fn expect_error(res: reqwest::Response, status: u16, code: Option<&str>) -> Value {
    assert_eq!(res.status(), status);
    let v: Value = res.json().await.unwrap();
    schemas().assert_valid("ErrorResponse", &v);
    assert_eq!(v["error"]["code"].as_str(), code, "{v:#}");
    assert!(!v["error"]["message"].as_str().unwrap_or("").is_empty());
    v["error"].clone()
}
