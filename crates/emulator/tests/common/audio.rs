//! Audio a test sends and checks over WebSocket: tones, silence, base64 PCM and G.711.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use realtime_emulator::audio::Format;
use serde_json::Value;

/// A 440 Hz tone at a third of full scale (about -13 dBov: speech to any VAD threshold below 0.87).
pub fn tone(ms: u64, rate: u32) -> Vec<i16> {
    let n = rate as u64 * ms / 1000;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            ((std::f64::consts::TAU * 440.0 * t).sin() * f64::from(i16::MAX) / 3.0) as i16
        })
        .collect()
}

pub fn silence(ms: u64, rate: u32) -> Vec<i16> {
    vec![0; (rate as u64 * ms / 1000) as usize]
}

/// `samples` encoded in `format`, as base64 for `input_audio_buffer.append`.
pub fn encoded(samples: &[i16], format: Format) -> String {
    STANDARD.encode(format.encode(samples))
}

/// `input_audio_buffer.append` events carrying `samples` in pieces of `ms`, as a microphone sends them.
pub fn appends(samples: &[i16], format: Format, ms: u32) -> Vec<Value> {
    let piece = (format.sample_rate() * ms / 1000) as usize;
    samples
        .chunks(piece)
        .map(|c| serde_json::json!({"type": "input_audio_buffer.append", "audio": encoded(c, format)}))
        .collect()
}

/// The bytes of every `response.output_audio.delta` among `events`, in order.
pub fn audio_bytes(events: &[Value]) -> Vec<u8> {
    events
        .iter()
        .filter(|e| e["type"] == "response.output_audio.delta")
        .flat_map(|e| STANDARD.decode(e["delta"].as_str().unwrap()).unwrap())
        .collect()
}
