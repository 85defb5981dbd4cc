//! The upstream client of realtime-console: the only code that talks to the OpenAI Realtime API.
//!
//! It mints ephemeral keys (`POST /realtime/client_secrets`), forwards SDP offers
//! (`POST /realtime/calls`, multipart) and hangs calls up, with the server's standard key held in a
//! type that never prints itself. [`SessionConfig`] is the typed GA session that passes unknown
//! fields through, and [`Error::to_public`] says how each failure should reach the console's clients.
//!
//! With the `test-upstream` feature, [`testing::RecordingUpstream`] is a real HTTP fake of the API
//! that records every request, for this crate's tests and the console's.

mod call_id;
mod client;
mod error;
mod relay;
mod secret;
pub mod session;

#[cfg(feature = "test-upstream")]
pub mod testing;

pub use call_id::CallId;
pub use client::{CallAnswer, Client, ClientConfig, ClientSecret, DEFAULT_BASE_URL, ExpiresAfter};
pub use error::{ApiError, Error, ErrorEnvelope, PublicError, Result};
pub use relay::{
    Credential, DialError, FORWARDED_REQUEST_HEADERS, MAX_MESSAGE_BYTES, READ_BUFFER_BYTES,
    RealtimeSocket, RelayError, RelayRequest, RelayResponse,
};
pub use secret::{ApiKey, EphemeralKey, KeyFingerprint};
pub use session::SessionConfig;
/// The WebSocket library of [`RealtimeSocket`], for the relay's other hop.
pub use tokio_tungstenite::tungstenite;
