//! Input audio as the engine sees it over WebRTC: packet levels, not samples. Voice activity is decided
//! from the level, so a test (or a browser's fake microphone) controls turns by loudness alone.

use crate::ids;
use crate::session::TurnDetection;

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
    fn manual_turns_only_fill_the_buffer() {
        let mut a = InputAudio::default();
        for _ in 0..10 {
            assert_eq!(a.on_level(10, 20, &TurnDetection::Manual), None);
        }
        assert_eq!(a.buffer_ms, 200);
    }
}
