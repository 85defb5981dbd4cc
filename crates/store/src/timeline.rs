//! The overview of a session the inspector draws across its top: event density over time, turns and
//! errors. Read in a few hundred index seeks, so a session of a million events costs what a small one does.

use serde::Serialize;
use sqlx::{QueryBuilder, Row, Sqlite};
use tracing::instrument;

use crate::domain::SessionId;
use crate::{Result, Store};

/// Turns and errors listed at most; a longer session shows its first ones.
const MAX_MARKS: i64 = 5_000;
/// Samples at most (SQLite's limit on the terms of one compound SELECT is 500).
const MAX_SAMPLES: u32 = 400;

/// An event's place on the timeline.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Mark {
    pub seq: i64,
    pub ts: f64,
}

/// `points` sample the session at evenly spaced `ingest_no`s (commit order): between two points lie
/// `ingest_no` differences' worth of events, so events per ms between them is the density.
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub points: Vec<TimelinePoint>,
    /// `response.done` events.
    pub turns: Vec<Mark>,
    pub errors: Vec<Mark>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct TimelinePoint {
    pub ingest_no: i64,
    pub seq: i64,
    pub ts: f64,
}

impl Store {
    /// `None` if the session does not exist. `samples` is clamped to 2..=400.
    #[instrument(skip_all)]
    pub async fn timeline(&self, id: SessionId, samples: u32) -> Result<Option<Timeline>> {
        self.wait_until_committed().await?;
        let Some(pk) = self.session_pk(id).await? else {
            return Ok(None);
        };
        let mut conn = self.pool.acquire().await?;
        let max: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(ingest_no), 0) FROM events WHERE session_pk = ?",
        )
        .bind(pk)
        .fetch_one(&mut *conn)
        .await?;
        let samples = i64::from(samples.clamp(2, MAX_SAMPLES));
        let mut targets: Vec<i64> = (0..samples)
            .map(|i| 1 + (max - 1).max(0) * i / (samples - 1))
            .collect();
        targets.dedup();
        let mut points: Vec<TimelinePoint> = Vec::new();
        if max > 0 {
            // One statement, one index seek per sample: a round trip per sample would cost more than the seeks.
            let mut sql = QueryBuilder::<Sqlite>::new("");
            for (i, target) in targets.iter().enumerate() {
                if i > 0 {
                    sql.push(" UNION ALL ");
                }
                sql.push(
                    "SELECT * FROM (SELECT ingest_no, seq, ts FROM events WHERE session_pk = ",
                )
                .push_bind(pk)
                .push(" AND ingest_no >= ")
                .push_bind(*target)
                .push(" ORDER BY ingest_no LIMIT 1)");
            }
            for r in sql.build().fetch_all(&mut *conn).await? {
                points.push(TimelinePoint {
                    ingest_no: r.try_get(0)?,
                    seq: r.try_get(1)?,
                    ts: r.try_get(2)?,
                });
            }
            points.sort_by_key(|p| p.ingest_no);
            points.dedup_by_key(|p| p.ingest_no);
        }
        let marks = |ty: &'static str| {
            sqlx::query(
                // Without statistics the planner walks the whole session in seq order to skip a sort; the
                // type index is the range it needs (a sparse type: 0.3 ms instead of a full scan).
                "SELECT seq, ts FROM events INDEXED BY events_by_type \
                 WHERE session_pk = ? AND type = ? ORDER BY seq LIMIT ?",
            )
            .bind(pk)
            .bind(ty)
            .bind(MAX_MARKS)
        };
        let turns = marks("response.done").fetch_all(&mut *conn).await?;
        let errors = marks("error").fetch_all(&mut *conn).await?;
        let to_marks = |rows: Vec<sqlx::sqlite::SqliteRow>| {
            rows.iter()
                .map(|r| {
                    Ok(Mark {
                        seq: r.try_get(0)?,
                        ts: r.try_get(1)?,
                    })
                })
                .collect::<Result<Vec<_>>>()
        };
        Ok(Some(Timeline {
            points,
            turns: to_marks(turns)?,
            errors: to_marks(errors)?,
        }))
    }
}
