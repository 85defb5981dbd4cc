//! The peers of one call: its own transport and the sideband sockets attached to it. Who an input came
//! from decides where the `error` it causes goes; a sideband's own greeting, and its events that arrive
//! before the call's channel is open, are handled here.

use std::time::Instant;

use serde_json::json;

use super::Engine;
use crate::io::ToEngine;

/// Who sent an input: the call's own transport, or one of its sideband sockets (numbered by the driver).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Call,
    Sideband(u32),
}

/// Who an output is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The call and every attached sideband (audio commands reach the call only: sidebands have no track).
    All,
    /// One peer alone: the `error` answering its client event, a sideband's own `session.created`.
    Only(Peer),
}

impl Audience {
    pub fn reaches(self, peer: Peer) -> bool {
        match self {
            Audience::All => true,
            Audience::Only(p) => p == peer,
        }
    }
}

impl Engine {
    /// Where an `error` caused by the input being handled goes.
    pub(crate) fn error_audience(&self) -> Audience {
        self.source.map_or(Audience::All, Audience::Only)
    }

    /// A sideband socket has just attached, at `now`: it hears the call's events from here on, starting
    /// with its own `session.created` when the settings ask for one.
    pub(crate) fn sideband_attached(&mut self, id: u32, now: Instant) {
        if !self.accepts_input() {
            return;
        }
        self.set_now(now);
        if self.sh.settings.sideband_session_created {
            let session = self.session_json();
            self.sh.emit_to(
                Audience::Only(Peer::Sideband(id)),
                json!({"type": "session.created", "session": session}),
            );
        }
    }

    pub(super) fn on_sideband_input(&mut self, id: u32, msg: ToEngine) {
        match msg {
            ToEngine::ClientMessage(text) if !self.open => self.held.push_back((id, text)),
            // It was greeted when it attached ([`Engine::sideband_attached`]); it has no track; its leaving
            // changes nothing for the call.
            ToEngine::ChannelOpen | ToEngine::InputLevel { .. } | ToEngine::Closed => {}
            other => self.on_call_input(other),
        }
    }

    /// The call's channel has just opened: the sidebands' events that waited for it, in order, each
    /// answered as its sender's.
    pub(super) fn release_held(&mut self) {
        let caller = self.source;
        while let Some((id, text)) = self.held.pop_front() {
            self.source = Some(Peer::Sideband(id));
            self.on_client_message(&text);
        }
        self.source = caller;
    }
}
