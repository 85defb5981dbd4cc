//! Incoming SIP calls, emulated (PROTOCOL §15.7): the signed `realtime.call.incoming` webhook the emulator
//! sends when a call is injected, and the "phone line" an accepted call's engine runs on.
//!
//! The webhook follows the Standard Webhooks scheme the SDKs' `webhooks.unwrap()` checks: an HMAC-SHA256 over
//! `"<webhook-id>.<webhook-timestamp>.<body>"`, keyed with the base64-decoded part of a `whsec_…` secret, sent
//! as `webhook-signature: v1,<base64>`.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use crate::io::{FromEngine, ToEngine, TransportIo};

/// What the webhook's `user-agent` says (the real deliveries', PROTOCOL §15.7).
pub const USER_AGENT: &str = "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)";

/// How long one delivery may take before it counts as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// A webhook signing secret: `whsec_<base64>` (the key is the decoded bytes) or any other text (the key is
/// its UTF-8 bytes), as the SDKs read it. `Debug` never shows it.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    pub fn parse(secret: &str) -> Result<WebhookSecret, String> {
        match secret.strip_prefix("whsec_") {
            Some(b64) => STANDARD.decode(b64).map(WebhookSecret).map_err(|e| {
                format!("the part of a whsec_ secret after the prefix must be base64: {e}")
            }),
            None if secret.is_empty() => Err("the webhook secret is empty".into()),
            None => Ok(WebhookSecret(secret.as_bytes().to_vec())),
        }
    }

    /// `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`.
    pub fn signature(&self, id: &str, timestamp: i64, body: &str) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0)
            .expect("HMAC takes a key of any length");
        mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

/// The `realtime.call.incoming` event for `call_id`, created at `now` (Unix seconds).
pub fn incoming_event(call_id: &str, sip_headers: &[(String, String)], now: i64) -> Value {
    let headers: Vec<Value> = sip_headers
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    json!({
        "object": "event",
        "id": format!("evt_{}", uuid::Uuid::new_v4().simple()),
        "type": "realtime.call.incoming",
        "created_at": now,
        "data": {"call_id": call_id, "sip_headers": headers},
    })
}

/// How one webhook delivery went: the receiver's status, or why there was none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    Status(u16),
    Failed(String),
}

impl Delivery {
    pub fn to_json(&self, url: &str) -> Value {
        match self {
            Delivery::Status(status) => json!({"url": url, "status": status, "error": null}),
            Delivery::Failed(error) => json!({"url": url, "status": null, "error": error}),
        }
    }
}

/// POSTs `event` to `url` once, signed with `secret` (unsigned without one) at `now` (Unix seconds). No
/// retries: the injection's answer reports the outcome and the caller decides.
pub async fn deliver(
    url: &str,
    secret: Option<&WebhookSecret>,
    event: &Value,
    now: i64,
) -> Delivery {
    let body = event.to_string();
    let id = format!("wh_{}", uuid::Uuid::new_v4().simple());
    let client = match reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .user_agent(USER_AGENT)
        .build()
    {
        Ok(client) => client,
        Err(e) => return Delivery::Failed(format!("could not build an HTTP client: {e}")),
    };
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", now.to_string());
    if let Some(secret) = secret {
        request = request.header("webhook-signature", secret.signature(&id, now, &body));
    }
    match request.body(body).send().await {
        Ok(res) => Delivery::Status(res.status().as_u16()),
        Err(e) => Delivery::Failed(format!("the webhook could not be delivered: {e}")),
    }
}

/// The call's own end of an accepted SIP call. The audio rides the phone line, which the emulator does not
/// have: the line opens at once (so the engine greets nobody but the line with `session.created`), takes
/// the engine's events and audio commands and drops them, and is gone when the engine closes. What the
/// call's sidebands hear is what they would on a WebRTC call: events, and no audio deltas.
pub fn phone_line(io: TransportIo) {
    let TransportIo {
        to_engine,
        mut from_engine,
    } = io;
    tokio::spawn(async move {
        if to_engine.send(ToEngine::ChannelOpen).await.is_err() {
            return;
        }
        while let Some(msg) = from_engine.recv().await {
            if let FromEngine::Close(_) = msg {
                break;
            }
        }
        let _ = to_engine.send(ToEngine::Closed).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_read_as_the_sdks_read_them() {
        let whsec = WebhookSecret::parse("whsec_c2VjcmV0").unwrap();
        assert_eq!(whsec.0, b"secret");
        assert_eq!(WebhookSecret::parse("plain").unwrap().0, b"plain");
        assert!(WebhookSecret::parse("whsec_not base64!").is_err());
        assert!(WebhookSecret::parse("").is_err());
        assert_eq!(format!("{whsec:?}"), "WebhookSecret([redacted])");
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_id_timestamp_and_body() {
        // Computed independently with Python's hmac module, as the SDK's check does.
        let secret = WebhookSecret::parse("whsec_c2VjcmV0").unwrap();
        assert_eq!(
            secret.signature("wh_1", 1_700_000_000, r#"{"a":1}"#),
            "v1,pHFV0VNrDVtFb4arUoxNE3BruBUixdpWunTYwfBcGis="
        );
    }

    #[test]
    fn the_incoming_event_has_the_documented_shape() {
        let headers = [("From".to_owned(), "sip:+1@example.com".to_owned())];
        let e = incoming_event("rtc_0123", &headers, 1_750_287_018);
        assert_eq!(e["object"], "event");
        assert_eq!(e["type"], "realtime.call.incoming");
        assert_eq!(e["created_at"], 1_750_287_018);
        assert!(e["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(e["data"]["call_id"], "rtc_0123");
        assert_eq!(
            e["data"]["sip_headers"],
            json!([{"name": "From", "value": "sip:+1@example.com"}])
        );
    }
}
