//! `POST /realtime/client_secrets` against the recording upstream: request shape and response parsing.

mod common;

use common::*;
use realtime_token::{Error, ExpiresAfter, SessionConfig};
use serde_json::{Value, json};

fn requested_session() -> SessionConfig {
    SessionConfig::from_json(json!({
        "type": "realtime",
        "model": "gpt-realtime",
        "instructions": "You are a friendly assistant.",
        "audio": {"output": {"voice": "marin"}}
    }))
    .unwrap()
}

#[tokio::test]
async fn mint_sends_the_bearer_key_and_a_schema_valid_body() {
    let upstream = RecordingUpstream::start().await;
    let client = client_for(&upstream);

    let secret = client
        .create_client_secret(
            Some(&requested_session()),
            Some(ExpiresAfter::seconds(300).unwrap()),
        )
        .await
        .unwrap();

    let request = only_request(&upstream);
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/realtime/client_secrets");
    assert_eq!(request.query, None);
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {CANARY_KEY}").as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.header("openai-beta"),
        None,
        "GA takes no beta header"
    );
    let body = request.json();
    assert_valid("RealtimeCreateClientSecretRequest", &body);
    assert_eq!(
        body,
        json!({
            "expires_after": {"anchor": "created_at", "seconds": 300},
            "session": {
                "type": "realtime",
                "model": "gpt-realtime",
                "instructions": "You are a friendly assistant.",
                "audio": {"output": {"voice": "marin"}}
            }
        })
    );

    let response = secret.expose_response_json();
    assert_valid("RealtimeCreateClientSecretResponse", response);
    assert!(secret.value.expose_secret().starts_with("ek_"));
    assert_eq!(
        response["value"].as_str(),
        Some(secret.value.expose_secret())
    );
    assert_eq!(response["expires_at"].as_i64(), Some(secret.expires_at));
    assert_eq!(
        secret.session.instructions.as_deref(),
        Some("You are a friendly assistant.")
    );
    assert_eq!(
        secret.session.id.as_deref(),
        Some("sess_C9CiUVUzUzYIssh3ELY1d")
    );
    assert_eq!(
        secret.session.to_json(),
        response["session"],
        "the effective session is kept whole"
    );
    assert!(secret.fingerprint().as_str().starts_with("ek_…"));
}

#[tokio::test]
async fn mint_without_session_or_expiry_sends_an_empty_object() {
    let upstream = RecordingUpstream::start().await;
    let secret = client_for(&upstream)
        .create_client_secret(None, None)
        .await
        .unwrap();
    let body = upstream.requests()[0].json();
    assert_eq!(body, json!({}));
    assert_valid("RealtimeCreateClientSecretRequest", &body);
    assert_eq!(secret.session.kind.as_deref(), Some("realtime"));
}

#[tokio::test]
async fn response_only_fields_are_not_sent_back() {
    let upstream = RecordingUpstream::start().await;
    let client = client_for(&upstream);
    let first = client
        .create_client_secret(Some(&requested_session()), None)
        .await
        .unwrap();
    // The console may mint again from an effective session it was given.
    client
        .create_client_secret(Some(&first.session), None)
        .await
        .unwrap();
    let body = upstream.requests()[1].json();
    for field in ["id", "object", "expires_at"] {
        assert!(body["session"].get(field).is_none(), "{field} was sent");
    }
    assert_eq!(body["session"]["audio"]["output"]["voice"], json!("marin"));
    assert_eq!(
        body["session"]["tracing"],
        Value::Null,
        "nulls are passed on"
    );
    // The API sends `tracing: null` but the published schema lost OpenAPI's `nullable` there, so
    // validate the rest.
    let mut body = body;
    body["session"].as_object_mut().unwrap().remove("tracing");
    assert_valid("RealtimeCreateClientSecretRequest", &body);
}

#[test]
fn the_served_success_bodies_are_valid_responses() {
    for requested in [
        Value::Null,
        json!({"type": "realtime"}),
        requested_session().to_json(),
        json!({"type": "realtime", "output_modalities": ["text"],
               "audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "low"}}}}),
    ] {
        let body = fixtures::client_secret_response(&fixtures::ephemeral_key(), 600, &requested);
        assert_valid("RealtimeCreateClientSecretResponse", &body);
    }
}

#[test]
fn expires_after_is_bounded_like_the_api() {
    assert!(ExpiresAfter::seconds(9).is_err());
    assert!(ExpiresAfter::seconds(7201).is_err());
    assert_eq!(ExpiresAfter::seconds(10).unwrap().as_secs(), 10);
    let err = ExpiresAfter::seconds(0).unwrap_err().to_public();
    assert_eq!(err.status.as_u16(), 400);
    assert_eq!(
        err.body.error.param.as_deref(),
        Some("expires_after.seconds")
    );
}

#[tokio::test]
async fn unparsable_success_bodies_are_invalid_responses_that_hide_the_key() {
    let upstream = RecordingUpstream::start().await;
    let client = client_for(&upstream);
    let leaked = "ek_0123456789abcdef0123456789abcdef";
    for body in [
        "<html>gateway</html>".to_owned(),
        json!({"expires_at": 1, "session": {"type": "realtime"}}).to_string(),
        json!({"value": leaked, "session": {"type": "realtime"}}).to_string(),
        json!({"value": leaked, "expires_at": 1}).to_string(),
        json!({"value": leaked, "expires_at": 1, "session": {"type": 7, "instructions": [leaked]}})
            .to_string(),
    ] {
        upstream.set_reply(
            Route::ClientSecrets,
            Reply::Raw {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.clone().into_bytes(),
            },
        );
        let err = client.create_client_secret(None, None).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidResponse { status, .. } if status.as_u16() == 200),
            "{body}: {err:?}"
        );
        assert_no_secret(&format!("{err} {err:?}"), &[leaked]);
        assert_eq!(err.to_public().status.as_u16(), 502);
    }
}
