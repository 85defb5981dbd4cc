//! A relayed WebSocket session's voices: the audio of `input_audio_buffer.append` (the user's track) and of
//! `response.output_audio.delta` (the model's), moved out of the recorded events into the session's audio
//! tracks (see realtime-store's audio.rs).
//!
//! The recorded event keeps a small reference in place of the base64 payload
//! ([`realtime_store::audio_reference`]), and an export puts the payload back, byte for byte. That holds only
//! when the payload comes back as it went: standard base64 with padding, written without escapes. A payload
//! that would not (or a frame that already holds a reference's prefix) stays in the event as it came.
//!
//! A batch's audio is written to its tracks before the batch's events are stored, so no stored event refers
//! to audio that is not there. Each track fills a chunk of about [`APPENDED_CHUNK_BYTES`] (one file)
//! before the next one starts. Its media type comes from the server's last
//! `session.created` / `session.updated` (`audio.input.format` / `audio.output.format`), `audio/pcm` at
//! 24 kHz until one says otherwise.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use realtime_store::{
    APPENDED_CHUNK_BYTES, Direction, Format, MAX_CHUNK_BYTES, REFERENCE_PREFIX, SessionId, Store,
    Track, TrackAppender, audio_reference,
};
use serde::Deserialize;
use serde_json::Value;

/// Audio of the current batch for one chunk, not written yet.
struct Pending {
    seq: u32,
    /// The chunk's start (when this opens it).
    start: f64,
    mime: String,
    bytes: Vec<u8>,
}

/// The chunk a track is filling: its seq, its start, how much it holds (written or pending), its media
/// type.
struct Filling {
    seq: u32,
    start: f64,
    len: usize,
    mime: String,
}

impl Filling {
    /// Where the chunk's audio ends when played from its start.
    fn end(&self) -> f64 {
        let per_ms = match Format::of(&self.mime) {
            Format::Pcm16 { rate } => rate as f64 * 2.0 / 1000.0,
            _ => 8.0,
        };
        self.start + self.len as f64 / per_ms
    }
}

/// Audio that comes this much later than the end of its chunk's audio starts a chunk of its own, so that a
/// pause (between turns, a muted mic) stays a pause on the track's timeline.
const GAP_MS: f64 = 500.0;

/// The two tracks of a relayed session.
pub(super) struct Tracks {
    /// The seq of each track's next chunk.
    next_seq: [u32; 2],
    filling: [Option<Filling>; 2],
    /// The tracks' files, from the first audio on.
    writers: Option<[TrackAppender; 2]>,
    /// The chunks the current batch's frames fill (one, or more when it holds over a chunk's worth).
    pending: [Vec<Pending>; 2],
    /// Each track's media type, from the server's session.
    mime: [String; 2],
    /// The media type each track started with: a track keeps one (audio in another stays in its events).
    first_mime: [Option<String>; 2],
}

impl Default for Tracks {
    fn default() -> Self {
        Self {
            next_seq: [0, 0],
            filling: [None, None],
            writers: None,
            pending: Default::default(),
            mime: [PCM24.to_owned(), PCM24.to_owned()],
            first_mime: [None, None],
        }
    }
}

const PCM24: &str = "audio/pcm;rate=24000";

/// What [`Tracks::take`] reads of a frame, in one pass: its type and its audio payload, if any.
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    /// `input_audio_buffer.append`'s payload. A string with escapes cannot be borrowed, and fails the parse:
    /// it would not come back as it went (nor would another event's `delta` with escapes, which is no audio).
    #[serde(borrow)]
    audio: Option<&'a str>,
    /// `response.output_audio.delta`'s payload.
    #[serde(borrow)]
    delta: Option<&'a str>,
}

impl Tracks {
    /// The frame as it is to be recorded: with its audio payload moved into its track's pending chunk (and a
    /// reference in its place), or None to record it as it came.
    pub(super) fn take(&mut self, direction: Direction, text: &[u8], ts: f64) -> Option<Bytes> {
        let text = std::str::from_utf8(text).ok()?;
        let head = serde_json::from_str::<Head<'_>>(text).ok()?;
        let (track, payload) = match (direction, &*head.kind) {
            (Direction::Client, "input_audio_buffer.append") => (Track::User, head.audio?),
            (Direction::Server, "response.output_audio.delta") => (Track::Model, head.delta?),
            (Direction::Server, "session.created" | "session.updated") => {
                self.formats(text);
                return None;
            }
            _ => return None,
        };
        if payload.is_empty() || text.contains(REFERENCE_PREFIX) {
            return None;
        }
        // Only a payload that comes back as it went: canonical base64 (the STANDARD engine decodes nothing
        // else: padding required, no stray bits).
        let audio = STANDARD.decode(payload).ok()?;
        // Where the payload sits in the frame: it is borrowed from it.
        let at = (payload.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
        let (before, after) = (text.get(..at)?, text.get(at + payload.len()..)?);
        if audio.len() > MAX_CHUNK_BYTES {
            return None;
        }
        let i = track as usize;
        if self.first_mime[i].get_or_insert_with(|| self.mime[i].clone()) != &self.mime[i] {
            return None;
        }
        let fits = self.filling[i].as_ref().is_some_and(|f| {
            f.mime == self.mime[i]
                && f.len + audio.len() <= APPENDED_CHUNK_BYTES
                && ts <= f.end() + GAP_MS
        });
        if !fits {
            self.filling[i] = Some(Filling {
                seq: self.next_seq[i],
                start: ts,
                len: 0,
                mime: self.mime[i].clone(),
            });
            self.next_seq[i] += 1;
        }
        let filling = self.filling[i].as_mut()?;
        let reference = audio_reference(track, filling.seq, filling.len, audio.len());
        filling.len += audio.len();
        let pending = &mut self.pending[i];
        match pending.last_mut() {
            Some(p) if p.seq == filling.seq => p.bytes.extend_from_slice(&audio),
            _ => pending.push(Pending {
                seq: filling.seq,
                start: ts,
                mime: filling.mime.clone(),
                bytes: audio,
            }),
        }
        let mut stored = String::with_capacity(before.len() + reference.len() + after.len());
        stored.push_str(before);
        stored.push_str(&reference);
        stored.push_str(after);
        Some(Bytes::from(stored))
    }

    /// Notes the tracks' media types from the server's session.
    fn formats(&mut self, text: &str) {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            return;
        };
        for (i, side) in ["input", "output"].into_iter().enumerate() {
            if let Some(format) = v.pointer(&format!("/session/audio/{side}/format")) {
                // A change of format starts a new chunk: the audio so far keeps its own.
                if let Some(mime) = mime_of(format) {
                    self.mime[i] = mime;
                }
            }
        }
    }

    /// Writes the batch's audio to its tracks. Called before the batch's events are appended.
    pub(super) fn flush(&mut self, store: &Store, session: SessionId) -> Result<(), String> {
        let writers = self
            .writers
            .get_or_insert_with(|| Track::ALL.map(|track| store.audio_appender(session, track)));
        let mut failed = None;
        for track in Track::ALL {
            for p in std::mem::take(&mut self.pending[track as usize]) {
                // Written to the OS, not synced: a small write per batch (syncing each would double the
                // relay's syncs); it survives a crash of the console, not a power cut.
                if let Err(e) = writers[track as usize].append(p.seq, p.start, &p.mime, &p.bytes) {
                    failed.get_or_insert(format!(
                        "the {track} track's audio could not be stored ({e})"
                    ));
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }
}

/// A Realtime audio format object (`{"type":"audio/pcm","rate":24000}`) as a media type.
fn mime_of(format: &Value) -> Option<String> {
    match format.get("type")?.as_str()? {
        "audio/pcm" => {
            let rate = format.get("rate").and_then(Value::as_u64).unwrap_or(24_000);
            Some(format!("audio/pcm;rate={rate}"))
        }
        t @ ("audio/pcmu" | "audio/pcma") => Some(t.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_append_keeps_a_reference_and_its_audio_goes_to_the_user_track() {
        let mut tracks = Tracks::default();
        let audio = STANDARD.encode([1u8, 2, 3, 4]);
        let frame = format!(r#"{{"type":"input_audio_buffer.append","audio":"{audio}"}}"#);
        let stored = tracks
            .take(Direction::Client, frame.as_bytes(), 5.0)
            .unwrap();
        assert_eq!(
            &stored[..],
            br#"{"type":"input_audio_buffer.append","audio":"rc-audio:user:0:0:4"}"#
        );
        let second = tracks
            .take(Direction::Client, frame.as_bytes(), 6.0)
            .unwrap();
        assert!(
            std::str::from_utf8(&second)
                .unwrap()
                .contains("rc-audio:user:0:4:4")
        );
        assert_eq!(tracks.pending[0][0].bytes, [1, 2, 3, 4, 1, 2, 3, 4]);
        assert_eq!(tracks.pending[0][0].start, 5.0);
    }

    #[test]
    fn a_payload_that_would_not_come_back_as_it_went_stays_inline() {
        let mut tracks = Tracks::default();
        for frame in [
            // no padding
            r#"{"type":"input_audio_buffer.append","audio":"AQID"}"#.replace("AQID", "AQIDBA"),
            // stray bits after the last byte ("AQI=" is the canonical form of [1, 2])
            r#"{"type":"input_audio_buffer.append","audio":"AQJ="}"#.to_owned(),
            // escaped slash
            r#"{"type":"input_audio_buffer.append","audio":"\/\/\/\/"}"#.to_owned(),
            // a reference's prefix already in it
            r#"{"type":"input_audio_buffer.append","audio":"AQID","x":"rc-audio:"}"#.to_owned(),
            // the wrong direction
        ] {
            assert!(
                tracks
                    .take(Direction::Client, frame.as_bytes(), 1.0)
                    .is_none(),
                "{frame}"
            );
        }
        let delta = r#"{"type":"response.output_audio.delta","delta":"AQID"}"#;
        assert!(
            tracks
                .take(Direction::Client, delta.as_bytes(), 1.0)
                .is_none()
        );
        assert!(
            tracks
                .take(Direction::Server, delta.as_bytes(), 1.0)
                .is_some()
        );
        assert!(tracks.pending[0].is_empty());
    }

    #[test]
    fn only_the_payload_itself_is_replaced() {
        let mut tracks = Tracks::default();
        let frame = r#"{"x":"AQID","type":"input_audio_buffer.append","audio":"AQID","y":"AQID"}"#;
        let stored = tracks
            .take(Direction::Client, frame.as_bytes(), 1.0)
            .unwrap();
        assert_eq!(
            &stored[..],
            br#"{"x":"AQID","type":"input_audio_buffer.append","audio":"rc-audio:user:0:0:3","y":"AQID"}"#
        );
    }

    #[test]
    fn the_servers_session_names_the_tracks_formats() {
        let mut tracks = Tracks::default();
        let created = r#"{"type":"session.updated","session":{"audio":{"input":{"format":{"type":"audio/pcmu"}},"output":{"format":{"type":"audio/pcm","rate":24000}}}}}"#;
        assert!(
            tracks
                .take(Direction::Server, created.as_bytes(), 1.0)
                .is_none()
        );
        assert_eq!(tracks.mime, ["audio/pcmu".to_owned(), PCM24.to_owned()]);
    }
}
