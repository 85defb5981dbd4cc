//! One call's task: drives str0m's sans-IO `Rtc` over the call's UDP socket and bridges it to the engine.
//!
//! The loop keeps str0m's contract: every mutation (one input, one media write, one channel write) is followed
//! by draining `poll_output` to its next timeout before the next mutation.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::audio::{FRAME, FRAME_SAMPLES, LevelMeter, Speaker};
use crate::io::{FromEngine, ToEngine, TransportIo};

/// The only data channel the Realtime API speaks on.
const EVENTS_LABEL: &str = "oai-events";
/// A browser that has not connected by then never will (it posted an offer and went away).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a closing call may take to flush its goodbyes (DTLS close_notify, SCTP shutdown).
const CLOSE_GRACE: Duration = Duration::from_millis(500);
/// If the task falls this far behind the audio clock, it skips ahead instead of bursting frames.
const MAX_AUDIO_LAG: Duration = Duration::from_millis(100);
/// Large enough for any datagram on loopback or a normal MTU.
const RECV_BUFFER: usize = 2048;

/// Why a call ended.
enum End {
    /// The browser hung up or vanished (reason for the log).
    Peer(&'static str),
    /// The engine sent `FromEngine::Close`.
    EngineClose,
    /// The engine dropped its side of the call.
    EngineGone,
    /// str0m gave up on the connection.
    Failed(String),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Peer(reason) => write!(f, "peer: {reason}"),
            Self::EngineClose => f.write_str("engine closed the call"),
            Self::EngineGone => f.write_str("engine went away"),
            Self::Failed(error) => write!(f, "connection failed: {error}"),
        }
    }
}

/// What woke the loop.
enum Wake {
    Command(Option<FromEngine>),
    Datagram(std::io::Result<(usize, SocketAddr)>),
    Timer,
}

/// Runs the call until it ends; the engine's last message from this call is always `ToEngine::Closed`.
pub(super) async fn run(rtc: Rtc, socket: UdpSocket, speaker: Speaker, io: TransportIo) {
    let mut call = Call::new(rtc, socket, speaker, io);
    let end = call.drive().await;
    tracing::info!(%end, "call ended");
    if call.rtc.is_alive() {
        call.close_gracefully().await;
    }
    let _ = call.to_engine.send(ToEngine::Closed).await;
}

struct Call {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    to_engine: mpsc::Sender<ToEngine>,
    from_engine: mpsc::Receiver<FromEngine>,
    /// The `oai-events` channel, once open.
    events: Option<ChannelId>,
    /// Messages from the engine not yet accepted by SCTP (flushed before an engine-initiated close).
    outbox: VecDeque<String>,
    /// The audio section we send on, once str0m has announced it.
    audio_mid: Option<Mid>,
    connected: bool,
    speaker: Speaker,
    meter: LevelMeter,
    /// When the next 20 ms frame is due, and its RTP timestamp.
    next_frame: Instant,
    rtp_time: u64,
}

impl Call {
    fn new(rtc: Rtc, socket: UdpSocket, speaker: Speaker, io: TransportIo) -> Self {
        let local = socket
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        Self {
            rtc,
            socket,
            local,
            to_engine: io.to_engine,
            from_engine: io.from_engine,
            events: None,
            outbox: VecDeque::new(),
            audio_mid: None,
            connected: false,
            speaker,
            meter: LevelMeter::default(),
            next_frame: Instant::now(),
            rtp_time: 0,
        }
    }

    async fn drive(&mut self) -> End {
        let give_up = Instant::now() + CONNECT_TIMEOUT;
        let mut buf = vec![0u8; RECV_BUFFER];
        // Set once the engine has closed or let go: the call ends when what it said has left.
        let mut closing: Option<(End, Instant)> = None;
        loop {
            let timeout = match self.drain().await {
                Ok(timeout) => timeout,
                Err(end) => return end,
            };
            if !self.rtc.is_alive() {
                return End::Peer("connection closed");
            }
            // One channel write is one mutation: drain again before anything else.
            if self.write_one_message() {
                continue;
            }
            if closing.is_none() && self.to_engine.is_closed() {
                closing = Some((End::EngineGone, Instant::now() + CLOSE_GRACE));
            }
            if let Some((_, deadline)) = &closing
                && (self.all_sent() || Instant::now() >= *deadline)
            {
                return closing.map(|(end, _)| end).unwrap_or(End::EngineGone);
            }
            if !self.connected && Instant::now() >= give_up {
                return End::Peer("never connected");
            }

            let mut wake_at = timeout;
            if self.sending_audio() {
                wake_at = wake_at.min(self.next_frame);
            }
            if !self.connected {
                wake_at = wake_at.min(give_up);
            }
            if let Some((_, deadline)) = &closing {
                wake_at = wake_at.min(*deadline);
            }
            let wake = tokio::select! {
                command = self.from_engine.recv(), if closing.is_none() => Wake::Command(command),
                received = self.socket.recv_from(&mut buf) => Wake::Datagram(received),
                () = tokio::time::sleep_until(wake_at.into()) => Wake::Timer,
            };

            let result = match wake {
                Wake::Command(None) => {
                    closing = Some((End::EngineGone, Instant::now() + CLOSE_GRACE));
                    Ok(())
                }
                Wake::Command(Some(FromEngine::Close(_))) => {
                    closing = Some((End::EngineClose, Instant::now() + CLOSE_GRACE));
                    Ok(())
                }
                Wake::Command(Some(command)) => {
                    self.on_command(command);
                    Ok(())
                }
                Wake::Datagram(Ok((n, source))) => self.on_datagram(&buf[..n], source),
                Wake::Datagram(Err(e)) => {
                    // An ICMP error from an earlier send surfaces here; the socket itself is fine.
                    tracing::debug!(error = %e, "udp receive error");
                    Ok(())
                }
                Wake::Timer => {
                    let now = Instant::now();
                    if self.sending_audio() && now >= self.next_frame {
                        self.send_frame(now);
                        Ok(())
                    } else {
                        self.rtc.handle_input(Input::Timeout(now))
                    }
                }
            };
            if let Err(e) = result {
                return End::Failed(e.to_string());
            }
        }
    }

    /// True when every message from the engine has been handed over and acknowledged by the browser
    /// (or can never be: no channel).
    fn all_sent(&mut self) -> bool {
        let Some(id) = self.events else {
            return true;
        };
        self.outbox.is_empty()
            && self
                .rtc
                .channel(id)
                .is_none_or(|mut c| c.buffered_amount() == 0)
    }

    /// Drains str0m's output up to its next timeout: sends datagrams and handles events.
    async fn drain(&mut self) -> Result<Instant, End> {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => return Ok(at),
                Ok(Output::Transmit(t)) => {
                    if let Err(e) = self.socket.send_to(&t.contents, t.destination).await {
                        tracing::debug!(error = %e, to = %t.destination, "udp send error");
                    }
                }
                Ok(Output::Event(event)) => self.on_event(event).await?,
                Err(e) => return Err(End::Failed(e.to_string())),
            }
        }
    }

    async fn on_event(&mut self, event: Event) -> Result<(), End> {
        match event {
            Event::Connected => {
                self.connected = true;
                self.next_frame = Instant::now();
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                return Err(End::Peer("ICE disconnected"));
            }
            Event::MediaAdded(media)
                if media.kind == MediaKind::Audio && media.direction.is_sending() =>
            {
                self.audio_mid.get_or_insert(media.mid);
            }
            Event::MediaData(data) => {
                let (dbov, duration) = self.meter.measure(data.ext_vals.audio_level, &data.data);
                // Levels arrive 50 times a second; if the engine is behind, dropping one is harmless.
                let _ = self
                    .to_engine
                    .try_send(ToEngine::InputLevel { dbov, duration });
            }
            Event::ChannelOpen(id, label) if label == EVENTS_LABEL && self.events.is_none() => {
                self.events = Some(id);
                tell(&self.to_engine, ToEngine::ChannelOpen).await?;
            }
            Event::ChannelData(data) if Some(data.id) == self.events => {
                if data.binary {
                    tracing::debug!(
                        bytes = data.data.len(),
                        "ignoring a binary message on oai-events"
                    );
                } else {
                    let text = String::from_utf8_lossy(&data.data).into_owned();
                    tell(&self.to_engine, ToEngine::ClientMessage(text)).await?;
                }
            }
            Event::ChannelClose(id) if Some(id) == self.events => {
                return Err(End::Peer("data channel closed"));
            }
            Event::Closed => return Err(End::Peer("peer closed")),
            _ => {}
        }
        Ok(())
    }

    fn on_command(&mut self, command: FromEngine) {
        match command {
            FromEngine::Send(json) => self.outbox.push_back(json),
            FromEngine::PlayAudio { duration } => self.speaker.play(duration),
            FromEngine::StopAudio => self.speaker.stop(),
            // Handled by the loop, which ends the call.
            FromEngine::Close(_) => {}
        }
    }

    fn on_datagram(&mut self, datagram: &[u8], source: SocketAddr) -> Result<(), str0m::RtcError> {
        let Ok(receive) = Receive::new(Protocol::Udp, source, self.local, datagram) else {
            tracing::debug!(%source, bytes = datagram.len(), "ignoring an unrecognised datagram");
            return Ok(());
        };
        self.rtc
            .handle_input(Input::Receive(Instant::now(), receive))
    }

    /// Hands the oldest pending message to SCTP; true if it did (a mutation happened).
    fn write_one_message(&mut self) -> bool {
        let (Some(id), Some(message)) = (self.events, self.outbox.front()) else {
            return false;
        };
        if message.len() > super::MAX_BUFFERED {
            tracing::warn!(
                bytes = message.len(),
                "dropping a message too large for the data channel"
            );
            self.outbox.pop_front();
            return false;
        }
        let Some(mut channel) = self.rtc.channel(id) else {
            return false;
        };
        match channel.write(false, message.as_bytes()) {
            Ok(true) => {
                self.outbox.pop_front();
                true
            }
            // SCTP's buffer is full: retry after the next input has freed some.
            Ok(false) => false,
            Err(e) => {
                tracing::warn!(error = %e, "dropping a message the data channel refused");
                self.outbox.pop_front();
                true
            }
        }
    }

    fn sending_audio(&self) -> bool {
        self.connected && self.audio_mid.is_some()
    }

    /// Writes the frame due now: the voice while playing, silence otherwise, so the track keeps its clock.
    fn send_frame(&mut self, now: Instant) {
        if now.saturating_duration_since(self.next_frame) > MAX_AUDIO_LAG {
            let behind = now.duration_since(self.next_frame).as_micros() / FRAME.as_micros();
            self.rtp_time += behind as u64 * FRAME_SAMPLES as u64;
            self.next_frame = now;
        }
        self.next_frame += FRAME;
        let rtp_time = MediaTime::new(self.rtp_time, Frequency::FORTY_EIGHT_KHZ);
        self.rtp_time += FRAME_SAMPLES as u64;

        let frame = match self.speaker.next_frame() {
            Ok(frame) => frame,
            Err(e) => {
                tracing::warn!(error = %e, "opus encoding failed");
                return;
            }
        };
        let Some(writer) = self.audio_mid.and_then(|mid| self.rtc.writer(mid)) else {
            return;
        };
        let Some(pt) = writer
            .payload_params()
            .find(|p| p.spec().codec == Codec::Opus)
            .map(|p| p.pt())
        else {
            return;
        };
        if let Err(e) = writer.write(pt, now, rtp_time, frame) {
            tracing::debug!(error = %e, "could not write an audio frame");
        }
    }

    /// Starts str0m's local shutdown and pumps it briefly so the browser hears the goodbye.
    async fn close_gracefully(&mut self) {
        if self.rtc.close().is_err() {
            return;
        }
        let deadline = Instant::now() + CLOSE_GRACE;
        let mut buf = vec![0u8; RECV_BUFFER];
        while self.rtc.is_alive() && Instant::now() < deadline {
            let Ok(timeout) = self.drain_quietly().await else {
                return;
            };
            if !self.rtc.is_alive() {
                return;
            }
            let wake_at = timeout.min(deadline);
            let wake = tokio::select! {
                received = self.socket.recv_from(&mut buf) => Wake::Datagram(received),
                () = tokio::time::sleep_until(wake_at.into()) => Wake::Timer,
            };
            let result = match wake {
                Wake::Datagram(Ok((n, source))) => self.on_datagram(&buf[..n], source),
                Wake::Datagram(Err(_)) | Wake::Command(_) => Ok(()),
                Wake::Timer => self.rtc.handle_input(Input::Timeout(Instant::now())),
            };
            if result.is_err() {
                return;
            }
        }
    }

    /// Like `drain`, but once the call is over events no longer matter.
    async fn drain_quietly(&mut self) -> Result<Instant, str0m::RtcError> {
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(at) => return Ok(at),
                Output::Transmit(t) => {
                    let _ = self.socket.send_to(&t.contents, t.destination).await;
                }
                Output::Event(_) => {}
            }
        }
    }
}

/// A message the engine must not miss (a free function: a `&Call` held across `.await` would need `Call: Sync`).
async fn tell(to_engine: &mpsc::Sender<ToEngine>, message: ToEngine) -> Result<(), End> {
    to_engine.send(message).await.map_err(|_| End::EngineGone)
}
