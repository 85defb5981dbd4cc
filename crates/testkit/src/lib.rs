//! realtime-testkit: the workspace's test kit, a dev-dependency only. One way to do each thing in a test:
//!
//! - [`browser`]: headless Chromium through chromedriver, with fake media;
//! - [`schema`]: validation against OpenAI's published Realtime schemas (`../shared/realtime/`);
//! - [`console`]: the console's router served in-process on 127.0.0.1:0, with one helper per endpoint;
//! - [`process`]: the real `realtime-console` binary, killed and started again on the same database;
//! - [`console_page`]: that binary's console page in the browser, connected and disconnected;
//! - [`emulator`]: the emulator served in-process, optionally with a test page on its origin;
//! - [`ws`]: a Realtime WebSocket client whose server events are checked against the schema;
//! - [`wav`]: the fake microphone's files;
//! - [`clients`]: the official SDKs (Python, Node) run as the test's clients.
//!
//! Ports come from the OS: listeners bind port 0 and are kept, processes are started with `PORT=0` and say
//! where they listen; nothing binds a port to learn a free one and lets it go.

pub mod browser;
pub mod clients;
pub mod console;
pub mod console_page;
pub mod emulator;
pub mod peer;
pub mod process;
pub mod schema;
pub mod sessions;
pub mod wav;
pub mod ws;

/// Log to the test's output when `TEST_LOG` is set (its value is the filter); silent otherwise.
pub fn init_test_log() {
    if let Ok(filter) = std::env::var("TEST_LOG") {
        let filter = tracing_subscriber::EnvFilter::try_new(if filter.is_empty() {
            "info,str0m=warn"
        } else {
            &filter
        })
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
}

/// The workspace's root folder.
pub fn workspace_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
