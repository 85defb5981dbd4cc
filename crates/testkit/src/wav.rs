//! Sound for the fake microphone: 16-bit mono 48 kHz samples, and the WAV file Chromium plays them from.

use std::path::Path;

pub const RATE: u32 = 48_000;

/// `seconds` of silence.
pub fn silence(seconds: f32) -> Vec<i16> {
    vec![0; (RATE as f32 * seconds) as usize]
}

/// `seconds` of a sine at `hz`, its peak `amplitude` (0..1) of full scale.
pub fn tone(hz: f32, seconds: f32, amplitude: f32) -> Vec<i16> {
    let n = (RATE as f32 * seconds) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            ((std::f32::consts::TAU * hz * t).sin() * amplitude * f32::from(i16::MAX)) as i16
        })
        .collect()
}

/// A speech-like sound: a 150 Hz voice with harmonics, its loudness wavering but never dropping to silence.
pub fn voice(seconds: f32) -> Vec<i16> {
    let n = (RATE as f32 * seconds) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            let tau = std::f32::consts::TAU;
            let wave: f32 = (1..=6)
                .map(|k| (tau * 150.0 * k as f32 * t).sin() / k as f32)
                .sum();
            let loudness = 0.8 + 0.2 * (tau * 4.0 * t).sin();
            (wave / 2.5 * loudness * 0.3 * f32::from(i16::MAX)) as i16
        })
        .collect()
}

/// Writes `samples` as a 16-bit mono 48 kHz WAV file.
pub fn write_wav(path: &Path, samples: &[i16]) {
    let data_len = (samples.len() * 2) as u32;
    let mut wav = Vec::with_capacity(44 + samples.len() * 2);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&(RATE * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        wav.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, wav).unwrap();
}
