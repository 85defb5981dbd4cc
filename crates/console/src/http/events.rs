//! A session's events: ingest (acknowledged, idempotent batches), filtered pages, JSONL export and import.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use futures::StreamExt;
use realtime_store::{
    AppendError, AppendOutcome, AudioPayloads, Direction, EventPage, EventQuery, NewEvent,
    NewSession, Session,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::{ApiError, Code, Result};
use super::extract::{
    Cursor, Label, Limit, Params, SessionPath, body_timed_out, empty_as_none, is_timeout,
    parse_json, read_body,
};
use crate::AppState;

/// A batch body may be at most this large.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// A batch may hold at most this many events.
pub const MAX_BATCH_EVENTS: usize = 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sessions/{id}/events", post(ingest).get(list))
        .route("/api/sessions/{id}/events.jsonl", get(export))
        .route("/api/sessions/{id}/bundle.jsonl", get(export_bundle))
        .route("/api/sessions/import", post(import))
}

/// The elements stay raw: each is checked on its own, so an error names `events[i]` and its field.
#[derive(Deserialize)]
struct Batch<'a> {
    #[serde(borrow)]
    events: Option<Vec<&'a RawValue>>,
}

async fn ingest(
    State(state): State<AppState>,
    SessionPath(id): SessionPath,
    body: Body,
) -> Result<Json<AppendOutcome>> {
    let bytes = read_body(body, MAX_BATCH_BYTES).await?;
    let batch: Batch<'_> = parse_json(&bytes)?;
    let Some(events) = batch.events else {
        return Err(ApiError::field(
            Code::MissingRequiredParameter,
            "missing `events`",
            "events",
        ));
    };
    if events.len() > MAX_BATCH_EVENTS {
        return Err(ApiError::field(
            Code::TooManyEvents,
            format!("a batch may hold at most {MAX_BATCH_EVENTS} events"),
            "events",
        ));
    }
    let events = events
        .iter()
        .enumerate()
        .map(|(i, raw)| NewEvent::parse(raw).map_err(|e| ApiError::event_field(i, e)))
        .collect::<Result<Vec<_>>>()?;
    // Before the append: a sideband's copy waiting in the tap is dropped even if this answer is lost (the
    // browser then resends, and the store takes the resend).
    state.taps.forwarded(id, &events);
    match state.store.append_events(id, events).await {
        Err(AppendError::UnknownSession) => Err(ApiError::SessionNotFound(id.to_string())),
        other => Ok(Json(other?)),
    }
}

/// `?direction=`: one of the three.
struct DirectionParam(Direction);

impl FromStr for DirectionParam {
    type Err = &'static str;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        s.parse()
            .map(DirectionParam)
            .map_err(|()| "must be one of `client`, `server`, `system`")
    }
}

#[derive(Deserialize)]
struct ListParams {
    #[serde(default, deserialize_with = "empty_as_none")]
    after_seq: Option<Cursor>,
    #[serde(default, deserialize_with = "empty_as_none")]
    limit: Option<Limit<100, 1000>>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    #[serde(default, deserialize_with = "empty_as_none")]
    direction: Option<DirectionParam>,
    q: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    SessionPath(id): SessionPath,
    Params(p): Params<ListParams>,
) -> Result<Json<EventPage>> {
    let query = EventQuery {
        after_seq: p.after_seq.unwrap_or_default().0,
        limit: p.limit.unwrap_or_default().0,
        event_type: p.event_type,
        direction: p.direction.map(|d| d.0),
        q: p.q,
    };
    let page = state.store.list_events(id, &query).await?;
    page.map(Json)
        .ok_or_else(|| ApiError::SessionNotFound(id.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportParams {
    /// `references`: events whose audio is in the session's tracks keep the store's small reference in place
    /// of the base64 payload. By default the payloads are put back: the events as they went over the wire.
    audio: Option<String>,
}

async fn export(
    State(state): State<AppState>,
    SessionPath(id): SessionPath,
    Params(params): Params<ExportParams>,
) -> Result<Response> {
    let payloads = match params.audio.as_deref() {
        None | Some("payloads") => AudioPayloads::Restored,
        Some("references") => AudioPayloads::References,
        Some(other) => {
            return Err(ApiError::field(
                Code::InvalidValue,
                format!(
                    "`{other}` is not an export's audio: use `payloads` (the default) or `references`"
                ),
                "audio",
            ));
        }
    };
    let Some(stream) = state.store.export_jsonl_with(id, payloads).await? else {
        return Err(ApiError::SessionNotFound(id.to_string()));
    };
    let body = Body::from_stream(stream.map(|chunk| {
        chunk.map_err(|e| {
            // Headers are gone by now; the cut-short body is what the client sees.
            tracing::error!(error = %e, "export failed midway");
            std::io::Error::other("export failed")
        })
    }));
    Ok(attachment(
        body,
        "application/x-ndjson",
        &format!("session-{id}.jsonl"),
    ))
}

/// The session as one file, events and audio, that import takes back whole (see `Store::export_bundle`).
async fn export_bundle(
    State(state): State<AppState>,
    SessionPath(id): SessionPath,
) -> Result<Response> {
    let Some(stream) = state.store.export_bundle(id).await? else {
        return Err(ApiError::SessionNotFound(id.to_string()));
    };
    let body = Body::from_stream(stream.map(|chunk| {
        chunk.map_err(|e| {
            tracing::error!(error = %e, "bundle export failed midway");
            std::io::Error::other("export failed")
        })
    }));
    Ok(attachment(
        body,
        "application/x-ndjson",
        &format!("session-{id}.bundle.jsonl"),
    ))
}

/// A streamed download.
pub fn attachment(body: Body, content_type: &'static str, filename: &str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

#[derive(Deserialize)]
struct ImportParams {
    label: Option<Label>,
}

async fn import(
    State(state): State<AppState>,
    Params(p): Params<ImportParams>,
    body: Body,
) -> Result<(StatusCode, Json<Session>)> {
    let max = state.settings.max_import_bytes;
    // Why the upload stopped, when it was the upload's fault rather than a line's.
    let stopped: Arc<OnceLock<ApiError>> = Arc::default();
    let why = stopped.clone();
    let mut seen = 0u64;
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk: Bytes = chunk.map_err(|e| {
            if is_timeout(&e) {
                let _ = why.set(body_timed_out());
            }
            e.to_string()
        })?;
        seen += chunk.len() as u64;
        if seen > max {
            let message = format!("the file is larger than {} MiB", max / 1024 / 1024);
            let _ = why.set(ApiError::invalid(Code::RequestTooLarge, message.clone()));
            return Err(message);
        }
        Ok(chunk)
    });
    let new = NewSession {
        label: p.label.map(|l| l.0),
        flow: Some("import".into()),
        ..NewSession::default()
    };
    match state.store.import_jsonl(new, stream).await {
        Ok(session) => Ok((StatusCode::CREATED, Json(session))),
        Err(e) => Err(Arc::into_inner(stopped)
            .and_then(OnceLock::into_inner)
            .unwrap_or_else(|| e.into())),
    }
}
