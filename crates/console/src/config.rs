//! Configuration: flags, environment and `.env`. `realtime-console --help` is the reference.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser};
use realtime_token::{ApiKey, ExpiresAfter};

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

    /// Whether the gateway (`/v1`) records what it relays: `on`, or `off` to relay only (for comparison).
    #[arg(long, env = "GATEWAY_RECORDING", default_value = "on", value_parser = parse_switch, action = clap::ArgAction::Set)]
    pub gateway_recording: bool,

    /// Server-side capture of WebRTC calls: `on` attaches a sideband (`/v1/realtime?call_id=`) to every call
    /// whose id the server knows, when it holds a standard key, and records the call's server events; `off`
    /// records only what the browser forwards.
    #[arg(long, env = "SIDEBAND", default_value = "on", value_parser = parse_switch, action = clap::ArgAction::Set)]
    pub sideband: bool,

    /// Origins (`scheme://host[:port]`, comma-separated) whose pages may use the drop-in recorder
    /// (`/recorder.js`) cross-origin: CORS on exactly the routes it needs. Every other origin gets 403.
    #[arg(long, env = "ALLOW_ORIGIN", value_delimiter = ',')]
    pub allow_origin: Vec<String>,
}

fn parse_switch(raw: &str) -> Result<bool, String> {
    match raw.trim() {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        other => Err(format!("`{other}` is neither `on` nor `off`")),
    }
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
    #[error(
        "ALLOW_ORIGIN: `{0}` is not an origin; give `scheme://host[:port]`, such as http://localhost:5173"
    )]
    AllowOrigin(String),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults, through clap, with a database: what the server runs with when given nothing else.
    fn config(database_url: &str) -> Config {
        Config::from_args(["realtime-console", "--database-url", database_url]).unwrap()
    }

    #[test]
    fn gateway_switches_default_on_and_take_on_or_off() {
        let c = config("sqlite://x.db");
        assert!(c.sideband && c.gateway_recording);
        let off = Config::from_args([
            "realtime-console",
            "--sideband",
            "off",
            "--gateway-recording",
            "off",
        ])
        .unwrap();
        assert!(!off.sideband && !off.gateway_recording);
        assert!(Config::from_args(["realtime-console", "--sideband", "maybe"]).is_err());
        let mut c = config("sqlite://x.db");
        c.allow_origin = vec![
            "http://localhost:5173/".into(),
            "HTTPS://App.Example".into(),
        ];
        assert_eq!(
            c.clone().settings().unwrap().allow_origins,
            ["http://localhost:5173", "https://app.example"]
        );
        for bad in ["localhost:5173", "http://a/b", "*", "http://"] {
            c.allow_origin = vec![bad.into()];
            assert!(
                matches!(c.clone().settings(), Err(ConfigError::AllowOrigin(_))),
                "{bad}"
            );
        }
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
