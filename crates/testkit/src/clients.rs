//! The official clients the tests drive, installed by `just test` (scripts/test-deps.sh) at pinned versions:
//! the Python `openai` SDK in `tests/clients/.venv`, the npm packages in `tests/clients/node_modules`. A
//! script prints one JSON object as its last line of output; its failure fails the test with what it said.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

fn clients_dir() -> PathBuf {
    crate::workspace_dir().join("tests/clients")
}

/// Runs `tests/clients/python/<script>` with `args` in the test venv; its JSON.
pub async fn python(script: &str, args: &[&str]) -> Value {
    let venv = clients_dir().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: install the test clients with `just test` (or scripts/test-deps.sh)",
        venv.display()
    );
    run(venv, clients_dir().join("python").join(script), args).await
}

async fn run(program: PathBuf, script: PathBuf, args: &[&str]) -> Value {
    let child = tokio::process::Command::new(&program)
        .arg(&script)
        .args(args)
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
