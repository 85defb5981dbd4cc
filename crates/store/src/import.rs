//! Importing a JSONL export as a new session, all or nothing.

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use serde_json::value::RawValue;

use crate::domain::Direction;
use crate::domain::{FieldError, MAX_EVENT_BYTES, NewEvent, SessionId};
use crate::sessions::{NewSession, RanWith, Session};
use crate::writer::AppendError;
use crate::{Error, Store};

const IMPORT_BATCH: usize = 1_000;
/// A batch is also sent once its events hold this many bytes: an import's memory stays bounded, and each
/// batch fits the writer's intake log (answered after one log write, not a durable commit of its own).
const IMPORT_BATCH_BYTES: usize = 4 << 20;
/// The longest line an import accepts: an event of [`MAX_EVENT_BYTES`] and its `seq`, `ts` and `direction`.
pub const MAX_IMPORT_LINE_BYTES: usize = MAX_EVENT_BYTES + 4096;
/// The longest line of a bundle: an audio chunk of [`crate::MAX_CHUNK_BYTES`] in base64, and its description.
pub const MAX_BUNDLE_LINE_BYTES: usize = crate::MAX_CHUNK_BYTES / 3 * 4 + 64 * 1024;
/// What a bundle's first line says it is.
pub const BUNDLE_FORMAT: &str = "realtime-console/bundle-1";

/// A bundle's first line: `{"bundle":"realtime-console/bundle-1","session":{"label","model","config"}}`.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct BundleHead {
    pub bundle: String,
    pub session: BundleSession,
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
pub(crate) struct BundleSession {
    pub label: String,
    pub model: Option<String>,
    pub config: Option<serde_json::Value>,
}

/// A bundle's audio line: one chunk, its description and its bytes (base64).
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct AudioLine {
    pub audio: AudioLineHead,
    pub data: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct AudioLineHead {
    pub track: crate::Track,
    pub seq: u32,
    pub start: f64,
    pub mime: String,
    pub peaks: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A line is not a JSON object of the export's shape. Lines count from 1.
    #[error("line {line}: {}", .error.message)]
    Line { line: usize, error: FieldError },
    #[error("line {line}: not valid JSON")]
    Json { line: usize },
    #[error(
        "line {line} is longer than an import takes ({MAX_IMPORT_LINE_BYTES} bytes; an audio line of a bundle {MAX_BUNDLE_LINE_BYTES})"
    )]
    LineTooLong { line: usize },
    /// An audio line of a bundle is refused.
    #[error("line {line}: {message}")]
    Audio { line: usize, message: String },
    #[error("line {line}: seq {seq} appears twice with different content")]
    Conflict { line: usize, seq: i64 },
    #[error("the file holds no events")]
    Empty,
    #[error("reading the upload failed: {0}")]
    Body(String),
    #[error(transparent)]
    Store(#[from] Error),
}

/// Splits a byte stream into lines, looking at each byte once: a line that arrives in many chunks is not
/// searched again from its start with every chunk. A line longer than [`MAX_IMPORT_LINE_BYTES`] is refused
/// as soon as it is.
struct Lines {
    /// The longest line taken: [`MAX_IMPORT_LINE_BYTES`], or a bundle's [`MAX_BUNDLE_LINE_BYTES`] once its
    /// first line says it is one.
    max: usize,
    pending: BytesMut,
    /// How much of `pending` is known to hold no newline.
    scanned: usize,
    /// Lines handed out so far.
    count: usize,
}

impl Default for Lines {
    fn default() -> Self {
        Self {
            max: MAX_IMPORT_LINE_BYTES,
            pending: BytesMut::new(),
            scanned: 0,
            count: 0,
        }
    }
}

impl Lines {
    fn push(&mut self, chunk: &[u8]) {
        self.pending.extend_from_slice(chunk);
    }

    /// The next whole line (without its newline) and its number, if one has arrived.
    fn next_line(&mut self) -> Result<Option<(usize, BytesMut)>, ImportError> {
        match memchr(b'\n', &self.pending[self.scanned..]) {
            Some(at) => {
                let end = self.scanned + at;
                let mut line = self.pending.split_to(end + 1);
                line.truncate(end);
                self.scanned = 0;
                self.count += 1;
                if line.len() > self.max {
                    return Err(ImportError::LineTooLong { line: self.count });
                }
                Ok(Some((self.count, line)))
            }
            None => {
                self.scanned = self.pending.len();
                if self.pending.len() > self.max {
                    return Err(ImportError::LineTooLong {
                        line: self.count + 1,
                    });
                }
                Ok(None)
            }
        }
    }

    /// What is left at the end of the stream: a last line without a newline.
    fn rest(&mut self) -> Option<(usize, BytesMut)> {
        if self.pending.is_empty() {
            return None;
        }
        self.count += 1;
        Some((self.count, std::mem::take(&mut self.pending)))
    }
}

/// One line of an export as an event; a blank line is none.
fn parse_line(
    (line_no, line): (usize, BytesMut),
) -> Result<Option<(usize, NewEvent)>, ImportError> {
    let text = std::str::from_utf8(&line)
        .map_err(|_| ImportError::Json { line: line_no })?
        .trim();
    if text.is_empty() {
        return Ok(None);
    }
    let raw: &RawValue =
        serde_json::from_str(text).map_err(|_| ImportError::Json { line: line_no })?;
    let event = NewEvent::parse_exported(raw).map_err(|error| ImportError::Line {
        line: line_no,
        error,
    })?;
    Ok(Some((line_no, event)))
}

/// The server's last word on the session config while an import is read: its `session.created` or
/// `session.updated` of the highest seq (an export is in seq order, but a hand-made file need not be).
#[derive(Default)]
struct LastSession {
    best: Option<(i64, RanWith)>,
}

impl LastSession {
    fn see(&mut self, e: &NewEvent) {
        let is_session = matches!(e.event_type.as_str(), "session.created" | "session.updated");
        if !is_session || e.direction != Direction::Server {
            return;
        }
        if self.best.as_ref().is_some_and(|(seq, _)| *seq > e.seq) {
            return;
        }
        if let Some(r) = RanWith::from_session_event(e.event.get()) {
            self.best = Some((e.seq, r));
        }
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|b| *b == needle)
}

impl Store {
    /// Creates a session from JSONL lines (`{"seq","ts","direction","event"}`), all or nothing: the session
    /// stays invisible while its lines are stored, becomes visible (ended) in one commit once the last one is,
    /// and is deleted on any bad line. One that a crash interrupts is deleted at the next start.
    pub async fn import_jsonl<S, E>(&self, new: NewSession, body: S) -> Result<Session, ImportError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let label_given = new.label.is_some();
        let hidden = self.create_hidden_session(new).await?;
        match self.import_into(hidden, body).await {
            Ok((mut ran_with, bundle)) => {
                // A bundle says what its session ran with, and its label.
                if let Some(head) = bundle {
                    if head.session.model.is_some() || head.session.config.is_some() {
                        ran_with.model = head.session.model;
                        ran_with.config = head.session.config;
                    }
                    if !label_given {
                        let patch = crate::SessionPatch {
                            label: Some(head.session.label),
                            ..Default::default()
                        };
                        self.update_session(hidden, patch).await?;
                    }
                }
                Ok(self
                    .reveal_import(hidden, ran_with)
                    .await?
                    .ok_or(Error::NotCommitted)?)
            }
            Err(e) => {
                self.delete_session(hidden).await?;
                Err(e)
            }
        }
    }

    /// Stores the lines; → what the session ran with, from its session event of the highest seq, and the
    /// bundle's first line when it is a bundle (whose audio lines it stores too).
    async fn import_into<S, E>(
        &self,
        session: SessionId,
        body: S,
    ) -> Result<(RanWith, Option<BundleHead>), ImportError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let mut body = std::pin::pin!(body);
        let mut lines = Lines::default();
        let mut ran_with = LastSession::default();
        let mut batch: Vec<(usize, NewEvent)> = Vec::with_capacity(IMPORT_BATCH);
        let mut batch_bytes = 0usize;
        let mut total = 0usize;
        let mut bundle: Option<BundleHead> = None;
        loop {
            let chunk = body.next().await;
            if let Some(chunk) = &chunk {
                let chunk = chunk
                    .as_ref()
                    .map_err(|e| ImportError::Body(e.to_string()))?;
                lines.push(chunk);
            }
            while let Some(line) = lines.next_line()? {
                if line.0 == 1 && line.1.starts_with(b"{\"bundle\"") {
                    let head: BundleHead = serde_json::from_slice(&line.1)
                        .map_err(|_| ImportError::Json { line: 1 })?;
                    if head.bundle != BUNDLE_FORMAT {
                        return Err(ImportError::Audio {
                            line: 1,
                            message: format!(
                                "a bundle of `{}` is not one this console reads ({BUNDLE_FORMAT})",
                                head.bundle
                            ),
                        });
                    }
                    bundle = Some(head);
                    lines.max = MAX_BUNDLE_LINE_BYTES;
                    continue;
                }
                if bundle.is_some() && line.1.starts_with(b"{\"audio\"") {
                    self.import_audio(session, line).await?;
                    continue;
                }
                if let Some((line_no, event)) = parse_line(line)? {
                    ran_with.see(&event);
                    batch_bytes += event.event.get().len();
                    batch.push((line_no, event));
                }
                if batch.len() >= IMPORT_BATCH || batch_bytes >= IMPORT_BATCH_BYTES {
                    total += self.flush(session, &mut batch).await?;
                    batch_bytes = 0;
                }
            }
            if chunk.is_none() {
                if let Some((line_no, event)) = lines.rest().map(parse_line).transpose()?.flatten()
                {
                    ran_with.see(&event);
                    batch.push((line_no, event));
                }
                break;
            }
        }
        total += self.flush(session, &mut batch).await?;
        if total == 0 {
            return Err(ImportError::Empty);
        }
        Ok((ran_with.best.map(|(_, r)| r).unwrap_or_default(), bundle))
    }

    /// A bundle's audio line: one chunk of the session's audio.
    async fn import_audio(
        &self,
        session: SessionId,
        (line, text): (usize, BytesMut),
    ) -> Result<(), ImportError> {
        use base64::Engine;
        let bad = |message: String| ImportError::Audio { line, message };
        let parsed: AudioLine =
            serde_json::from_slice(&text).map_err(|e| bad(format!("not an audio line ({e})")))?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let bytes = b64
            .decode(&parsed.data)
            .map_err(|_| bad("`data` is not base64".into()))?;
        let peaks = b64
            .decode(&parsed.audio.peaks)
            .map_err(|_| bad("`audio.peaks` is not base64".into()))?;
        let chunk = crate::NewChunk {
            track: parsed.audio.track,
            seq: parsed.audio.seq,
            start: parsed.audio.start,
            mime: parsed.audio.mime,
            peaks: Some(peaks),
            bytes: Bytes::from(bytes),
        };
        match self
            .put_audio_chunk(session, chunk, crate::ChunkSync::Disk)
            .await
        {
            Ok(_) => Ok(()),
            Err(crate::AudioError::Store(e)) => Err(ImportError::Store(e)),
            Err(e) => Err(bad(e.to_string())),
        }
    }

    async fn flush(
        &self,
        session: SessionId,
        batch: &mut Vec<(usize, NewEvent)>,
    ) -> Result<usize, ImportError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let lines: Vec<usize> = batch.iter().map(|(l, _)| *l).collect();
        let events = batch.drain(..).map(|(_, e)| e).collect::<Vec<_>>();
        let n = events.len();
        match self.append_events(session, events).await {
            Ok(_) => Ok(n),
            Err(AppendError::Conflict { index, seq }) => Err(ImportError::Conflict {
                line: lines[index],
                seq,
            }),
            Err(AppendError::UnknownSession | AppendError::SeqsExhausted) => {
                Err(ImportError::Store(Error::NotCommitted))
            }
            Err(AppendError::Store(e)) => Err(ImportError::Store(e)),
        }
    }
}

impl Store {
    /// A session as one self-contained file that [`Store::import_jsonl`] takes back whole: a first line
    /// saying what it is (with the session's label, model and config), its events as the JSONL export with
    /// audio references ([`crate::AudioPayloads::References`]), then one line per audio chunk. An import of a
    /// bundle exports as the same bytes. `None` if the session does not exist.
    pub async fn export_bundle(
        &self,
        id: SessionId,
    ) -> Result<Option<impl Stream<Item = Result<Bytes, Error>> + Send + 'static>, Error> {
        let Some(session) = self.get_session(id).await? else {
            return Ok(None);
        };
        let head = BundleHead {
            bundle: BUNDLE_FORMAT.to_owned(),
            session: BundleSession {
                label: session.label,
                model: session.model,
                config: session.config,
            },
        };
        let mut first = serde_json::to_vec(&head).map_err(|e| Error::Refused(e.to_string()))?;
        first.push(b'\n');
        let Some(events) = self
            .export_jsonl_with(id, crate::AudioPayloads::References)
            .await?
        else {
            return Ok(None);
        };
        let tracks = self.audio_tracks(id).await?;
        let reader = self.audio_reader(id);
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Error>>(2);
        tokio::task::spawn_blocking(move || {
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD;
            for t in tracks {
                for c in t.chunks {
                    let line = reader.chunk(t.track, c.seq).map(|bytes| AudioLine {
                        audio: AudioLineHead {
                            track: t.track,
                            seq: c.seq,
                            start: c.start,
                            mime: t.mime.clone(),
                            peaks: b64.encode(&c.peaks),
                        },
                        data: b64.encode(bytes),
                    });
                    let sent = match line {
                        Ok(line) => {
                            let mut text = serde_json::to_vec(&line).unwrap_or_default();
                            text.push(b'\n');
                            tx.blocking_send(Ok(Bytes::from(text)))
                        }
                        Err(e) => tx.blocking_send(Err(Error::Audio(e))),
                    };
                    if sent.is_err() {
                        return;
                    }
                }
            }
        });
        let audio = tokio_stream::wrappers::ReceiverStream::new(rx);
        Ok(Some(
            futures::stream::once(async move { Ok(Bytes::from(first)) })
                .chain(events)
                .chain(audio),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Result<Vec<(usize, String)>, ImportError> {
        let mut lines = Lines::default();
        let mut out = Vec::new();
        for chunk in chunks {
            lines.push(chunk);
            while let Some((n, l)) = lines.next_line()? {
                out.push((n, String::from_utf8(l.to_vec()).unwrap()));
            }
        }
        if let Some((n, l)) = lines.rest() {
            out.push((n, String::from_utf8(l.to_vec()).unwrap()));
        }
        Ok(out)
    }

    #[test]
    fn lines_across_chunks_and_a_last_line_without_a_newline() {
        let got = split(&[b"ab", b"c\nd", b"", b"e\n\nf"]).unwrap();
        assert_eq!(
            got,
            [
                (1, "abc".into()),
                (2, "de".into()),
                (3, String::new()),
                (4, "f".into())
            ]
        );
    }

    fn line(seq: i64, direction: &str, event: serde_json::Value) -> NewEvent {
        let text =
            serde_json::json!({"seq": seq, "ts": 1.0, "direction": direction, "event": event});
        let raw = RawValue::from_string(text.to_string()).unwrap();
        NewEvent::parse_exported(&raw).unwrap()
    }

    #[test]
    fn the_session_event_of_the_highest_seq_says_what_an_import_ran_with() {
        use serde_json::json;
        let mut last = LastSession::default();
        let session = |model: &str| json!({"type": "session.updated", "session": {"model": model}});
        last.see(&line(1, "server", session("first")));
        last.see(&line(3, "server", session("third")));
        last.see(&line(2, "server", session("second")));
        last.see(&line(
            4,
            "client",
            json!({"type": "session.update", "session": {"model": "asked"}}),
        ));
        last.see(&line(
            5,
            "server",
            json!({"type": "session.updated", "session": "not an object"}),
        ));
        let (seq, ran_with) = last.best.unwrap();
        assert_eq!(seq, 3);
        assert_eq!(ran_with.model.as_deref(), Some("third"));
        assert_eq!(ran_with.config, Some(json!({"model": "third"})));
    }

    #[test]
    fn a_line_too_long_is_refused_as_soon_as_it_is() {
        let long = vec![b'x'; MAX_IMPORT_LINE_BYTES + 1];
        let err = split(&[b"{}\n", &long]).unwrap_err();
        assert!(
            matches!(err, ImportError::LineTooLong { line: 2 }),
            "{err:?}"
        );
        let mut exact = vec![b'x'; MAX_IMPORT_LINE_BYTES];
        exact.push(b'\n');
        assert_eq!(split(&[&exact]).unwrap().len(), 1);
    }
}
