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

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A line is not a JSON object of the export's shape. Lines count from 1.
    #[error("line {line}: {}", .error.message)]
    Line { line: usize, error: FieldError },
    #[error("line {line}: not valid JSON")]
    Json { line: usize },
    #[error("line {line} is longer than {MAX_IMPORT_LINE_BYTES} bytes")]
    LineTooLong { line: usize },
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
#[derive(Default)]
struct Lines {
    pending: BytesMut,
    /// How much of `pending` is known to hold no newline.
    scanned: usize,
    /// Lines handed out so far.
    count: usize,
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
                if line.len() > MAX_IMPORT_LINE_BYTES {
                    return Err(ImportError::LineTooLong { line: self.count });
                }
                Ok(Some((self.count, line)))
            }
            None => {
                self.scanned = self.pending.len();
                if self.pending.len() > MAX_IMPORT_LINE_BYTES {
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
        let hidden = self.create_hidden_session(new).await?;
        match self.import_into(hidden, body).await {
            Ok(ran_with) => Ok(self
                .reveal_import(hidden, ran_with)
                .await?
                .ok_or(Error::NotCommitted)?),
            Err(e) => {
                self.delete_session(hidden).await?;
                Err(e)
            }
        }
    }

    /// Stores the lines; → what the session ran with, from its session event of the highest seq.
    async fn import_into<S, E>(&self, session: SessionId, body: S) -> Result<RanWith, ImportError>
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
        loop {
            let chunk = body.next().await;
            if let Some(chunk) = &chunk {
                let chunk = chunk
                    .as_ref()
                    .map_err(|e| ImportError::Body(e.to_string()))?;
                lines.push(chunk);
            }
            while let Some(line) = lines.next_line()? {
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
        Ok(ran_with.best.map(|(_, r)| r).unwrap_or_default())
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
