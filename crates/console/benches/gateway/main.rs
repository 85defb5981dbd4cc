//! `just bench`: figures of the gateway's WebSocket relay (`GET /v1/realtime`), printed, never asserted, each
//! against a direct connection to the same emulator in the same run.
//!
//! Three processes share the machine: this bench's client (one thread), the emulator (this bench's binary
//! started again as a child: `realtime_emulator::router` at realistic pace, taking any `sk-` key) and the
//! `realtime-console` binary in front of it as its OpenAI upstream, twice: recording (the default) and with
//! `GATEWAY_RECORDING=off`. CPU is utime + stime of each process, from /proc.
//!
//! 1. Added latency per relayed frame at 1, 10 and 100 concurrent sessions: round trips of a client event the
//!    emulator answers at once with one small server event, direct and through the gateway; half the
//!    difference at the same quantile is what the gateway adds to one frame. Twice: each session sending
//!    back to back (the machine saturated: the relay's cost, and the recording's, show as CPU contention),
//!    and each session sending one every 20 ms, an audio app's pace.
//! 2. 100 sessions, each streaming audio both ways in real time (an `input_audio_buffer.append` of 20 ms every
//!    20 ms up; the model speaking without pause, answer after answer, in the emulator's 100 ms
//!    `response.output_audio.delta` chunks down), directly, then through the gateway with recording off and on:
//!    lateness, CPU (the console's by thread), and with recording, frames lost either way and frames in the
//!    library against frames relayed (read back through `/api/sessions` once every recording has ended).
//! 3. Sessions held, as in the emulator's `ws` bench: the same streaming sessions, doubling from 8, until a
//!    session sees a chunk more than 40 ms behind its real-time schedule, then bisecting back to within an
//!    eighth; direct,
//!    recording off, recording. On one machine the client and the emulator take their share of it too, so the
//!    direct figure bounds the other two.
//!
//! The machine may be shared: each measurement waits for the rest of it to be quiet (for up to 2 minutes in
//! all), and the CPU every other process used meanwhile is printed beside it.
//! `cargo bench -p realtime-console --bench gateway -- held` runs only that figure (or `latency`, `streaming`).

mod audio;
mod latency;
mod session;

use std::borrow::Cow;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::StreamExt;
use realtime_testkit::emulator::EmulatorApp;
use realtime_testkit::process::{ConsoleProcess, cpu_time, machine_cpu_time};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Set in the child that serves the emulator.
const EMULATOR_ENV: &str = "GATEWAY_BENCH_EMULATOR";
/// The client's own key: the gateway passes it through, the emulator takes any `sk-`.
const KEY: &str = "sk-bench-client-0123456789";
/// How long the whole run may wait, in all, for the rest of the machine to go quiet ([`quiet`]).
const PATIENCE: Duration = Duration::from_secs(120);
/// How long it has waited so far.
static WAITED: Mutex<Duration> = Mutex::new(Duration::ZERO);

fn main() {
    if std::env::var_os(EMULATOR_ENV).is_some() {
        return serve_emulator();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut emulator = Emulator::start().await;
        let mut recording = console(&emulator, "on").await;
        let mut relaying = console(&emulator, "off").await;
        let targets = [
            Target {
                name: "direct to the emulator",
                url: format!("{}/realtime?model=gpt-realtime", emulator.base.replacen("http", "ws", 1)),
                console: None,
            },
            Target::gateway("gateway, recording off", &relaying),
            Target::gateway("gateway, recording", &recording),
        ];
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!(
            "gateway: client (1 thread), emulator and console in 3 processes on {cores} cores; release build"
        );
        let started = Instant::now();
        let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
        let runs = |part: &str| only.as_deref().is_none_or(|o| o == part);
        if runs("latency") {
            latency::figure(&targets, &emulator).await;
        }
        if runs("streaming") {
            audio::streaming(&targets, &emulator).await;
        }
        if runs("held") {
            audio::held(&targets, &emulator).await;
        }
        println!(
            "(took {:.0} s, {:.0} s of it waiting for other processes to go quiet)",
            started.elapsed().as_secs_f64(),
            WAITED.lock().unwrap().as_secs_f64()
        );
        recording.kill().await;
        relaying.kill().await;
        let _ = emulator.child.kill().await;
    });
}

/// The child: the emulator on 127.0.0.1:0 until the bench goes away (its end of our stdin closes).
fn serve_emulator() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let app = EmulatorApp::start(realtime_emulator::EmulatorConfig::default()).await;
        println!("{EMULATOR_ENV}={}", app.base);
        let _ = tokio::task::spawn_blocking(|| {
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new())
        })
        .await;
    });
}

/// The emulator child; killed on drop.
struct Emulator {
    child: Child,
    /// `http://127.0.0.1:<port>/v1`.
    base: String,
}

impl Emulator {
    async fn start() -> Emulator {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(EMULATOR_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the bench runs itself as the emulator");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let prefix = format!("{EMULATOR_ENV}=");
        let base = loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the emulator said where it listens");
            if let Some(base) = line.strip_prefix(&prefix) {
                break base.to_owned();
            }
        };
        Emulator { child, base }
    }

    fn cpu(&self) -> Duration {
        cpu_time(self.child.id().unwrap())
    }
}

/// The console binary with the emulator as its OpenAI upstream, recording relayed sessions or not.
async fn console(emulator: &Emulator, recording: &str) -> ConsoleProcess {
    ConsoleProcess::start(
        env!("CARGO_BIN_EXE_realtime-console"),
        &[
            ("OPENAI_API_KEY", "sk-bench-server-0123456789"),
            ("OPENAI_BASE_URL", emulator.base.as_str()),
            ("GATEWAY_RECORDING", recording),
        ],
    )
    .await
}

struct Target<'a> {
    name: &'static str,
    url: String,
    console: Option<&'a ConsoleProcess>,
}

impl<'a> Target<'a> {
    fn gateway(name: &'static str, console: &'a ConsoleProcess) -> Self {
        Target {
            name,
            url: format!(
                "ws://127.0.0.1:{}/v1/realtime?model=gpt-realtime",
                console.port
            ),
            console: Some(console),
        }
    }
}

/// Connects with [`KEY`] and `TCP_NODELAY`; the socket and the library session the gateway records it in.
async fn connect(url: &str) -> (Socket, Option<String>) {
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {KEY}")).unwrap(),
    );
    let (socket, response) = tokio_tungstenite::connect_async_with_config(request, None, true)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let library = response
        .headers()
        .get("x-console-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (socket, library)
}

/// What the client reads of a server event.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    event_id: Option<String>,
    delta: Option<Cow<'a, str>>,
    error: Option<ErrorHead>,
}

#[derive(Deserialize)]
struct ErrorHead {
    /// The client event it answers.
    event_id: Option<String>,
}

/// The next server event's text (pings and pongs skipped); `None` once the socket has closed.
async fn next(socket: &mut Socket) -> Option<String> {
    loop {
        match socket.next().await? {
            Ok(Message::Text(text)) => return Some(text.as_str().to_owned()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// The next server event of type `ty`, as it came.
async fn until(socket: &mut Socket, ty: &str) -> String {
    loop {
        let text = next(socket).await.expect("the socket stayed open");
        if serde_json::from_str::<Head<'_>>(&text).unwrap().kind == ty {
            return text;
        }
    }
}

/// Closes from the client's side and reads to the end.
async fn close(mut socket: Socket) {
    let _ = socket.close(None).await;
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while next(&mut socket).await.is_some() {}
    })
    .await;
}

/// CPU this bench's processes have used so far: the client, the emulator and the consoles.
fn ours(targets: &[Target<'_>], emulator: &Emulator) -> Duration {
    let consoles: Duration = targets
        .iter()
        .filter_map(|t| t.console)
        .map(ConsoleProcess::cpu)
        .sum();
    consoles + emulator.cpu() + cpu_time(std::process::id())
}

/// Waits until, for a second, every other process of the machine has used less than a quarter of a core: on a
/// shared machine their work would slow down what is measured. Gives up once the run has waited [`PATIENCE`].
async fn quiet(targets: &[Target<'_>], emulator: &Emulator) {
    while *WAITED.lock().unwrap() < PATIENCE {
        let (machine, mine) = (machine_cpu_time(), ours(targets, emulator));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let others = (machine_cpu_time() - machine).saturating_sub(ours(targets, emulator) - mine);
        if others < Duration::from_millis(250) {
            return;
        }
        *WAITED.lock().unwrap() += Duration::from_secs(1);
    }
}
