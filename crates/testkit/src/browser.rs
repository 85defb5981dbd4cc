//! Headless Chromium driven through chromedriver (fantoccini), with fake media: the microphone plays a WAV
//! file of the test's samples in a loop. chromedriver picks its own port (`--port=0`) and runs in its own
//! process group, so Chromium and its helpers die with it; its scratch folder (a short `TMPDIR`: Chromium
//! aborts on long socket paths) holds the profile and the WAV, and is removed on drop.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`just test` installs them); fails, never skips, without.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use fantoccini::Locator;
pub use fantoccini::wd::WindowHandle;
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use tempfile::TempDir;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

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
                "browser tests need {binary}: run `just test` (scripts/test-deps.sh installs the Debian \
                 package `{package}`)"
            );
        }
        let scratch = tempfile::Builder::new()
            .prefix("rtk")
            .tempdir_in("/tmp")
            .unwrap();
        let mut child = {
            use std::os::unix::process::CommandExt;
            Command::new(CHROMEDRIVER)
                .arg("--port=0")
                .env("TMPDIR", scratch.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("could not start {CHROMEDRIVER}: {e}"))
        };
        // "ChromeDriver was started successfully on port 37023."
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                line.strip_prefix("ChromeDriver was started successfully on port ")
                    .and_then(|rest| rest.trim_end_matches('.').parse().ok())
            })
            .unwrap_or_else(|| panic!("chromedriver did not say which port it listens on"));
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            port,
            scratch,
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

/// The turn of a browser launched with [`Browser::launch_alone`]: a test binary runs its tests in parallel,
/// and several Chromiums at once on two shared cores make every one of them slow.
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A headless Chromium.
pub struct Browser {
    pub client: Client,
    /// Held for its drop, after the client's: kills what is left and removes the scratch folder.
    driver: Chromedriver,
    /// Held for its drop, last, so the next browser starts once this one is gone.
    _turn: Option<tokio::sync::MutexGuard<'static, ()>>,
}

impl Browser {
    /// Chromium with a silent microphone: its default fake source beeps, and server VAD would take the beeps
    /// for speech and answer them between a test's own turns.
    pub async fn launch() -> Self {
        Self::launch_with(&crate::wav::silence(1.0), &[]).await
    }

    /// [`Browser::launch`], once no other browser launched this way in the test binary is open.
    pub async fn launch_alone() -> Self {
        let turn = ALONE.lock().await;
        Self {
            _turn: Some(turn),
            ..Self::launch().await
        }
    }

    /// [`Browser::launch_with`], once no other browser launched alone in the test binary is open.
    pub async fn launch_alone_with(mic: &[i16], extra_args: &[&str]) -> Self {
        let turn = ALONE.lock().await;
        Self {
            _turn: Some(turn),
            ..Self::launch_with(mic, extra_args).await
        }
    }

    /// CPU time (user + system) each live process of this browser has used so far, by its kind (Chromium's
    /// `--type=`: `renderer`, `utility:audio` (with its sub-type), `gpu-process`…; `browser` for the main
    /// one, `chromedriver`), summed
    /// per kind. From /proc (Linux); a process that has exited is no longer counted.
    pub fn cpu_by_kind(&self) -> std::collections::BTreeMap<String, Duration> {
        let group = self.driver.child.id().to_string();
        let mut out = std::collections::BTreeMap::new();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return out;
        };
        for p in procs.flatten() {
            let Ok(stat) = std::fs::read_to_string(p.path().join("stat")) else {
                continue;
            };
            let Some(close) = stat.rfind(')') else {
                continue;
            };
            let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
            // After the command: state ppid pgrp …; utime and stime are the 12th and 13th.
            if fields.len() < 13 || fields[2] != group {
                continue;
            }
            let ticks: u64 =
                fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
            let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            // Chromium rewrites its command line as one string: its arguments are split by spaces.
            let arg = |name: &str| {
                cmdline
                    .split(['\0', ' '])
                    .find_map(|a| a.strip_prefix(name))
                    .map(str::to_owned)
            };
            let kind = arg("--type=")
                .map(|kind| match arg("--utility-sub-type=") {
                    Some(sub) => format!("{kind}:{}", sub.split('.').next().unwrap_or_default()),
                    None => kind,
                })
                .unwrap_or_else(|| {
                    if cmdline.contains("chromedriver") {
                        "chromedriver"
                    } else {
                        "browser"
                    }
                    .to_owned()
                });
            // USER_HZ is 100 on Linux.
            *out.entry(kind).or_default() += Duration::from_millis(ticks * 10);
        }
        out
    }

    /// Chromium whose microphone plays `mic` (48 kHz mono, looped), with more flags.
    pub async fn launch_with(mic: &[i16], extra_args: &[&str]) -> Self {
        let driver = Chromedriver::start();
        let wav = driver.scratch.path().join("mic.wav");
        crate::wav::write_wav(&wav, mic);
        let profile = driver.scratch.path().join("profile");
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
            driver,
            _turn: None,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("could not open {url}: {e}"));
    }

    /// Opens the console page and waits for its module to load.
    pub async fn open_console(&self, url: &str) {
        self.goto(url).await;
        self.wait_until("!!window.consoleDebug", "the console page loads its module")
            .await;
    }

    /// Opens a test page whose module puts its functions on `window.<object>`, and waits for it.
    pub async fn open<'a>(&'a self, url: &str, object: &'a str) -> Page<'a> {
        self.goto(url).await;
        self.wait_until(
            &format!("!!window.{object}"),
            &format!("the page defines window.{object}"),
        )
        .await;
        Page {
            browser: self,
            object,
        }
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
        self.run_async(&format!("(async () => {{ {script} }})()"), vec![])
            .await
            .unwrap_or_else(|error| panic!("script failed in the page: {error}\n{script}"))
    }

    /// Awaits the promise `expression` evaluates to (it may use `args`); its value, or the page's error.
    async fn run_async(&self, expression: &str, args: Vec<Value>) -> Result<Value, String> {
        let wrapped = format!(
            "const done = arguments[arguments.length - 1];
             const args = Array.from(arguments).slice(0, -1);
             Promise.resolve().then(() => {expression})
               .then((ok) => done({{ ok: ok === undefined ? null : ok }}),
                     (e) => done({{ error: String((e && e.stack) || e) }}));"
        );
        let result = self
            .client
            .execute_async(&wrapped, args)
            .await
            .unwrap_or_else(|e| panic!("could not run in the page: {e}\n{expression}"));
        match result.get("error") {
            Some(error) => Err(error.as_str().unwrap_or_default().to_owned()),
            None => Ok(result["ok"].clone()),
        }
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
                    .eval("return document.getElementById('status')?.textContent ?? null")
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

    /// Resizes the window until the page's viewport is `width` × `height` CSS pixels.
    pub async fn set_viewport(&self, width: i64, height: i64) {
        let (mut w, mut h) = (width as u32, height as u32);
        // A resize can land after the page is asked (or bring a scrollbar): measure again and correct.
        let mut last = Value::Null;
        for _ in 0..16 {
            self.client.set_window_size(w, h).await.unwrap();
            // The page may see the new size a frame after the window has it.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let inner = self
                .eval("return [document.documentElement.clientWidth, window.innerHeight]")
                .await;
            let (iw, ih) = (inner[0].as_i64().unwrap(), inner[1].as_i64().unwrap());
            if iw == width && ih == height {
                return;
            }
            last = inner;
            w = (i64::from(w) + width - iw) as u32;
            h = (i64::from(h) + height - ih) as u32;
        }
        panic!("could not make the viewport {width}x{height}: it stays {last}");
    }

    /// Makes the page see `prefers-color-scheme: scheme` ("light" or "dark"), through Chromium's DevTools
    /// protocol (chromedriver's `goog/cdp/execute`): headless Chromium has no desktop theme to follow. It
    /// holds for the tab across navigations; panics unless the page's media query then says so.
    pub async fn emulate_color_scheme(&self, scheme: &str) {
        let session = self.client.session_id().await.unwrap().unwrap();
        let url = format!(
            "http://127.0.0.1:{}/session/{session}/goog/cdp/execute",
            self.driver.port
        );
        let body = json!({"cmd": "Emulation.setEmulatedMedia",
                          "params": {"features": [{"name": "prefers-color-scheme", "value": scheme}]}});
        let res = reqwest::Client::new()
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("chromedriver's CDP endpoint: {e}"));
        assert!(
            res.status().is_success(),
            "Emulation.setEmulatedMedia: {res:?}"
        );
        let dark = self
            .eval("return matchMedia('(prefers-color-scheme: dark)').matches")
            .await;
        assert_eq!(dark, json!(scheme == "dark"), "the page sees {scheme}");
    }

    /// The contrast ratio (WCAG 2, 1 to 21) of the text of the element matching `selector` against the first
    /// opaque background behind it (the page's, at worst).
    pub async fn contrast(&self, selector: &str) -> f64 {
        self.eval(&format!(
            "const rgba = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
             const lum = ([r, g, b]) => {{
               const f = (v) => {{ v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }};
               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
             }};
             const el = document.querySelector({sel});
             let bg = null;
             for (let e = el; e && !bg; e = e.parentElement) {{
               const c = rgba(getComputedStyle(e).backgroundColor);
               if (c.length === 3 || c[3] === 1) bg = c;
             }}
             bg = bg || [255, 255, 255];
             const [a, b] = [lum(rgba(getComputedStyle(el).color)), lum(bg)];
             return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);",
            sel = json!(selector)
        ))
        .await
        .as_f64()
        .unwrap_or_else(|| panic!("no contrast for {selector}"))
    }

    /// The viewport as a PNG.
    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// Ends the WebDriver session (Chromium exits); the drop then cleans up.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// A test page opened with [`Browser::open`]: its functions are called by name.
pub struct Page<'a> {
    browser: &'a Browser,
    object: &'a str,
}

impl Page<'_> {
    /// `window.<object>.<function>(...args)`, awaited; panics with the page's error if it rejects.
    pub async fn call(&self, function: &str, args: Vec<Value>) -> Value {
        let object = self.object;
        self.browser
            .run_async(&format!("window.{object}.{function}(...args)"), args)
            .await
            .unwrap_or_else(|error| panic!("{object}.{function} failed in the page: {error}"))
    }
}
