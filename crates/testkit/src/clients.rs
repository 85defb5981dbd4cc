//! The official clients the tests drive, installed by `just test` (scripts/test-deps.sh) at pinned versions:
//! the Python `openai` SDK in `tests/clients/.venv`, the npm packages (`openai`, `@openai/agents-realtime`)
//! in `tests/clients/node_modules`. A script prints one JSON object as its last line of output; its failure
//! fails the test with what it said. The browser pages (`tests/clients/pages`) are served on an origin of
//! their own ([`serve_pages`]).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

fn clients_dir() -> PathBuf {
    crate::workspace_dir().join("tests/clients")
}

/// Runs `tests/clients/python/<script>` with `args` in the test venv; its JSON.
pub async fn python(script: &str, args: &[&str]) -> Value {
    python_env(script, args, &[]).await
}

/// [`python`] with the environment variables `envs` (`TEST_CLIENT_API_KEY`: the key the scripts that take one
/// present, `sk-test-python-sdk` without it).
pub async fn python_env(script: &str, args: &[&str], envs: &[(&str, &str)]) -> Value {
    let venv = clients_dir().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: install the test clients with `just test` (or scripts/test-deps.sh)",
        venv.display()
    );
    run(venv, clients_dir().join("python").join(script), args, envs).await
}

/// Runs `tests/clients/node/<script>` with `args` and the environment variables `envs` on the `node` of the
/// `PATH`, with the test package's `node_modules`; its JSON.
pub async fn node(script: &str, args: &[&str], envs: &[(&str, &str)]) -> Value {
    let modules = clients_dir().join("node_modules");
    assert!(
        modules.exists(),
        "{} is missing: install the test clients with `just test` (or scripts/test-deps.sh)",
        modules.display()
    );
    let script = clients_dir().join("node").join(script);
    run(PathBuf::from("node"), script, args, envs).await
}

async fn run(program: PathBuf, script: PathBuf, args: &[&str], envs: &[(&str, &str)]) -> Value {
    let child = tokio::process::Command::new(&program)
        .arg(&script)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", program.display()));
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{} did not finish within 120 s", script.display()))
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} failed ({}):\n{stdout}\n{stderr}",
        script.display(),
        out.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| {
        panic!(
            "{} did not end with a JSON line ({e}):\n{stdout}\n{stderr}",
            script.display()
        )
    })
}

/// The developer's pages on an origin of their own: the test clients' pages (`tests/clients/pages`) and the
/// agents SDK's browser bundle at `/sdk`. Its origin, `http://127.0.0.1:<port>`; served until the test ends.
pub async fn serve_pages() -> String {
    let bundle = clients_dir().join("node_modules/@openai/agents-realtime/dist/bundle");
    assert!(
        bundle.join("openai-realtime-agents.mjs").exists(),
        "{} is missing: install the test clients with `just test` (or scripts/test-deps.sh)",
        bundle.display()
    );
    let app = axum::Router::new()
        .nest_service("/sdk", tower_http::services::ServeDir::new(bundle))
        .fallback_service(tower_http::services::ServeDir::new(
            clients_dir().join("pages"),
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    origin
}

/// What both agents-SDK scripts (WebRTC in Chromium, WebSocket in Node) report after asking for the weather:
/// the agent's `get_weather` tool ran once, the answer quotes its output (21), and the session's events
/// include its start, its update and a finished response. The event types, for more checks.
pub fn assert_the_agent_ran_its_tool(result: &Value) -> Vec<String> {
    let calls = result["toolCalls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "the agent's tool ran once: {result:#}");
    assert!(calls[0]["location"].is_string(), "{result:#}");
    let answer = result["answer"].as_str().unwrap();
    assert!(
        answer.contains("21"),
        "the answer uses the tool's output: {answer}"
    );
    let types: Vec<String> = result["types"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    for kind in ["session.created", "session.updated", "response.done"] {
        assert!(
            types.iter().any(|t| t == kind),
            "{kind} missing from {types:?}"
        );
    }
    types
}
