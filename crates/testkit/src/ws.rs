//! A Realtime WebSocket client for tests (tokio-tungstenite): connects with a bearer key or the browsers'
//! subprotocols, sends client events, and hands out server events validated against their schema. Like a
//! browser, it refuses a handshake whose selected subprotocol was not offered or is missing.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::schema::schemas;

/// A guard against hangs, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(20);

/// Anything that hands out server events one at a time (a socket, a WebRTC peer's data channel), with the
/// two waits every test needs.
#[allow(async_fn_in_trait)]
pub trait Events {
    /// The next server event; panics if there is none.
    async fn event(&mut self) -> Value;

    /// The next event, which must be of type `ty`.
    async fn expect(&mut self, ty: &str) -> Value {
        let e = self.event().await;
        assert_eq!(e["type"], ty, "expected {ty}, got {e:#}");
        e
    }

    /// Events up to and including the first of type `ty`.
    async fn until(&mut self, ty: &str) -> Vec<Value> {
        let mut out = vec![];
        loop {
            let e = self.event().await;
            let done = e["type"] == ty;
            out.push(e);
            if done {
                return out;
            }
        }
    }
}

impl Events for WsClient {
    async fn event(&mut self) -> Value {
        WsClient::event(self).await
    }
}

/// How the client presents its key.
pub enum Auth<'a> {
    /// `Authorization: Bearer <key>`, no subprotocol.
    Bearer(&'a str),
    /// `Sec-WebSocket-Protocol: realtime, openai-insecure-api-key.<key>`, as browsers do.
    Subprotocol(&'a str),
    /// Any `Sec-WebSocket-Protocol` list (comma-separated), no header key.
    Protocols(&'a str),
    None,
}

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The subprotocol the server selected.
    pub protocol: Option<String>,
    /// Pings the server sent so far.
    pub pings: usize,
}

/// The upgrade request for `url`, with the key presented as `auth` says.
fn handshake(
    url: &str,
    auth: Auth<'_>,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut request = url.into_client_request().unwrap();
    let headers = request.headers_mut();
    let mut set = |name: &'static str, value: String| {
        headers.insert(name, HeaderValue::from_str(&value).unwrap());
    };
    match auth {
        Auth::Bearer(key) => set("authorization", format!("Bearer {key}")),
        Auth::Subprotocol(key) => set(
            "sec-websocket-protocol",
            format!("realtime, openai-insecure-api-key.{key}"),
        ),
        Auth::Protocols(list) => set("sec-websocket-protocol", list.to_owned()),
        Auth::None => {}
    }
    request
}

/// How a socket ended, as the client saw it.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    /// A close frame with this code and reason.
    Frame(u16, String),
    /// The connection ended without a close frame.
    Abruptly,
}

impl WsClient {
    /// Connects to `url` (`ws://…/v1/realtime?model=…`); panics if the handshake fails.
    pub async fn connect(url: &str, auth: Auth<'_>) -> WsClient {
        let request = handshake(url, auth);
        // Server messages may exceed tungstenite's defaults (and the API's 1 MiB of some clients).
        let config = WebSocketConfig::default()
            .max_message_size(Some(64 << 20))
            .max_frame_size(Some(64 << 20));
        let (socket, response) = tokio::time::timeout(
            PATIENCE,
            tokio_tungstenite::connect_async_with_config(request, Some(config), false),
        )
        .await
        .expect("the handshake hung")
        .unwrap_or_else(|e| panic!("the handshake to {url} failed: {e}"));
        assert_eq!(response.status(), 101);
        let protocol = response
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap().to_owned());
        WsClient {
            socket,
            protocol,
            pings: 0,
        }
    }

    /// A handshake the server must refuse without upgrading: the HTTP status it answered with.
    pub async fn refused(url: &str, auth: Auth<'_>) -> u16 {
        let attempt = tokio::time::timeout(
            PATIENCE,
            tokio_tungstenite::connect_async(handshake(url, auth)),
        )
        .await
        .expect("the handshake hung");
        match attempt {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                response.status().as_u16()
            }
            Ok(_) => panic!("{url} was upgraded"),
            Err(e) => panic!("the handshake to {url} failed before any answer: {e}"),
        }
    }

    pub async fn send(&mut self, event: &Value) {
        self.send_raw(&event.to_string()).await;
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.send_message(Message::text(text)).await;
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.send_message(Message::Binary(Bytes::from(bytes))).await;
    }

    pub async fn send_message(&mut self, message: Message) {
        tokio::time::timeout(PATIENCE, self.socket.send(message))
            .await
            .expect("sending hung")
            .unwrap();
    }

    /// The next frame other than pings and pongs (counting the pings); `None` once the connection ended.
    async fn frame(&mut self) -> Option<Message> {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("the server said nothing for a long time");
            match frame {
                Some(Ok(Message::Ping(_))) => self.pings += 1,
                Some(Ok(Message::Pong(_))) => {}
                Some(Ok(m)) => return Some(m),
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The next server event, parsed and checked against its schema; panics on anything else.
    pub async fn event(&mut self) -> Value {
        match self.frame().await {
            Some(Message::Text(text)) => {
                let v: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("server sent invalid JSON ({e}): {text}"));
                schemas().check_server_event(&v);
                v
            }
            other => panic!("expected a server event, got {other:?}"),
        }
    }

    /// The next event, which must be of type `ty`.
    pub async fn expect(&mut self, ty: &str) -> Value {
        Events::expect(self, ty).await
    }

    /// Events up to and including the first of type `ty`.
    pub async fn until(&mut self, ty: &str) -> Vec<Value> {
        Events::until(self, ty).await
    }

    /// Sends an event expected to fail and returns the `error` event's `error`.
    pub async fn expect_error(&mut self, event: &Value) -> Value {
        self.send(event).await;
        self.expect("error").await["error"].clone()
    }

    /// Reads to the end of the connection: the events before it (checked) and how it ended.
    pub async fn closed(&mut self) -> (Vec<Value>, Closed) {
        let mut events = vec![];
        loop {
            match self.frame().await {
                Some(Message::Text(text)) => {
                    let v: Value = serde_json::from_str(&text).unwrap();
                    schemas().check_server_event(&v);
                    events.push(v);
                }
                Some(Message::Close(frame)) => {
                    let closed = frame.map_or(Closed::Frame(1005, String::new()), |f| {
                        Closed::Frame(f.code.into(), f.reason.to_string())
                    });
                    // Let tungstenite answer the close and see the connection end.
                    while self.frame().await.is_some() {}
                    return (events, closed);
                }
                Some(other) => panic!("unexpected frame {other:?}"),
                None => return (events, Closed::Abruptly),
            }
        }
    }

    /// Closes from the client's side with 1000 and returns the code the server answered with.
    pub async fn close(mut self) -> Closed {
        let normal = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        self.socket.close(Some(normal)).await.unwrap();
        self.closed().await.1
    }
}
