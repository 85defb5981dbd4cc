//! The emulator's HTTP surface (PROTOCOL §1–4, §15): minting ephemeral keys, WebRTC call set-up and hangup,
//! and the WebSocket transport's upgrade. Mount `router` under `/v1` (the binary) or any other prefix (the
//! console); `Location` follows the mount.

mod auth;
mod calls;
mod client_secrets;
pub mod error;
mod realtime;
mod sip;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::OriginalUri;
use axum::http::{HeaderName, Method, StatusCode, header};
use tower_http::cors::{AllowHeaders, Any, CorsLayer};

use crate::config::{EmulatorConfig, Faults, HttpFault};
use crate::engine::{EngineHandle, EngineSettings};
use crate::session::Session;
use error::ApiError;

struct EphemeralKey {
    session: Session,
    expires_at: i64,
}

/// A call in progress, and the ephemeral key that opened it (none for a standard key).
struct Call {
    handle: EngineHandle,
    key: Option<String>,
    /// An incoming SIP call that was accepted (not a WebRTC call).
    sip: bool,
}

/// What a call id names, for the SIP call-control endpoints.
pub(crate) enum CallState {
    /// An injected SIP call waiting for `accept` or `reject`.
    Ringing,
    /// An accepted SIP call.
    Sip(EngineHandle),
    WebRtc,
    /// Unknown, or ended.
    Gone,
}

#[derive(Default)]
struct Calls {
    live: HashMap<String, Call>,
    /// Injected SIP calls not yet accepted or rejected, and when each stops ringing.
    ringing: HashMap<String, Instant>,
    /// Calls being set up, per ephemeral key: counted against the key's bound until registered.
    pending: HashMap<String, u32>,
}

impl Calls {
    fn open_with(&self, key: &str) -> u32 {
        let live = self
            .live
            .values()
            .filter(|c| c.key.as_deref() == Some(key) && !c.handle.is_finished())
            .count() as u32;
        live + self.pending.get(key).copied().unwrap_or(0)
    }

    fn release(&mut self, key: &str) {
        if let Some(n) = self.pending.get_mut(key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.pending.remove(key);
            }
        }
    }
}

/// A slot for one more call of an ephemeral key, taken before the call is set up; given back if the set-up
/// fails (dropped), or turned into the call ([`AppState::register_call`]).
pub(crate) struct CallSlot {
    state: AppState,
    key: Option<String>,
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.state.calls().release(&key);
        }
    }
}

struct Inner {
    config: EmulatorConfig,
    settings: Arc<EngineSettings>,
    faults: Faults,
    keys: Mutex<HashMap<String, EphemeralKey>>,
    calls: Mutex<Calls>,
    mint_failures: AtomicU32,
    call_failures: AtomicU32,
}

/// Shared by every handler of one emulator instance.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    pub fn new(config: EmulatorConfig) -> AppState {
        AppState(Arc::new(Inner {
            settings: Arc::new(EngineSettings::from_config(&config)),
            faults: config.effective_faults(),
            config,
            keys: Mutex::default(),
            calls: Mutex::default(),
            mint_failures: AtomicU32::new(0),
            call_failures: AtomicU32::new(0),
        }))
    }

    fn config(&self) -> &EmulatorConfig {
        &self.0.config
    }

    fn remember_key(&self, key: String, session: Session, expires_at: i64) {
        let now = self.0.config.clock.now_unix();
        let mut keys = self.0.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.retain(|_, k| k.expires_at > now);
        keys.insert(
            key,
            EphemeralKey {
                session,
                expires_at,
            },
        );
    }

    /// The session of an ephemeral key that exists and has not expired.
    fn ephemeral_session(&self, key: &str) -> Option<Session> {
        let now = self.0.config.clock.now_unix();
        let keys = self.0.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(key)
            .filter(|k| k.expires_at > now)
            .map(|k| k.session.clone())
    }

    fn calls(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.0.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one of the key's call slots, or answers 429 when it holds [`EmulatorConfig::max_calls_per_key`].
    fn reserve_call(&self, key: &str) -> Result<CallSlot, ApiError> {
        let limit = self.0.config.max_calls_per_key;
        let mut calls = self.calls();
        if calls.open_with(key) >= limit {
            return Err(ApiError::TooManyCalls { limit });
        }
        *calls.pending.entry(key.to_owned()).or_default() += 1;
        Ok(CallSlot {
            state: self.clone(),
            key: Some(key.to_owned()),
        })
    }

    fn register_call(&self, call_id: String, handle: EngineHandle, slot: Option<CallSlot>) {
        let key = slot.and_then(|mut slot| slot.key.take());
        let mut calls = self.calls();
        if let Some(key) = &key {
            calls.release(key);
        }
        calls.live.retain(|_, c| !c.handle.is_finished());
        calls.live.insert(
            call_id,
            Call {
                handle,
                key,
                sip: false,
            },
        );
    }

    /// An injected SIP call starts ringing: it can be accepted or rejected until the accept timeout.
    fn ring(&self, call_id: String) {
        let now = Instant::now();
        let mut calls = self.calls();
        calls.ringing.retain(|_, until| *until > now);
        calls
            .ringing
            .insert(call_id, now + self.0.config.sip_accept_timeout);
    }

    pub(crate) fn call_state(&self, call_id: &str) -> CallState {
        let calls = self.calls();
        if calls
            .ringing
            .get(call_id)
            .is_some_and(|until| *until > Instant::now())
        {
            return CallState::Ringing;
        }
        match calls.live.get(call_id) {
            Some(c) if c.handle.is_finished() => CallState::Gone,
            Some(c) if c.sip => CallState::Sip(c.handle.clone()),
            Some(_) => CallState::WebRtc,
            None => CallState::Gone,
        }
    }

    /// Stops a ringing call (rejected, or hung up before it was answered); false if it was not ringing.
    fn stop_ringing(&self, call_id: &str) -> bool {
        let now = Instant::now();
        self.calls()
            .ringing
            .remove(call_id)
            .is_some_and(|until| until > now)
    }

    /// Answers a ringing call with the engine `start` makes, in one step (of two `accept`s of one call,
    /// one wins); false if it was not ringing, and then nothing is started.
    fn answer(&self, call_id: &str, start: impl FnOnce() -> EngineHandle) -> bool {
        let now = Instant::now();
        let mut calls = self.calls();
        let ringing = calls
            .ringing
            .remove(call_id)
            .is_some_and(|until| until > now);
        if !ringing {
            return false;
        }
        calls.live.retain(|_, c| !c.handle.is_finished());
        calls.live.insert(
            call_id.to_owned(),
            Call {
                handle: start(),
                key: None,
                sip: true,
            },
        );
        true
    }

    /// The engine of a call in progress, left registered (a sideband attaches to it).
    fn live_call(&self, call_id: &str) -> Option<EngineHandle> {
        self.calls()
            .live
            .get(call_id)
            .map(|c| c.handle.clone())
            .filter(|h| !h.is_finished())
    }

    fn take_call(&self, call_id: &str) -> Option<EngineHandle> {
        self.calls()
            .live
            .remove(call_id)
            .map(|c| c.handle)
            .filter(|h| !h.is_finished())
    }

    /// Consumes one injected failure if one is configured and not yet used up.
    fn injected(fault: &Option<HttpFault>, used: &AtomicU32) -> Result<(), ApiError> {
        let Some(f) = fault else { return Ok(()) };
        let n = used.fetch_add(1, Ordering::Relaxed);
        if f.times.is_none_or(|times| n < times) {
            tracing::info!(status = f.status, "fault injection: failing the request");
            return Err(ApiError::Injected {
                status: f.status,
                retry_after: f.retry_after.or((f.status == 429).then_some(1)),
            });
        }
        Ok(())
    }
}

/// The emulator's routes (`/realtime/client_secrets`, `/realtime/calls`, `/realtime/calls/{id}/hangup`, the
/// SIP call-control `…/{id}/accept`, `reject`, `refer`, the WebSocket endpoint `GET /realtime?model=…`, or
/// `?call_id=…` for a sideband, and the emulator-only `/emulator/sip/calls` that rings SIP calls), with CORS for browsers that post their offer directly, and the API's 404
/// envelope for any other path.
///
/// A preflight may ask for any request headers and gets them all: the SDKs add their own
/// (`X-OpenAI-Agents-SDK`, `OpenAI-Beta`, `X-Stainless-*`), and what authenticates a call is its bearer key,
/// not its origin.
pub fn router(config: EmulatorConfig) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([header::LOCATION, HeaderName::from_static("retry-after")]);
    Router::new()
        .merge(client_secrets::router())
        .merge(calls::router())
        .merge(realtime::router())
        .merge(sip::router())
        .fallback(|method, uri| unknown_route(method, uri, StatusCode::NOT_FOUND))
        .method_not_allowed_fallback(|method, uri| {
            unknown_route(method, uri, StatusCode::METHOD_NOT_ALLOWED)
        })
        .layer(cors)
        .with_state(AppState::new(config))
}

/// What the API answers for a path (or a method on it) it does not serve: its envelope and message.
async fn unknown_route(
    method: Method,
    OriginalUri(uri): OriginalUri,
    status: StatusCode,
) -> ApiError {
    ApiError::UnknownRoute {
        method: method.to_string(),
        path: uri.path().to_owned(),
        status,
    }
}

/// Serves the emulator under `/v1` until `shutdown` resolves, over plain HTTP (a `TcpListener`) or TLS (a
/// [`crate::TlsListener`]).
pub async fn serve<L>(
    listener: L,
    config: EmulatorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let app = Router::new()
        .nest("/v1", router(config))
        .layer(tower_http::trace::TraceLayer::new_for_http());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
