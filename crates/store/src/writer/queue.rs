//! The writer's queue: jobs in from the store's handles, groups out to the writer. A group is every job
//! waiting at the time (up to a bound), so one log write and one sync answer all of them.

use std::time::Duration;

use flume::RecvTimeoutError;
use tokio::sync::oneshot;

use super::check::Seqs;
use super::{AppendError, AppendOutcome};
use crate::domain::{NewEvent, SessionId};
use crate::sessions::{NewSession, Session, SessionPatch};
use crate::{Error, Result};

/// Jobs that may wait for the writer before senders wait too (back-pressure).
const CAPACITY: usize = 1024;
/// A group takes at most this many events' worth of jobs: the answers to its first jobs wait for its last.
const MAX_GROUP_EVENTS: usize = 20_000;

pub(super) type AppendReply = oneshot::Sender<Result<AppendOutcome, AppendError>>;

pub(crate) enum Job {
    Append {
        session: SessionId,
        events: Vec<NewEvent>,
        seqs: Seqs,
        reply: AppendReply,
    },
    Create {
        new: NewSession,
        /// Stored in the same commit as the session: its opening events.
        events: Vec<NewEvent>,
        /// An import in progress: invisible to readers until revealed.
        hidden: bool,
        reply: oneshot::Sender<Result<Session>>,
    },
    /// A finished import becomes visible and ended, with the model and config its events say it ran with.
    Reveal {
        id: SessionId,
        ran_with: crate::sessions::RanWith,
        reply: oneshot::Sender<Result<Option<Session>>>,
    },
    Update {
        id: SessionId,
        patch: SessionPatch,
        reply: oneshot::Sender<Result<Option<Session>>>,
    },
    Delete {
        id: SessionId,
        reply: oneshot::Sender<Result<bool>>,
    },
    /// A reader waits for everything acknowledged to be committed.
    ReaderWaits,
    /// The store is closing: commit everything durably, empty the log, answer, stop.
    Stop(oneshot::Sender<()>),
}

impl Job {
    fn weight(&self) -> usize {
        match self {
            Job::Append { events, .. } => events.len().max(1),
            _ => 1,
        }
    }

    /// The job was not applied: the store could not write.
    pub(super) fn refuse(self) {
        let e = || Error::NotCommitted;
        match self {
            Job::Append { reply, .. } => drop(reply.send(Err(AppendError::Store(e())))),
            Job::Create { reply, .. } => drop(reply.send(Err(e()))),
            Job::Update { reply, .. } | Job::Reveal { reply, .. } => drop(reply.send(Err(e()))),
            Job::Delete { reply, .. } => drop(reply.send(Err(e()))),
            Job::ReaderWaits | Job::Stop(_) => {}
        }
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Job::Append { .. } => "Append",
            Job::Create { .. } => "Create",
            Job::Update { .. } => "Update",
            Job::Reveal { .. } => "Reveal",
            Job::Delete { .. } => "Delete",
            Job::ReaderWaits => "ReaderWaits",
            Job::Stop(_) => "Stop",
        })
    }
}

/// What the writer gets from its queue.
pub(super) enum Next {
    Group(Vec<Job>),
    /// No job came within the wait.
    Idle,
    /// Every handle is gone.
    Closed,
}

pub(super) struct Queue(flume::Receiver<Job>);

/// The queue, and the sender the store's handles share.
pub(super) fn bounded() -> (flume::Sender<Job>, Queue) {
    let (jobs, rx) = flume::bounded(CAPACITY);
    (jobs, Queue(rx))
}

impl Queue {
    /// Waits for a job (at most `wait`, when given), then takes every job waiting behind it.
    pub(super) fn next(&self, wait: Option<Duration>) -> Next {
        let first = match wait {
            Some(wait) => match self.0.recv_timeout(wait) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => return Next::Idle,
                Err(RecvTimeoutError::Disconnected) => return Next::Closed,
            },
            None => match self.0.recv() {
                Ok(job) => job,
                Err(_) => return Next::Closed,
            },
        };
        let mut weight = first.weight();
        let mut group = vec![first];
        while weight < MAX_GROUP_EVENTS {
            match self.0.try_recv() {
                Ok(job) => {
                    weight += job.weight();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        Next::Group(group)
    }
}
