//! Every failure the console must map: upstream statuses, connect refused, timeout.

mod common;

use std::time::Duration;

use common::*;
use realtime_token::{ApiKey, CallId, ClientConfig, Error, PublicError};

async fn mint_error(reply: Reply) -> (Error, RecordingUpstream) {
    let upstream = RecordingUpstream::start().await;
    upstream.set_reply(Route::ClientSecrets, reply);
    let err = client_for(&upstream)
        .create_client_secret(None, None)
        .await
        .unwrap_err();
    assert_no_secret(&format!("{err} {err:?}"), &[]);
    assert_eq!(
        upstream.requests().len(),
        1,
        "minting is never retried: a retry could mint a second key"
    );
    (err, upstream)
}

fn public(err: &Error) -> PublicError {
    let public = err.to_public();
    assert_no_secret(&format!("{public:?}"), &[]);
    public
}

/// What the console says when the upstream refuses its key: a 502 that names no key.
fn assert_key_rejected(err: &Error) {
    let public = public(err);
    assert_eq!(public.status.as_u16(), 502);
    assert_eq!(
        public.body.error.message,
        "the server's OpenAI API key was rejected"
    );
}

#[tokio::test]
async fn a_400_keeps_the_upstream_message_and_param() {
    let message = "Invalid type for 'session.audio.input.format': expected an object, but got a string instead.";
    let (err, _upstream) = mint_error(
        Reply::error(400, "invalid_type", message).with_param("session.audio.input.format"),
    )
    .await;
    let Error::Upstream { status, error, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(status.as_u16(), 400);
    assert_eq!(error.message, message);
    assert_eq!(error.kind, "invalid_request_error");
    assert_eq!(error.code.as_deref(), Some("invalid_type"));
    assert_eq!(error.param.as_deref(), Some("session.audio.input.format"));
    assert_eq!(err.upstream_status().map(|s| s.as_u16()), Some(400));

    let public = public(&err);
    assert_eq!(public.status.as_u16(), 400);
    assert_eq!(public.body.error, error.clone());
    assert_eq!(public.retry_after, None);
}

#[tokio::test]
async fn a_401_is_a_502_that_names_no_key() {
    // The real message echoes a masked key; this one echoes the whole key to be sure it never leaks.
    let (err, _upstream) = mint_error(Reply::error(
        401,
        "invalid_api_key",
        &format!("Incorrect API key provided: {CANARY_KEY}. You can find your API key at x."),
    ))
    .await;
    assert_eq!(err.upstream_status().map(|s| s.as_u16()), Some(401));
    assert_key_rejected(&err);
}

#[tokio::test]
async fn a_masked_key_in_a_401_is_scrubbed() {
    let (err, _upstream) = mint_error(Reply::error(
        401,
        "invalid_api_key",
        "Incorrect API key provided: sk-canar************9c1e. You can find your API key at x.",
    ))
    .await;
    let Error::Upstream { error, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        error.message,
        "Incorrect API key provided: [redacted] You can find your API key at x."
    );
}

#[tokio::test]
async fn a_403_is_a_502_that_names_no_key() {
    let (err, _upstream) = mint_error(Reply::error(
        403,
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ))
    .await;
    assert_key_rejected(&err);
}

#[tokio::test]
async fn a_429_keeps_retry_after() {
    let (err, _upstream) = mint_error(
        Reply::error(
            429,
            "rate_limit_exceeded",
            "Rate limit reached for requests",
        )
        .with_retry_after("7"),
    )
    .await;
    let Error::Upstream { retry_after, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(retry_after.as_deref(), Some("7"));
    let public = public(&err);
    assert_eq!(public.status.as_u16(), 429);
    assert_eq!(public.retry_after.as_deref(), Some("7"));
    assert_eq!(public.body.error.message, "Rate limit reached for requests");
}

#[tokio::test]
async fn upstream_5xx_is_a_502_that_says_nothing_internal() {
    for status in [500, 503] {
        let (err, _upstream) = mint_error(Reply::error(
            status,
            "server_error",
            "The server had an error processing your request. internal-shard-42",
        ))
        .await;
        assert_eq!(err.upstream_status().map(|s| s.as_u16()), Some(status));
        let public = public(&err);
        assert_eq!(public.status.as_u16(), 502, "{status}");
        assert!(!public.body.error.message.contains("shard"));
    }
}

#[tokio::test]
async fn an_error_status_without_an_envelope_still_maps_by_status() {
    let (err, _upstream) = mint_error(Reply::Raw {
        status: 429,
        headers: vec![
            ("content-type".into(), "text/html".into()),
            ("retry-after".into(), "3".into()),
        ],
        body: b"<html>slow down</html>".to_vec(),
    })
    .await;
    let public = public(&err);
    assert_eq!(public.status.as_u16(), 429);
    assert_eq!(public.retry_after.as_deref(), Some("3"));

    let (err, _upstream) = mint_error(Reply::Raw {
        status: 502,
        headers: vec![],
        body: b"Bad Gateway".to_vec(),
    })
    .await;
    assert!(matches!(err, Error::Upstream { .. }), "{err:?}");
    assert_eq!(public_status(&err), 502);
}

fn public_status(err: &Error) -> u16 {
    public(err).status.as_u16()
}

#[tokio::test]
async fn hanging_up_an_unknown_call_is_a_404() {
    let upstream = RecordingUpstream::start().await;
    upstream.set_reply(
        Route::Hangup,
        Reply::error(404, "call_not_found", "Call not found."),
    );
    let err = client_for(&upstream)
        .hangup(&CallId::parse("rtc_missing").unwrap())
        .await
        .unwrap_err();
    assert_eq!(public_status(&err), 404);
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    // A port that was just free: bind, note it, release it.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = client_with(
        ClientConfig::new(ApiKey::new(CANARY_KEY)).base_url(format!("http://127.0.0.1:{port}/v1")),
    );
    let err = client.create_client_secret(None, None).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert_no_secret(&format!("{err} {err:?}"), &[]);
    assert_eq!(public_status(&err), 502);
    assert_eq!(err.upstream_status(), None);
}

#[tokio::test]
async fn a_slow_upstream_is_a_timeout() {
    let upstream = RecordingUpstream::start().await;
    upstream.set_reply(
        Route::ClientSecrets,
        Reply::Success.delayed(Duration::from_secs(30)),
    );
    upstream.set_reply(
        Route::Calls,
        Reply::Success.delayed(Duration::from_secs(30)),
    );
    let client = impatient_client_for(&upstream);

    let err = client.create_client_secret(None, None).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(public_status(&err), 504);
    assert_eq!(
        upstream.requests().len(),
        1,
        "a timed-out mint is not retried"
    );

    let err = client.create_call("v=0\r\n", None).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_no_secret(&format!("{err} {err:?}"), &[]);
}
