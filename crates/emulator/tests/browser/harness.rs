//! Harness of the browser tests: the emulator and a test page on one origin, and headless Chromium driven
//! through chromedriver (fantoccini). Every process it starts is killed, and every file removed, on drop.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::header;
use axum::routing::get;
use fantoccini::{Client, ClientBuilder};
use realtime_emulator::EmulatorConfig;
use serde_json::{Value, json};
use tempfile::TempDir;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const INDEX_HTML: &str = include_str!("index.html");
const CLIENT_JS: &str = include_str!("client.js");

/// The emulator under `/v1` and the test page at `/`, on `127.0.0.1:0`.
pub struct TestApp {
    pub addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    pub async fn start(config: EmulatorConfig) -> Self {
        if std::env::var_os("TEST_LOG").is_some() {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,str0m=warn"));
            let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
        }
        let app = Router::new()
            .route(
                "/",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                        INDEX_HTML,
                    )
                }),
            )
            .route(
                "/client.js",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                        CLIENT_JS,
                    )
                }),
            )
            .nest("/v1", realtime_emulator::router(config));
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, server }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// chromedriver on a free port, in its own process group so Chromium dies with it, with a short scratch
/// `TMPDIR` (Chromium aborts on long socket paths) holding the profile and the fake microphone's WAV.
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
                "browser tests need {binary}: install the Debian package `{package}` (apt-get install chromium chromium-driver)"
            );
        }
        let scratch = tempfile::Builder::new()
            .prefix("rte")
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

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
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

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A headless Chromium with fake media: the microphone plays `mic_wav`'s samples in a loop.
pub struct Browser {
    client: Option<Client>,
    /// Held for its drop, after the client's: kills what is left and removes the scratch directory.
    _driver: Chromedriver,
}

impl Browser {
    /// Starts Chromium; `mic` gives the fake microphone's 48 kHz mono samples (looped by Chromium).
    pub async fn launch(mic: &[i16]) -> Self {
        let mut driver = Chromedriver::start();
        let wav = driver.scratch.path().join("mic.wav");
        write_wav(&wav, mic);
        let profile = driver.scratch.path().join("profile");
        driver.wait_ready().await;

        let args = [
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
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            "timeouts": { "script": 60_000 },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::rustls()
            .unwrap()
            .capabilities(capabilities)
            .connect(&driver.url())
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start {CHROMIUM}: {e}"));
        Self {
            client: Some(client),
            _driver: driver,
        }
    }

    /// Opens `url` and waits for the test page's module to load.
    pub async fn open(&self, url: &str) -> Page<'_> {
        let client = self.client.as_ref().unwrap();
        client.goto(url).await.unwrap();
        let page = Page { client };
        let deadline = Instant::now() + Duration::from_secs(10);
        while client.execute("return !!window.rt", vec![]).await.unwrap() != json!(true) {
            assert!(
                Instant::now() < deadline,
                "the test page did not load its client module"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        page
    }

    /// Ends the WebDriver session (Chromium exits); the drop then cleans up.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }
}

/// The test page: calls the functions of `client.js` and returns what their promises resolve to.
pub struct Page<'a> {
    client: &'a Client,
}

impl Page<'_> {
    /// `rt.<function>(...args)`; panics with the page's error if the promise rejects.
    pub async fn call(&self, function: &str, args: Vec<Value>) -> Value {
        let script = format!(
            "const done = arguments[arguments.length - 1];
             const args = Array.from(arguments).slice(0, -1);
             Promise.resolve().then(() => window.rt.{function}(...args))
               .then((ok) => done({{ ok: ok === undefined ? null : ok }}),
                     (e) => done({{ error: String((e && e.stack) || e) }}));"
        );
        let result = self
            .client
            .execute_async(&script, args)
            .await
            .unwrap_or_else(|e| panic!("rt.{function} could not run: {e}"));
        if let Some(error) = result.get("error") {
            panic!(
                "rt.{function} failed in the page: {}",
                error.as_str().unwrap_or_default()
            );
        }
        result["ok"].clone()
    }
}

/// A 16-bit mono 48 kHz WAV file.
fn write_wav(path: &PathBuf, samples: &[i16]) {
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
