//! The real-time driver of a call's engine: one tokio task that hands the engine what the transport and
//! the HTTP layer say, stamped with the wall clock, and sleeps until the engine's next deadline. All the
//! pacing users see (think time, gaps between deltas, playback, idle timeout, expiry) is the engine's;
//! this task only supplies the time.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::sync::mpsc;

use super::{Engine, EngineSettings};
use crate::io::{FromEngine, ToEngine, Transport, TransportIo};
use crate::session::Session;

enum Control {
    Hangup,
}

/// Lets the HTTP layer end a call (`POST /realtime/calls/{id}/hangup`).
#[derive(Clone, Debug)]
pub struct EngineHandle {
    control: mpsc::Sender<Control>,
}

impl EngineHandle {
    /// Asks the engine to close the call; false if it had already ended.
    pub async fn hangup(&self) -> bool {
        self.control.send(Control::Hangup).await.is_ok()
    }

    pub fn is_finished(&self) -> bool {
        self.control.is_closed()
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

async fn run(
    mut engine: Engine,
    mut inbox: mpsc::Receiver<ToEngine>,
    mut control: mpsc::Receiver<Control>,
    out: mpsc::Sender<FromEngine>,
) {
    'call: loop {
        // Everything the last input or timer produced leaves before the next one is looked at, so the
        // engine closing (or the transport going) stops the call at once.
        while let Some(msg) = engine.poll_output() {
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
            Some(Control::Hangup) = control.recv() => engine.hangup(),
            () = tokio::time::sleep_until(deadline.into()) => engine.tick(Instant::now()),
        }
    }
    tracing::debug!(session = ?engine.session.get("id"), "call engine ended");
}
