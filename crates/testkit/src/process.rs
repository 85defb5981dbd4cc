//! The real `realtime-console` binary as a child process: started with `PORT=0` in a folder of its own (so no
//! `.env` of the repository is read) with an environment of the test's choosing and nothing inherited, its
//! output captured. It can be killed (`SIGKILL`: no shutdown code runs) or stopped (`SIGTERM`) and started
//! again on the same port and database, so a browser page and its recorder carry on against it.
//!
//! The binary's path comes from the test, which alone knows it: `env!("CARGO_BIN_EXE_realtime-console")`.
//!
//! For benches, the CPU time a process (or each of its threads, or the whole machine) has used, from /proc.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

pub struct ConsoleProcess {
    child: tokio::process::Child,
    bin: &'static str,
    env: Vec<(String, String)>,
    pub dir: Arc<tempfile::TempDir>,
    /// The port it listens on, once it said so (0 until then).
    pub port: u16,
    /// Everything it printed, both streams interleaved by line, across restarts.
    output: Arc<Mutex<String>>,
}

impl ConsoleProcess {
    /// Starts the binary and waits until it listens. `env` wins over the defaults: `HOST=127.0.0.1`,
    /// `PORT=0`, no rate limit on `/api/rt/*`, the database `console.db` in its folder, logs at
    /// `warn,realtime_console=info` (or `TEST_LOG`'s filter).
    pub async fn start(bin: &'static str, env: &[(&str, &str)]) -> Self {
        Self::start_in(bin, tempfile::tempdir().unwrap(), env).await
    }

    /// [`ConsoleProcess::start`] in `dir`, which the test may have put files in (a `.env`).
    pub async fn start_in(bin: &'static str, dir: tempfile::TempDir, env: &[(&str, &str)]) -> Self {
        let mut process = Self::spawn_in(bin, dir, env);
        process.wait_listening().await;
        process
    }

    /// Starts the binary without waiting: for a start that is meant to fail ([`ConsoleProcess::exit`]).
    pub fn spawn(bin: &'static str, env: &[(&str, &str)]) -> Self {
        Self::spawn_in(bin, tempfile::tempdir().unwrap(), env)
    }

    fn spawn_in(bin: &'static str, dir: tempfile::TempDir, env: &[(&str, &str)]) -> Self {
        let dir = Arc::new(dir);
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let output = Arc::new(Mutex::new(String::new()));
        let child = launch(bin, &dir, &env, 0, &output);
        Self {
            child,
            bin,
            env,
            dir,
            port: 0,
            output,
        }
    }

    pub fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("console.db")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Its process id; panics once it has exited and been waited for.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("still running")
    }

    /// CPU time it has used so far (user + system), for benches.
    pub fn cpu(&self) -> Duration {
        cpu_time(self.pid())
    }

    /// What it has printed so far.
    pub fn logs(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until it listens (after [`ConsoleProcess::spawn`]); panics with its output if it exits first.
    pub async fn wait_listening(&mut self) {
        for _ in 0..1200 {
            if let Some(port) = listening_port(&self.logs()) {
                self.port = port;
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "realtime-console exited ({status}) before listening:\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "realtime-console never said where it listens:\n{}",
            self.logs()
        );
    }

    /// SIGKILL, and waits for it to be gone.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM, then waits for the graceful shutdown: its status and everything it printed.
    pub async fn stop(&mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().expect("still running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        self.exit().await
    }

    /// Waits for the process to exit on its own: its status and everything it printed.
    pub async fn exit(&mut self) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("the server exits")
            .unwrap();
        // Let the readers drain what is left in the pipes.
        tokio::time::sleep(Duration::from_millis(100)).await;
        (status, self.logs())
    }

    /// Starts it again, after a kill or a stop, on the same port and database; waits until it listens.
    pub async fn restart(&mut self) {
        let _ = self.child.kill().await;
        let before = self.logs().len();
        self.child = launch(self.bin, &self.dir, &self.env, self.port, &self.output);
        for _ in 0..1200 {
            if listening_port(&self.logs()[before..]).is_some() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "realtime-console exited ({status}) on restart:\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("realtime-console did not listen again:\n{}", self.logs());
    }

    /// `GET path`, which must answer 200; its JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        let res = reqwest::get(self.url(path)).await.unwrap();
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.unwrap()
    }

    /// `GET path`, which must answer 200; its body as text.
    pub async fn get_text(&self, path: &str) -> String {
        let res = reqwest::get(self.url(path)).await.unwrap();
        assert_eq!(res.status(), 200, "GET {path}");
        res.text().await.unwrap()
    }

    /// Every stored event of a session, in seq order, read page by page through the API.
    pub async fn stored(&self, id: &str) -> Vec<Value> {
        crate::console::stored(&reqwest::Client::new(), &self.url(""), id).await
    }

    /// `POST /api/sessions` with a label; the new session's id.
    pub async fn create_session(&self, label: &str) -> String {
        crate::console::create_session(&reqwest::Client::new(), &self.url(""), label).await
    }
}

fn launch(
    bin: &str,
    dir: &tempfile::TempDir,
    env: &[(String, String)],
    port: u16,
    output: &Arc<Mutex<String>>,
) -> tokio::process::Child {
    let mut command = tokio::process::Command::new(bin);
    // Nothing inherited: a developer's OPENAI_API_KEY, session defaults or rate limits stay out.
    command
        .env_clear()
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("console.db").display()),
        )
        .env("RT_RATE_PER_MIN", "0")
        .env(
            "RUST_LOG",
            std::env::var("TEST_LOG").unwrap_or_else(|_| "warn,realtime_console=info".into()),
        )
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("run the realtime-console binary");
    collect(child.stdout.take().unwrap(), output.clone());
    collect(child.stderr.take().unwrap(), output.clone());
    child
}

fn collect(stream: impl AsyncRead + Unpin + Send + 'static, into: Arc<Mutex<String>>) {
    let echo = std::env::var_os("TEST_LOG").is_some();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if echo {
                eprintln!("[console] {line}");
            }
            let mut out = into.lock().unwrap();
            out.push_str(&line);
            out.push('\n');
        }
    });
}

/// CPU time process `pid` has used (user + system), from `/proc/<pid>/stat` (Linux).
pub fn cpu_time(pid: u32) -> Duration {
    stat_cpu_time(&format!("/proc/{pid}/stat")).expect("the process runs")
}

/// CPU time each thread of process `pid` has used (user + system), summed by thread name (`tokio-rt-worker`…).
pub fn thread_cpu_times(pid: u32) -> std::collections::BTreeMap<String, Duration> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        // A thread that has ended meanwhile is left out.
        if let Some(used) = stat_cpu_time(&task.path().join("stat").to_string_lossy()) {
            *out.entry(name.trim().to_owned()).or_default() += used;
        }
    }
    out
}

/// utime + stime of a `/proc/…/stat` file.
fn stat_cpu_time(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th there.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().ok()? + fields[12].parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(Duration::from_millis(ticks * 10))
}

/// CPU time every process of the machine has used since boot (all but idle and iowait), from `/proc/stat`: with
/// [`cpu_time`], what else ran while a bench measured.
pub fn machine_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is within user).
    let busy: u64 = fields[..8]
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    Duration::from_millis(busy * 10)
}

/// The port of the "realtime-console listening on http://host:port" line.
fn listening_port(output: &str) -> Option<u16> {
    let marker = "realtime-console listening on http://";
    let start = output.find(marker)? + marker.len();
    let authority = output[start..].split(['/', ' ', '\n']).next()?;
    authority.rsplit(':').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_port_of_the_start_up_line() {
        let line = "2026-12-01T08:54:41Z INFO realtime_console: realtime-console listening on \
                    http://127.0.0.1:43121 (upstream: …)\n";
        assert_eq!(super::listening_port(line), Some(43121));
        assert_eq!(super::listening_port("nothing yet"), None);
    }
}
