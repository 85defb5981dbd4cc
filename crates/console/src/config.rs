//! Configuration: flags, environment and `.env`. `realtime-console --help` is the reference.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use realtime_token::{ApiKey, ExpiresAfter, SessionConfig};

pub use crate::access::AccessSecret;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "realtime-console",
    version,
    about = "A console, flight recorder and test bench for the OpenAI Realtime API"
)]
pub struct Config {
    /// Address to listen on. Loopback by default: the console is a developer tool, not a public site.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port to listen on; 0 picks a free port (the log line says which).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,

    /// SQLite database of recorded sessions, e.g. `sqlite://data/console.db`. Its folder is created.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/console.db")]
    pub database_url: String,

    /// How far a recorded batch has gone when the server acknowledges it: `full` (synced to disk; survives
    /// a power cut) or `normal` (handed to the OS; survives a crash or kill -9 of the server, but a power cut
    /// may lose the last batches). `normal` makes one session's ingest 1.3-1.6x as fast; see the README.
    #[arg(long, env = "STORE_DURABILITY", default_value = "full")]
    pub durability: realtime_store::Durability,

    /// Folder of the browser's JS and CSS. Defaults to the workspace's `static/`.
    #[arg(long, env = "STATIC_DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../static"))]
    pub static_dir: PathBuf,

    /// Largest JSONL file `POST /api/sessions/import` accepts, in MiB.
    #[arg(long, env = "MAX_IMPORT_MIB", default_value_t = 512)]
    pub max_import_mib: u64,

    /// The server's standard OpenAI API key. Prefer the environment (a flag shows in `ps`). Never logged,
    /// never in a response or the store. Without one, the built-in emulator at /emulator/v1 is the upstream.
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true, value_parser = parse_api_key)]
    pub openai_api_key: Option<ApiKey>,

    /// Root of the Realtime API, including `/v1`. Used only with OPENAI_API_KEY.
    #[arg(long, env = "OPENAI_BASE_URL", default_value = realtime_token::DEFAULT_BASE_URL)]
    pub openai_base_url: String,

    /// The model every session uses. Clients may only ask for it or one of --allowed-models.
    #[arg(long, env = "REALTIME_MODEL", default_value = "gpt-realtime")]
    pub model: String,

    /// Other models clients may ask for in `session.model`, comma-separated.
    #[arg(long, env = "REALTIME_ALLOWED_MODELS", value_delimiter = ',')]
    pub allowed_models: Vec<String>,

    /// The server's default session (JSON, GA shape), e.g. `{"instructions":"Be brief."}`; clients'
    /// overrides are merged onto it. `type` and `model` are set by the server.
    #[arg(long, env = "REALTIME_SESSION_DEFAULTS")]
    pub session_defaults: Option<String>,

    /// Lifetime of minted ephemeral keys, in seconds (10–7200).
    #[arg(long, env = "TOKEN_TTL_SECS", default_value_t = 600)]
    pub token_ttl_secs: u32,

    /// How long to wait for a connection to the Realtime API, in milliseconds.
    #[arg(long, env = "UPSTREAM_CONNECT_TIMEOUT_MS", default_value_t = 5_000)]
    pub upstream_connect_timeout_ms: u64,

    /// How long one request to the Realtime API may take in all, in milliseconds (then 504).
    #[arg(long, env = "UPSTREAM_TIMEOUT_MS", default_value_t = 30_000)]
    pub upstream_timeout_ms: u64,

    /// Requests per minute each client IP may make to /api/rt/token and /api/rt/session; 0 turns
    /// the limit off. Behind a reverse proxy every client shares the proxy's IP.
    #[arg(long, env = "RT_RATE_PER_MIN", default_value_t = 10)]
    pub rt_rate_per_min: u32,

    /// How many of those requests may come at once, before the per-minute pace applies.
    #[arg(long, env = "RT_RATE_BURST", default_value_t = 5)]
    pub rt_rate_burst: u32,

    /// Required when HOST is not a loopback address (at least 16 characters): every page and API then
    /// needs it, as `Authorization: Bearer <secret>` or the cookie set by opening `/?access=<secret>` once.
    #[arg(long, env = "ACCESS_SECRET", hide_env_values = true, value_parser = parse_access_secret)]
    pub access_secret: Option<AccessSecret>,

    /// Other names the server may be reached by, comma-separated: `name` (any port) or `name:port`. Requests
    /// whose `Host` is none of these, the loopback names and addresses on the server's port, or the
    /// address it listens on answer 421, so a DNS-rebinding page cannot reach it.
    #[arg(long, env = "ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Most connections served at once; one more is answered 503 and closed.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Seconds a client has to send a request's headers; an idle keep-alive connection closes after as long.
    #[arg(long, env = "HEADER_TIMEOUT_SECS", default_value_t = 20)]
    pub header_timeout_secs: u64,

    /// Seconds a request body may go without sending anything (then 408). An upload that keeps sending may
    /// take as long as it needs.
    #[arg(long, env = "BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub body_timeout_secs: u64,
}

fn parse_api_key(raw: &str) -> Result<ApiKey, String> {
    // Never echo the value: clap puts a parser's error next to it.
    Ok(ApiKey::new(raw.trim()))
}

fn parse_access_secret(raw: &str) -> Result<AccessSecret, String> {
    Ok(AccessSecret::new(raw))
}

/// Why the server refuses to start with this configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "refusing to listen on {host} without an access secret: anyone who can reach that address could \
         mint keys on the server's OpenAI account and read every recording. Set ACCESS_SECRET (or \
         --access-secret) to a random string of at least {min} characters, or listen on 127.0.0.1"
    )]
    PublicWithoutSecret { host: IpAddr, min: usize },
    #[error("ACCESS_SECRET is too short: use at least {min} random characters")]
    SecretTooShort { min: usize },
    #[error("TOKEN_TTL_SECS must be between {min} and {max}", min = ExpiresAfter::MIN_SECONDS, max = ExpiresAfter::MAX_SECONDS)]
    TokenTtl,
    #[error("REALTIME_SESSION_DEFAULTS is not a valid session: {0}")]
    SessionDefaults(String),
    #[error("OPENAI_BASE_URL must be an http(s) URL such as https://api.openai.com/v1")]
    BaseUrl,
    #[error("upstream timeouts must be at least 1 ms")]
    Timeout,
    #[error(
        "HEADER_TIMEOUT_SECS and BODY_TIMEOUT_SECS must be at least 1, MAX_CONNECTIONS at least 1"
    )]
    ServerLimits,
    #[error("ALLOWED_HOSTS entry `{0}` is not a host name, address or name:port")]
    AllowedHost(String),
}

impl Config {
    /// The configuration from the command line and the environment (`.env` already loaded into it). A
    /// variable that is set but empty (`OPENAI_API_KEY=`, the shape `.env.example` invites) counts as unset:
    /// the setting takes its default, or stays off. Exits with clap's message on a bad value.
    pub fn from_env_and_args() -> Self {
        let matches = Self::command_ignoring_empty_env().get_matches();
        Self::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }

    /// `Config::command()` without the environment variables that are set to an empty (or blank) value.
    fn command_ignoring_empty_env() -> clap::Command {
        let mut command = Self::command();
        let empty: Vec<clap::Id> = command
            .get_arguments()
            .filter(|arg| {
                arg.get_env()
                    .and_then(std::env::var_os)
                    .is_some_and(|value| value.to_string_lossy().trim().is_empty())
            })
            .map(|arg| arg.get_id().clone())
            .collect();
        for id in empty {
            command = command.mut_arg(id, |arg| arg.env(None::<&str>));
        }
        command
    }

    /// The defaults, as `realtime-console` with no flags and an empty environment would use them.
    pub fn for_tests(database_url: String) -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            database_url,
            durability: realtime_store::Durability::Full,
            static_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../static")),
            max_import_mib: 512,
            openai_api_key: None,
            openai_base_url: realtime_token::DEFAULT_BASE_URL.to_owned(),
            model: "gpt-realtime".to_owned(),
            allowed_models: Vec::new(),
            session_defaults: None,
            token_ttl_secs: 600,
            upstream_connect_timeout_ms: 5_000,
            upstream_timeout_ms: 30_000,
            rt_rate_per_min: 10,
            rt_rate_burst: 5,
            access_secret: None,
            allowed_hosts: Vec::new(),
            max_connections: 1024,
            header_timeout_secs: 20,
            body_timeout_secs: 30,
        }
    }

    /// Checks what flags cannot: a public address needs an access secret, and the session defaults,
    /// key lifetime, base URL and timeouts must make sense. Called by [`crate::AppState::new`].
    pub fn validate(&self) -> Result<(), ConfigError> {
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
        ExpiresAfter::seconds(self.token_ttl_secs).map_err(|_| ConfigError::TokenTtl)?;
        self.default_session()?;
        let url = self.openai_base_url.as_str();
        let authority = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
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
        crate::hosts::AllowedHosts::from_config(self)?;
        Ok(())
    }

    /// The server's default session: `--session-defaults` with `type` and `model` set by the server.
    pub fn default_session(&self) -> Result<SessionConfig, ConfigError> {
        let mut session = match self.session_defaults.as_deref().map(str::trim) {
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
        session.model = Some(self.model.clone());
        Ok(session)
    }

    /// Whether a client may ask for `model`.
    pub fn model_allowed(&self, model: &str) -> bool {
        model == self.model || self.allowed_models.iter().any(|m| m == model)
    }

    pub fn token_ttl(&self) -> ExpiresAfter {
        // Checked by `validate`; the fallback is the API's own default.
        ExpiresAfter::seconds(self.token_ttl_secs)
            .ok()
            .or_else(|| ExpiresAfter::seconds(600).ok())
            .expect("600 s is a valid key lifetime")
    }

    pub fn upstream_connect_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_connect_timeout_ms)
    }

    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_timeout_ms)
    }

    pub fn server_limits(&self) -> crate::server::Limits {
        crate::server::Limits {
            max_connections: self.max_connections,
            header_timeout: Duration::from_secs(self.header_timeout_secs),
            shutdown_grace: Duration::from_secs(5),
        }
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_database_file() {
        let mut c = Config::for_tests("sqlite://data/x.db?mode=rwc".into());
        assert_eq!(c.database_path(), Some(PathBuf::from("data/x.db")));
        c.database_url = "sqlite::memory:".into();
        assert_eq!(c.database_path(), None);
    }

    #[test]
    fn a_public_address_needs_a_long_enough_secret() {
        let mut c = Config::for_tests("sqlite://x.db".into());
        c.validate().unwrap();
        c.host = IpAddr::from([0, 0, 0, 0]);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("ACCESS_SECRET"), "{err}");
        c.access_secret = Some(AccessSecret::new("short"));
        assert!(matches!(
            c.validate(),
            Err(ConfigError::SecretTooShort { .. })
        ));
        c.access_secret = Some(AccessSecret::new("0123456789abcdef"));
        c.validate().unwrap();
        c.host = IpAddr::from([0, 0, 0, 0, 0, 0, 0, 1]);
        c.access_secret = None;
        c.validate().unwrap();
    }

    #[test]
    fn checks_ttl_defaults_and_base_url() {
        let mut c = Config::for_tests("sqlite://x.db".into());
        c.token_ttl_secs = 5;
        assert!(matches!(c.validate(), Err(ConfigError::TokenTtl)));
        c.token_ttl_secs = 600;
        c.session_defaults = Some("[1]".into());
        assert!(c.validate().is_err());
        c.session_defaults = Some(r#"{"instructions":"Be brief.","model":"other"}"#.into());
        let s = c.default_session().unwrap();
        assert_eq!(s.model.as_deref(), Some("gpt-realtime"));
        assert_eq!(s.instructions.as_deref(), Some("Be brief."));
        c.openai_base_url = "ftp://x".into();
        assert!(matches!(c.validate(), Err(ConfigError::BaseUrl)));
        c.openai_base_url = "http://127.0.0.1:9/v1".into();
        c.validate().unwrap();
    }

    #[test]
    fn the_server_model_and_allowed_ones_pass() {
        let mut c = Config::for_tests("sqlite://x.db".into());
        c.allowed_models = vec!["gpt-realtime-mini".into()];
        assert!(c.model_allowed("gpt-realtime"));
        assert!(c.model_allowed("gpt-realtime-mini"));
        assert!(!c.model_allowed("gpt-4o"));
    }

    #[test]
    fn help_documents_the_upstream_and_access_flags() {
        let help = Config::command().render_long_help().to_string();
        for flag in [
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "UPSTREAM_CONNECT_TIMEOUT_MS",
            "UPSTREAM_TIMEOUT_MS",
            "RT_RATE_PER_MIN",
            "ACCESS_SECRET",
            "REALTIME_MODEL",
            "REALTIME_ALLOWED_MODELS",
        ] {
            assert!(help.contains(flag), "--help does not mention {flag}");
        }
    }
}
