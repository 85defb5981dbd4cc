//! The first minutes of a new user, on the real binary: a `.env` or environment with settings present but
//! empty (`OPENAI_API_KEY=`) means those settings are unset, so the console starts on the built-in emulator
//! and says so, and its token answer can be used as it comes.

use realtime_testkit::process::ConsoleProcess;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_realtime-console");

#[tokio::test]
async fn empty_settings_count_as_unset() {
    let dir = tempfile::tempdir().unwrap();
    // Half in `.env` (read from the working directory), half in the environment.
    std::fs::write(
        dir.path().join(".env"),
        "OPENAI_API_KEY=\nOPENAI_BASE_URL=\nREALTIME_SESSION_DEFAULTS=\nREALTIME_MODEL=\nTOKEN_TTL_SECS=\n",
    )
    .unwrap();
    let server = ConsoleProcess::start_in(
        BIN,
        dir,
        &[
            ("HOST", ""),
            ("ACCESS_SECRET", ""),
            ("REALTIME_ALLOWED_MODELS", ""),
            ("STORE_DURABILITY", " "),
            ("MAX_IMPORT_MIB", ""),
            ("STATIC_DIR", ""),
            ("UPSTREAM_TIMEOUT_MS", ""),
        ],
    )
    .await;
    let logs = server.logs();
    let start = logs
        .lines()
        .find(|l| l.contains("listening on http://"))
        .unwrap_or_else(|| panic!("no start-up line in:\n{logs}"));
    assert!(
        start.contains("upstream: the built-in emulator at http://127.0.0.1:"),
        "the start-up line says which upstream is in use: {start}"
    );

    // The defaults are in force: the emulator mints, for the default model, a key of the default lifetime.
    let http = reqwest::Client::new();
    let res = http.post(server.url("/api/rt/token")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(body["value"].as_str().unwrap().starts_with("ek_"), "{body}");
    assert_eq!(body["session"]["model"], "gpt-realtime", "{body}");
    let lifetime = body["expires_at"].as_i64().unwrap()
        - std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
    assert!((590..=610).contains(&lifetime), "{lifetime} s");
    assert_eq!(
        body["console"]["calls_url"],
        server.url("/emulator/v1/realtime/calls"),
        "absolute, on the console's own origin"
    );
    // The workspace's static files are served (STATIC_DIR took its default).
    let js = http
        .get(server.url("/static/js/console.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
}
