//! A session's events: ingest (acknowledged, idempotent batches), filtered pages, JSONL export and import.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use realtime_store::{
    AppendOutcome, Direction, EventPage, EventQuery, NewEvent, NewSession, Session,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::{ApiError, Result};
use super::json::{body_timed_out, is_timeout, json_error, read_body};
use super::sessions::{check_label, parse_limit, session_id};
use crate::AppState;

/// A batch body may be at most this large.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// A batch may hold at most this many events.
pub const MAX_BATCH_EVENTS: usize = 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sessions/{id}/events", post(ingest).get(list))
        .route("/api/sessions/{id}/events.jsonl", get(export))
        .route("/api/sessions/import", post(import))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
}

async fn ingest(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<AppendOutcome>> {
    let sid = session_id(&id)?;
    let bytes = read_body(body, MAX_BATCH_BYTES).await?;
    let batch: Batch<'_> = serde_json::from_slice(&bytes).map_err(|e| json_error(&e))?;
    if batch.events.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_events",
            format!("a batch may hold at most {MAX_BATCH_EVENTS} events"),
        )
        .with_param("events"));
    }
    let events = batch
        .events
        .iter()
        .enumerate()
        .map(|(i, raw)| NewEvent::parse(raw).map_err(|e| ApiError::event_field(i, e)))
        .collect::<Result<Vec<_>>>()?;
    match state.store.append_events(sid, events).await {
        Err(realtime_store::AppendError::UnknownSession) => Err(ApiError::session_not_found(&id)),
        other => Ok(Json(other?)),
    }
}

#[derive(Deserialize)]
struct ListParams {
    after_seq: Option<String>,
    limit: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    direction: Option<String>,
    q: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<ListParams>,
) -> Result<Json<EventPage>> {
    let sid = session_id(&id)?;
    let after_seq = match p.after_seq.as_deref().filter(|s| !s.is_empty()) {
        None => 0,
        Some(s) => s.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_value",
                "`after_seq` must be an integer >= 0",
                "after_seq",
            )
        })?,
    };
    let direction = match p.direction.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(d) => Some(d.parse::<Direction>().map_err(|()| {
            ApiError::bad_request(
                "invalid_value",
                "`direction` must be one of `client`, `server`, `system`",
                "direction",
            )
        })?),
    };
    let query = EventQuery {
        after_seq,
        limit: parse_limit(p.limit.as_deref(), 100, 1000)?,
        event_type: p.event_type,
        direction,
        q: p.q,
    };
    let page = state.store.list_events(sid, &query).await?;
    page.map(Json)
        .ok_or_else(|| ApiError::session_not_found(&id))
}

async fn export(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let sid = session_id(&id)?;
    let Some(stream) = state.store.export_jsonl(sid).await? else {
        return Err(ApiError::session_not_found(&id));
    };
    let body = Body::from_stream(stream.map(|chunk| {
        chunk.map_err(|e| {
            // Headers are gone by now; the cut-short body is what the client sees.
            tracing::error!(error = %e, "export failed midway");
            std::io::Error::other("export failed")
        })
    }));
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"session-{sid}.jsonl\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

#[derive(Deserialize)]
struct ImportParams {
    label: Option<String>,
}

async fn import(
    State(state): State<AppState>,
    Query(p): Query<ImportParams>,
    body: Body,
) -> Result<(StatusCode, Json<Session>)> {
    let max = state.config.max_import_mib * 1024 * 1024;
    let too_large = Arc::new(AtomicBool::new(false));
    let timed_out = Arc::new(AtomicBool::new(false));
    let (large, slow) = (too_large.clone(), timed_out.clone());
    let mut seen = 0u64;
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(|e| {
            if is_timeout(&e) {
                slow.store(true, Ordering::Relaxed);
            }
            e.to_string()
        })?;
        seen += chunk.len() as u64;
        if seen > max {
            large.store(true, Ordering::Relaxed);
            return Err(format!("the file is larger than {} MiB", max / 1024 / 1024));
        }
        Ok(chunk)
    });
    let new = NewSession {
        label: check_label(p.label)?,
        flow: Some("import".into()),
        ..NewSession::default()
    };
    match state.store.import_jsonl(new, stream).await {
        Ok(session) => Ok((StatusCode::CREATED, Json(session))),
        Err(e) if too_large.load(Ordering::Relaxed) => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            e.to_string(),
        )),
        Err(_) if timed_out.load(Ordering::Relaxed) => Err(body_timed_out()),
        Err(e) => Err(e.into()),
    }
}
