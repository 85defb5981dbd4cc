//! The writer's session jobs: creating, revealing, updating and deleting a session. Each is applied after
//! everything queued before it and answered once a durable commit covers it.

use rusqlite::{Connection, OptionalExtension};
use tokio::sync::oneshot;

use super::check::{self, Seqs};
use super::queue::Job;
use super::{AppendError, apply};
use crate::domain::{NewEvent, SessionId};
use crate::live::Change;
use crate::sessions::{self, NewSession, Session};
use crate::{Error, Result, text};

/// The result of a session job, answered once its commit succeeds.
pub(super) enum Done {
    Create(oneshot::Sender<Result<Session>>, Result<Session>),
    Update(
        oneshot::Sender<Result<Option<Session>>>,
        Result<Option<Session>>,
    ),
    Delete(oneshot::Sender<Result<bool>>, Result<bool>),
}

impl Done {
    /// True when the database failed midway through the job: what it wrote may be partial, so the
    /// transaction is rolled back. A job refused for its input (an unknown session) has written nothing.
    pub(super) fn is_db_failure(&self) -> bool {
        matches!(
            self,
            Done::Create(_, Err(_)) | Done::Update(_, Err(_)) | Done::Delete(_, Err(_))
        )
    }

    pub(super) fn reply(self) {
        // A caller that went away (client disconnected) doesn't need its answer; the work is committed.
        match self {
            Done::Create(tx, r) => drop(tx.send(r)),
            Done::Update(tx, r) => drop(tx.send(r)),
            Done::Delete(tx, r) => drop(tx.send(r)),
        }
    }

    /// The commit failed: nothing of this job is stored.
    pub(super) fn fail(self) {
        let e = || Error::NotCommitted;
        match self {
            Done::Create(tx, _) => drop(tx.send(Err(e()))),
            Done::Update(tx, _) => drop(tx.send(Err(e()))),
            Done::Delete(tx, _) => drop(tx.send(Err(e()))),
        }
    }
}

pub(super) fn apply_session_job(conn: &Connection, job: Job) -> Option<(Done, Option<Change>)> {
    Some(match job {
        Job::Create {
            new,
            events,
            hidden,
            reply,
        } => {
            let result = create(conn, new, events, hidden);
            let change = result.as_ref().ok().and_then(|(_, c)| *c);
            (Done::Create(reply, result.map(|(s, _)| s)), change)
        }
        Job::Update { id, patch, reply } => {
            let result = sessions::update(conn, id, patch);
            let change = matches!(result, Ok(Some(_))).then_some(Change::Updated { session: id });
            (Done::Update(reply, result), change)
        }
        Job::Reveal {
            id,
            ran_with,
            reply,
        } => {
            let result = sessions::reveal(conn, id, ran_with);
            let change = matches!(result, Ok(Some(_))).then_some(Change::Updated { session: id });
            (Done::Update(reply, result), change)
        }
        Job::Delete { id, reply } => {
            let result = delete(conn, id);
            let change = matches!(result, Ok(true)).then_some(Change::Deleted { session: id });
            (Done::Delete(reply, result), change)
        }
        // Not one of these: the writer's loop handles them itself.
        job @ (Job::Append { .. } | Job::ReaderWaits | Job::Stop(_)) => {
            job.refuse();
            return None;
        }
    })
}

fn delete(conn: &Connection, id: SessionId) -> Result<bool> {
    let pk: Option<i64> = conn
        .prepare_cached("SELECT pk FROM sessions WHERE id = ?")?
        .query_row([id.to_string()], |r| r.get(0))
        .optional()?;
    let Some(pk) = pk else {
        return Ok(false);
    };
    text::forget_session(conn, pk)?;
    sessions::delete(conn, pk)
}

/// Creates a session with its first events, all in the open transaction.
fn create(
    conn: &Connection,
    new: NewSession,
    events: Vec<NewEvent>,
    hidden: bool,
) -> Result<(Session, Option<Change>)> {
    let id = sessions::insert(conn, new, hidden)?;
    let mut change = None;
    if !events.is_empty() {
        match check::check(conn, id, events, Seqs::Given, crate::now_ms()) {
            Ok((_, Some(batch))) => change = Some(apply::apply(conn, &batch)?),
            Ok((_, None)) => {}
            Err(AppendError::Store(e)) => return Err(e),
            // A fresh session holds nothing to conflict with; a seq twice in `events` is the caller's bug.
            Err(e) => return Err(Error::Refused(e.to_string())),
        }
    }
    let session = sessions::fetch_sync(conn, id)?.ok_or(Error::NotCommitted)?;
    Ok((session, change))
}
