//! realtime-emulator: an offline emulator of the OpenAI Realtime API (GA) with real WebRTC, WebSockets and a
//! scripted model.

pub mod audio;
pub mod clock;
pub mod config;
pub mod engine;
pub mod http;
mod ids;
pub mod io;
pub mod model;
pub mod params;
pub mod rtc;
pub mod scenario;
pub mod session;
pub mod sip;
pub mod tls;
pub mod ws;

pub use clock::Clock;
pub use config::{EmulatorConfig, Faults, HttpFault, Pace};
pub use http::{router, serve};
pub use scenario::Scenario;
pub use tls::{Tls, TlsListener};
