//! realtime-console: the axum server behind the console page, the session library and the recording API.

mod access;
pub mod config;
mod hosts;
mod http;
mod server;
pub mod settings;
pub mod upstream;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

pub use config::Config;
pub use http::router;
pub use settings::Settings;
pub use upstream::Upstream;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: realtime_store::Store,
    pub settings: Arc<Settings>,
    /// The Realtime API behind `/api/rt/*`.
    pub upstream: Arc<Upstream>,
    pub(crate) rt_limit: Arc<http::RtRateLimit>,
    /// The emulator's own budget of the same limit: offers to `/emulator/v1/realtime/calls`.
    pub(crate) emulator_limit: Arc<http::RtRateLimit>,
    /// Browsers let in with the access secret: their cookies.
    pub(crate) access: Arc<access::AccessSessions>,
    /// What the gateway minted, by key fingerprint: the session a later call with that key has.
    pub(crate) gateway_mints: Arc<http::Mints>,
    /// Sessions recorded from a sideband (server-side capture, relayed sidebands).
    pub(crate) taps: Arc<http::Taps>,
}

impl AppState {
    /// Opens the store (creating its folder and running migrations) and sets up the upstream.
    pub async fn new(settings: Settings) -> anyhow::Result<Self> {
        let upstream =
            Upstream::from_settings(&settings).context("setting up the upstream client")?;
        if let Some(dir) = settings
            .database_path()
            .as_deref()
            .and_then(std::path::Path::parent)
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let store = realtime_store::Store::open_with(&settings.database_url, settings.durability)
            .await
            .with_context(|| format!("opening the event store at {}", settings.database_url))?;
        Ok(Self {
            store,
            rt_limit: Arc::new(http::RtRateLimit::new(settings.rt_rate)),
            emulator_limit: Arc::new(http::RtRateLimit::new(settings.rt_rate)),
            access: Arc::new(access::AccessSessions::default()),
            gateway_mints: Arc::new(http::Mints::default()),
            taps: Arc::new(http::Taps::default()),
            upstream: Arc::new(upstream),
            settings: Arc::new(settings),
        })
    }
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let upstream = state
        .upstream
        .start(addr)
        .context("pointing the upstream client at the built-in emulator")?;
    state.settings.allowed_hosts.listening_on(addr.port());
    tracing::info!("realtime-console listening on http://{addr} (upstream: {upstream})");
    if addr.ip().is_unspecified() && state.settings.allowed_hosts.only_loopback() {
        tracing::warn!(
            "listening on every address, but only loopback names are accepted in `Host`: set ALLOWED_HOSTS \
             to the names or addresses other machines use to reach this one"
        );
    }
    let store = state.store.clone();
    let limits = state.settings.server;
    server::run(listener, router(state), limits, shutdown).await;
    store.close().await;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
