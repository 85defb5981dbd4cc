//! What an emulator instance is told at start-up: keys, pacing, scenario, limits and faults.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::clock::Clock;
use crate::scenario::Scenario;
use crate::session::ModelChange;
use crate::sip::WebhookSecret;

/// How fast the scripted model streams.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pace {
    /// Human-like: a short think before the first delta, then one delta every few tens of milliseconds.
    #[default]
    Realistic,
    /// Everything at once (tests that only care about order and content).
    Instant,
}

impl Pace {
    /// Delay before the first output of a response.
    pub fn first_output(self) -> Duration {
        match self {
            Pace::Realistic => Duration::from_millis(300),
            Pace::Instant => Duration::ZERO,
        }
    }

    /// Delay between two streamed deltas.
    pub fn between_deltas(self) -> Duration {
        match self {
            Pace::Realistic => Duration::from_millis(40),
            Pace::Instant => Duration::ZERO,
        }
    }

    /// Delay between two audio deltas of `length` each (WebSocket): real time, or none.
    pub fn audio_gap(self, length: Duration) -> Duration {
        match self {
            Pace::Realistic => length,
            Pace::Instant => Duration::ZERO,
        }
    }
}

/// One injected HTTP failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpFault {
    /// 401, 429, 500 or any other status to answer with.
    pub status: u16,
    /// Seconds for the `Retry-After` header (sent with 429 when set).
    pub retry_after: Option<u64>,
    /// Fail only this many requests, then behave normally (`None`: fail all).
    pub times: Option<u32>,
}

/// Failures injected to test how clients cope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Applied to `POST /realtime/client_secrets`.
    pub mint: Option<HttpFault>,
    /// Applied to `POST /realtime/calls`.
    pub call: Option<HttpFault>,
    /// Extra wait before `POST /realtime/calls` answers (a slow SDP answer).
    pub answer_delay: Option<Duration>,
    /// Close the call after this many server events have been sent.
    pub close_after_events: Option<u32>,
}

impl Faults {
    /// Flag/config faults win over the scenario's, field by field.
    pub fn or(self, fallback: Faults) -> Faults {
        Faults {
            mint: self.mint.or(fallback.mint),
            call: self.call.or(fallback.call),
            answer_delay: self.answer_delay.or(fallback.answer_delay),
            close_after_events: self.close_after_events.or(fallback.close_after_events),
        }
    }
}

/// Everything the emulator's router needs. `Default` gives a realistic emulator accepting any `sk-…` key.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// The one accepted standard key; `None` accepts any key of the form `sk-…`.
    pub api_key: Option<String>,
    /// Address the WebRTC transport binds and advertises as its ICE candidate.
    pub rtc_host: IpAddr,
    /// Negotiate RFC 6464 audio levels (as the real service does). Off, the caller's Opus is decoded instead.
    pub rtc_audio_level: bool,
    pub pace: Pace,
    /// Scripted conversation rules and faults; `None` is the default echoing model.
    pub scenario: Option<Scenario>,
    /// A session ends with `session_expired` after this long (the real API: 60 minutes).
    pub max_session: Duration,
    /// How long synthetic speech lasts per transcript character.
    pub audio_per_char: Duration,
    pub faults: Faults,
    /// What `session.update` does with a model other than the session's (unknown for the real API).
    pub model_change: ModelChange,
    /// How many calls one ephemeral key may hold open at once (the real API's rule is not documented).
    pub max_calls_per_key: u32,
    /// How often a WebSocket session pings its client (the real API: about every 20 s).
    pub ws_ping_interval: Duration,
    /// Send a sideband socket (`?call_id=`) its own `session.created` when it attaches. Off by default:
    /// recorded sideband traffic starts without one (PROTOCOL §15.4).
    pub sideband_session_created: bool,
    /// How many sideband sockets may be attached to one call at once (the real API's rule is unknown).
    pub max_sidebands_per_call: u32,
    /// Where an injected SIP call's `realtime.call.incoming` webhook is POSTed (`POST
    /// /v1/emulator/sip/calls`); `None`: nowhere, unless the injection names a URL.
    pub sip_webhook: Option<String>,
    /// What the SIP webhook is signed with; `None` sends it unsigned.
    pub sip_webhook_secret: Option<WebhookSecret>,
    /// An injected SIP call not accepted or rejected within this long has ended (the real API's ring
    /// timeout is not documented).
    pub sip_accept_timeout: Duration,
    /// Source of `expires_at` and key expiry.
    pub clock: Clock,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            api_key: None,
            rtc_host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            rtc_audio_level: true,
            pace: Pace::Realistic,
            scenario: None,
            max_session: Duration::from_secs(60 * 60),
            audio_per_char: Duration::from_millis(60),
            faults: Faults::default(),
            model_change: ModelChange::default(),
            max_calls_per_key: 2,
            ws_ping_interval: Duration::from_secs(20),
            sideband_session_created: false,
            max_sidebands_per_call: 4,
            sip_webhook: None,
            sip_webhook_secret: None,
            sip_accept_timeout: Duration::from_secs(30),
            clock: Clock::default(),
        }
    }
}

impl EmulatorConfig {
    /// How the WebRTC transport answers offers.
    pub fn rtc_options(&self) -> crate::rtc::RtcOptions {
        crate::rtc::RtcOptions {
            host: self.rtc_host,
            audio_level: self.rtc_audio_level,
        }
    }

    /// The faults in force: explicit ones first, then the scenario's.
    pub fn effective_faults(&self) -> Faults {
        let from_scenario = self
            .scenario
            .as_ref()
            .map(|s| s.faults.clone())
            .unwrap_or_default();
        self.faults.clone().or(from_scenario)
    }
}

/// Hand-written so the API key can never reach a log line.
impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("rtc_host", &self.rtc_host)
            .field("rtc_audio_level", &self.rtc_audio_level)
            .field("pace", &self.pace)
            .field(
                "scenario",
                &self.scenario.as_ref().and_then(|s| s.name.as_deref()),
            )
            .field("max_session", &self.max_session)
            .field("audio_per_char", &self.audio_per_char)
            .field("faults", &self.faults)
            .field("model_change", &self.model_change)
            .field("max_calls_per_key", &self.max_calls_per_key)
            .field("ws_ping_interval", &self.ws_ping_interval)
            .field("sideband_session_created", &self.sideband_session_created)
            .field("max_sidebands_per_call", &self.max_sidebands_per_call)
            .field("sip_webhook", &self.sip_webhook)
            .field("sip_webhook_secret", &self.sip_webhook_secret)
            .field("sip_accept_timeout", &self.sip_accept_timeout)
            .finish_non_exhaustive()
    }
}
