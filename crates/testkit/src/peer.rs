//! A real WebRTC peer of the emulator, in Rust (str0m) rather than a browser: it posts its offer (to the
//! emulator's `POST /realtime/calls`, or the console's `/api/rt/session` or `/v1/realtime/calls`), connects
//! over UDP on loopback, opens the `oai-events` channel, and runs in its own task so the call stays alive
//! while a test talks to a sideband. Every server event it receives is checked against its schema. It records
//! nothing anywhere: a client that forwards nothing.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::emulator::{EmulatorApp, KEY};
use crate::schema::schemas;
use crate::ws::Events;
use serde_json::Value;
use str0m::change::SdpAnswer;
use str0m::channel::ChannelId;
use str0m::media::{Direction, MediaKind};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// A guard against hangs, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(20);

/// What the peer hears.
#[derive(Debug)]
pub enum Heard {
    /// One text message on `oai-events`, parsed and schema-checked.
    Event(Value),
    /// The data channel or the connection closed.
    Closed,
}

/// What the peer's task reports (checked on the test's side, so a bad event fails the test).
enum Report {
    Text(String),
    Closed,
}

enum Command {
    Send(String),
    Close,
}

/// One WebRTC call from the peer's side.
pub struct PeerCall {
    pub call_id: String,
    /// The console session the call was recorded in (`X-Console-Session-Id`), when a console made it.
    pub session_id: Option<String>,
    heard: mpsc::Receiver<Report>,
    commands: mpsc::Sender<Command>,
    task: tokio::task::JoinHandle<()>,
}

impl PeerCall {
    /// Starts a call with the standard key (the unified interface, multipart) and waits for its
    /// `session.created`, which it returns.
    pub async fn start(app: &EmulatorApp) -> (PeerCall, Value) {
        Self::dial(|offer| async move { app.call_multipart(KEY, &offer, None).await }).await
    }

    /// Starts a call whose offer `post` sends where it likes (it must answer 201 with the SDP answer and
    /// a `Location` ending in the call id), and waits for its `session.created`, which it returns.
    pub async fn dial<F, Fut>(post: F) -> (PeerCall, Value)
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = reqwest::Response>,
    {
        str0m::crypto::from_feature_flags().install_process_default();
        let mut rtc = Rtc::new(Instant::now());
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = socket.local_addr().unwrap();
        rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
        let mut change = rtc.sdp_api();
        change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let channel = change.add_channel("oai-events".into());
        let (offer, pending) = change.apply().unwrap();

        let res = post(offer.to_sdp_string()).await;
        assert_eq!(res.status(), 201, "the call was not set up");
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let call_id = location.rsplit('/').next().unwrap().to_owned();
        let session_id = res
            .headers()
            .get("x-console-session-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let answer = res.text().await.unwrap();
        rtc.sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
            .unwrap();

        let (report, heard) = mpsc::channel(1024);
        let (commands, inbox) = mpsc::channel(64);
        let task = tokio::spawn(
            Driver {
                rtc,
                socket,
                local,
                channel,
                open: false,
                unsent: VecDeque::new(),
            }
            .run(inbox, report),
        );
        let mut call = PeerCall {
            call_id,
            session_id,
            heard,
            commands,
            task,
        };
        let created = call.expect("session.created").await;
        (call, created)
    }

    /// What the peer hears next.
    pub async fn next(&mut self) -> Heard {
        let report = tokio::time::timeout(PATIENCE, self.heard.recv())
            .await
            .expect("the call said nothing for a long time");
        match report {
            Some(Report::Text(text)) => {
                let v: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("server sent invalid JSON ({e}): {text}"));
                schemas().check_server_event(&v);
                Heard::Event(v)
            }
            Some(Report::Closed) | None => Heard::Closed,
        }
    }

    /// The next server event; panics if the call closed instead.
    pub async fn event(&mut self) -> Value {
        match self.next().await {
            Heard::Event(v) => v,
            Heard::Closed => panic!("the call closed"),
        }
    }

    pub async fn expect(&mut self, ty: &str) -> Value {
        Events::expect(self, ty).await
    }

    /// Events up to and including the first of type `ty`.
    pub async fn until(&mut self, ty: &str) -> Vec<Value> {
        Events::until(self, ty).await
    }

    /// Reads to the end of the call: the events before it.
    pub async fn closed(&mut self) -> Vec<Value> {
        let mut out = vec![];
        loop {
            match self.next().await {
                Heard::Event(v) => out.push(v),
                Heard::Closed => return out,
            }
        }
    }

    pub async fn send(&mut self, event: &Value) {
        self.commands
            .send(Command::Send(event.to_string()))
            .await
            .expect("the peer's task is gone");
    }

    /// Leaves the call, as a browser closing its peer connection does.
    pub async fn leave(&mut self) {
        let _ = self.commands.send(Command::Close).await;
    }
}

impl Events for PeerCall {
    async fn event(&mut self) -> Value {
        PeerCall::event(self).await
    }
}

impl Drop for PeerCall {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Driver {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    channel: ChannelId,
    open: bool,
    /// Messages to send once the channel is open.
    unsent: VecDeque<String>,
}

impl Driver {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>, report: mpsc::Sender<Report>) {
        let mut buf = vec![0u8; 2048];
        loop {
            // str0m's contract: after every input, drain its output to the next timeout.
            let timeout = loop {
                match self.rtc.poll_output() {
                    Ok(Output::Timeout(at)) => break at,
                    Ok(Output::Transmit(t)) => {
                        let _ = self.socket.send_to(&t.contents, t.destination).await;
                    }
                    Ok(Output::Event(e)) => {
                        if !self.on_event(e, &report).await {
                            return;
                        }
                    }
                    Err(_) => {
                        let _ = report.send(Report::Closed).await;
                        return;
                    }
                }
            };
            if !self.rtc.is_alive() {
                let _ = report.send(Report::Closed).await;
                return;
            }
            if self.open
                && let Some(text) = self.unsent.pop_front()
            {
                if let Some(mut channel) = self.rtc.channel(self.channel) {
                    let _ = channel.write(false, text.as_bytes());
                }
                continue;
            }
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => {
                    if let Ok((n, source)) = received
                        && let Ok(receive) = Receive::new(Protocol::Udp, source, self.local, &buf[..n])
                    {
                        let _ = self.rtc.handle_input(Input::Receive(Instant::now(), receive));
                    }
                }
                command = commands.recv() => match command {
                    Some(Command::Send(text)) => self.unsent.push_back(text),
                    // The goodbyes (SCTP shutdown, DTLS close_notify) leave on the next drains; the loop
                    // ends when str0m is done.
                    Some(Command::Close) | None => {
                        let _ = self.rtc.close();
                    }
                },
                () = tokio::time::sleep_until(timeout.max(Instant::now()).into()) => {
                    let _ = self.rtc.handle_input(Input::Timeout(Instant::now()));
                }
            }
        }
    }

    /// False once the call is over.
    async fn on_event(&mut self, event: Event, report: &mpsc::Sender<Report>) -> bool {
        match event {
            Event::ChannelOpen(id, _) if id == self.channel => self.open = true,
            Event::ChannelData(d) if !d.binary => {
                let text = String::from_utf8_lossy(&d.data).into_owned();
                let _ = report.send(Report::Text(text)).await;
            }
            Event::ChannelClose(id) if id == self.channel => {
                let _ = report.send(Report::Closed).await;
                return false;
            }
            Event::IceConnectionStateChange(str0m::IceConnectionState::Disconnected) => {
                let _ = report.send(Report::Closed).await;
                return false;
            }
            _ => {}
        }
        true
    }
}
