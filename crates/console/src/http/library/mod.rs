//! The session library (`/sessions`) and inspector (`/sessions/{id}`) pages, and the APIs only they use:
//! the live stream, the one-document export and the timeline overview.

mod export;
mod live;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use realtime_store::{Session, SessionId, SessionQuery, Timeline};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::{ApiError, PageError, Result};
use super::extract::{Params, SessionPath};
use crate::AppState;

/// Rows per library page.
const PAGE_ROWS: u32 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions", get(library))
        .route("/sessions/{id}", get(inspector))
        .route("/api/sessions/{id}/live", get(live::live))
        .route("/api/sessions/{id}/export.json", get(export::export_json))
        .route("/api/sessions/{id}/timeline", get(timeline))
        .route("/api/sessions/{id}/types", get(types))
}

fn utc(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// `1:02:03`, `2:03` or `0:04`.
fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The voice of a session config, GA (`audio.output.voice`) or beta (`voice`) shape.
fn voice(s: &Session) -> String {
    let c = s.config.as_ref();
    c.and_then(|c| c.pointer("/audio/output/voice").or_else(|| c.get("voice")))
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// One library row. Cost is worked out in the browser by the console's own pricing module.
struct Row {
    id: String,
    started: String,
    duration: String,
    label: String,
    flow: String,
    model: String,
    voice: String,
    events: i64,
    errors: i64,
    turns: i64,
    tokens: i64,
    usage: String,
    call_id: String,
    live: bool,
    ended: bool,
    seeded_from: String,
    /// Where the session came from, in words: the console page, a gateway WebSocket, …
    source: &'static str,
    user_agent: String,
    /// Why the recording lacks events; empty when nothing is known to be missing.
    incomplete: String,
}

/// Where a session of `flow` came from, for the library.
fn source(flow: &str) -> &'static str {
    match flow {
        "ephemeral" | "unified" => "console page",
        "gateway_ws" => "gateway WebSocket",
        "gateway_call" => "gateway call",
        "page" => "your page (recorder.js)",
        "sideband" => "sideband",
        "import" => "import",
        _ => "recording API",
    }
}

impl From<&Session> for Row {
    fn from(s: &Session) -> Self {
        let span = match (s.stats.first_event_ts, s.stats.last_event_ts) {
            (Some(a), Some(b)) => (b - a) as i64,
            _ => s.ended_at.map_or(0, |e| e - s.created_at),
        };
        Row {
            id: s.id.to_string(),
            started: utc(s.created_at),
            duration: duration(span),
            label: s.label.clone(),
            flow: s.flow.clone(),
            model: s.model.clone().unwrap_or_default(),
            voice: voice(s),
            events: s.stats.events.total,
            errors: s.stats.errors,
            turns: s.stats.responses,
            tokens: s.stats.usage.total_tokens,
            usage: serde_json::to_string(&s.stats.usage).unwrap_or_default(),
            call_id: s.call_id.clone().unwrap_or_default(),
            live: s.live,
            ended: s.ended_at.is_some(),
            seeded_from: s.seeded_from.map(|p| p.to_string()).unwrap_or_default(),
            source: source(&s.flow),
            user_agent: s.user_agent.clone().unwrap_or_default(),
            incomplete: s.incomplete.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "sessions.html")]
struct LibraryPage {
    nav: &'static str,
    q: String,
    rows: Vec<Row>,
    next_before: Option<String>,
    first_page: bool,
}

#[derive(Deserialize)]
struct LibraryParams {
    before: Option<String>,
    q: Option<String>,
}

/// A page's query is read leniently: a link with a stray parameter still shows the library.
async fn library(
    State(state): State<AppState>,
    Query(p): Query<LibraryParams>,
) -> Result<LibraryPage, PageError> {
    let q = p.q.unwrap_or_default().trim().to_owned();
    let before = p.before.as_deref().and_then(SessionId::parse);
    let query = SessionQuery {
        limit: PAGE_ROWS,
        before,
        q: (!q.is_empty()).then(|| q.clone()),
    };
    let page = state.store.list_sessions(&query).await?;
    Ok(LibraryPage {
        nav: "sessions",
        q,
        rows: page.sessions.iter().map(Row::from).collect(),
        next_before: page.next_before.map(|id| id.to_string()),
        first_page: before.is_none(),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "session.html")]
struct InspectorPage {
    nav: &'static str,
    row: Row,
}

async fn inspector(
    State(state): State<AppState>,
    path: Result<SessionPath, ApiError>,
) -> Result<InspectorPage, PageError> {
    let SessionPath(id) = path?;
    let session = state.store.get_session(id).await?;
    let s = session.ok_or_else(|| ApiError::SessionNotFound(id.to_string()))?;
    Ok(InspectorPage {
        nav: "sessions",
        row: Row::from(&s),
    })
}

#[derive(Deserialize)]
struct TimelineParams {
    samples: Option<u32>,
}

async fn timeline(
    State(state): State<AppState>,
    SessionPath(id): SessionPath,
    Params(p): Params<TimelineParams>,
) -> Result<Json<Timeline>> {
    let t = state.store.timeline(id, p.samples.unwrap_or(200)).await?;
    t.map(Json)
        .ok_or_else(|| ApiError::SessionNotFound(id.to_string()))
}

#[derive(Serialize)]
struct TypeCount {
    #[serde(rename = "type")]
    event_type: String,
    count: i64,
}

/// `{"types":[{"type","count"}]}`: the session's event types, for the inspector's filters.
async fn types(State(state): State<AppState>, SessionPath(id): SessionPath) -> Result<Json<Value>> {
    let Some(types) = state.store.event_types(id).await? else {
        return Err(ApiError::SessionNotFound(id.to_string()));
    };
    let types: Vec<TypeCount> = types
        .into_iter()
        .map(|(event_type, count)| TypeCount { event_type, count })
        .collect();
    Ok(Json(json!({ "types": types })))
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(super::duration(4_000), "0:04");
        assert_eq!(super::duration(123_000), "2:03");
        assert_eq!(super::duration(3_723_000), "1:02:03");
    }
}
