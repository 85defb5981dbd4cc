//! Importing a JSONL export as a new session, all or nothing.

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use serde_json::value::RawValue;

use crate::domain::{FieldError, NewEvent};
use crate::sessions::{NewSession, Session};
use crate::writer::AppendError;
use crate::{Error, Store};

const IMPORT_BATCH: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A line is not a JSON object of the export's shape. Lines count from 1.
    #[error("line {line}: {}", .error.message)]
    Line { line: usize, error: FieldError },
    #[error("line {line}: not valid JSON")]
    Json { line: usize },
    #[error("line {line}: seq {seq} appears twice with different content")]
    Conflict { line: usize, seq: i64 },
    #[error("the file holds no events")]
    Empty,
    #[error("reading the upload failed: {0}")]
    Body(String),
    #[error(transparent)]
    Store(#[from] Error),
}

impl Store {
    /// Creates a session from JSONL lines (`{"seq","ts","direction","event"}`). On any bad line the new session
    /// is deleted again, so a failed import leaves nothing behind.
    pub async fn import_jsonl<S, E>(&self, new: NewSession, body: S) -> Result<Session, ImportError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let session = self.create_session(new).await?;
        match self.import_into(&session, body).await {
            Ok(()) => Ok(self
                .get_session(session.id)
                .await?
                .ok_or(Error::Db(sqlx::Error::RowNotFound))?),
            Err(e) => {
                self.delete_session(session.id).await?;
                Err(e)
            }
        }
    }

    async fn import_into<S, E>(&self, session: &Session, body: S) -> Result<(), ImportError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let mut body = std::pin::pin!(body);
        let mut pending = BytesMut::new();
        let mut batch: Vec<(usize, NewEvent)> = Vec::with_capacity(IMPORT_BATCH);
        let mut line_no = 0usize;
        let mut total = 0usize;
        let mut finished = false;
        while !finished {
            match body.next().await {
                Some(chunk) => {
                    pending.extend_from_slice(&chunk.map_err(|e| ImportError::Body(e.to_string()))?)
                }
                None => {
                    finished = true;
                    if !pending.is_empty() && !pending.ends_with(b"\n") {
                        pending.extend_from_slice(b"\n");
                    }
                }
            }
            while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
                let line = pending.split_to(nl + 1);
                line_no += 1;
                let text = std::str::from_utf8(&line[..nl])
                    .map_err(|_| ImportError::Json { line: line_no })?
                    .trim();
                if text.is_empty() {
                    continue;
                }
                let raw: &RawValue =
                    serde_json::from_str(text).map_err(|_| ImportError::Json { line: line_no })?;
                let event = NewEvent::parse(raw).map_err(|error| ImportError::Line {
                    line: line_no,
                    error,
                })?;
                batch.push((line_no, event));
                if batch.len() == IMPORT_BATCH {
                    total += self.flush(session, &mut batch).await?;
                }
            }
            if finished {
                pending.advance(pending.len());
            }
        }
        total += self.flush(session, &mut batch).await?;
        if total == 0 {
            return Err(ImportError::Empty);
        }
        Ok(())
    }

    async fn flush(
        &self,
        session: &Session,
        batch: &mut Vec<(usize, NewEvent)>,
    ) -> Result<usize, ImportError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let lines: Vec<usize> = batch.iter().map(|(l, _)| *l).collect();
        let events = batch.drain(..).map(|(_, e)| e).collect::<Vec<_>>();
        let n = events.len();
        match self.append_events(session.id, events).await {
            Ok(_) => Ok(n),
            Err(AppendError::Conflict { index, seq }) => Err(ImportError::Conflict {
                line: lines[index],
                seq,
            }),
            Err(AppendError::UnknownSession) => {
                Err(ImportError::Store(Error::Db(sqlx::Error::RowNotFound)))
            }
            Err(AppendError::Store(e)) => Err(ImportError::Store(e)),
        }
    }
}
