//! Configuration: flags, environment and `.env`. `realtime-console --help` is the reference.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use realtime_token::{ApiKey, ExpiresAfter, SessionConfig};

pub use crate::access::AccessSecret;
use crate::hosts::AllowedHosts;

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
        let matches = Self::command_without_env(|value| value.trim().is_empty()).get_matches();
        Self::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }

    /// The configuration from `args` alone (the program name first), the environment ignored: tests build
    /// theirs this way, through clap's own defaults, and nothing of the developer's shell leaks in.
    pub fn from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Self::command_without_env(|_| true).try_get_matches_from(args)?;
        Self::from_arg_matches(&matches)
    }

    /// `Config::command()` without the environment variables whose value `ignore` picks.
    fn command_without_env(ignore: impl Fn(&str) -> bool) -> clap::Command {
        let mut command = Self::command();
        let ignored: Vec<clap::Id> = command
            .get_arguments()
            .filter(|arg| {
                arg.get_env()
                    .and_then(std::env::var_os)
                    .is_some_and(|value| ignore(&value.to_string_lossy()))
            })
            .map(|arg| arg.get_id().clone())
            .collect();
        for id in ignored {
            command = command.mut_arg(id, |arg| arg.env(None::<&str>));
        }
        command
    }

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
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults, through clap, with a database: what the server runs with when given nothing else.
    fn config(database_url: &str) -> Config {
        Config::from_args(["realtime-console", "--database-url", database_url]).unwrap()
    }

    #[test]
    fn finds_the_database_file() {
        let mut c = config("sqlite://data/x.db?mode=rwc");
        assert_eq!(
            c.clone().settings().unwrap().database_path(),
            Some(PathBuf::from("data/x.db"))
        );
        c.database_url = "sqlite::memory:".into();
        assert_eq!(c.settings().unwrap().database_path(), None);
    }

    #[test]
    fn a_public_address_needs_a_long_enough_secret() {
        let mut c = config("sqlite://x.db");
        c.clone().settings().unwrap();
        c.host = IpAddr::from([0, 0, 0, 0]);
        let err = c.clone().settings().unwrap_err().to_string();
        assert!(err.contains("ACCESS_SECRET"), "{err}");
        c.access_secret = Some(AccessSecret::new("short"));
        assert!(matches!(
            c.clone().settings(),
            Err(ConfigError::SecretTooShort { .. })
        ));
        c.access_secret = Some(AccessSecret::new("0123456789abcdef"));
        c.clone().settings().unwrap();
        c.host = IpAddr::from([0, 0, 0, 0, 0, 0, 0, 1]);
        c.access_secret = None;
        c.settings().unwrap();
    }

    #[test]
    fn checks_ttl_defaults_and_base_url() {
        let mut c = config("sqlite://x.db");
        c.token_ttl_secs = 5;
        assert!(matches!(c.clone().settings(), Err(ConfigError::TokenTtl)));
        c.token_ttl_secs = 600;
        c.session_defaults = Some("[1]".into());
        assert!(c.clone().settings().is_err());
        c.session_defaults = Some(r#"{"instructions":"Be brief.","model":"other"}"#.into());
        let s = c.clone().settings().unwrap().default_session;
        assert_eq!(s.model.as_deref(), Some("gpt-realtime"));
        assert_eq!(s.instructions.as_deref(), Some("Be brief."));
        c.openai_base_url = "ftp://x".into();
        assert!(matches!(c.clone().settings(), Err(ConfigError::BaseUrl)));
        c.openai_base_url = "http://127.0.0.1:9/v1".into();
        c.settings().unwrap();
    }

    #[test]
    fn the_server_model_and_allowed_ones_pass() {
        let mut c = config("sqlite://x.db");
        c.allowed_models = vec!["gpt-realtime-mini".into()];
        let s = c.settings().unwrap();
        assert!(s.model_allowed("gpt-realtime"));
        assert!(s.model_allowed("gpt-realtime-mini"));
        assert!(!s.model_allowed("gpt-4o"));
    }

    #[test]
    fn tests_build_their_config_through_clap_and_ignore_the_environment() {
        // Whatever the developer's shell holds (a real OPENAI_API_KEY, say), `from_args` reads none of it.
        let c = Config::from_args(["realtime-console", "--port", "0"]).unwrap();
        assert!(c.openai_api_key.is_none());
        assert_eq!((c.port, c.token_ttl_secs), (0, 600));
        assert!(Config::from_args(["realtime-console", "--port", "x"]).is_err());
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
