//! A call's engine on a virtual clock, for tests: time moves only when the test moves it, so a client
//! event can land at an exact moment of a response (between two deltas, during playback) with no sleeping
//! and no race. It drives the same engine as `engine::start`, without the task and the channels: what the
//! call's own transport receives, and what each attached sideband does.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::{Engine, EngineSettings, Peer};
use crate::io::{FromEngine, ToEngine, Transport};
use crate::session::Session;

/// The server events of a turn of user speech with VAD, from `speech_started` to its transcript, with `deltas`
/// transcript deltas (one for whisper-1, one a word otherwise): the same on every transport and in both kinds
/// of session.
pub fn transcribed_turn(deltas: usize) -> Vec<&'static str> {
    let mut turn = vec![
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
    ];
    turn.extend(std::iter::repeat_n(
        "conversation.item.input_audio_transcription.delta",
        deltas,
    ));
    turn.push("conversation.item.input_audio_transcription.completed");
    turn
}

/// One call at virtual time `elapsed()`, counted from its start.
pub struct VirtualCall {
    engine: Engine,
    origin: Instant,
    now: Instant,
    /// What the engine handed out and the test has not taken yet.
    out: VecDeque<FromEngine>,
    /// The same for each attached sideband: the server events it was sent.
    sidebands: Vec<(u32, VecDeque<String>)>,
}

impl VirtualCall {
    /// A call over `transport` at virtual time zero. The real clocks are read once, for an origin only: the
    /// monotonic one because `Instant` has no constant, the wall clock so `expires_at` looks as it does in a
    /// real call.
    pub fn start(session: Session, settings: EngineSettings, transport: Transport) -> VirtualCall {
        let origin = Instant::now();
        let engine = Engine::new(
            session,
            Arc::new(settings),
            transport,
            origin,
            SystemTime::now(),
        );
        VirtualCall {
            engine,
            origin,
            now: origin,
            out: VecDeque::new(),
            sidebands: Vec::new(),
        }
    }

    /// Virtual time since the call started.
    pub fn elapsed(&self) -> Duration {
        self.now - self.origin
    }

    /// A message from the transport, arriving now; the clock does not move.
    pub fn input(&mut self, msg: ToEngine) {
        self.engine.handle(msg, self.now);
        self.collect();
    }

    /// Attaches sideband `id` now, as the driver does when a socket attaches.
    pub fn attach(&mut self, id: u32) {
        self.sidebands.push((id, VecDeque::new()));
        self.engine.sideband_attached(id, self.now);
        self.collect();
    }

    /// A message from `peer` (the call's transport or a sideband), arriving now.
    pub fn input_from(&mut self, peer: Peer, msg: ToEngine) {
        self.engine.handle_from(peer, msg, self.now);
        self.collect();
    }

    /// The server events sideband `id` was sent and the test has not taken yet.
    pub fn sideband_output(&mut self, id: u32) -> Vec<String> {
        self.sidebands
            .iter_mut()
            .find(|(i, _)| *i == id)
            .map(|(_, out)| out.drain(..).collect())
            .unwrap_or_default()
    }

    /// What `POST /realtime/calls/{id}/hangup` does; false if the call had already ended.
    pub fn hangup(&mut self) -> bool {
        let live = !self.engine.is_ended();
        self.engine.hangup();
        self.collect();
        live
    }

    /// What `POST /emulator/sip/calls/{id}/dtmf` does: a keypad key pressed now.
    pub fn dtmf(&mut self, key: &str) {
        self.engine.dtmf(key, self.now);
        self.collect();
    }

    /// The next message for the transport that is already out; the clock does not move.
    pub fn output(&mut self) -> Option<FromEngine> {
        self.out.pop_front()
    }

    /// The virtual time of the engine's next timer; `None` once the call is over.
    pub fn next_deadline(&self) -> Option<Duration> {
        let at = self.engine.next_deadline()?;
        Some(at.max(self.now) - self.origin)
    }

    /// Moves the clock forward by `by`. Every timer due on the way fires at its own instant, in order,
    /// exactly as a real driver woken on time would fire it.
    pub fn advance(&mut self, by: Duration) {
        self.advance_to(self.elapsed() + by);
    }

    /// Moves the clock to `at` since the start (no-op if it is already there or later).
    pub fn advance_to(&mut self, at: Duration) {
        let target = self.origin + at;
        while let Some(deadline) = self.engine.next_deadline()
            && deadline <= target
        {
            self.fire(deadline);
        }
        self.now = self.now.max(target);
    }

    /// Fires the next timer `late` after it was due, as a driver on a busy machine wakes up; `false` when no
    /// timer is left.
    pub fn fire_late(&mut self, late: Duration) -> bool {
        match self.engine.next_deadline() {
            Some(deadline) => {
                self.fire(deadline + late);
                true
            }
            None => false,
        }
    }

    /// The next message for the transport, moving the clock from timer to timer until there is one (as a
    /// real transport would wait for it). `None` once the call is over with nothing left to hand out.
    pub fn next_output(&mut self) -> Option<FromEngine> {
        loop {
            if let Some(msg) = self.out.pop_front() {
                return Some(msg);
            }
            let deadline = self.engine.next_deadline()?;
            self.fire(deadline);
        }
    }

    /// True once the transport closed or the engine's `Close` was handed out.
    pub fn is_ended(&self) -> bool {
        self.engine.is_ended()
    }

    fn fire(&mut self, deadline: Instant) {
        self.now = self.now.max(deadline);
        self.engine.tick(self.now);
        self.collect();
    }

    /// Takes what the engine produced right away, as the real driver does after every input or timer, so
    /// a close (or `close_after_events`) stops the call at the same point.
    fn collect(&mut self) {
        while let Some((audience, msg)) = self.engine.poll_output() {
            if let FromEngine::Send(text) = &msg {
                for (id, out) in &mut self.sidebands {
                    if audience.reaches(Peer::Sideband(*id)) {
                        out.push_back(text.clone());
                    }
                }
            }
            if audience.reaches(Peer::Call) {
                self.out.push_back(msg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Pace;

    /// The types (and deltas) of what a call said after `steps` advances of `by` each.
    fn said_after(by: Duration, steps: u32) -> Vec<String> {
        let settings = EngineSettings {
            pace: Pace::Realistic,
            ..EngineSettings::default()
        };
        let mut call = VirtualCall::start(Session::default(), settings, Transport::WebRtc);
        call.input(ToEngine::ChannelOpen);
        let ask = r#"{"type": "conversation.item.create", "item": {"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "one two three four five"}]}}"#;
        call.input(ToEngine::ClientMessage(ask.into()));
        call.input(ToEngine::ClientMessage(
            r#"{"type": "response.create"}"#.into(),
        ));
        for _ in 0..steps {
            call.advance(by);
        }
        std::iter::from_fn(|| call.output())
            .filter_map(|out| match out {
                FromEngine::Send(text) => {
                    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                    Some(format!("{} {}", v["type"], v["delta"]))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn one_long_advance_fires_every_timer_at_its_own_instant() {
        // 300 ms of thinking and 40 ms between deltas: 420 ms is the fourth delta, mid-answer.
        let stepped = said_after(Duration::from_millis(1), 420);
        assert_eq!(said_after(Duration::from_millis(420), 1), stepped);
        let deltas = stepped.iter().filter(|t| t.contains(".delta")).count();
        assert_eq!(deltas, 4);
    }

    fn types(texts: &[String]) -> Vec<String> {
        texts
            .iter()
            .map(|t| serde_json::from_str::<serde_json::Value>(t).unwrap()["type"].to_string())
            .collect()
    }

    fn call_types(call: &mut VirtualCall) -> Vec<String> {
        let texts: Vec<String> = std::iter::from_fn(|| call.output())
            .filter_map(|out| match out {
                FromEngine::Send(text) => Some(text),
                _ => None,
            })
            .collect();
        types(&texts)
    }

    #[test]
    fn a_sidebands_events_wait_for_the_calls_channel_and_its_errors_are_its_own() {
        let mut call = VirtualCall::start(
            Session::default(),
            EngineSettings::default(),
            Transport::WebRtc,
        );
        call.attach(1);
        let item = r#"{"type": "conversation.item.create", "item": {"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "early"}]}}"#;
        call.input_from(Peer::Sideband(1), ToEngine::ClientMessage(item.into()));
        call.input_from(
            Peer::Sideband(1),
            ToEngine::ClientMessage(r#"{"type": "nope", "event_id": "e1"}"#.into()),
        );
        assert!(
            call.output().is_none(),
            "the call hears nothing before it opens"
        );
        assert!(call.sideband_output(1).is_empty());

        call.input(ToEngine::ChannelOpen);
        assert_eq!(
            call_types(&mut call),
            [
                r#""session.created""#,
                r#""conversation.item.added""#,
                r#""conversation.item.done""#
            ]
        );
        assert_eq!(
            types(&call.sideband_output(1)),
            [
                r#""conversation.item.added""#,
                r#""conversation.item.done""#,
                r#""error""#
            ]
        );
    }

    #[test]
    fn time_stands_still_until_the_test_moves_it() {
        let mut call = VirtualCall::start(
            Session::default(),
            EngineSettings::default(),
            Transport::WebRtc,
        );
        call.input(ToEngine::ChannelOpen);
        assert!(call.output().is_some(), "session.created");
        assert_eq!(call.elapsed(), Duration::ZERO);
        assert_eq!(call.next_deadline(), Some(Duration::from_secs(60 * 60)));
        call.advance_to(Duration::from_secs(60 * 60));
        let said: Vec<_> = std::iter::from_fn(|| call.output()).collect();
        assert!(matches!(
            said.as_slice(),
            [FromEngine::Send(_), FromEngine::Close(_)]
        ));
        assert!(call.is_ended() && call.next_deadline().is_none());
    }
}
