//! Audio shared by both transports: the synthetic voice the model speaks ([`Voice`], rendered at 48 kHz for
//! WebRTC's Opus and at the session's rate for WebSocket deltas), the session's audio formats with their
//! codecs (PCM16 24 kHz, G.711 μ-law and A-law at 8 kHz), and the level of a block of samples.

pub mod g711;
mod voice;

use serde_json::Value;

pub use voice::Voice;

/// Quietest level on the RFC 6464 scale.
pub const SILENCE_DBOV: u8 = 127;

/// RMS level of 16-bit samples in -dBov (0 = full scale, 127 = silence): the scale of WebRTC's RFC 6464
/// packet levels, so voice activity is decided the same way from levels and from samples.
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

/// An `audio.input.format` / `audio.output.format` of the session: how base64 audio in events is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `{"type": "audio/pcm", "rate": 24000}`: mono PCM16 little-endian (the only rate the API accepts).
    Pcm,
    /// `{"type": "audio/pcmu"}`: G.711 μ-law, 8 kHz.
    Pcmu,
    /// `{"type": "audio/pcma"}`: G.711 A-law, 8 kHz.
    Pcma,
}

impl Format {
    /// The format of a session's (validated) format object; PCM when absent.
    pub fn of(format: &Value) -> Format {
        match format["type"].as_str() {
            Some("audio/pcmu") => Format::Pcmu,
            Some("audio/pcma") => Format::Pcma,
            _ => Format::Pcm,
        }
    }

    pub fn sample_rate(self) -> u32 {
        match self {
            Format::Pcm => 24_000,
            Format::Pcmu | Format::Pcma => 8_000,
        }
    }

    pub fn bytes_per_sample(self) -> usize {
        match self {
            Format::Pcm => 2,
            Format::Pcmu | Format::Pcma => 1,
        }
    }

    pub fn encode(self, samples: &[i16]) -> Vec<u8> {
        match self {
            Format::Pcm => samples.iter().flat_map(|s| s.to_le_bytes()).collect(),
            Format::Pcmu => samples.iter().map(|&s| g711::ulaw_encode(s)).collect(),
            Format::Pcma => samples.iter().map(|&s| g711::alaw_encode(s)).collect(),
        }
    }

    /// Samples of `bytes` (a trailing odd byte of PCM16 is ignored: callers refuse such payloads).
    pub fn decode(self, bytes: &[u8]) -> Vec<i16> {
        match self {
            Format::Pcm => bytes
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect(),
            Format::Pcmu => bytes.iter().map(|&b| g711::ulaw_decode(b)).collect(),
            Format::Pcma => bytes.iter().map(|&b| g711::alaw_decode(b)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dbov_of_full_scale_and_of_silence() {
        assert_eq!(dbov(&[i16::MAX; 960]), 0);
        assert_eq!(dbov(&[0; 960]), SILENCE_DBOV);
        assert_eq!(dbov(&[i16::MAX / 10; 960]), 20);
    }

    #[test]
    fn formats_round_trip_their_samples() {
        assert_eq!(
            Format::of(&json!({"type": "audio/pcm", "rate": 24000})),
            Format::Pcm
        );
        assert_eq!(Format::of(&json!({"type": "audio/pcma"})), Format::Pcma);
        let samples = [0, 1000, -1000, i16::MAX, i16::MIN];
        assert_eq!(Format::Pcm.decode(&Format::Pcm.encode(&samples)), samples);
        assert_eq!(Format::Pcm.encode(&[0x0102]), [0x02, 0x01]);
        for f in [Format::Pcmu, Format::Pcma] {
            let back = f.decode(&f.encode(&samples));
            for (a, b) in samples.iter().zip(&back) {
                assert!(
                    (i32::from(*a) - i32::from(*b)).abs() < 1100,
                    "{f:?}: {a} → {b}"
                );
            }
        }
    }
}
