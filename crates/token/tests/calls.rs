//! `POST /realtime/calls` (multipart, standard key) and hangup against the recording upstream.

mod common;

use common::*;
use realtime_token::{CallId, Error, SessionConfig};
use serde_json::{Value, json};

const OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:1\r\na=sctp-port:5000\r\n";

#[tokio::test]
async fn create_call_sends_the_sdp_and_session_parts() {
    let upstream = RecordingUpstream::start().await;
    let session = SessionConfig::from_json(json!({
        "type": "realtime",
        "model": "gpt-realtime",
        "instructions": "Be brief.",
        "audio": {"output": {"voice": "marin"}, "input": {"turn_detection": null}}
    }))
    .unwrap();

    let answer = client_for(&upstream)
        .create_call(OFFER, Some(&session))
        .await
        .unwrap();

    let request = only_request(&upstream);
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/realtime/calls");
    assert_eq!(request.bearer(), Some(CANARY_KEY));
    assert!(
        request
            .header("content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary="),
        "{:?}",
        request.header("content-type")
    );
    let parts = request.multipart().await;
    let names: Vec<_> = parts.iter().map(|p| p.name.as_deref()).collect();
    assert_eq!(names, [Some("sdp"), Some("session")]);
    assert_eq!(parts[0].content_type.as_deref(), Some("application/sdp"));
    assert_eq!(
        parts[0].body,
        OFFER.as_bytes(),
        "the offer is forwarded byte for byte"
    );
    assert_eq!(parts[1].content_type.as_deref(), Some("application/json"));
    let sent_session: Value = serde_json::from_slice(&parts[1].body).unwrap();
    assert_eq!(sent_session, session.to_json());
    assert_valid(
        "RealtimeCallCreateRequest",
        &json!({"sdp": OFFER, "session": sent_session}),
    );

    assert_eq!(answer.sdp, fixtures::SDP_ANSWER);
    assert!(answer.call_id.as_str().starts_with("rtc_u1_"));
}

#[tokio::test]
async fn create_call_without_session_is_still_multipart() {
    let upstream = RecordingUpstream::start().await;
    client_for(&upstream)
        .create_call(OFFER, None)
        .await
        .unwrap();
    let parts = upstream.requests()[0].multipart().await;
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].name.as_deref(), Some("sdp"));
    assert_eq!(parts[0].content_type.as_deref(), Some("application/sdp"));
    assert_valid("RealtimeCallCreateRequest", &json!({"sdp": OFFER}));
}

fn answer_with_location(location: Option<&str>) -> Reply {
    let mut headers = vec![("content-type".to_owned(), "application/sdp".to_owned())];
    if let Some(location) = location {
        headers.push(("location".to_owned(), location.to_owned()));
    }
    Reply::Raw {
        status: 201,
        headers,
        body: fixtures::SDP_ANSWER.as_bytes().to_vec(),
    }
}

#[tokio::test]
async fn the_call_id_is_the_last_segment_of_location() {
    let upstream = RecordingUpstream::start().await;
    let client = client_for(&upstream);
    for location in [
        "/v1/realtime/calls/rtc_u1_9c6574da8b8a41a18da9308f4ad974ce",
        "https://api.openai.com/v1/realtime/calls/rtc_u1_9c6574da8b8a41a18da9308f4ad974ce",
    ] {
        upstream.set_reply(Route::Calls, answer_with_location(Some(location)));
        let answer = client.create_call(OFFER, None).await.unwrap();
        assert_eq!(
            answer.call_id,
            CallId::parse("rtc_u1_9c6574da8b8a41a18da9308f4ad974ce").unwrap()
        );
    }
}

#[tokio::test]
async fn a_missing_or_odd_location_is_a_clear_error() {
    let upstream = RecordingUpstream::start().await;
    let client = client_for(&upstream);
    for (location, expected) in [
        (None, "no Location header"),
        (
            Some("/v1/realtime/calls/"),
            "does not end in an rtc_ call id",
        ),
        (
            Some("/v1/realtime/calls/sess_123"),
            "does not end in an rtc_ call id",
        ),
        (Some("rtc_a b"), "does not end in an rtc_ call id"),
    ] {
        upstream.set_reply(Route::Calls, answer_with_location(location));
        let err = client.create_call(OFFER, None).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidResponse { status, .. } if status.as_u16() == 201),
            "{err:?}"
        );
        assert!(err.to_string().contains(expected), "{location:?}: {err}");
        assert_eq!(err.to_public().status.as_u16(), 502);
    }
}

#[tokio::test]
async fn a_body_that_is_not_sdp_is_an_invalid_response() {
    let upstream = RecordingUpstream::start().await;
    upstream.set_reply(
        Route::Calls,
        Reply::Raw {
            status: 201,
            headers: vec![("location".into(), "/v1/realtime/calls/rtc_1".into())],
            body: b"{}".to_vec(),
        },
    );
    let err = client_for(&upstream)
        .create_call(OFFER, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not an SDP answer"), "{err}");
}

#[tokio::test]
async fn hangup_posts_to_the_call() {
    let upstream = RecordingUpstream::start().await;
    let call_id = CallId::parse("rtc_u1_9c6574da8b8a41a18da9308f4ad974ce").unwrap();
    client_for(&upstream).hangup(&call_id).await.unwrap();
    let request = &upstream.requests_to(Route::Hangup)[0];
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.path,
        "/v1/realtime/calls/rtc_u1_9c6574da8b8a41a18da9308f4ad974ce/hangup"
    );
    assert_eq!(request.bearer(), Some(CANARY_KEY));
    assert!(request.body.is_empty());
}

#[tokio::test]
async fn a_base_url_with_a_trailing_slash_works() {
    let upstream = RecordingUpstream::start().await;
    let client = client_with(
        realtime_token::ClientConfig::new(realtime_token::ApiKey::new(CANARY_KEY))
            .base_url(format!("{}/", upstream.base_url())),
    );
    client.create_call(OFFER, None).await.unwrap();
    assert_eq!(upstream.requests()[0].path, "/v1/realtime/calls");
}

#[test]
fn a_base_url_must_be_http() {
    let config = realtime_token::ClientConfig::new(realtime_token::ApiKey::new(CANARY_KEY))
        .base_url("api.openai.com/v1");
    let err = realtime_token::Client::new(config).unwrap_err();
    assert!(err.to_string().contains("base URL"), "{err}");
}
