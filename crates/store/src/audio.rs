//! The sessions' audio: each session's two tracks, the user's and the model's, as chunks in files beside the
//! database (`console.db` → `console.db.audio/<session id>/<track>/<seq>.chunk`).
//!
//! Files, not SQLite rows: audio is bulky, binary and only ever appended, and it arrives steadily for the
//! whole call. Kept out of the database, it does not grow the WAL, the checkpoints or the intake log the
//! event path is tuned around, and a track is read back as a plain sequence of files (the chunks of a
//! browser's MediaRecorder concatenate into one playable WebM file).
//!
//! A chunk is written to a temporary file and linked to its name, which fails if the name exists: a chunk is
//! there whole or not at all, and two uploads of one seq store it once. A resend of the same bytes is a
//! duplicate (acknowledged, not stored again); other bytes at a stored seq are a conflict. Deleting a session
//! removes its directory, and opening the store removes directories whose session is gone (a crash between
//! the two).
//!
//! Each chunk file starts with a small header (magic, length, JSON: start time, media type, peaks), then the
//! audio as it came. Peaks are one byte per [`PEAK_MS`] ms (the largest |sample| in it, 0..=255): what the
//! inspector draws its lanes from, without decoding the audio. The browser computes them for its Opus
//! chunks (the server does not decode Opus); the server computes them for PCM.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::domain::SessionId;
use crate::{Error, Result, Store};

/// One peak per this many ms of audio.
pub const PEAK_MS: u32 = 20;
/// The largest chunk the store takes.
pub const MAX_CHUNK_BYTES: usize = 4 << 20;
/// The largest chunk seq (per track).
pub const MAX_CHUNK_SEQ: u32 = 999_999;
/// The longest media type kept.
const MAX_MIME_BYTES: usize = 100;
const MAGIC: &[u8; 4] = b"RCA1";

/// A session's two voices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Track {
    /// The microphone / `input_audio_buffer.append`.
    User,
    /// The model's voice / `response.output_audio.delta`.
    Model,
}

impl Track {
    pub const ALL: [Track; 2] = [Track::User, Track::Model];

    pub fn as_str(self) -> &'static str {
        match self {
            Track::User => "user",
            Track::Model => "model",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Track::User),
            "model" => Some(Track::Model),
            _ => None,
        }
    }
}

impl std::fmt::Display for Track {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an audio track's bytes are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// 16-bit little-endian mono PCM at this rate (`audio/pcm;rate=24000`, the Realtime API's `audio/pcm`).
    Pcm16 { rate: u32 },
    /// G.711 µ-law, 8 kHz (`audio/pcmu`).
    Pcmu,
    /// G.711 A-law, 8 kHz (`audio/pcma`).
    Pcma,
    /// Anything else (a browser's `audio/webm;codecs=opus`): kept and served as it came.
    Opaque,
}

impl Format {
    pub fn of(mime: &str) -> Self {
        let mut parts = mime.split(';').map(str::trim);
        let kind = parts.next().unwrap_or("").to_ascii_lowercase();
        match kind.as_str() {
            "audio/pcm" | "audio/l16" => {
                let rate = parts
                    .filter_map(|p| p.strip_prefix("rate="))
                    .find_map(|r| r.parse::<u32>().ok())
                    .filter(|r| (8_000..=192_000).contains(r))
                    .unwrap_or(24_000);
                Format::Pcm16 { rate }
            }
            "audio/pcmu" => Format::Pcmu,
            "audio/pcma" => Format::Pcma,
            _ => Format::Opaque,
        }
    }

    /// Samples per second, for the formats the server reads.
    pub fn rate(self) -> Option<u32> {
        match self {
            Format::Pcm16 { rate } => Some(rate),
            Format::Pcmu | Format::Pcma => Some(8_000),
            Format::Opaque => None,
        }
    }

    /// The track's audio as 16-bit samples, for the formats the server reads.
    pub fn samples(self, bytes: &[u8]) -> Option<Vec<i16>> {
        match self {
            Format::Pcm16 { .. } => Some(
                bytes
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect(),
            ),
            Format::Pcmu => Some(bytes.iter().map(|&b| ulaw(b)).collect()),
            Format::Pcma => Some(bytes.iter().map(|&b| alaw(b)).collect()),
            Format::Opaque => None,
        }
    }
}

/// G.711 µ-law to linear (ITU-T G.711).
fn ulaw(b: u8) -> i16 {
    let b = !b;
    let exp = (b >> 4) & 7;
    let mant = (b & 0x0f) as i32;
    let mag = (((mant << 3) + 0x84) << exp) - 0x84;
    (if b & 0x80 != 0 { -mag } else { mag }) as i16
}

/// G.711 A-law to linear (ITU-T G.711).
fn alaw(b: u8) -> i16 {
    let b = b ^ 0x55;
    let exp = (b >> 4) & 7;
    let mant = (b & 0x0f) as i32;
    let mag = if exp == 0 {
        (mant << 4) + 8
    } else {
        ((mant << 4) + 0x108) << (exp - 1)
    };
    (if b & 0x80 != 0 { mag } else { -mag }) as i16
}

/// Peaks of 16-bit samples at `rate`: one byte per [`PEAK_MS`] ms.
pub fn peaks_of(samples: &[i16], rate: u32) -> Vec<u8> {
    let per = (rate * PEAK_MS / 1000).max(1) as usize;
    samples
        .chunks(per)
        .map(|w| {
            let m = w.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0) as u32;
            ((m * 255 + 16_384) / 32_768).min(255) as u8
        })
        .collect()
}

/// A chunk to store.
#[derive(Debug, Clone)]
pub struct NewChunk {
    pub track: Track,
    pub seq: u32,
    /// Where the chunk starts on the events' clock (ms since the Unix epoch, as events' `ts`).
    pub start: f64,
    /// The media type, the same for every chunk of a track.
    pub mime: String,
    /// The peaks, when the sender computed them (the server computes them for PCM).
    pub peaks: Option<Vec<u8>>,
    pub bytes: Bytes,
}

/// How far the store makes a chunk durable before it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkSync {
    /// Synced to disk: survives a power cut.
    Disk,
    /// Handed to the OS: survives a crash or `kill -9` of the server.
    Os,
}

/// What storing a chunk did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkOutcome {
    Stored,
    /// The same bytes were already stored at this seq.
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("no session {0}")]
    UnknownSession(SessionId),
    #[error("chunk {seq} of the {track} track is already stored with other bytes")]
    Conflict { track: Track, seq: u32 },
    #[error("the {track} track is {stored}; every chunk of a track must have the same media type")]
    FormatMismatch { track: Track, stored: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] Error),
}

impl From<std::io::Error> for AudioError {
    fn from(e: std::io::Error) -> Self {
        AudioError::Store(Error::Audio(e))
    }
}

/// A stored chunk's description.
#[derive(Debug, Clone, Serialize)]
pub struct ChunkInfo {
    pub seq: u32,
    pub start: f64,
    pub bytes: u64,
    #[serde(skip)]
    pub peaks: Vec<u8>,
}

/// A stored track.
#[derive(Debug, Clone, Serialize)]
pub struct TrackInfo {
    pub track: Track,
    pub mime: String,
    /// The first chunk's start.
    pub start: f64,
    /// Where the audio ends when laid out from `start` (chunk after chunk, none before its own start), for the
    /// formats the server reads; unknown (None) for Opus.
    pub end: Option<f64>,
    pub bytes: u64,
    pub chunks: Vec<ChunkInfo>,
}

impl TrackInfo {
    pub fn format(&self) -> Format {
        Format::of(&self.mime)
    }

    /// Each chunk's place on the events' clock for the formats the server reads: (start ms, samples),
    /// in seq order. A chunk starts at its own start, or where the one before it ends if that is later (a
    /// WebSocket client may send faster than real time; the audio still plays one chunk after another).
    pub fn layout(&self) -> Option<Vec<(f64, u64)>> {
        let rate = self.format().rate()? as f64;
        let per_byte = match self.format() {
            Format::Pcm16 { .. } => 0.5,
            _ => 1.0,
        };
        let mut at = f64::MIN;
        Some(
            self.chunks
                .iter()
                .map(|c| {
                    let samples = (c.bytes as f64 * per_byte) as u64;
                    let start = c.start.max(at);
                    at = start + samples as f64 * 1000.0 / rate;
                    (start, samples)
                })
                .collect(),
        )
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    start: f64,
    mime: String,
    #[serde(default)]
    peaks: Vec<u8>,
}

impl Store {
    /// The directory of every session's audio.
    pub fn audio_dir(&self) -> PathBuf {
        crate::beside(&self.path, ".audio")
    }

    fn session_audio_dir(&self, id: SessionId) -> PathBuf {
        self.audio_dir().join(id.to_string())
    }

    /// Stores one chunk of a session's track: idempotent by (track, seq).
    pub async fn put_audio_chunk(
        &self,
        session: SessionId,
        chunk: NewChunk,
        sync: ChunkSync,
    ) -> Result<ChunkOutcome, AudioError> {
        if chunk.seq > MAX_CHUNK_SEQ {
            return Err(AudioError::Invalid(format!(
                "a chunk's seq is at most {MAX_CHUNK_SEQ}"
            )));
        }
        if chunk.bytes.len() > MAX_CHUNK_BYTES {
            return Err(AudioError::Invalid(format!(
                "a chunk is at most {MAX_CHUNK_BYTES} bytes"
            )));
        }
        if !chunk.start.is_finite() || chunk.start < 0.0 {
            return Err(AudioError::Invalid(
                "a chunk's start is a time in ms since the Unix epoch".into(),
            ));
        }
        if chunk.mime.is_empty()
            || chunk.mime.len() > MAX_MIME_BYTES
            || !chunk
                .mime
                .bytes()
                .all(|b| b.is_ascii_graphic() || b == b' ')
        {
            return Err(AudioError::Invalid(format!(
                "a chunk's media type is 1 to {MAX_MIME_BYTES} printable ASCII characters"
            )));
        }
        #[cfg(feature = "faults")]
        if self
            .faults
            .disk_full
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(AudioError::Store(Error::NotCommitted));
        }
        if self.session_pk_any(session).await?.is_none() {
            return Err(AudioError::UnknownSession(session));
        }
        let dir = self.session_audio_dir(session).join(chunk.track.as_str());
        tokio::task::spawn_blocking(move || put_chunk(&dir, chunk, sync))
            .await
            .map_err(|e| AudioError::Store(Error::Audio(std::io::Error::other(e))))?
    }

    /// The session's tracks, with their chunks in seq order (no audio: empty).
    pub async fn audio_tracks(&self, session: SessionId) -> Result<Vec<TrackInfo>> {
        let dir = self.session_audio_dir(session);
        tokio::task::spawn_blocking(move || {
            let mut tracks = Vec::new();
            for track in Track::ALL {
                if let Some(info) = read_track(&dir.join(track.as_str()), track)? {
                    tracks.push(info);
                }
            }
            Ok(tracks)
        })
        .await
        .map_err(|e| Error::Audio(std::io::Error::other(e)))?
    }

    /// One stored chunk's audio bytes.
    pub async fn audio_chunk(
        &self,
        session: SessionId,
        track: Track,
        seq: u32,
    ) -> Result<Option<Bytes>> {
        let path = chunk_path(&self.session_audio_dir(session).join(track.as_str()), seq);
        tokio::task::spawn_blocking(move || match read_chunk(&path) {
            Ok((_, bytes)) => Ok(Some(Bytes::from(bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Audio(e)),
        })
        .await
        .map_err(|e| Error::Audio(std::io::Error::other(e)))?
    }

    /// A reader of a session's stored audio on a blocking thread (export, WAV files).
    pub fn audio_reader(&self, session: SessionId) -> AudioReader {
        AudioReader {
            dir: self.session_audio_dir(session),
        }
    }

    /// Removes a session's audio (after the session itself is deleted).
    pub(crate) async fn delete_audio(&self, session: SessionId) {
        let dir = self.session_audio_dir(session);
        let _ = tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::error!(error = %e, dir = %dir.display(), "could not remove a deleted session's audio"),
        })
        .await;
    }

    /// Removes audio directories whose session is gone (a crash between deleting a session and its audio).
    pub(crate) async fn delete_orphan_audio(&self) -> Result<usize> {
        let dir = self.audio_dir();
        let names: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::Audio(e)),
        };
        let mut removed = 0;
        for name in names {
            let gone = match SessionId::parse(&name) {
                Some(id) => self.session_pk_any(id).await?.is_none(),
                None => false, // not ours: leave it
            };
            if gone && std::fs::remove_dir_all(dir.join(&name)).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

impl Store {
    /// A session's pk, whether or not an import is still storing it.
    async fn session_pk_any(&self, id: SessionId) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT pk FROM sessions WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?)
    }
}

/// Reads a session's stored audio, on a blocking thread.
#[derive(Debug, Clone)]
pub struct AudioReader {
    dir: PathBuf,
}

impl AudioReader {
    /// One chunk's audio bytes.
    pub fn chunk(&self, track: Track, seq: u32) -> std::io::Result<Vec<u8>> {
        read_chunk(&chunk_path(&self.dir.join(track.as_str()), seq)).map(|(_, b)| b)
    }

    /// A track's description.
    pub fn track(&self, track: Track) -> std::io::Result<Option<TrackInfo>> {
        read_track(&self.dir.join(track.as_str()), track).map_err(|e| match e {
            Error::Audio(e) => e,
            e => std::io::Error::other(e),
        })
    }
}

fn chunk_path(dir: &Path, seq: u32) -> PathBuf {
    dir.join(format!("{seq:06}.chunk"))
}

fn put_chunk(dir: &Path, chunk: NewChunk, sync: ChunkSync) -> Result<ChunkOutcome, AudioError> {
    std::fs::create_dir_all(dir)?;
    // Every chunk of a track has the track's media type: the first stored one says which.
    if let Some(stored) = first_mime(dir)?
        && stored != chunk.mime
    {
        return Err(AudioError::FormatMismatch {
            track: chunk.track,
            stored,
        });
    }
    let path = chunk_path(dir, chunk.seq);
    if let Some(outcome) = compare_stored(&path, &chunk)? {
        return Ok(outcome);
    }
    let peaks = match chunk.peaks.clone() {
        Some(p) => p,
        None => {
            let format = Format::of(&chunk.mime);
            match (format.samples(&chunk.bytes), format.rate()) {
                (Some(samples), Some(rate)) => peaks_of(&samples, rate),
                _ => Vec::new(),
            }
        }
    };
    let header = serde_json::to_vec(&Header {
        start: chunk.start,
        mime: chunk.mime.clone(),
        peaks,
    })
    .map_err(|e| AudioError::Invalid(e.to_string()))?;
    let tmp = dir.join(format!(
        ".{:06}.{}.tmp",
        chunk.seq,
        uuid::Uuid::new_v4().simple()
    ));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(MAGIC)?;
        f.write_all(&(header.len() as u32).to_le_bytes())?;
        f.write_all(&header)?;
        f.write_all(&chunk.bytes)?;
        if sync == ChunkSync::Disk {
            f.sync_data()?;
        }
        std::fs::hard_link(&tmp, &path)
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => {
            if sync == ChunkSync::Disk {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(ChunkOutcome::Stored)
        }
        // Another upload of this seq got there first.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(compare_stored(&path, &chunk)?.unwrap_or(ChunkOutcome::Duplicate))
        }
        Err(e) => Err(e.into()),
    }
}

/// What a chunk already stored at `path` makes of this one: None when there is none.
fn compare_stored(path: &Path, chunk: &NewChunk) -> Result<Option<ChunkOutcome>, AudioError> {
    match read_chunk(path) {
        Ok((_, bytes)) if bytes == chunk.bytes[..] => Ok(Some(ChunkOutcome::Duplicate)),
        Ok(_) => Err(AudioError::Conflict {
            track: chunk.track,
            seq: chunk.seq,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn first_mime(dir: &Path) -> std::io::Result<Option<String>> {
    match chunk_seqs(dir)?.first() {
        Some(&seq) => Ok(Some(read_header(&chunk_path(dir, seq))?.mime)),
        None => Ok(None),
    }
}

/// The seqs stored in a track's directory, in order.
fn chunk_seqs(dir: &Path) -> std::io::Result<Vec<u32>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut seqs: Vec<u32> = entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".chunk")?.parse().ok()
        })
        .collect();
    seqs.sort_unstable();
    Ok(seqs)
}

/// A chunk file's header, and its length in the file (magic and length field included).
fn read_header_from(f: &mut impl Read) -> std::io::Result<(Header, u64)> {
    let mut head = [0u8; 8];
    f.read_exact(&mut head)?;
    if &head[..4] != MAGIC {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not an audio chunk",
        ));
    }
    let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
    if len > 1 << 20 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "an audio chunk's header is too large",
        ));
    }
    let mut header = vec![0u8; len];
    f.read_exact(&mut header)?;
    let header = serde_json::from_slice(&header)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    Ok((header, 8 + len as u64))
}

fn read_header(path: &Path) -> std::io::Result<Header> {
    read_header_from(&mut std::io::BufReader::new(std::fs::File::open(path)?)).map(|(h, _)| h)
}

fn read_chunk(path: &Path) -> std::io::Result<(Header, Vec<u8>)> {
    let mut f = std::io::BufReader::new(std::fs::File::open(path)?);
    let (header, _) = read_header_from(&mut f)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok((header, bytes))
}

fn read_track(dir: &Path, track: Track) -> Result<Option<TrackInfo>> {
    let seqs = chunk_seqs(dir).map_err(Error::Audio)?;
    if seqs.is_empty() {
        return Ok(None);
    }
    let mut chunks = Vec::with_capacity(seqs.len());
    let mut mime = String::new();
    let mut total = 0;
    for seq in seqs {
        let path = chunk_path(dir, seq);
        let mut f = std::fs::File::open(&path).map_err(Error::Audio)?;
        let size = f.metadata().map_err(Error::Audio)?.len();
        let (header, head_len) =
            read_header_from(&mut std::io::BufReader::new(&mut f)).map_err(Error::Audio)?;
        let bytes = size.saturating_sub(head_len);
        if mime.is_empty() {
            mime = header.mime.clone();
        }
        total += bytes;
        let peaks = if header.peaks.is_empty() {
            peaks_beside(dir, seq, &header.mime)
        } else {
            header.peaks
        };
        chunks.push(ChunkInfo {
            seq,
            start: header.start,
            bytes,
            peaks,
        });
    }
    let start = chunks.first().map(|c| c.start).unwrap_or(0.0);
    let mut info = TrackInfo {
        track,
        mime,
        start,
        end: None,
        bytes: total,
        chunks,
    };
    if let (Some(layout), Some(rate)) = (info.layout(), info.format().rate()) {
        info.end = layout
            .last()
            .map(|&(s, n)| s + n as f64 * 1000.0 / rate as f64);
    }
    Ok(Some(info))
}

/// The WAV header of 16-bit PCM with `channels` channels at `rate`, for `data_bytes` of samples.
pub fn wav_header(rate: u32, channels: u16, data_bytes: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    let block = channels as u32 * 2;
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data_bytes.saturating_add(36).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&rate.to_le_bytes());
    h[28..32].copy_from_slice(&(rate * block).to_le_bytes());
    h[32..34].copy_from_slice(&(block as u16).to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_bytes.to_le_bytes());
    h
}

/// What an event stored with its audio in a track holds in place of the base64 payload.
pub const REFERENCE_PREFIX: &str = "rc-audio:";

/// The reference to `len` bytes at `offset` of chunk `seq` of `track`: `rc-audio:user:3:0:9600`.
pub fn audio_reference(track: Track, seq: u32, offset: usize, len: usize) -> String {
    format!("{REFERENCE_PREFIX}{track}:{seq}:{offset}:{len}")
}

fn parse_reference(s: &str) -> Option<(Track, u32, usize, usize)> {
    let mut parts = s.strip_prefix(REFERENCE_PREFIX)?.split(':');
    let track = Track::parse(parts.next()?)?;
    let seq = parts.next()?.parse().ok()?;
    let offset = parts.next()?.parse().ok()?;
    let len = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((track, seq, offset, len))
}

/// Puts audio payloads back into exported events: keeps the chunk it read last for each track, since a
/// track's references come in order.
pub(crate) struct Restorer {
    reader: AudioReader,
    last: [Option<(u32, Vec<u8>)>; 2],
}

impl Restorer {
    pub(crate) fn new(reader: AudioReader) -> Self {
        Self {
            reader,
            last: [None, None],
        }
    }

    /// The event with its payload back, or as it is when it holds no reference (or one that cannot be
    /// resolved: the reference stays, and the export says what it could).
    pub(crate) fn restore<'e>(&mut self, event: &'e str) -> std::borrow::Cow<'e, str> {
        use base64::Engine;
        let Some(at) = event.find(&format!("\"{REFERENCE_PREFIX}")) else {
            return event.into();
        };
        let rest = &event[at + 1..];
        let Some(end) = rest.find('"') else {
            return event.into();
        };
        let Some((track, seq, offset, len)) = parse_reference(&rest[..end]) else {
            return event.into();
        };
        let slot = &mut self.last[track as usize];
        if slot.as_ref().is_none_or(|(s, _)| *s != seq) {
            match self.reader.chunk(track, seq) {
                Ok(bytes) => *slot = Some((seq, bytes)),
                Err(e) => {
                    tracing::warn!(error = %e, %track, seq, "an exported event's audio is not stored");
                    return event.into();
                }
            }
        }
        let Some(audio) = slot
            .as_ref()
            .and_then(|(_, b)| b.get(offset..offset.checked_add(len)?))
        else {
            return event.into();
        };
        let mut out = String::with_capacity(event.len() + len * 4 / 3 + 4);
        out.push_str(&event[..at + 1]);
        base64::engine::general_purpose::STANDARD.encode_string(audio, &mut out);
        out.push_str(&rest[end..]);
        out.into()
    }
}

/// Writes a relayed session's track as it goes: chunk after chunk, each filled by appends until it holds
/// about [`APPENDED_CHUNK_BYTES`], then closed with its peaks beside it. One open file and one write per
/// batch: a WebSocket session's audio comes 50 times a second or more, too often for a file (or a sync) per
/// piece. Written as far as the OS (a crash of the console loses nothing written; a power cut may).
pub struct TrackAppender {
    dir: PathBuf,
    open: Option<Appending>,
}

struct Appending {
    seq: u32,
    file: std::fs::File,
    format: Format,
    bytes: Vec<u8>,
}

/// How much audio a relayed track's chunk holds before the next one starts (about 5 s of 24 kHz PCM).
pub const APPENDED_CHUNK_BYTES: usize = 256 << 10;

impl Store {
    /// A writer of the session's `track`, for a relay that is its only writer.
    pub fn audio_appender(&self, session: SessionId, track: Track) -> TrackAppender {
        TrackAppender {
            dir: self.session_audio_dir(session).join(track.as_str()),
            open: None,
        }
    }
}

impl TrackAppender {
    /// Appends `bytes` to chunk `seq`: a new chunk (starting at `start`, of media type `mime`) when `seq` is
    /// not the open one, which is then closed.
    pub fn append(
        &mut self,
        seq: u32,
        start: f64,
        mime: &str,
        bytes: &[u8],
    ) -> std::io::Result<()> {
        if self.open.as_ref().is_none_or(|o| o.seq != seq) {
            self.close()?;
            std::fs::create_dir_all(&self.dir)?;
            let header = serde_json::to_vec(&Header {
                start,
                mime: mime.to_owned(),
                peaks: Vec::new(),
            })?;
            let mut file = std::fs::OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(chunk_path(&self.dir, seq))?;
            let mut head = Vec::with_capacity(8 + header.len());
            head.extend_from_slice(MAGIC);
            head.extend_from_slice(&(header.len() as u32).to_le_bytes());
            head.extend_from_slice(&header);
            file.write_all(&head)?;
            self.open = Some(Appending {
                seq,
                file,
                format: Format::of(mime),
                bytes: Vec::new(),
            });
        }
        if let Some(open) = self.open.as_mut() {
            open.file.write_all(bytes)?;
            open.bytes.extend_from_slice(bytes);
        }
        Ok(())
    }

    /// Closes the open chunk: its peaks go beside it.
    pub fn close(&mut self) -> std::io::Result<()> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        if let (Some(samples), Some(rate)) = (open.format.samples(&open.bytes), open.format.rate())
        {
            std::fs::write(peaks_path(&self.dir, open.seq), peaks_of(&samples, rate))?;
        }
        Ok(())
    }
}

impl Drop for TrackAppender {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

fn peaks_path(dir: &Path, seq: u32) -> PathBuf {
    dir.join(format!("{seq:06}.peaks"))
}

/// A chunk's peaks when its header has none: the file beside it, or (a chunk still being appended to)
/// computed from its audio.
fn peaks_beside(dir: &Path, seq: u32, mime: &str) -> Vec<u8> {
    if let Ok(p) = std::fs::read(peaks_path(dir, seq)) {
        return p;
    }
    let format = Format::of(mime);
    match (read_chunk(&chunk_path(dir, seq)), format.rate()) {
        (Ok((_, bytes)), Some(rate)) => format
            .samples(&bytes)
            .map(|s| peaks_of(&s, rate))
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g711_decodes_known_values() {
        // µ-law 0xff and A-law 0xd5 are the codes for (near) zero; 0x80 / 0xaa the largest positive.
        assert_eq!(ulaw(0xff), 0);
        assert_eq!(ulaw(0x80), 32_124);
        assert_eq!(ulaw(0x00), -32_124);
        assert_eq!(alaw(0xd5), 8);
        assert_eq!(alaw(0xaa), 32_256);
        assert_eq!(alaw(0x2a), -32_256);
    }

    #[test]
    fn peaks_are_one_byte_per_20_ms() {
        let mut samples = vec![0i16; 480 * 3];
        samples[500] = i16::MAX;
        samples[1000] = -16_384;
        assert_eq!(peaks_of(&samples, 24_000), vec![0, 255, 128]);
    }

    #[test]
    fn formats_from_media_types() {
        assert_eq!(
            Format::of("audio/pcm;rate=16000"),
            Format::Pcm16 { rate: 16_000 }
        );
        assert_eq!(Format::of("audio/pcm"), Format::Pcm16 { rate: 24_000 });
        assert_eq!(Format::of("audio/pcmu"), Format::Pcmu);
        assert_eq!(Format::of("audio/webm;codecs=opus"), Format::Opaque);
    }
}
