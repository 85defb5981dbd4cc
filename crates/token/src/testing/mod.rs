//! A recording fake of the upstream Realtime API, for tests (feature `test-upstream`).
//!
//! [`RecordingUpstream`] is a real HTTP server on `127.0.0.1:0` that records every request (method,
//! path, headers, raw body) and answers each endpoint as configured: a success shaped like the real
//! API (see [`fixtures`]), an error envelope with any status, raw bytes, or any of these after a delay.
//!
//! Another crate's tests use it through a dev-dependency:
//! `realtime-token = { workspace = true, features = ["test-upstream"] }`.
//!
//! ```no_run
//! # async fn demo() {
//! use realtime_token::testing::{RecordingUpstream, Reply, Route};
//! let upstream = RecordingUpstream::start().await;
//! upstream.set_reply(Route::ClientSecrets, Reply::error(429, "rate_limit_exceeded", "Slow down"));
//! // point the code under test at upstream.base_url(), then:
//! let requests = upstream.requests();
//! # }
//! ```

pub mod fixtures;
mod request;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub use request::{FormPart, RecordedRequest};

/// The endpoints the fake knows; anything else is [`Route::Other`] and gets a 404 by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    ClientSecrets,
    Calls,
    Hangup,
    Other,
}

impl Route {
    fn of(method: &Method, path: &str) -> Self {
        if method != Method::POST {
            return Route::Other;
        }
        let Some(rest) = path.strip_prefix("/v1/realtime/") else {
            return Route::Other;
        };
        match rest.split('/').collect::<Vec<_>>().as_slice() {
            ["client_secrets"] => Route::ClientSecrets,
            ["calls"] => Route::Calls,
            ["calls", id, "hangup"] if !id.is_empty() => Route::Hangup,
            _ => Route::Other,
        }
    }
}

/// How the fake answers one endpoint.
#[derive(Clone, Debug)]
pub enum Reply {
    /// What the real API answers on success (see [`fixtures`]).
    Success,
    /// `status` with `{"error": error}` and an optional `Retry-After`.
    Error {
        status: u16,
        error: Value,
        retry_after: Option<String>,
    },
    /// Anything at all, e.g. a 201 without `Location` or a body that is not JSON.
    Raw {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Another reply, after a pause (for timeouts).
    Delayed(Duration, Box<Reply>),
}

impl Reply {
    /// An error envelope with `type` derived from the status as the API does, and `param: null`.
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        let kind = match status {
            429 => "rate_limit_error",
            500.. => "server_error",
            _ => "invalid_request_error",
        };
        Reply::Error {
            status,
            error: json!({"message": message, "type": kind, "param": null, "code": code}),
            retry_after: None,
        }
    }

    /// Sets `param` on an [`Reply::Error`].
    pub fn with_param(mut self, param: &str) -> Self {
        if let Reply::Error { error, .. } = &mut self {
            error["param"] = json!(param);
        }
        self
    }

    /// Sets `Retry-After` on an [`Reply::Error`].
    pub fn with_retry_after(mut self, value: &str) -> Self {
        if let Reply::Error { retry_after, .. } = &mut self {
            *retry_after = Some(value.to_owned());
        }
        self
    }

    pub fn delayed(self, by: Duration) -> Self {
        Reply::Delayed(by, Box::new(self))
    }
}

#[derive(Default)]
struct Recorder {
    requests: Vec<RecordedRequest>,
    replies: HashMap<Route, Reply>,
}

type Shared = Arc<Mutex<Recorder>>;

/// The running fake. Stops when dropped.
pub struct RecordingUpstream {
    addr: SocketAddr,
    recorder: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl RecordingUpstream {
    /// Binds `127.0.0.1:0` and serves until dropped. Every endpoint starts with [`Reply::Success`].
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0 for the recording upstream");
        let addr = listener
            .local_addr()
            .expect("local address of the listener");
        let recorder = Shared::default();
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&recorder));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            recorder,
            server,
        }
    }

    /// The API root, like `https://api.openai.com/v1`: give it to the client as `OPENAI_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How `route` answers from now on.
    pub fn set_reply(&self, route: Route, reply: Reply) {
        self.lock().replies.insert(route, reply);
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The requests received so far on one route.
    pub fn requests_to(&self, route: Route) -> Vec<RecordedRequest> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.route == route)
            .cloned()
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorder> {
        self.recorder.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for RecordingUpstream {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn answer(
    State(recorder): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let route = Route::of(&method, uri.path());
    let request = RecordedRequest {
        route,
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body,
    };
    // The lock is released before any await: delays must not block other requests.
    let reply = {
        let mut recorder = recorder.lock().unwrap_or_else(|e| e.into_inner());
        recorder.requests.push(request.clone());
        recorder
            .replies
            .get(&route)
            .cloned()
            .unwrap_or(Reply::Success)
    };
    respond(route, &request, reply).await
}

async fn respond(route: Route, request: &RecordedRequest, mut reply: Reply) -> Response {
    while let Reply::Delayed(by, inner) = reply {
        tokio::time::sleep(by).await;
        reply = *inner;
    }
    match reply {
        Reply::Success => success(route, request),
        Reply::Error {
            status,
            error,
            retry_after,
        } => {
            let mut response = json_response(status, &json!({ "error": error }));
            if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Reply::Raw {
            status,
            headers,
            body,
        } => {
            let mut builder = Response::builder().status(status);
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            builder
                .body(Body::from(body))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
        Reply::Delayed(..) => unreachable!("delays were unwrapped above"),
    }
}

fn success(route: Route, request: &RecordedRequest) -> Response {
    match route {
        Route::ClientSecrets => {
            let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
                return json_response(
                    400,
                    &fixtures::error_envelope(
                        "invalid_request_error",
                        None,
                        None,
                        "We could not parse the JSON body of your request.",
                    ),
                );
            };
            let seconds = body["expires_after"]["seconds"].as_i64().unwrap_or(600);
            json_response(
                200,
                &fixtures::client_secret_response(
                    &fixtures::ephemeral_key(),
                    seconds,
                    &body["session"],
                ),
            )
        }
        Route::Calls => {
            let call_id = fixtures::call_id();
            Response::builder()
                .status(201)
                .header(header::CONTENT_TYPE, "application/sdp")
                .header(header::LOCATION, format!("/v1/realtime/calls/{call_id}"))
                .body(Body::from(fixtures::SDP_ANSWER))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
        Route::Hangup => StatusCode::OK.into_response(),
        Route::Other => json_response(
            404,
            &fixtures::error_envelope(
                "invalid_request_error",
                None,
                None,
                &format!("Invalid URL ({} {})", request.method, request.path),
            ),
        ),
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
