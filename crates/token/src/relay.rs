//! The gateway's calls upstream: a REST request relayed as the client sent it, and the Realtime WebSocket
//! dialed with the client's query, headers and subprotocols (PROTOCOL §15.9).
//!
//! The client's request is relayed, not rebuilt: its body goes upstream byte for byte, and the answer comes
//! back with its status, headers and body. Only the headers in [`FORWARDED_REQUEST_HEADERS`] go upstream (no
//! cookie of the console's, no `Host`), with the credential the caller chose in `Authorization`.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::client::Client;
use crate::error::scrub;

/// The request headers a relay passes upstream, beside `Authorization` (set from the credential) and
/// `Content-Type`: what the SDKs send that the API reads. Everything else (cookies, `Origin`, `Host`, hop-by-hop
/// headers) stays at the relay.
pub const FORWARDED_REQUEST_HEADERS: [&str; 7] = [
    "user-agent",
    "openai-beta",
    "openai-organization",
    "openai-project",
    "openai-safety-identifier",
    "idempotency-key",
    "accept",
];

/// Response headers that belong to one hop, or that the relay must not pass on (`set-cookie`: the API's
/// load-balancer cookies are for the relay, PROTOCOL §15.9).
const DROPPED_RESPONSE_HEADERS: [&str; 8] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "upgrade",
    "set-cookie",
    "proxy-authenticate",
    "trailer",
];

/// The largest body a relayed answer may have: SDP answers and client secrets are a few KiB.
const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// The largest WebSocket message either hop takes: no cap below the API's own 16 MiB (PROTOCOL §15.8).
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// How much either hop reads from its socket at once. The WebSocket library zero-fills this much of its read
/// buffer before every read, including the one that finds nothing yet: at its default (128 KiB) that was about
/// 7% of the console's CPU under the gateway bench. Realtime frames are mostly a few KiB (an audio delta of
/// 100 ms is about 6.5 KiB); a larger one takes several reads.
pub const READ_BUFFER_BYTES: usize = 16 << 10;

/// Whose key authenticates a relayed request.
#[derive(Clone, Copy)]
pub enum Credential<'a> {
    /// The server's standard key (the client brought none, or the access secret).
    Server,
    /// The client's own `sk-` or `ek_` key, passed through: never logged, stored or echoed.
    Client(&'a str),
}

impl std::fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::Server => "Server",
            Credential::Client(_) => "Client([redacted])",
        })
    }
}

/// A request to relay: `path` under the base URL (`/realtime/calls`), the client's query and headers.
pub struct RelayRequest<'a> {
    pub method: Method,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
    pub credential: Credential<'a>,
    /// Headers of the relay's own for this hop (the console's mark on requests to its built-in emulator).
    pub extra: &'a HeaderMap,
}

/// The upstream's answer, as it came: status, the end-to-end headers and the body.
#[derive(Debug)]
pub struct RelayResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The relay could not get an answer from upstream at all.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("could not reach the Realtime API at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the Realtime API at {url} did not answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("the Realtime API's answer is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
}

/// An upstream Realtime WebSocket, open.
pub struct RealtimeSocket {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The subprotocol the upstream selected, to select the same with the client.
    pub protocol: Option<HeaderValue>,
}

/// Dialing the upstream WebSocket failed.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The upstream answered the handshake with a status other than 101: the client gets the same.
    #[error("the Realtime API refused the WebSocket with HTTP {}", .0.status)]
    Rejected(RelayResponse),
    #[error(transparent)]
    Failed(RelayError),
}

impl Client {
    /// Relays one REST request upstream and answers what came back, whatever its status. Error bodies are
    /// scrubbed of the credential and of anything that looks like a key (the API echoes keys masked in
    /// `invalid_api_key` messages); a successful body is the client's own (a minted `ek_` key among it).
    #[tracing::instrument(skip_all, fields(path = request.path))]
    pub async fn relay(&self, request: RelayRequest<'_>) -> Result<RelayResponse, RelayError> {
        let mut url = format!("{}{}", self.base_url(), request.path);
        if let Some(query) = request.query.filter(|q| !q.is_empty()) {
            url.push('?');
            url.push_str(query);
        }
        let mut headers = forwarded(request.headers, true);
        headers.extend(request.extra.clone());
        let key = self.key_of(request.credential);
        let response = self
            .http()
            .request(request.method, &url)
            .headers(headers)
            .bearer_auth(key)
            .body(request.body)
            .send()
            .await
            .map_err(|e| self.relay_error(e, &url))?;
        let status = response.status();
        let headers = end_to_end(response.headers());
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.relay_error(e, &url))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(RelayError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let body = if status.is_success() {
            Bytes::from(body)
        } else {
            scrubbed_body(body, key)
        };
        Ok(RelayResponse {
            status,
            headers,
            body,
        })
    }

    /// Opens the upstream Realtime WebSocket: `GET {base}/realtime?{query}` over `ws(s)`, with the client's
    /// headers ([`FORWARDED_REQUEST_HEADERS`]), its subprotocols (`protocols`, the key-carrying one already
    /// taken out) and the credential as `Authorization`.
    #[tracing::instrument(skip_all)]
    pub async fn dial_realtime(
        &self,
        query: Option<&str>,
        headers: &HeaderMap,
        protocols: Option<&HeaderValue>,
        credential: Credential<'_>,
        extra: &HeaderMap,
    ) -> Result<RealtimeSocket, DialError> {
        let base = self.base_url();
        let ws_base = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.to_owned()
        };
        let mut url = format!("{ws_base}/realtime");
        if let Some(query) = query.filter(|q| !q.is_empty()) {
            url.push('?');
            url.push_str(query);
        }
        let unreachable = |reason: String| {
            DialError::Failed(RelayError::Unreachable {
                url: url.clone(),
                reason,
            })
        };
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| unreachable(e.to_string()))?;
        let key = self.key_of(credential);
        let h = request.headers_mut();
        for (name, value) in &forwarded(headers, false) {
            h.insert(name, value.clone());
        }
        h.extend(extra.clone());
        if let Some(protocols) = protocols {
            h.insert(reqwest::header::SEC_WEBSOCKET_PROTOCOL, protocols.clone());
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {key}"))
            .map_err(|_| unreachable("the key is not a valid header value".to_owned()))?;
        auth.set_sensitive(true);
        h.insert(reqwest::header::AUTHORIZATION, auth);
        let config = tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES))
            .read_buffer_size(READ_BUFFER_BYTES);
        let dial = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
        let result = tokio::time::timeout(self.timeout(), dial)
            .await
            .map_err(|_| {
                DialError::Failed(RelayError::Timeout {
                    url: url.clone(),
                    timeout: self.timeout(),
                })
            })?;
        match result {
            Ok((socket, response)) => Ok(RealtimeSocket {
                socket,
                protocol: response
                    .headers()
                    .get(reqwest::header::SEC_WEBSOCKET_PROTOCOL)
                    .cloned(),
            }),
            Err(tungstenite::Error::Http(response)) => {
                let (parts, body) = response.into_parts();
                Err(DialError::Rejected(RelayResponse {
                    status: parts.status,
                    headers: end_to_end(&parts.headers),
                    body: scrubbed_body(body.unwrap_or_default(), key),
                }))
            }
            // The message names no header or key: the URL and what went wrong on the way.
            Err(e) => Err(unreachable(e.to_string())),
        }
    }

    fn key_of<'a>(&'a self, credential: Credential<'a>) -> &'a str {
        match credential {
            Credential::Server => self.api_key().expose(),
            Credential::Client(key) => key,
        }
    }

    fn relay_error(&self, e: reqwest::Error, url: &str) -> RelayError {
        if e.is_timeout() {
            RelayError::Timeout {
                url: url.to_owned(),
                timeout: self.timeout(),
            }
        } else {
            // reqwest's Display names the URL and the cause, never a header.
            RelayError::Unreachable {
                url: url.to_owned(),
                reason: without_source_url(e),
            }
        }
    }
}

fn without_source_url(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        source = s.source();
    }
    reason
}

/// The client's headers that go upstream; `with_content_type` for REST (a WebSocket handshake has no body).
fn forwarded(headers: &HeaderMap, with_content_type: bool) -> HeaderMap {
    let mut out = HeaderMap::new();
    let content_type = with_content_type.then_some("content-type");
    for name in FORWARDED_REQUEST_HEADERS
        .iter()
        .copied()
        .chain(content_type)
    {
        for value in headers.get_all(name) {
            out.append(HeaderName::from_static(name), value.clone());
        }
    }
    out
}

fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let mut out = headers.clone();
    for name in DROPPED_RESPONSE_HEADERS {
        out.remove(name);
    }
    out
}

/// An error body without the credential or anything shaped like a key, the bytes kept when there is none.
fn scrubbed_body(body: Vec<u8>, key: &str) -> Bytes {
    match String::from_utf8(body) {
        Ok(text) => Bytes::from(scrub(&text, key)),
        // Not text: nothing the API would put a key into.
        Err(e) => Bytes::from(e.into_bytes()),
    }
}
