//! A real emulator server on 127.0.0.1:0 and one helper per endpoint.

use realtime_emulator::EmulatorConfig;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use super::schema::schemas;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub const KEY: &str = "sk-test-0123456789";

impl TestApp {
    pub async fn spawn(config: EmulatorConfig) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(realtime_emulator::serve(listener, config, async {
            let _ = rx.await;
        }));
        TestApp {
            base: format!("http://{addr}/v1"),
            client: reqwest::Client::new(),
            _shutdown: tx,
        }
    }

    pub async fn mint(&self, key: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/realtime/client_secrets", self.base))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Mints with the test key and returns the validated body.
    pub async fn mint_ok(&self, body: &Value) -> Value {
        let res = self.mint(KEY, body).await;
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        schemas().assert_valid("RealtimeCreateClientSecretResponse", &v);
        v
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
