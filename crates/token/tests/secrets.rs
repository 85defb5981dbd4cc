//! No key, standard or ephemeral, in Debug/Display output or in the crate's log lines.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use realtime_token::{ApiKey, ClientConfig, KeyFingerprint};
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[test]
fn keys_and_configs_never_print_the_key() {
    let key = ApiKey::new(CANARY_KEY);
    assert_no_secret(&format!("{key:?}"), &[]);
    let config = ClientConfig::new(key).base_url("http://127.0.0.1:1/v1");
    assert_no_secret(&format!("{config:?}"), &[]);
    let client = client_with(config);
    assert_no_secret(&format!("{client:?}"), &[]);
}

#[test]
fn a_fingerprint_does_not_contain_the_key() {
    let key = fixtures::ephemeral_key();
    let fingerprint = KeyFingerprint::of(&key);
    assert!(fingerprint.as_str().starts_with("ek_…"));
    assert!(!fingerprint.as_str().contains(&key[3..9]));
    assert_eq!(
        serde_json::to_value(&fingerprint).unwrap(),
        json!(fingerprint.as_str())
    );
}

#[tokio::test]
async fn minting_calling_and_failing_log_no_key() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let upstream = RecordingUpstream::start().await;
    let client = client_for(&upstream);
    let secret = client.create_client_secret(None, None).await.unwrap();
    let ephemeral = secret.value.expose_secret().to_owned();
    assert_no_secret(&format!("{secret:?}"), &[&ephemeral]);

    let answer = client.create_call("v=0\r\n", None).await.unwrap();
    client.hangup(&answer.call_id).await.unwrap();

    upstream.set_reply(
        Route::ClientSecrets,
        Reply::error(
            401,
            "invalid_api_key",
            &format!("Incorrect API key provided: {CANARY_KEY}"),
        ),
    );
    let err = client.create_client_secret(None, None).await.unwrap_err();
    assert_no_secret(&format!("{err} {err:?}"), &[]);

    let logs = logs.text();
    assert!(logs.contains("minted an ephemeral key"), "{logs}");
    assert!(logs.contains(secret.fingerprint().as_str()), "{logs}");
    assert!(logs.contains("refused a request"), "{logs}");
    assert_no_secret(&logs, &[&ephemeral]);
}
