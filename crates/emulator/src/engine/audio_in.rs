//! Input audio as the engine sees it: a level per packet (WebRTC) or per frame of appended samples
//! (WebSocket, see [`Frames`]). Voice activity is decided from the level alone, so a test (or a browser's
//! fake microphone) controls turns by loudness, and both transports time turns the same way.

use crate::audio::dbov;
use crate::ids;
use crate::session::TurnDetection;

/// Appended audio is judged in frames of this length, the length of a WebRTC packet.
pub const VAD_FRAME_MS: u64 = 20;

/// Samples appended over WebSocket, cut into [`VAD_FRAME_MS`] frames: what does not fill a frame waits for
/// the next append, so the frames (and the times VAD reports) do not depend on how the client chunks.
#[derive(Debug, Default)]
pub struct Frames {
    rate: u32,
    pending: Vec<i16>,
}

impl Frames {
    /// Adds samples at `rate` and returns the level and duration of each frame they complete.
    pub fn push(&mut self, samples: &[i16], rate: u32) -> Vec<(u8, u64)> {
        if rate != self.rate {
            // The session's format changed: a partial frame of the old one is not continued.
            self.pending.clear();
            self.rate = rate;
        }
        let frame = (u64::from(rate) * VAD_FRAME_MS / 1000) as usize;
        self.pending.extend_from_slice(samples);
        let whole = self.pending.len() / frame * frame;
        let levels = self.pending[..whole]
            .chunks_exact(frame)
            .map(|f| (dbov(f), VAD_FRAME_MS))
            .collect();
        self.pending.drain(..whole);
        levels
    }

    /// The partial frame left over, as one short frame (a commit takes it too); whole milliseconds only.
    pub fn flush(&mut self) -> Option<(u8, u64)> {
        let ms = self.pending.len() as u64 * 1000 / u64::from(self.rate.max(1));
        let level = dbov(&self.pending);
        self.pending.clear();
        (ms > 0).then_some((level, ms))
    }

    pub fn clear(&mut self) {
        self.pending.clear();
    }
}

/// What voice activity detection concluded from one packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VadEvent {
    SpeechStarted {
        item_id: String,
        audio_start_ms: u64,
    },
    SpeechStopped {
        item_id: String,
        audio_start_ms: u64,
        audio_end_ms: u64,
    },
}

#[derive(Debug, Default)]
pub struct InputAudio {
    /// Audio received since the session started: the time base of `audio_start_ms` / `audio_end_ms`.
    pub clock_ms: u64,
    /// Audio in the uncommitted input buffer.
    pub buffer_ms: u64,
    speech: Option<Speech>,
}

#[derive(Debug)]
struct Speech {
    item_id: String,
    start_ms: u64,
    silence_ms: u64,
}

/// `threshold` 0..1 mapped onto the RFC 6464 level (0 = loudest, 127 = silence): the default 0.5 counts
/// anything louder than -50 dBov as speech, 0.9 only very loud audio (-10 dBov).
pub fn is_speech(dbov: u8, threshold: f64) -> bool {
    f64::from(dbov) <= (1.0 - threshold) * 100.0
}

impl InputAudio {
    pub fn on_level(&mut self, dbov: u8, duration_ms: u64, td: &TurnDetection) -> Option<VadEvent> {
        let packet_start = self.clock_ms;
        self.clock_ms += duration_ms;
        self.buffer_ms += duration_ms;
        let TurnDetection::Vad {
            threshold,
            prefix_padding_ms,
            silence_duration_ms,
            ..
        } = td
        else {
            return None;
        };
        let loud = is_speech(dbov, *threshold);
        match &mut self.speech {
            None if loud => {
                let item_id = ids::item_id();
                let audio_start_ms = packet_start.saturating_sub(*prefix_padding_ms);
                self.speech = Some(Speech {
                    item_id: item_id.clone(),
                    start_ms: audio_start_ms,
                    silence_ms: 0,
                });
                Some(VadEvent::SpeechStarted {
                    item_id,
                    audio_start_ms,
                })
            }
            None => {
                // Silence between turns is not kept: only the prefix padding would be.
                self.buffer_ms = self.buffer_ms.min(*prefix_padding_ms);
                None
            }
            Some(s) if loud => {
                s.silence_ms = 0;
                None
            }
            Some(s) => {
                s.silence_ms += duration_ms;
                if s.silence_ms < *silence_duration_ms {
                    return None;
                }
                let audio_end_ms = self.clock_ms - s.silence_ms;
                let ev = VadEvent::SpeechStopped {
                    item_id: s.item_id.clone(),
                    audio_start_ms: s.start_ms,
                    audio_end_ms,
                };
                self.speech = None;
                self.buffer_ms = 0;
                Some(ev)
            }
        }
    }

    /// `input_audio_buffer.clear`, or a commit: the buffer and any speech in progress are dropped.
    pub fn clear(&mut self) {
        self.buffer_ms = 0;
        self.speech = None;
    }

    /// The item id speech in progress will get, so a manual commit mid-speech reuses it.
    pub fn pending_item_id(&self) -> Option<String> {
        self.speech.as_ref().map(|s| s.item_id.clone())
    }

    /// Adds audio that arrived as `input_audio_buffer.append` rather than over the track.
    pub fn append(&mut self, duration_ms: u64) {
        self.buffer_ms += duration_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vad() -> TurnDetection {
        TurnDetection::Vad {
            threshold: 0.5,
            prefix_padding_ms: 300,
            silence_duration_ms: 200,
            idle_timeout_ms: None,
            create_response: true,
            interrupt_response: true,
        }
    }

    #[test]
    fn loud_then_quiet_packets_make_one_turn() {
        let mut a = InputAudio::default();
        let td = vad();
        for _ in 0..25 {
            assert_eq!(a.on_level(127, 20, &td), None);
        }
        let started = a.on_level(30, 20, &td);
        assert!(matches!(
            started,
            Some(VadEvent::SpeechStarted {
                audio_start_ms: 200,
                ..
            })
        ));
        for _ in 0..49 {
            assert_eq!(a.on_level(30, 20, &td), None);
        }
        for _ in 0..9 {
            assert_eq!(a.on_level(127, 20, &td), None);
        }
        match a.on_level(127, 20, &td) {
            Some(VadEvent::SpeechStopped {
                audio_start_ms,
                audio_end_ms,
                ..
            }) => {
                assert_eq!((audio_start_ms, audio_end_ms), (200, 1500));
            }
            other => panic!("expected speech_stopped, got {other:?}"),
        }
    }

    #[test]
    fn frames_do_not_depend_on_how_the_audio_was_cut() {
        let mut samples = vec![0i16; 24_000];
        samples.extend(std::iter::repeat_n(8000i16, 12_000));
        let mut whole = Frames::default();
        let expected = whole.push(&samples, 24_000);
        assert_eq!(expected.len(), 75);
        assert_eq!(expected[49], (127, 20));
        assert!(expected[50].0 < 20, "{:?}", expected[50]);
        let mut pieces = Frames::default();
        let got: Vec<_> = samples
            .chunks(333)
            .flat_map(|c| pieces.push(c, 24_000))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(pieces.flush(), None);
        pieces.push(&[1000; 240], 24_000);
        assert_eq!(pieces.flush().map(|f| f.1), Some(10));
    }

    #[test]
    fn manual_turns_only_fill_the_buffer() {
        let mut a = InputAudio::default();
        for _ in 0..10 {
            assert_eq!(a.on_level(10, 20, &TurnDetection::Manual), None);
        }
        assert_eq!(a.buffer_ms, 200);
    }
}
