//! Audio of one call: the Opus frames the emulated model "speaks" to the browser, and the level of each packet
//! the browser sends.
//!
//! Encoding and the level fallback use `opus-pure`, a pure-Rust Opus codec (decoding bit-exact with libopus).

use std::f32::consts::TAU;
use std::time::Duration;

use opus_pure::{Application, MAX_PACKET_BYTES, MAX_PACKET_SAMPLES, OpusDecoder, OpusEncoder};

/// Opus always runs at 48 kHz in WebRTC.
pub const SAMPLE_RATE: u32 = 48_000;
/// One frame of sent audio.
pub const FRAME: Duration = Duration::from_millis(20);
/// Samples in one 20 ms frame at 48 kHz.
pub const FRAME_SAMPLES: usize = 960;

/// Peak amplitude of the voice (about -12 dBFS): clearly audible, never clipping.
const PEAK: f32 = 0.25;
/// Fade in and out over this many samples (5 ms) so starts and stops do not click.
const FADE_SAMPLES: usize = 240;

/// The sending side: a voice-like tone while the engine plays, silence otherwise, one Opus frame per call of
/// [`Speaker::next_frame`]. The encoder runs on every frame, silence included, so its state stays continuous.
pub struct Speaker {
    encoder: OpusEncoder,
    /// Frames still to play of the current utterance; 0 when silent.
    frames_left: u64,
    /// Samples played so far in the current utterance: drives the prosody.
    position: u64,
    /// Phase of the fundamental, in cycles.
    phase: f32,
    pcm: Vec<i16>,
    packet: Vec<u8>,
}

impl std::fmt::Debug for Speaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Speaker")
            .field("frames_left", &self.frames_left)
            .finish_non_exhaustive()
    }
}

impl Speaker {
    pub fn new() -> Result<Self, opus_pure::Error> {
        let encoder = OpusEncoder::new(SAMPLE_RATE as i32, 1, Application::Voip)?;
        Ok(Self {
            encoder,
            frames_left: 0,
            position: 0,
            phase: 0.0,
            pcm: vec![0; FRAME_SAMPLES],
            packet: vec![0; MAX_PACKET_BYTES],
        })
    }

    /// Speaks for `duration` (rounded up to whole frames), replacing whatever was playing.
    pub fn play(&mut self, duration: Duration) {
        self.frames_left = duration.as_micros().div_ceil(FRAME.as_micros()) as u64;
        self.position = 0;
    }

    /// Falls silent from the next frame on.
    pub fn stop(&mut self) {
        self.frames_left = 0;
    }

    #[cfg(test)]
    fn is_playing(&self) -> bool {
        self.frames_left > 0
    }

    /// The next 20 ms of audio as one Opus packet.
    pub fn next_frame(&mut self) -> Result<Vec<u8>, opus_pure::Error> {
        if self.frames_left > 0 {
            let last = self.frames_left == 1;
            self.synthesize(last);
            self.frames_left -= 1;
        } else {
            self.pcm.fill(0);
        }
        let n = self
            .encoder
            .encode_s16(&self.pcm, FRAME_SAMPLES, &mut self.packet)?;
        Ok(self.packet[..n].to_vec())
    }

    /// Fills `pcm` with a vowel-like sound: a gliding fundamental with decaying harmonics, shaped into
    /// syllables (~4 per second) and phrases, so it reads as speech in a level meter and sounds like a hum.
    fn synthesize(&mut self, fade_out: bool) {
        let sr = SAMPLE_RATE as f32;
        for (i, sample) in self.pcm.iter_mut().enumerate() {
            let t = (self.position + i as u64) as f32 / sr;
            let f0 = 140.0 + 25.0 * (TAU * 0.6 * t).sin() + 10.0 * (TAU * 2.3 * t).sin();
            self.phase = (self.phase + f0 / sr).fract();
            let mut voice = 0.0;
            for k in 1..=8u8 {
                let k = f32::from(k);
                // Harmonics near 500 Hz and 1500 Hz are lifted a little, like the first two formants of a vowel.
                let formant = 1.0
                    + 0.8 * (-((k * f0 - 500.0) / 300.0).powi(2)).exp()
                    + 0.5 * (-((k * f0 - 1500.0) / 400.0).powi(2)).exp();
                voice += formant * (TAU * k * self.phase).sin() / k;
            }
            let syllable = (TAU * 3.7 * t).sin().abs().powf(0.6);
            let phrase = 0.65 + 0.35 * (TAU * 0.45 * t).cos();
            let mut gain = PEAK * syllable * phrase / 2.2;
            let n = self.position as usize + i;
            if n < FADE_SAMPLES {
                gain *= n as f32 / FADE_SAMPLES as f32;
            }
            if fade_out && FRAME_SAMPLES - i <= FADE_SAMPLES {
                gain *= (FRAME_SAMPLES - i) as f32 / FADE_SAMPLES as f32;
            }
            *sample = (voice * gain * f32::from(i16::MAX)) as i16;
        }
        self.position += FRAME_SAMPLES as u64;
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

/// Quietest level on the RFC 6464 scale.
pub const SILENCE_DBOV: u8 = 127;

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

/// RMS level of 16-bit samples in -dBov (0 = full scale, 127 = silence).
pub fn dbov(samples: &[i16]) -> u8 {
    if samples.is_empty() {
        return SILENCE_DBOV;
    }
    let energy: f64 =
        samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64;
    let rms = energy.sqrt() / f64::from(i16::MAX);
    if rms <= 0.0 {
        return SILENCE_DBOV;
    }
    (-20.0 * rms.log10())
        .round()
        .clamp(0.0, f64::from(SILENCE_DBOV)) as u8
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

    #[test]
    fn dbov_of_full_scale_and_of_silence() {
        assert_eq!(dbov(&[i16::MAX; 960]), 0);
        assert_eq!(dbov(&[0; 960]), SILENCE_DBOV);
        assert_eq!(dbov(&[i16::MAX / 10; 960]), 20);
    }
}
