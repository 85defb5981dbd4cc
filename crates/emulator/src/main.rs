//! `realtime-emulator`: serves the emulated Realtime API at `http://HOST:PORT/v1` (`https://` with `--tls`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt as _;
use clap::{Parser, ValueEnum};
use realtime_emulator::session::ModelChange;
use realtime_emulator::sip::WebhookSecret;
use realtime_emulator::{EmulatorConfig, Faults, HttpFault, Pace, Scenario, Tls, TlsListener};
use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, ValueEnum)]
enum PaceArg {
    /// Human-like delays between streamed deltas.
    Realistic,
    /// Stream everything at once (tests).
    Instant,
}

/// An offline emulator of the OpenAI Realtime API (GA): point a client's base URL at
/// http://HOST:PORT/v1 and it works unchanged, over real WebRTC, with a scripted model.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "EMULATOR_HOST", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Port to listen on.
    #[arg(long, env = "EMULATOR_PORT", default_value_t = 8090)]
    port: u16,
    /// The one standard API key accepted; when unset, any key of the form sk-… is accepted.
    #[arg(long, env = "EMULATOR_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Address the WebRTC transport binds and advertises as its ICE host candidate.
    #[arg(long, env = "EMULATOR_RTC_HOST", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    rtc_host: IpAddr,
    /// Leave the RFC 6464 audio-level header extension out of SDP answers: the emulator then decodes the
    /// caller's Opus to hear speech, as it does for a peer that does not offer the extension.
    #[arg(long, env = "EMULATOR_NO_AUDIO_LEVEL")]
    no_audio_level: bool,
    /// How fast the scripted model streams its answers.
    #[arg(long, env = "EMULATOR_PACE", value_enum, default_value = "realistic")]
    pace: PaceArg,
    /// A scenario file (JSON) scripting replies, tool calls, errors, drops and faults; see the crate README.
    #[arg(long, env = "EMULATOR_SCENARIO")]
    scenario: Option<PathBuf>,
    /// Sessions end with `session_expired` after this many seconds.
    #[arg(long, env = "EMULATOR_MAX_SESSION_SECS", default_value_t = 3600)]
    max_session_secs: u64,
    /// Milliseconds of synthetic speech per transcript character.
    #[arg(long, env = "EMULATOR_AUDIO_MS_PER_CHAR", default_value_t = 60)]
    audio_ms_per_char: u64,
    /// Fault: answer POST /realtime/client_secrets with this HTTP status (e.g. 401, 429, 500).
    #[arg(long, env = "EMULATOR_FAIL_MINT")]
    fail_mint: Option<u16>,
    /// Fault: answer POST /realtime/calls with this HTTP status.
    #[arg(long, env = "EMULATOR_FAIL_CALL")]
    fail_call: Option<u16>,
    /// Fault: fail only the first N requests of each failing endpoint (default: all).
    #[arg(long, env = "EMULATOR_FAIL_TIMES")]
    fail_times: Option<u32>,
    /// Fault: the Retry-After seconds sent with injected failures (429 gets 1 by default).
    #[arg(long, env = "EMULATOR_RETRY_AFTER")]
    retry_after: Option<u64>,
    /// Fault: wait this long before answering an SDP offer.
    #[arg(long, env = "EMULATOR_ANSWER_DELAY_MS")]
    answer_delay_ms: Option<u64>,
    /// Fault: close each call after this many server events.
    #[arg(long, env = "EMULATOR_CLOSE_AFTER_EVENTS")]
    close_after_events: Option<u32>,
    /// Refuse a `session.update` whose `model` differs from the session's, instead of ignoring that field
    /// (what the real API is believed to do; agents-js sends its own default model in every update).
    #[arg(long, env = "EMULATOR_REJECT_MODEL_CHANGE")]
    reject_model_change: bool,
    /// How many calls one ephemeral key may hold open at once; more answer 429 `call_limit_reached`.
    #[arg(long, env = "EMULATOR_MAX_CALLS_PER_KEY", default_value_t = 2)]
    max_calls_per_key: u32,
    /// Serve HTTPS and WSS (the Node SDK always connects with wss:) with a self-signed certificate made at
    /// start-up for localhost, 127.0.0.1 and ::1. Its PEM is written to --tls-cert-out; trust it with
    /// NODE_EXTRA_CA_CERTS=<that file>.
    #[arg(long, env = "EMULATOR_TLS")]
    tls: bool,
    /// Serve HTTPS and WSS with this certificate chain (PEM) instead of a self-signed one; needs --tls-key.
    #[arg(long, env = "EMULATOR_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "EMULATOR_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Where --tls writes its self-signed certificate (PEM) [default: <temp dir>/realtime-emulator-<port>.pem].
    #[arg(
        long,
        env = "EMULATOR_TLS_CERT_OUT",
        requires = "tls",
        conflicts_with = "tls_cert"
    )]
    tls_cert_out: Option<PathBuf>,
    /// Send each sideband socket (`/v1/realtime?call_id=…`) its own `session.created` when it attaches
    /// (recorded sideband traffic has none, so by default none is sent).
    #[arg(long, env = "EMULATOR_SIDEBAND_SESSION_CREATED")]
    sideband_session_created: bool,
    /// How many sideband sockets may be attached to one call at once; one more is refused with 429
    /// `sideband_limit_reached`.
    #[arg(long, env = "EMULATOR_MAX_SIDEBANDS_PER_CALL", default_value_t = 4)]
    max_sidebands_per_call: u32,
    /// Where injected SIP calls (`POST /v1/emulator/sip/calls`, an emulator-only endpoint) deliver their
    /// signed `realtime.call.incoming` webhook.
    #[arg(long, env = "EMULATOR_SIP_WEBHOOK", requires = "sip_webhook_secret")]
    sip_webhook: Option<String>,
    /// The secret SIP webhooks are signed with (`whsec_<base64>`, as the SDKs' `webhooks.unwrap()` expects).
    #[arg(long, env = "EMULATOR_SIP_WEBHOOK_SECRET", hide_env_values = true)]
    sip_webhook_secret: Option<String>,
    /// An injected SIP call not accepted (or rejected) within this many seconds has ended.
    #[arg(long, env = "EMULATOR_SIP_ACCEPT_TIMEOUT_SECS", default_value_t = 30)]
    sip_accept_timeout_secs: u64,
}

impl Args {
    fn config(&self) -> anyhow::Result<EmulatorConfig> {
        let scenario = match &self.scenario {
            Some(path) => Some(
                Scenario::load(path)
                    .with_context(|| format!("loading scenario {}", path.display()))?,
            ),
            None => None,
        };
        let fault = |status: Option<u16>| {
            status.map(|status| HttpFault {
                status,
                retry_after: self.retry_after,
                times: self.fail_times,
            })
        };
        // Parsed here rather than by clap, whose error would repeat the secret.
        let sip_webhook_secret = self
            .sip_webhook_secret
            .as_deref()
            .map(WebhookSecret::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--sip-webhook-secret: {e}"))?;
        Ok(EmulatorConfig {
            api_key: self.api_key.clone(),
            rtc_host: self.rtc_host,
            rtc_audio_level: !self.no_audio_level,
            pace: match self.pace {
                PaceArg::Realistic => Pace::Realistic,
                PaceArg::Instant => Pace::Instant,
            },
            scenario,
            max_session: Duration::from_secs(self.max_session_secs),
            audio_per_char: Duration::from_millis(self.audio_ms_per_char),
            faults: Faults {
                mint: fault(self.fail_mint),
                call: fault(self.fail_call),
                answer_delay: self.answer_delay_ms.map(Duration::from_millis),
                close_after_events: self.close_after_events,
            },
            max_calls_per_key: self.max_calls_per_key,
            sideband_session_created: self.sideband_session_created,
            max_sidebands_per_call: self.max_sidebands_per_call,
            sip_webhook: self.sip_webhook.clone(),
            sip_webhook_secret,
            sip_accept_timeout: Duration::from_secs(self.sip_accept_timeout_secs),
            model_change: if self.reject_model_change {
                ModelChange::Reject
            } else {
                ModelChange::Ignore
            },
            ..EmulatorConfig::default()
        })
    }

    /// The certificate to serve, and the file clients trust it from when one was given; `None`: plain HTTP.
    fn tls_source(&self) -> anyhow::Result<Option<(Tls, Option<PathBuf>)>> {
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            let tls = Tls::from_pem_files(cert, key).context("loading --tls-cert / --tls-key")?;
            return Ok(Some((tls, Some(cert.clone()))));
        }
        if self.tls {
            let tls = Tls::self_signed().context("making the self-signed certificate")?;
            return Ok(Some((tls, None)));
        }
        Ok(None)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = args.config()?;
    let addr = SocketAddr::new(args.host, args.port);
    let tls = args.tls_source()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    match tls {
        None => {
            tracing::info!(base_url = %format!("http://{addr}/v1"), "realtime emulator listening");
            realtime_emulator::serve(listener.tap_io(no_delay), config, shutdown_signal()).await
        }
        Some((tls, cert_file)) => {
            let cert_file = match cert_file {
                Some(file) => file,
                None => {
                    let file = args.tls_cert_out.clone().unwrap_or_else(|| {
                        std::env::temp_dir().join(format!("realtime-emulator-{}.pem", addr.port()))
                    });
                    write_new(&file, tls.cert_pem())
                        .with_context(|| format!("writing the certificate to {}", file.display()))?;
                    file
                }
            };
            let listener = TlsListener::new(listener, &tls).context("starting TLS")?;
            // Before the listening line, which is the last one a script waits for.
            tracing::info!(
                certificate = %cert_file.display(),
                "clients must trust this certificate: NODE_EXTRA_CA_CERTS={} for Node (the openai SDK, \
                 @openai/agents-realtime), a CA option elsewhere",
                cert_file.display()
            );
            tracing::info!(base_url = %format!("https://{addr}/v1"), "realtime emulator listening (TLS)");
            realtime_emulator::serve(listener, config, shutdown_signal()).await
        }
    }
    .context("serving")?;
    Ok(())
}

/// Sends each event as it is written: Nagle's algorithm would hold a small frame back until the client
/// acknowledges the previous one, 40 ms with a delayed ACK.
fn no_delay(tcp: &mut tokio::net::TcpStream) {
    let _ = tcp.set_nodelay(true);
}

/// Replaces `file` with a new one holding `text`. Never writes through a link someone else left at that path in
/// a shared temp directory: the old entry is removed and the new file created exclusively.
fn write_new(file: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    match std::fs::remove_file(file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)?
        .write_all(text.as_bytes())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
