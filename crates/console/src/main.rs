use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A missing .env is normal; the environment and flags still apply.
    let _ = dotenvy::dotenv();
    // Refuse a bad configuration before touching the port.
    let settings = realtime_console::Config::from_env_and_args().settings()?;
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let listener = tokio::net::TcpListener::bind((settings.host, settings.port)).await?;
    let state = realtime_console::AppState::new(settings).await?;
    realtime_console::serve(listener, state, realtime_console::shutdown_signal()).await
}
