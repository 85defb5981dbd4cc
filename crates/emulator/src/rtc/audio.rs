//! Audio of one call: the Opus frames the emulated model "speaks" to the browser, and the level of each packet
//! the browser sends.
//!
//! Encoding and the level fallback use `opus-pure`, a pure-Rust Opus codec (decoding bit-exact with libopus).

use std::time::Duration;

use opus_pure::{Application, MAX_PACKET_BYTES, MAX_PACKET_SAMPLES, OpusDecoder, OpusEncoder};

pub use crate::audio::SILENCE_DBOV;
use crate::audio::{Voice, dbov};

/// Opus always runs at 48 kHz in WebRTC.
pub const SAMPLE_RATE: u32 = 48_000;
/// One frame of sent audio.
pub const FRAME: Duration = Duration::from_millis(20);
/// Samples in one 20 ms frame at 48 kHz.
pub const FRAME_SAMPLES: usize = 960;

/// The sending side: the model's voice while the engine plays, silence otherwise, one Opus frame per call of
/// [`Speaker::next_frame`]. The encoder runs on every frame, silence included, so its state stays continuous.
pub struct Speaker {
    encoder: OpusEncoder,
    /// The utterance playing, if any.
    voice: Option<Voice>,
    pcm: Vec<i16>,
    packet: Vec<u8>,
}

impl std::fmt::Debug for Speaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speaker")
            .field("playing", &self.voice.is_some())
            .finish_non_exhaustive()
    }
}

impl Speaker {
    pub fn new() -> Result<Self, opus_pure::Error> {
        let encoder = OpusEncoder::new(SAMPLE_RATE as i32, 1, Application::Voip)?;
        Ok(Self {
            encoder,
            voice: None,
            pcm: vec![0; FRAME_SAMPLES],
            packet: vec![0; MAX_PACKET_BYTES],
        })
    }

    /// Speaks for `duration` (rounded up to whole frames), replacing whatever was playing.
    pub fn play(&mut self, duration: Duration) {
        let frames = duration.as_micros().div_ceil(FRAME.as_micros()) as u64;
        self.voice = Some(Voice::with_samples(
            SAMPLE_RATE,
            frames * FRAME_SAMPLES as u64,
        ));
    }

    /// Falls silent from the next frame on.
    pub fn stop(&mut self) {
        self.voice = None;
    }

    #[cfg(test)]
    fn is_playing(&self) -> bool {
        self.voice.as_ref().is_some_and(|v| !v.is_done())
    }

    /// The next 20 ms of audio as one Opus packet.
    pub fn next_frame(&mut self) -> Result<Vec<u8>, opus_pure::Error> {
        match &mut self.voice {
            Some(voice) => {
                voice.fill(&mut self.pcm);
                if voice.is_done() {
                    self.voice = None;
                }
            }
            None => self.pcm.fill(0),
        }
        let n = self
            .encoder
            .encode_s16(&self.pcm, FRAME_SAMPLES, &mut self.packet)?;
        Ok(self.packet[..n].to_vec())
    }
}

/// The receiving side: the level and duration of each packet from the browser.
///
/// The level comes from the RFC 6464 `ssrc-audio-level` header extension when the browser sends it (Chromium
/// does whenever it is negotiated, and the answer keeps it). Without it the packet is decoded and its RMS
/// measured, which gives the same scale: -dBov, 0 loudest, 127 silence.
#[derive(Default)]
pub struct LevelMeter {
    /// Created on the first packet without the extension.
    decoder: Option<OpusDecoder>,
    pcm: Vec<i16>,
    /// Whether a packet was measured yet (logs where levels come from, once).
    measured: bool,
}

impl std::fmt::Debug for LevelMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LevelMeter")
            .field("decoding", &self.decoder.is_some())
            .finish()
    }
}

impl LevelMeter {
    /// Level in -dBov and audio duration of one received Opus packet. `header_level` is str0m's parsed
    /// extension value (`0` loudest down to `-127`).
    pub fn measure(&mut self, header_level: Option<i8>, payload: &[u8]) -> (u8, Duration) {
        if !self.measured {
            self.measured = true;
            let source = if header_level.is_some() {
                "RFC 6464 header"
            } else {
                "decoded RMS"
            };
            tracing::debug!(source, "first audio packet from the browser");
        }
        let duration = packet_duration(payload);
        if let Some(level) = header_level {
            return (level.unsigned_abs().min(SILENCE_DBOV), duration);
        }
        (self.decode_level(payload).unwrap_or(SILENCE_DBOV), duration)
    }

    fn decode_level(&mut self, payload: &[u8]) -> Option<u8> {
        if payload.is_empty() {
            return None;
        }
        if self.decoder.is_none() {
            self.decoder = OpusDecoder::new(SAMPLE_RATE as i32, 1).ok();
            // Room for the longest Opus packet (120 ms).
            self.pcm = vec![0; MAX_PACKET_SAMPLES];
        }
        let decoder = self.decoder.as_mut()?;
        let n = decoder
            .decode_s16(payload, MAX_PACKET_SAMPLES, &mut self.pcm)
            .ok()?;
        Some(dbov(&self.pcm[..n]))
    }
}

/// Audio duration carried by one Opus packet, read from its TOC byte; 20 ms when it cannot be parsed.
pub fn packet_duration(payload: &[u8]) -> Duration {
    opus_pure::packet::samples_48k(payload)
        .map(|n| Duration::from_micros(n as u64 * 1_000_000 / u64::from(SAMPLE_RATE)))
        .unwrap_or(FRAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded_level(packets: &[Vec<u8>]) -> u8 {
        let mut meter = LevelMeter::default();
        packets
            .iter()
            .map(|p| meter.measure(None, p).0)
            .min()
            .unwrap()
    }

    #[test]
    fn playing_is_audible_and_silence_is_not() {
        let mut speaker = Speaker::new().unwrap();
        let silence: Vec<_> = (0..10).map(|_| speaker.next_frame().unwrap()).collect();
        speaker.play(Duration::from_millis(1000));
        let voice: Vec<_> = (0..50).map(|_| speaker.next_frame().unwrap()).collect();
        assert!(!speaker.is_playing(), "one second is 50 frames");
        assert!(
            decoded_level(&voice) < 30,
            "the voice is audible: {}",
            decoded_level(&voice)
        );
        assert!(
            decoded_level(&silence) > 90,
            "silence is silent: {}",
            decoded_level(&silence)
        );
    }

    #[test]
    fn play_rounds_up_to_whole_frames_and_stop_is_immediate() {
        let mut speaker = Speaker::new().unwrap();
        speaker.play(Duration::from_millis(30));
        speaker.next_frame().unwrap();
        assert!(speaker.is_playing());
        speaker.stop();
        assert!(!speaker.is_playing());
    }

    #[test]
    fn header_level_wins_and_durations_come_from_the_packet() {
        let mut speaker = Speaker::new().unwrap();
        let packet = speaker.next_frame().unwrap();
        let mut meter = LevelMeter::default();
        assert_eq!(meter.measure(Some(-42), &packet), (42, FRAME));
        assert_eq!(meter.measure(None, &[]).0, SILENCE_DBOV);
    }
}
