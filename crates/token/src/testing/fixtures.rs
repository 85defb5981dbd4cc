//! Bodies shaped like the real API's (PROTOCOL §2.2, §3.3, §4.1), for the fake and for assertions.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::session::deep_merge;

/// The SDP answer of PROTOCOL §3.3.
pub const SDP_ANSWER: &str = "v=0\r
o=- 4227147428 1719357865 IN IP4 127.0.0.1\r
s=-\r
c=IN IP4 0.0.0.0\r
t=0 0\r
a=group:BUNDLE 0 1\r
a=msid-semantic:WMS *\r
a=fingerprint:sha-256 CA:92:52:51:B4:91:3B:34:DD:9C:0B:FB:76:19:7E:3B:F1:21:0F:32:2C:38:01:72:5D:3F:78:C7:5F:8B:C7:36\r
m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\r
a=mid:0\r
a=ice-ufrag:kZ2qkHXX/u11\r
a=ice-pwd:uoD16Di5OGx3VbqgA3ymjEQV2kwiOjw6\r
a=setup:active\r
a=rtcp-mux\r
a=rtpmap:111 opus/48000/2\r
a=candidate:993865896 1 udp 2130706431 127.0.0.1 3478 typ host ufrag kZ2qkHXX/u11\r
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r
a=mid:1\r
a=sctp-port:5000\r
";

/// A fresh `ek_` + 32 hex digits, the format of every key seen so far.
pub fn ephemeral_key() -> String {
    format!("ek_{}", uuid::Uuid::new_v4().simple())
}

/// A fresh `rtc_u1_` + 32 hex digits call id.
pub fn call_id() -> String {
    format!("rtc_u1_{}", uuid::Uuid::new_v4().simple())
}

/// The effective session upstream reports for a bare `{"type":"realtime"}` (PROTOCOL §2.2).
///
/// The live API sends `null` for `include`, `audio.input.transcription` and
/// `audio.input.noise_reduction`; the published schema does not allow those nulls, so they are left
/// out here to keep this body valid against `RealtimeCreateClientSecretResponse`.
pub fn default_session() -> Value {
    json!({
        "type": "realtime", "object": "realtime.session", "id": "sess_C9CiUVUzUzYIssh3ELY1d",
        "model": "gpt-realtime", "output_modalities": ["audio"],
        "instructions": "You are a friendly assistant.",
        "tools": [], "tool_choice": "auto", "max_output_tokens": "inf",
        "tracing": null, "truncation": "auto", "prompt": null, "expires_at": 0,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                                   "silence_duration_ms": 200, "idle_timeout_ms": null,
                                   "create_response": true, "interrupt_response": true}
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0}
        }
    })
}

/// A `200` body of `POST /realtime/client_secrets`: `value`, `expires_at` `seconds` from now, and the
/// default session with the requested one (if any) merged over it, as upstream echoes it.
pub fn client_secret_response(value: &str, seconds: i64, requested_session: &Value) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut session = default_session();
    if requested_session.is_object() {
        deep_merge(&mut session, requested_session);
    }
    json!({"value": value, "expires_at": now + seconds, "session": session})
}

/// `{"error":{"message","type","code","param"}}` with all four keys, as the API always sends them.
pub fn error_envelope(kind: &str, code: Option<&str>, param: Option<&str>, message: &str) -> Value {
    json!({"error": {"message": message, "type": kind, "param": param, "code": code}})
}
