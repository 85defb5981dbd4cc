//! The emulated model's voice: a vowel-like hum with syllables and phrases, rendered at any sample rate so
//! WebRTC (48 kHz, for Opus) and WebSocket (24 kHz PCM, 8 kHz G.711) play the same utterance.

use std::f32::consts::TAU;
use std::time::Duration;

/// Peak amplitude of the voice (about -12 dBFS): clearly audible, never clipping.
const PEAK: f32 = 0.25;
/// Starts and ends fade over 5 ms so they do not click.
const FADE: Duration = Duration::from_millis(5);

/// One utterance of a known length, handed out in pieces of any size. The prosody depends only on the time
/// since the utterance started, so the same utterance sounds the same however it is cut up.
#[derive(Debug)]
pub struct Voice {
    sample_rate: u32,
    /// Length of the utterance, in samples.
    total: u64,
    /// Samples handed out so far.
    position: u64,
    /// Phase of the fundamental, in cycles.
    phase: f32,
    /// Samples of the fade in and out.
    fade: u64,
}

impl Voice {
    /// An utterance of `duration` at `sample_rate` (rounded down to whole samples).
    pub fn new(sample_rate: u32, duration: Duration) -> Voice {
        let total = duration.as_micros() * u128::from(sample_rate) / 1_000_000;
        Voice::with_samples(sample_rate, total as u64)
    }

    pub fn with_samples(sample_rate: u32, total: u64) -> Voice {
        Voice {
            sample_rate,
            total,
            position: 0,
            phase: 0.0,
            fade: FADE.as_micros() as u64 * u64::from(sample_rate) / 1_000_000,
        }
    }

    /// Samples still to come.
    pub fn remaining(&self) -> u64 {
        self.total - self.position
    }

    pub fn is_done(&self) -> bool {
        self.position >= self.total
    }

    /// The next `n` samples (fewer at the end of the utterance).
    pub fn take(&mut self, n: usize) -> Vec<i16> {
        let n = n.min(self.remaining() as usize);
        let mut out = vec![0; n];
        self.fill(&mut out);
        out
    }

    /// Fills `out` with the next samples of the utterance and silence past its end.
    pub fn fill(&mut self, out: &mut [i16]) {
        let sr = self.sample_rate as f32;
        for sample in out.iter_mut() {
            if self.position >= self.total {
                *sample = 0;
                continue;
            }
            let t = self.position as f32 / sr;
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
            if self.position < self.fade {
                gain *= self.position as f32 / self.fade as f32;
            }
            let left = self.total - self.position;
            if left <= self.fade {
                gain *= left as f32 / self.fade as f32;
            }
            *sample = (voice * gain * f32::from(i16::MAX)) as i16;
            self.position += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::dbov;

    #[test]
    fn an_utterance_has_its_length_and_is_audible_at_every_rate() {
        for rate in [48_000, 24_000, 8_000] {
            let mut voice = Voice::new(rate, Duration::from_millis(1500));
            let samples = voice.take(usize::MAX);
            assert_eq!(samples.len() as u32, rate * 3 / 2);
            assert!(voice.is_done() && voice.take(10).is_empty());
            let level = dbov(&samples);
            assert!((10..30).contains(&level), "{rate} Hz: {level} dBov");
        }
    }

    #[test]
    fn the_same_utterance_however_it_is_cut() {
        let whole = Voice::new(24_000, Duration::from_millis(300)).take(usize::MAX);
        let mut voice = Voice::new(24_000, Duration::from_millis(300));
        let mut pieces = vec![];
        while !voice.is_done() {
            pieces.extend(voice.take(1000));
        }
        assert_eq!(pieces, whole);
        assert_eq!(whole[0], 0, "fades in");
    }
}
