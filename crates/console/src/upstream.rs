//! Which Realtime API the console talks to: OpenAI's (when OPENAI_API_KEY is set) or the built-in emulator,
//! mounted at [`EMULATOR_PREFIX`] on the console's own origin so that `just dev` works with no key at all.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

use realtime_emulator::EmulatorConfig;
use realtime_token::{ApiKey, Client, ClientConfig};

use crate::Settings;
use crate::settings::UpstreamSettings;

/// Where the emulator's routes are nested: `{EMULATOR_PREFIX}/realtime/calls` and so on.
pub const EMULATOR_PREFIX: &str = "/emulator/v1";

/// The header that marks a request the gateway relays to the built-in emulator ([`Upstream::relay_headers`]).
pub const RELAY_HEADER: axum::http::HeaderName =
    axum::http::HeaderName::from_static("x-console-relay");

/// The upstream of `/api/rt/*`. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Upstream {
    mode: Mode,
    /// Built at start-up for OpenAI; for the emulator once the listen address is known ([`Upstream::start`]).
    client: OnceLock<Client>,
    connect_timeout: std::time::Duration,
    timeout: std::time::Duration,
}

enum Mode {
    OpenAi {
        base_url: String,
    },
    Emulator {
        /// A random key only this process knows: the emulator accepts no other standard key, so its mint
        /// endpoint is no way around the console's own access checks.
        key: ApiKey,
        config: Box<EmulatorConfig>,
        /// A random value only this process knows, on what the gateway relays to the emulator
        /// ([`Upstream::relay_headers`]); kept both ways: to send, and to check in constant time.
        relay_mark: axum::http::HeaderValue,
        relay_check: ApiKey,
    },
}

impl std::fmt::Debug for Mode {
    // By hand: the emulator's config holds the internal key in plain text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::OpenAi { base_url } => f
                .debug_struct("OpenAi")
                .field("base_url", base_url)
                .finish(),
            Mode::Emulator { .. } => f.write_str("Emulator"),
        }
    }
}

/// The emulator's client could not be built yet: the server is not listening.
#[derive(Debug, thiserror::Error)]
#[error("the built-in emulator is not running yet")]
pub struct NotStarted;

impl Upstream {
    pub fn from_settings(settings: &Settings) -> Result<Self, Box<realtime_token::Error>> {
        let client = OnceLock::new();
        let mode = match &settings.upstream {
            UpstreamSettings::OpenAi { key, base_url } => {
                let built = Client::new(
                    ClientConfig::new(key.clone())
                        .base_url(base_url.clone())
                        .connect_timeout(settings.upstream_connect_timeout)
                        .timeout(settings.upstream_timeout),
                )?;
                let _ = client.set(built);
                Mode::OpenAi {
                    base_url: base_url.clone(),
                }
            }
            UpstreamSettings::Emulator => {
                let key = format!("sk-console-emulator-{}", uuid::Uuid::new_v4().simple());
                let rtc_host = if settings.host.is_unspecified() {
                    IpAddr::V4(Ipv4Addr::LOCALHOST)
                } else {
                    settings.host
                };
                let emulator = EmulatorConfig {
                    api_key: Some(key.clone()),
                    rtc_host,
                    ..EmulatorConfig::default()
                };
                let mark = uuid::Uuid::new_v4().simple().to_string();
                let mut relay_mark = axum::http::HeaderValue::from_str(&mark)
                    .unwrap_or_else(|_| axum::http::HeaderValue::from_static("-"));
                relay_mark.set_sensitive(true);
                Mode::Emulator {
                    key: ApiKey::new(key),
                    config: Box::new(emulator),
                    relay_check: ApiKey::new(mark),
                    relay_mark,
                }
            }
        };
        Ok(Self {
            mode,
            client,
            connect_timeout: settings.upstream_connect_timeout,
            timeout: settings.upstream_timeout,
        })
    }

    /// Called once the server listens on `addr`: points the emulator's client at it. Answers which upstream
    /// is in use, for the start-up line.
    pub fn start(&self, addr: SocketAddr) -> Result<String, Box<realtime_token::Error>> {
        match &self.mode {
            Mode::OpenAi { base_url } => Ok(format!(
                "the OpenAI Realtime API at {}",
                origin(base_url).unwrap_or("(unparsable base URL)")
            )),
            Mode::Emulator { key, .. } => {
                let ip = match addr.ip() {
                    IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                    IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
                    ip => ip,
                };
                let base_url = format!(
                    "http://{}{EMULATOR_PREFIX}",
                    SocketAddr::new(ip, addr.port())
                );
                let client = Client::new(
                    ClientConfig::new(key.clone())
                        .base_url(base_url.clone())
                        .connect_timeout(self.connect_timeout)
                        .timeout(self.timeout),
                )?;
                let _ = self.client.set(client);
                Ok(format!(
                    "the built-in emulator at {base_url}, as no OPENAI_API_KEY is set"
                ))
            }
        }
    }

    pub fn client(&self) -> Result<&Client, NotStarted> {
        self.client.get().ok_or(NotStarted)
    }

    /// Whether `key` is the built-in emulator's internal key: a request of the console's own.
    pub fn is_internal_key(&self, key: &str) -> bool {
        match &self.mode {
            Mode::Emulator { key: own, .. } => own.is(key),
            Mode::OpenAi { .. } => false,
        }
    }

    /// Whether the built-in emulator is the upstream.
    pub fn is_emulator(&self) -> bool {
        matches!(self.mode, Mode::Emulator { .. })
    }

    /// The headers the gateway adds to what it relays: for the built-in emulator, its internal key in
    /// [`RELAY_HEADER`] a random mark of this process, so the console's own access check lets the relayed
    /// request through (the client was checked at `/v1`) while the emulator still sees the client's key.
    pub fn relay_headers(&self) -> axum::http::HeaderMap {
        let mut headers = axum::http::HeaderMap::new();
        if let Mode::Emulator { relay_mark, .. } = &self.mode {
            headers.insert(RELAY_HEADER, relay_mark.clone());
        }
        headers
    }

    /// Whether a request carries the gateway's mark ([`Upstream::relay_headers`]).
    pub fn is_relayed(&self, headers: &axum::http::HeaderMap) -> bool {
        match (
            &self.mode,
            headers.get(RELAY_HEADER).and_then(|v| v.to_str().ok()),
        ) {
            (Mode::Emulator { relay_check, .. }, Some(given)) => relay_check.is(given),
            _ => false,
        }
    }

    /// `openai` or `emulator`, for the system events.
    pub fn name(&self) -> &'static str {
        match self.mode {
            Mode::OpenAi { .. } => "openai",
            Mode::Emulator { .. } => "emulator",
        }
    }

    /// Where a client holding an ephemeral key posts its SDP offer, as an absolute URL (clients such as the
    /// agents SDK do `new URL(calls_url)`). The emulator is on the console's own origin: `request_origin`,
    /// the origin the request came to, or the address the server listens on when the request named none.
    pub fn calls_url(&self, request_origin: Option<&str>) -> String {
        match &self.mode {
            Mode::OpenAi { base_url } => format!("{base_url}/realtime/calls"),
            Mode::Emulator { .. } => {
                let origin = request_origin
                    .map(str::to_owned)
                    .or_else(|| {
                        let base = self.client.get()?.base_url();
                        origin(base).map(str::to_owned)
                    })
                    .unwrap_or_default();
                format!("{origin}{EMULATOR_PREFIX}/realtime/calls")
            }
        }
    }

    /// The origin pages must be allowed to `connect-src` to, when it is not their own.
    pub fn foreign_origin(&self) -> Option<&str> {
        match &self.mode {
            Mode::OpenAi { base_url } => origin(base_url),
            Mode::Emulator { .. } => None,
        }
    }

    /// The emulator's router, to nest at [`EMULATOR_PREFIX`], when it is the upstream.
    pub fn emulator_router(&self) -> Option<axum::Router> {
        match &self.mode {
            Mode::Emulator { config, .. } => {
                Some(realtime_emulator::router(EmulatorConfig::clone(config)))
            }
            Mode::OpenAi { .. } => None,
        }
    }
}

/// `scheme://authority` of an http(s) URL.
fn origin(url: &str) -> Option<&str> {
    let scheme_len = if url.starts_with("https://") {
        "https://".len()
    } else if url.starts_with("http://") {
        "http://".len()
    } else {
        return None;
    };
    let end = url[scheme_len..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_len + i);
    let origin = &url[..end];
    // Userinfo (`user:pass@host`) has no place in a CSP header.
    (end > scheme_len && !origin.contains('@')).then_some(origin)
}

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn origins() {
        assert_eq!(
            origin("https://api.openai.com/v1"),
            Some("https://api.openai.com")
        );
        assert_eq!(
            origin("http://127.0.0.1:8080/v1"),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin("http://h"), Some("http://h"));
        assert_eq!(origin("ftp://h/v1"), None);
        assert_eq!(origin("https:///v1"), None);
        assert_eq!(origin("https://u:p@h/v1"), None);
    }
}
