//! The server's settings: the configuration ([`Config`]), checked and parsed once at start-up. Handlers read
//! these, never the raw flags.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use realtime_token::{ApiKey, ExpiresAfter, SessionConfig};

use crate::config::{AccessSecret, Config, ConfigError};
use crate::hosts::AllowedHosts;

impl Config {
    /// Checks what flags cannot (a public address needs an access secret; the session defaults, key
    /// lifetime, base URL, timeouts and host names must make sense) and parses it all once.
    pub fn settings(self) -> Result<Settings, ConfigError> {
        match &self.access_secret {
            None if !self.host.is_loopback() => {
                return Err(ConfigError::PublicWithoutSecret {
                    host: self.host,
                    min: AccessSecret::MIN_LEN,
                });
            }
            Some(secret) if !secret.long_enough() => {
                return Err(ConfigError::SecretTooShort {
                    min: AccessSecret::MIN_LEN,
                });
            }
            _ => {}
        }
        let token_ttl =
            ExpiresAfter::seconds(self.token_ttl_secs).map_err(|_| ConfigError::TokenTtl)?;
        let default_session = default_session(self.session_defaults.as_deref(), &self.model)?;
        let base_url = self.openai_base_url.trim_end_matches('/').to_owned();
        let authority = base_url
            .strip_prefix("https://")
            .or_else(|| base_url.strip_prefix("http://"));
        if authority.is_none_or(|a| a.split('/').next().is_none_or(str::is_empty)) {
            return Err(ConfigError::BaseUrl);
        }
        if self.upstream_connect_timeout_ms == 0 || self.upstream_timeout_ms == 0 {
            return Err(ConfigError::Timeout);
        }
        if self.header_timeout_secs == 0 || self.body_timeout_secs == 0 || self.max_connections == 0
        {
            return Err(ConfigError::ServerLimits);
        }
        let allowed_hosts = AllowedHosts::new(&self.allowed_hosts, self.host)?;
        Ok(Settings {
            host: self.host,
            port: self.port,
            database_url: self.database_url,
            durability: self.durability,
            static_dir: self.static_dir,
            max_import_bytes: self.max_import_mib.saturating_mul(1024 * 1024),
            upstream: match self.openai_api_key {
                Some(key) => UpstreamSettings::OpenAi { key, base_url },
                None => UpstreamSettings::Emulator,
            },
            upstream_connect_timeout: Duration::from_millis(self.upstream_connect_timeout_ms),
            upstream_timeout: Duration::from_millis(self.upstream_timeout_ms),
            model: self.model,
            allowed_models: self.allowed_models,
            default_session,
            token_ttl,
            rt_rate: RateLimit {
                per_min: self.rt_rate_per_min,
                burst: self.rt_rate_burst,
            },
            access_secret: self.access_secret,
            allowed_hosts,
            server: crate::server::Limits {
                max_connections: self.max_connections,
                header_timeout: Duration::from_secs(self.header_timeout_secs),
                shutdown_grace: Duration::from_secs(5),
            },
            body_timeout: Duration::from_secs(self.body_timeout_secs),
            gateway_recording: self.gateway_recording,
            sideband: self.sideband,
            allow_origins: allow_origins(&self.allow_origin)?,
        })
    }
}

/// `--allow-origin` entries, checked: each an http(s) origin with nothing after the authority.
fn allow_origins(raw: &[String]) -> Result<Vec<String>, ConfigError> {
    raw.iter()
        .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
        .filter(|o| !o.is_empty())
        .map(|o| {
            let authority = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"));
            let ok = authority
                .is_some_and(|a| !a.is_empty() && !a.contains(['/', '?', '#', '@', ' ', '*']));
            if ok {
                Ok(o)
            } else {
                Err(ConfigError::AllowOrigin(o))
            }
        })
        .collect()
}

/// `--session-defaults` as a session, with `type` and `model` set by the server.
fn default_session(json: Option<&str>, model: &str) -> Result<SessionConfig, ConfigError> {
    let mut session = match json.map(str::trim) {
        None | Some("") => SessionConfig::default(),
        Some(json) => {
            let value: serde_json::Value = serde_json::from_str(json)
                .map_err(|e| ConfigError::SessionDefaults(e.to_string()))?;
            if !value.is_object() {
                return Err(ConfigError::SessionDefaults("not a JSON object".into()));
            }
            SessionConfig::from_json(value)
                .map_err(|e| ConfigError::SessionDefaults(e.to_string()))?
        }
    };
    session.kind = Some("realtime".to_owned());
    session.model = Some(model.to_owned());
    Ok(session)
}

/// The server's settings: the configuration, checked and parsed once at start-up ([`Config::settings`]).
#[derive(Debug)]
pub struct Settings {
    pub host: IpAddr,
    pub port: u16,
    pub database_url: String,
    pub durability: realtime_store::Durability,
    pub static_dir: PathBuf,
    pub max_import_bytes: u64,
    pub upstream: UpstreamSettings,
    pub upstream_connect_timeout: Duration,
    pub upstream_timeout: Duration,
    /// The model every session uses, and the others clients may ask for.
    pub model: String,
    pub allowed_models: Vec<String>,
    /// The server's default session (`type` and `model` set).
    pub default_session: SessionConfig,
    /// Lifetime of minted ephemeral keys.
    pub token_ttl: ExpiresAfter,
    pub rt_rate: RateLimit,
    pub access_secret: Option<AccessSecret>,
    pub allowed_hosts: AllowedHosts,
    pub server: crate::server::Limits,
    /// Longest pause inside a request body.
    pub body_timeout: Duration,
    /// Whether the gateway records what it relays.
    pub gateway_recording: bool,
    /// Server-side capture of WebRTC calls through a sideband.
    pub sideband: bool,
    /// Origins allowed to use the drop-in recorder cross-origin, lowercase `scheme://host[:port]`.
    pub allow_origins: Vec<String>,
}

/// Which Realtime API the console talks to.
#[derive(Debug)]
pub enum UpstreamSettings {
    /// OpenAI's (or a compatible one), with the server's key.
    OpenAi { key: ApiKey, base_url: String },
    /// The built-in emulator, on the console's own origin.
    Emulator,
}

/// Requests a minute per client IP (0: off), and how many may come at once.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_min: u32,
    pub burst: u32,
}

impl Settings {
    /// Whether a client may ask for `model`.
    pub fn model_allowed(&self, model: &str) -> bool {
        model == self.model || self.allowed_models.iter().any(|m| m == model)
    }

    /// The file behind a `sqlite://` URL, if it names one, so its folder can be created.
    pub fn database_path(&self) -> Option<PathBuf> {
        let rest = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next()?;
        (!path.is_empty() && !path.starts_with(':')).then(|| PathBuf::from(path))
    }
}
