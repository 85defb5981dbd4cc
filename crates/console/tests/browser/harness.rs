//! Harness of the console's browser and crash tests: the real `realtime-console` binary (its built-in emulator
//! is the upstream) on a port the test picks, so it can be killed and started again on the same port and
//! database file; and headless Chromium with fake media, driven through chromedriver (fantoccini) as the
//! emulator's browser test does. Every process it starts is killed, and every file removed, on drop.
#![allow(dead_code)] // each test uses a different subset

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tempfile::TempDir;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `POST {base}/api/sessions` with a label; answers the new session's id.
pub async fn create_session(http: &reqwest::Client, base: &str, label: &str) -> String {
    let s: Value = http
        .post(format!("{base}/api/sessions"))
        .json(&json!({ "label": label }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    s["id"].as_str().unwrap().to_owned()
}

/// The console binary on `127.0.0.1:port` over `dir/console.db`, with an empty environment: no OpenAI key
/// (the emulator is the upstream) and no rate limit on `/api/rt/*`.
pub struct Server {
    child: Child,
    pub port: u16,
    pub db: PathBuf,
    /// Every line the server printed so far, stdout and stderr.
    logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    pub fn start(dir: &Path, port: u16) -> Self {
        Self::start_with(dir, port, &[])
    }

    /// As [`Server::start`], with more environment variables (they win over the defaults above).
    pub fn start_with(dir: &Path, port: u16, env: &[(&str, &str)]) -> Self {
        let db = dir.join("console.db");
        let mut command = Command::new(env!("CARGO_BIN_EXE_realtime-console"));
        // Nothing inherited: a developer's OPENAI_API_KEY, session defaults or rate limits stay out.
        command
            .env_clear()
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("DATABASE_URL", format!("sqlite://{}", db.display()))
            .env("RT_RATE_PER_MIN", "0")
            .env(
                "RUST_LOG",
                std::env::var("TEST_LOG").unwrap_or_else(|_| "warn,realtime_console=info".into()),
            )
            // No `.env` from the repository: the folder is the test's own.
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start realtime-console");
        let (tx, rx) = std::sync::mpsc::channel();
        let echo = std::env::var_os("TEST_LOG").is_some();
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if echo {
                        eprintln!("[server] {line}");
                    }
                    logs.lock().unwrap().push(line.clone());
                    if line.contains("listening on http://") {
                        let _ = tx.send(());
                    }
                }
            });
        }
        // The log level may hide the line: the port answering is what counts.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if rx.try_recv().is_ok()
                || (std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() && healthz_ok(port))
            {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("realtime-console exited at start-up: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "realtime-console did not listen on port {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            db,
            logs,
        }
    }

    /// What the server has printed so far, one line each.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `GET path`, which must answer 200; its JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        let res = reqwest::get(self.url(path)).await.unwrap();
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.unwrap()
    }

    /// Every stored event of a session, in seq order, read page by page through the API.
    pub async fn stored(&self, id: &str) -> Vec<Value> {
        let http = reqwest::Client::new();
        let mut out = Vec::new();
        let mut after = 0i64;
        loop {
            let page: Value = http
                .get(self.url(&format!(
                    "/api/sessions/{id}/events?limit=1000&after_seq={after}"
                )))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            out.extend(page["events"].as_array().unwrap().iter().cloned());
            match page["next_after_seq"].as_i64() {
                Some(n) => after = n,
                None => return out,
            }
        }
    }

    /// SIGKILL: no shutdown code runs, the emulator's calls die with the process.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

fn healthz_ok(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200")
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver on a free port, in its own process group so Chromium dies with it, with a short scratch
/// `TMPDIR` (Chromium aborts on long socket paths) holding the profile.
struct Chromedriver {
    child: Child,
    port: u16,
    scratch: TempDir,
}

impl Chromedriver {
    fn start() -> Self {
        for (binary, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(binary).exists(),
                "the console's browser tests need {binary}: install the Debian package `{package}` \
                 (apt-get install chromium chromium-driver)"
            );
        }
        let scratch = tempfile::Builder::new()
            .prefix("rtc")
            .tempdir_in("/tmp")
            .unwrap();
        let port = free_port();
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .env("TMPDIR", scratch.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("could not start {CHROMEDRIVER}: {e}"))
        };
        Self {
            child,
            port,
            scratch,
        }
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromedriver exited at start-up: {status}");
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on port {} within 20 s",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The whole group: chromedriver, Chromium and Chromium's helpers.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium with a fake, silent microphone.
pub struct Browser {
    pub client: Client,
    _driver: Chromedriver,
}

impl Browser {
    pub async fn launch() -> Self {
        Self::launch_with(&[]).await
    }

    /// [`Browser::launch`] with more Chromium flags.
    pub async fn launch_with(extra_args: &[&str]) -> Self {
        let mut driver = Chromedriver::start();
        let profile = driver.scratch.path().join("profile");
        // A silent microphone: Chromium's default fake source beeps, and server VAD would take the beeps
        // for speech and answer them between the test's own turns.
        let wav = driver.scratch.path().join("mic.wav");
        write_wav(&wav, &vec![0; 48_000]);
        driver.wait_ready().await;
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--use-fake-device-for-media-stream".to_owned(),
            "--use-fake-ui-for-media-stream".to_owned(),
            format!("--use-file-for-fake-audio-capture={}", wav.display()),
            "--autoplay-policy=no-user-gesture-required".to_owned(),
            "--allow-loopback-in-peer-connection".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--window-size=1600,1000".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        args.extend(extra_args.iter().map(|a| (*a).to_owned()));
        let capabilities = json!({
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            "timeouts": { "script": 120_000 },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::rustls()
            .unwrap()
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start {CHROMIUM}: {e}"));
        Self {
            client,
            _driver: driver,
        }
    }

    /// Opens the console page and waits for its module to load.
    pub async fn open_console(&self, url: &str) {
        self.client.goto(url).await.unwrap();
        self.wait_until("!!window.consoleDebug", "the console page loads its module")
            .await;
    }

    /// Runs `script` (a function body; `return` a JSON value).
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Runs `script` as the body of an async function and returns what it resolves to.
    pub async fn eval_async(&self, script: &str) -> Value {
        let wrapped = format!(
            "const done = arguments[arguments.length - 1];
             (async () => {{ {script} }})().then((ok) => done({{ ok: ok === undefined ? null : ok }}),
               (e) => done({{ error: String((e && e.stack) || e) }}));"
        );
        let result = self
            .client
            .execute_async(&wrapped, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"));
        if let Some(error) = result.get("error") {
            panic!(
                "script failed in the page: {}",
                error.as_str().unwrap_or_default()
            );
        }
        result["ok"].clone()
    }

    /// Polls `expr` (a JS expression) until it is truthy; panics with `what` after 30 s.
    pub async fn wait_until(&self, expr: &str, what: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self
                .client
                .execute(
                    &format!("try {{ return {expr}; }} catch (e) {{ return null; }}"),
                    vec![],
                )
                .await
                .unwrap();
            if !(v.is_null() || v == json!(false) || v == json!(0) || v == json!("")) {
                return v;
            }
            if Instant::now() > deadline {
                let status = self
                    .eval("return document.getElementById('status')?.textContent")
                    .await;
                panic!(
                    "timed out waiting until {what} ({expr}); the page's status line says {status}"
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn click(&self, id: &str) {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("no #{id}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("could not click #{id}: {e}"));
    }

    /// Types `text` into `#id` and presses Enter.
    pub async fn type_and_enter(&self, id: &str, text: &str) {
        let el = self.client.find(Locator::Id(id)).await.unwrap();
        el.send_keys(&format!("{text}\u{E007}")).await.unwrap();
    }

    pub async fn select(&self, id: &str, value: &str) {
        let el = self.client.find(Locator::Id(id)).await.unwrap();
        el.select_by_value(value).await.unwrap();
    }

    /// Chooses `value` in the `<select>` matching the CSS `selector`.
    pub async fn select_css(&self, selector: &str, value: &str) {
        let el = self.client.find(Locator::Css(selector)).await.unwrap();
        el.select_by_value(value).await.unwrap();
    }

    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// Ends the WebDriver session (Chromium exits); the drop then cleans up.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// A 16-bit mono 48 kHz WAV file.
fn write_wav(path: &Path, samples: &[i16]) {
    let data_len = (samples.len() * 2) as u32;
    let mut wav = Vec::with_capacity(44 + samples.len() * 2);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&48_000u32.to_le_bytes());
    wav.extend_from_slice(&(48_000u32 * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        wav.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, wav).unwrap();
}
