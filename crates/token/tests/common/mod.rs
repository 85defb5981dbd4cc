//! Helpers shared by the integration tests: the recording upstream, a client pointed at it, and
//! validation against the official Realtime JSON Schemas.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use realtime_token::{ApiKey, Client, ClientConfig};
use serde_json::{Value, json};

#[allow(unused_imports)]
pub use realtime_token::testing::{RecordingUpstream, Reply, Route, fixtures};

/// A key no real account has, so any occurrence of it in output is a leak.
pub const CANARY_KEY: &str = "sk-canary-7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c1e";

pub fn client_for(upstream: &RecordingUpstream) -> Client {
    client_with(ClientConfig::new(ApiKey::new(CANARY_KEY)).base_url(upstream.base_url()))
}

pub fn client_with(config: ClientConfig) -> Client {
    Client::new(config).expect("client builds")
}

/// The same client with a short total timeout, for upstreams told to stall.
pub fn impatient_client_for(upstream: &RecordingUpstream) -> Client {
    client_with(
        ClientConfig::new(ApiKey::new(CANARY_KEY))
            .base_url(upstream.base_url())
            .timeout(Duration::from_millis(300)),
    )
}

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/realtime/openai-realtime.schema.json")
}

/// The official schema document. Missing it fails the test: passing without checking would hide a
/// broken checkout.
fn schema_document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let path = schema_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "missing shared/realtime/openai-realtime.schema.json (looked at {}): {e}; \
                 these tests need shared/ beside the clone",
                path.display()
            )
        });
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
    })
}

/// Asserts `instance` is valid against `#/$defs/{definition}` of the official schema document.
pub fn assert_valid(definition: &str, instance: &Value) {
    let mut root = schema_document().clone();
    assert!(
        root["$defs"].get(definition).is_some(),
        "openai-realtime.schema.json has no $defs/{definition}"
    );
    root["$ref"] = json!(format!("#/$defs/{definition}"));
    let validator = jsonschema::validator_for(&root)
        .unwrap_or_else(|e| panic!("schema for {definition} does not compile: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} (at {})", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not a valid {definition}: {errors:#?}\ninstance: {instance:#}"
    );
}

/// Asserts `text` contains neither the canary key nor the given secrets.
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
