//! A session's audio: the upload of its tracks' chunks (the console page's MediaRecorder, acknowledged and
//! idempotent like event ingest), and reading them back: the tracks' description and peaks, each track as
//! one file (with `Range`, so an `<audio>` element seeks), and a stereo WAV mix. Storage: realtime-store's
//! audio.rs.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use realtime_store::{
    AudioError, AudioReader, ChunkOutcome, ChunkSync, Format, MAX_CHUNK_BYTES, MAX_CHUNK_SEQ,
    NewChunk, PEAK_MS, SessionId, Track, TrackInfo, wav_header,
};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::error::{ApiError, Code, Result};
use super::extract::{Params, read_body};
use crate::AppState;

/// The chunk's start on the events' clock (ms since the Unix epoch).
const START_HEADER: &str = "x-audio-start";
/// The chunk's peaks (base64, one byte per 20 ms).
const PEAKS_HEADER: &str = "x-audio-peaks";
/// Peaks one chunk may carry: 10 minutes' worth.
const MAX_PEAKS: usize = 30_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sessions/{id}/audio", get(tracks))
        .route("/api/sessions/{id}/audio/peaks", get(peaks))
        .route("/api/sessions/{id}/audio/mix.wav", get(mix))
        .route("/api/sessions/{id}/audio/{track}", get(track))
        .route("/api/sessions/{id}/audio/{track}/{seq}", put(upload))
}

fn session_id(raw: &str) -> Result<SessionId> {
    SessionId::parse(raw).ok_or_else(|| ApiError::SessionNotFound(raw.to_owned()))
}

fn track_of(raw: &str) -> Result<Track> {
    Track::parse(raw).ok_or_else(|| {
        ApiError::field(
            Code::InvalidValue,
            format!("`{raw}` is not a track: use `user` or `model`"),
            "track",
        )
    })
}

async fn existing(state: &AppState, id: SessionId) -> Result<()> {
    match state.store.get_session(id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::SessionNotFound(id.to_string())),
    }
}

async fn upload(
    State(state): State<AppState>,
    Path((id, track, seq)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let id = session_id(&id)?;
    let track = track_of(&track)?;
    let seq = seq
        .parse::<u32>()
        .ok()
        .filter(|s| *s <= MAX_CHUNK_SEQ)
        .ok_or_else(|| {
            ApiError::field(
                Code::InvalidValue,
                format!("a chunk's seq is a whole number from 0 to {MAX_CHUNK_SEQ}"),
                "seq",
            )
        })?;
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            ApiError::invalid(
                Code::UnsupportedContentType,
                "a chunk's Content-Type is its track's media type, e.g. `audio/webm;codecs=opus`",
            )
        })?
        .to_owned();
    let start = headers
        .get(START_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| {
            ApiError::field(
                Code::MissingRequiredParameter,
                "`X-Audio-Start` is the chunk's start on the events' clock, in ms since the Unix epoch",
                START_HEADER,
            )
        })?;
    let peaks = match headers.get(PEAKS_HEADER) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|v| STANDARD.decode(v.trim()).ok())
                .filter(|p| p.len() <= MAX_PEAKS)
                .ok_or_else(|| {
                    ApiError::field(
                        Code::InvalidValue,
                        format!("`X-Audio-Peaks` is base64 of at most {MAX_PEAKS} bytes"),
                        PEAKS_HEADER,
                    )
                })?,
        ),
    };
    let bytes = read_body(body, MAX_CHUNK_BYTES).await?;
    let chunk = NewChunk {
        track,
        seq,
        start,
        mime,
        peaks,
        bytes,
    };
    let outcome = state
        .store
        .put_audio_chunk(id, chunk, ChunkSync::Disk)
        .await
        .map_err(|e| match e {
            AudioError::UnknownSession(id) => ApiError::SessionNotFound(id.to_string()),
            AudioError::Conflict { .. } => ApiError::field(
                Code::AudioChunkConflict,
                format!("{e}: a resend must carry the same bytes"),
                "seq",
            ),
            AudioError::FormatMismatch { .. } => {
                ApiError::field(Code::AudioFormatMismatch, e.to_string(), "Content-Type")
            }
            AudioError::Invalid(message) => ApiError::invalid(Code::InvalidValue, message),
            AudioError::Store(e) => ApiError::Store(e),
        })?;
    let stored = outcome == ChunkOutcome::Stored;
    let status = if stored {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        axum::Json(json!({"track": track, "seq": seq, "stored": stored})),
    )
        .into_response())
}

async fn tracks(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let id = session_id(&id)?;
    existing(&state, id).await?;
    let tracks = state.store.audio_tracks(id).await?;
    Ok(axum::Json(json!({ "tracks": tracks })).into_response())
}

async fn peaks(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let id = session_id(&id)?;
    existing(&state, id).await?;
    let mut out = serde_json::Map::new();
    for t in state.store.audio_tracks(id).await? {
        let chunks: Vec<_> = t
            .chunks
            .iter()
            .map(|c| json!({"start": c.start, "peaks": STANDARD.encode(&c.peaks)}))
            .collect();
        out.insert(t.track.as_str().to_owned(), chunks.into());
    }
    Ok(axum::Json(json!({"interval_ms": PEAK_MS, "tracks": out})).into_response())
}

#[derive(Deserialize)]
struct TrackParams {
    download: Option<String>,
}

/// A part of a served file: bytes the server makes, or a chunk's audio (decoded to 16-bit PCM when the
/// track is G.711).
enum Piece {
    Made(Vec<u8>),
    Chunk { seq: u32, decode: Option<Format> },
}

async fn track(
    State(state): State<AppState>,
    Path((id, track)): Path<(String, String)>,
    Params(params): Params<TrackParams>,
    headers: HeaderMap,
) -> Result<Response> {
    let id = session_id(&id)?;
    let track = track_of(track.strip_suffix(".wav").unwrap_or(&track))?;
    existing(&state, id).await?;
    let Some(info) = state
        .store
        .audio_tracks(id)
        .await?
        .into_iter()
        .find(|t| t.track == track)
    else {
        return Err(ApiError::invalid(
            Code::AudioNotFound,
            format!("session {id} has no {track} audio"),
        ));
    };
    let format = info.format();
    let (content_type, ext, pieces) = match format {
        Format::Opaque => {
            let pieces = info
                .chunks
                .iter()
                .map(|c| {
                    (
                        c.bytes,
                        Piece::Chunk {
                            seq: c.seq,
                            decode: None,
                        },
                    )
                })
                .collect();
            let kind = info.mime.split(';').next().unwrap_or("").trim().to_owned();
            let ext = kind.rsplit('/').next().unwrap_or("bin").to_owned();
            (kind, ext, pieces)
        }
        Format::Pcm16 { rate } => {
            let data: u64 = info.chunks.iter().map(|c| c.bytes & !1).sum();
            let mut pieces = vec![(44, Piece::Made(wav_header(rate, 1, wav_len(data)).to_vec()))];
            pieces.extend(info.chunks.iter().map(|c| {
                (
                    c.bytes & !1,
                    Piece::Chunk {
                        seq: c.seq,
                        decode: Some(format),
                    },
                )
            }));
            ("audio/wav".to_owned(), "wav".to_owned(), pieces)
        }
        Format::Pcmu | Format::Pcma => {
            let data: u64 = info.chunks.iter().map(|c| c.bytes * 2).sum();
            let mut pieces = vec![(
                44,
                Piece::Made(wav_header(8_000, 1, wav_len(data)).to_vec()),
            )];
            pieces.extend(info.chunks.iter().map(|c| {
                (
                    c.bytes * 2,
                    Piece::Chunk {
                        seq: c.seq,
                        decode: Some(format),
                    },
                )
            }));
            ("audio/wav".to_owned(), "wav".to_owned(), pieces)
        }
    };
    let total: u64 = pieces.iter().map(|(n, _)| n).sum();
    let (status, from, to) = match range(&headers, total) {
        Ok(Some((a, b))) => (StatusCode::PARTIAL_CONTENT, a, b),
        Ok(None) => (StatusCode::OK, 0, total),
        Err(()) => {
            let mut res = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(res);
        }
    };
    let reader = state.store.audio_reader(id);
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || serve_pieces(&reader, track, pieces, from, to, &tx));
    let mut res = Response::new(Body::from_stream(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    ));
    *res.status_mut() = status;
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(to - from));
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {from}-{}/{total}", to - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    if params.download.is_some()
        && let Ok(v) = HeaderValue::from_str(&format!(
            "attachment; filename=\"session-{id}-{track}.{ext}\""
        ))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

fn wav_len(data: u64) -> u32 {
    u32::try_from(data).unwrap_or(u32::MAX)
}

/// The byte range `[from, to)` a `Range: bytes=…` header asks for; Ok(None) for the whole file; Err when it
/// cannot be satisfied.
fn range(headers: &HeaderMap, total: u64) -> std::result::Result<Option<(u64, u64)>, ()> {
    let Some(spec) = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    // One range only; a list is served whole (allowed: a server may ignore Range).
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let (from, to) = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        (total.saturating_sub(n), total)
    } else {
        let from: u64 = a.parse().map_err(|_| ())?;
        let to = if b.is_empty() {
            total
        } else {
            b.parse::<u64>()
                .map_err(|_| ())?
                .saturating_add(1)
                .min(total)
        };
        (from, to)
    };
    if from >= to {
        return Err(());
    }
    Ok(Some((from, to)))
}

fn serve_pieces(
    reader: &AudioReader,
    track: Track,
    pieces: Vec<(u64, Piece)>,
    from: u64,
    to: u64,
    tx: &mpsc::Sender<std::io::Result<Bytes>>,
) {
    let mut at = 0u64;
    for (len, piece) in pieces {
        let (start, end) = (at, at + len);
        at = end;
        if end <= from {
            continue;
        }
        if start >= to {
            break;
        }
        let bytes = match piece {
            Piece::Made(b) => b,
            Piece::Chunk { seq, decode } => match reader.chunk(track, seq) {
                Ok(b) => match decode {
                    Some(Format::Pcm16 { .. }) | None => b,
                    Some(f) => f
                        .samples(&b)
                        .unwrap_or_default()
                        .iter()
                        .flat_map(|s| s.to_le_bytes())
                        .collect(),
                },
                Err(e) => {
                    tracing::error!(error = %e, %track, seq, "could not read an audio chunk");
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            },
        };
        let lo = from.saturating_sub(start) as usize;
        let hi = ((to.min(end) - start) as usize).min(bytes.len());
        let mut part = bytes;
        part.truncate(hi);
        let part = Bytes::from(part).slice(lo.min(hi)..);
        if tx.blocking_send(Ok(part)).is_err() {
            return;
        }
    }
}

/// One track laid out on the mix's clock.
struct Lane {
    reader: AudioReader,
    track: Track,
    format: Format,
    /// Input samples per output sample.
    step: f64,
    /// (first output sample, seq, output samples), in order.
    chunks: Vec<(u64, u32, u64)>,
    next: usize,
    current: Option<(u64, u64, Vec<i16>)>,
}

impl Lane {
    fn new(reader: AudioReader, info: &TrackInfo, origin: f64, rate: u32) -> Option<Self> {
        let format = info.format();
        let rate_in = format.rate()? as f64;
        let step = rate_in / rate as f64;
        let mut at = 0u64;
        let chunks = info
            .layout()?
            .into_iter()
            .zip(&info.chunks)
            .map(|((start, samples), c)| {
                let first =
                    (((start - origin) * rate as f64 / 1000.0).round().max(0.0) as u64).max(at);
                let n = (samples as f64 / step) as u64;
                at = first + n;
                (first, c.seq, n)
            })
            .collect();
        Some(Self {
            reader,
            track: info.track,
            format,
            step,
            chunks,
            next: 0,
            current: None,
        })
    }

    fn end(&self) -> u64 {
        self.chunks.last().map(|&(s, _, n)| s + n).unwrap_or(0)
    }

    /// The sample at output index `i` (called with `i` increasing).
    fn sample(&mut self, i: u64) -> std::io::Result<i16> {
        loop {
            if let Some((first, n, samples)) = &self.current {
                if i < *first {
                    return Ok(0);
                }
                if i < first + n {
                    let k = ((i - first) as f64 * self.step) as usize;
                    return Ok(samples.get(k).copied().unwrap_or(0));
                }
            }
            let Some(&(first, seq, n)) = self.chunks.get(self.next) else {
                return Ok(0);
            };
            if i < first {
                return Ok(0);
            }
            self.next += 1;
            let bytes = self.reader.chunk(self.track, seq)?;
            let samples = self.format.samples(&bytes).unwrap_or_default();
            self.current = Some((first, n, samples));
        }
    }
}

async fn mix(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let id = session_id(&id)?;
    existing(&state, id).await?;
    let tracks = state.store.audio_tracks(id).await?;
    if tracks.is_empty() {
        return Err(ApiError::invalid(
            Code::AudioNotFound,
            format!("session {id} has no audio"),
        ));
    }
    if let Some(t) = tracks.iter().find(|t| t.format().rate().is_none()) {
        return Err(ApiError::invalid(
            Code::AudioNotMixable,
            format!(
                "the {} track is {}, which the server does not decode: mix it in the inspector",
                t.track, t.mime
            ),
        ));
    }
    let rate = tracks
        .iter()
        .filter_map(|t| t.format().rate())
        .max()
        .unwrap_or(24_000);
    let origin = tracks.iter().map(|t| t.start).fold(f64::MAX, f64::min);
    let reader = state.store.audio_reader(id);
    let lane = |track: Track| {
        tracks
            .iter()
            .find(|t| t.track == track)
            .and_then(|t| Lane::new(reader.clone(), t, origin, rate))
    };
    let (mut left, mut right) = (lane(Track::User), lane(Track::Model));
    let frames = left
        .as_ref()
        .map(Lane::end)
        .max(right.as_ref().map(Lane::end))
        .unwrap_or(0)
        .min((u32::MAX as u64 - 44) / 4);
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let head = wav_header(rate, 2, (frames * 4) as u32).to_vec();
        if tx.blocking_send(Ok(Bytes::from(head))).is_err() {
            return;
        }
        let block = rate as u64;
        let mut i = 0;
        while i < frames {
            let end = (i + block).min(frames);
            let mut buf = Vec::with_capacity(((end - i) * 4) as usize);
            for k in i..end {
                for lane in [&mut left, &mut right] {
                    let s = match lane {
                        Some(l) => match l.sample(k) {
                            Ok(s) => s,
                            Err(e) => {
                                let _ = tx.blocking_send(Err(e));
                                return;
                            }
                        },
                        None => 0,
                    };
                    buf.extend_from_slice(&s.to_le_bytes());
                }
            }
            if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                return;
            }
            i = end;
        }
    });
    let mut res = Response::new(Body::from_stream(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    ));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(44 + frames * 4));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"session-{id}-mix.wav\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranged(v: &str, total: u64) -> std::result::Result<Option<(u64, u64)>, ()> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        range(&h, total)
    }

    #[test]
    fn ranges() {
        assert_eq!(ranged("bytes=0-9", 100), Ok(Some((0, 10))));
        assert_eq!(ranged("bytes=90-", 100), Ok(Some((90, 100))));
        assert_eq!(ranged("bytes=-5", 100), Ok(Some((95, 100))));
        assert_eq!(ranged("bytes=50-1000", 100), Ok(Some((50, 100))));
        assert_eq!(ranged("bytes=100-", 100), Err(()));
        assert_eq!(ranged("bytes=x-", 100), Err(()));
        assert_eq!(ranged("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(range(&HeaderMap::new(), 100), Ok(None));
    }
}
