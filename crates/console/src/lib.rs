//! realtime-console: the axum server behind the console page, the session library and the recording API.

mod access;
pub mod config;
mod http;
pub mod upstream;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

pub use config::Config;
pub use http::router;
pub use upstream::Upstream;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: realtime_store::Store,
    pub config: Arc<Config>,
    /// The Realtime API behind `/api/rt/*`.
    pub upstream: Arc<Upstream>,
    pub(crate) rt_limit: Arc<http::RtRateLimit>,
}

impl AppState {
    /// Checks the configuration ([`Config::validate`]), then opens the store (creating its folder and
    /// running migrations).
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        config.validate()?;
        let upstream = Upstream::from_config(&config).context("setting up the upstream client")?;
        if let Some(dir) = config
            .database_path()
            .as_deref()
            .and_then(std::path::Path::parent)
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let store = realtime_store::Store::open_with(&config.database_url, config.durability)
            .await
            .with_context(|| format!("opening the event store at {}", config.database_url))?;
        Ok(Self {
            store,
            rt_limit: Arc::new(http::RtRateLimit::new(&config)),
            upstream: Arc::new(upstream),
            config: Arc::new(config),
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
    tracing::info!("realtime-console listening on http://{addr} (upstream: {upstream})");
    let store = state.store.clone();
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("serving HTTP")?;
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
