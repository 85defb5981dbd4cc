//! The real-time driver of a call's engine: one tokio task that hands the engine what the transport, its
//! sidebands and the HTTP layer say, stamped with the wall clock, and sleeps until the engine's next
//! deadline. All the pacing users see (think time, gaps between deltas, playback, idle timeout, expiry) is
//! the engine's; this task only supplies the time, and delivers each output to whom it is for.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::sync::{mpsc, oneshot};

use super::{Audience, Engine, EngineSettings, Peer};
use crate::io::{CloseReason, FromEngine, ToEngine, Transport, TransportIo};
use crate::session::Session;

/// Room for a sideband's undelivered events: one that falls this far behind is let go (and told why in
/// the log) rather than holding the call up.
const SIDEBAND_BACKLOG: usize = 1024;

enum Control {
    Hangup,
    Dtmf(String),
    Attach {
        inbox: mpsc::Receiver<ToEngine>,
        out: mpsc::Sender<FromEngine>,
        reply: oneshot::Sender<Result<(), AttachError>>,
    },
}

/// Why a sideband could not attach to a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    #[error("the call has ended")]
    Ended,
    #[error("the call already has {limit} sideband(s) attached")]
    Full { limit: u32 },
}

/// Lets the HTTP layer end a call (`POST /realtime/calls/{id}/hangup`) or attach a sideband to it.
#[derive(Clone, Debug)]
pub struct EngineHandle {
    control: mpsc::Sender<Control>,
}

impl EngineHandle {
    /// Asks the engine to close the call; false if it had already ended.
    pub async fn hangup(&self) -> bool {
        self.control.send(Control::Hangup).await.is_ok()
    }

    /// Tells the call a keypad key was pressed (an accepted SIP call); false if it had already ended.
    pub async fn dtmf(&self, key: &str) -> bool {
        self.control
            .send(Control::Dtmf(key.to_owned()))
            .await
            .is_ok()
    }

    pub fn is_finished(&self) -> bool {
        self.control.is_closed()
    }

    /// Attaches one more socket to the call: the returned ends carry its client events in and the call's
    /// server events out from now on (its own `session.created` first, if the settings say so), then `Close(CallEnded)` when the call
    /// ends. Dropping them (or sending `Closed`) detaches it.
    pub async fn attach(&self) -> Result<TransportIo, AttachError> {
        let (to_engine, inbox) = mpsc::channel(1024);
        let (out, from_engine) = mpsc::channel(SIDEBAND_BACKLOG);
        let (reply, answer) = oneshot::channel();
        self.control
            .send(Control::Attach { inbox, out, reply })
            .await
            .map_err(|_| AttachError::Ended)?;
        answer.await.map_err(|_| AttachError::Ended)??;
        Ok(TransportIo {
            to_engine,
            from_engine,
        })
    }
}

/// Starts the engine task of one call carried by `transport` and returns its handle and the transport's
/// ends of the channels. The engine says nothing until the transport reports `ToEngine::ChannelOpen`.
pub fn start(
    session: Session,
    settings: Arc<EngineSettings>,
    transport: Transport,
) -> (EngineHandle, TransportIo) {
    let (to_engine, inbox) = mpsc::channel(1024);
    let (out, from_engine) = mpsc::channel(1024);
    let (control, control_rx) = mpsc::channel(4);
    let engine = Engine::new(
        session,
        settings,
        transport,
        Instant::now(),
        SystemTime::now(),
    );
    tokio::spawn(run(engine, inbox, control_rx, out));
    (
        EngineHandle { control },
        TransportIo {
            to_engine,
            from_engine,
        },
    )
}

/// The sockets attached to one call, and the one inbox their client events arrive in, tagged.
struct Sidebands {
    attached: Vec<(u32, mpsc::Sender<FromEngine>)>,
    next_id: u32,
    tx: mpsc::Sender<(u32, ToEngine)>,
    rx: mpsc::Receiver<(u32, ToEngine)>,
}

impl Sidebands {
    fn new() -> Self {
        let (tx, rx) = mpsc::channel(1024);
        Sidebands {
            attached: Vec::new(),
            next_id: 1,
            tx,
            rx,
        }
    }

    fn attach(
        &mut self,
        limit: u32,
        mut inbox: mpsc::Receiver<ToEngine>,
        out: mpsc::Sender<FromEngine>,
    ) -> Result<u32, AttachError> {
        if self.attached.len() as u32 >= limit {
            return Err(AttachError::Full { limit });
        }
        let id = self.next_id;
        self.next_id += 1;
        self.attached.push((id, out));
        // Tags the socket's events with its number; a socket gone without a word is `Closed` too.
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while let Some(msg) = inbox.recv().await {
                let closed = matches!(msg, ToEngine::Closed);
                if tx.send((id, msg)).await.is_err() || closed {
                    return;
                }
            }
            let _ = tx.send((id, ToEngine::Closed)).await;
        });
        Ok(id)
    }

    fn detach(&mut self, id: u32) {
        self.attached.retain(|(i, _)| *i != id);
    }

    /// Hands a server event to every sideband `audience` reaches, without waiting for any.
    fn deliver(&mut self, audience: Audience, text: &str) {
        self.attached.retain(|(id, out)| {
            if !audience.reaches(Peer::Sideband(*id)) {
                return true;
            }
            match out.try_send(FromEngine::Send(text.to_owned())) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(sideband = id, "sideband too far behind: detached");
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }

    /// The call has ended: each socket is told so, and let go.
    fn end(&mut self) {
        for (_, out) in self.attached.drain(..) {
            let _ = out.try_send(FromEngine::Close(CloseReason::CallEnded));
        }
    }
}

async fn run(
    mut engine: Engine,
    mut inbox: mpsc::Receiver<ToEngine>,
    mut control: mpsc::Receiver<Control>,
    out: mpsc::Sender<FromEngine>,
) {
    let mut sidebands = Sidebands::new();
    'call: loop {
        // Everything the last input or timer produced leaves before the next one is looked at, so the
        // engine closing (or the transport going) stops the call at once.
        while let Some((audience, msg)) = engine.poll_output() {
            let msg = match msg {
                FromEngine::Send(text) => {
                    sidebands.deliver(audience, &text);
                    if !audience.reaches(Peer::Call) {
                        continue;
                    }
                    FromEngine::Send(text)
                }
                FromEngine::Close(reason) => {
                    sidebands.end();
                    FromEngine::Close(reason)
                }
                audio => audio,
            };
            if out.send(msg).await.is_err() {
                break 'call;
            }
        }
        let Some(deadline) = engine.next_deadline() else {
            break;
        };
        tokio::select! {
            msg = inbox.recv() => match msg {
                Some(msg) => engine.handle(msg, Instant::now()),
                None => break,
            },
            Some((id, msg)) = sidebands.rx.recv() => {
                if matches!(msg, ToEngine::Closed) {
                    sidebands.detach(id);
                }
                engine.handle_from(Peer::Sideband(id), msg, Instant::now());
            }
            Some(command) = control.recv() => match command {
                Control::Hangup => engine.hangup(),
                Control::Dtmf(key) => engine.dtmf(&key, Instant::now()),
                Control::Attach { inbox, out, reply } => {
                    let attached = sidebands.attach(engine.sh.settings.max_sidebands, inbox, out);
                    if let Ok(id) = attached {
                        engine.sideband_attached(id, Instant::now());
                    }
                    let _ = reply.send(attached.map(|_| ()));
                }
            },
            () = tokio::time::sleep_until(deadline.into()) => engine.tick(Instant::now()),
        }
    }
    // The call is gone for new sidebands before the attached ones hear that it ended.
    drop(control);
    sidebands.end();
    tracing::debug!(session = ?engine.session.get("id"), "call engine ended");
}
