//! `/api/sessions`: create, list, read, update and delete recorded sessions.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use realtime_store::{NewSession, Session, SessionId, SessionPage, SessionPatch, SessionQuery};
use realtime_token::CallId;
use serde::Deserialize;

use super::error::{ApiError, Result};
use super::json::{parse_json, parse_json_or_default, read_body};
use crate::AppState;

const MAX_SESSION_BODY: usize = 1024 * 1024;
const MAX_LABEL_CHARS: usize = 200;
/// Model names are short (`gpt-realtime-2025-08-28`).
const MAX_MODEL_CHARS: usize = 128;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sessions", post(create).get(list))
        .route("/api/sessions/{id}", get(read).patch(update).delete(remove))
}

/// Parses a session id from the path; a malformed id is simply not found.
pub fn session_id(raw: &str) -> Result<SessionId> {
    SessionId::parse(raw).ok_or_else(|| ApiError::session_not_found(raw))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    label: Option<String>,
    flow: Option<String>,
    model: Option<String>,
    config: Option<serde_json::Value>,
}

/// A label is free text of at most [`MAX_LABEL_CHARS`] characters; answers it back when it is fine.
pub(super) fn check_label(label: Option<String>) -> Result<Option<String>> {
    if label
        .as_ref()
        .is_some_and(|l| l.chars().count() > MAX_LABEL_CHARS)
    {
        return Err(ApiError::bad_request(
            "invalid_value",
            format!("`label` may be at most {MAX_LABEL_CHARS} characters"),
            "label",
        ));
    }
    Ok(label)
}

async fn create(State(state): State<AppState>, body: Body) -> Result<(StatusCode, Json<Session>)> {
    let bytes = read_body(body, MAX_SESSION_BODY).await?;
    let body: CreateBody = parse_json_or_default(&bytes)?;
    let label = check_label(body.label)?;
    if let Some(flow) = &body.flow {
        let ok = !flow.is_empty()
            && flow.len() <= 32
            && flow
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !ok {
            return Err(ApiError::bad_request(
                "invalid_value",
                "`flow` must be a short lowercase name such as `ephemeral`, `unified` or `import`",
                "flow",
            ));
        }
    }
    if body
        .model
        .as_ref()
        .is_some_and(|m| m.chars().count() > MAX_MODEL_CHARS)
    {
        return Err(ApiError::bad_request(
            "invalid_value",
            format!("`model` may be at most {MAX_MODEL_CHARS} characters"),
            "model",
        ));
    }
    if body.config.as_ref().is_some_and(|c| !c.is_object()) {
        return Err(ApiError::bad_request(
            "invalid_value",
            "`config` must be a JSON object",
            "config",
        ));
    }
    let session = state
        .store
        .create_session(NewSession {
            label,
            flow: body.flow,
            model: body.model,
            config: body.config,
            call_id: None,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(session)))
}

#[derive(Deserialize)]
struct ListParams {
    limit: Option<String>,
    before: Option<String>,
    q: Option<String>,
}

pub(super) fn parse_limit(raw: Option<&str>, default: u32, max: u32) -> Result<u32> {
    match raw {
        None | Some("") => Ok(default),
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_value",
                    format!("`limit` must be an integer from 1 to {max}"),
                    "limit",
                )
            }),
    }
}

async fn list(
    State(state): State<AppState>,
    Query(p): Query<ListParams>,
) -> Result<Json<SessionPage>> {
    let before = match p.before.as_deref().filter(|b| !b.is_empty()) {
        None => None,
        Some(b) => Some(SessionId::parse(b).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_value",
                "`before` must be a session id from `next_before`",
                "before",
            )
        })?),
    };
    let query = SessionQuery {
        limit: parse_limit(p.limit.as_deref(), 50, 500)?,
        before,
        q: p.q,
    };
    Ok(Json(state.store.list_sessions(&query).await?))
}

async fn read(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Session>> {
    let sid = session_id(&id)?;
    let session = state.store.get_session(sid).await?;
    session
        .map(Json)
        .ok_or_else(|| ApiError::session_not_found(&id))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    label: Option<String>,
    ended: Option<bool>,
    /// The session this one was seeded from ("Open in console"); set once.
    seeded_from: Option<String>,
    /// The upstream call of an ephemeral-flow session, which only the browser learns (from the `Location`
    /// of its SDP answer); set once.
    call_id: Option<String>,
}

async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Json<Session>> {
    let sid = session_id(&id)?;
    let body: PatchBody = parse_json(&read_body(body, MAX_SESSION_BODY).await?)?;
    let label = check_label(body.label)?;
    if body.ended == Some(false) {
        return Err(ApiError::bad_request(
            "invalid_value",
            "an ended session cannot be reopened; send `\"ended\": true` or leave it out",
            "ended",
        ));
    }
    let seeded_from = match body.seeded_from.as_deref() {
        None => None,
        Some(raw) => Some(SessionId::parse(raw).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_value",
                "`seeded_from` must be a session id",
                "seeded_from",
            )
        })?),
    };
    let call_id = match body.call_id.as_deref() {
        None => None,
        Some(raw) => Some(
            CallId::parse(raw)
                .map_err(|_| {
                    ApiError::bad_request(
                        "invalid_value",
                        "`call_id` must be a call id such as `rtc_…`",
                        "call_id",
                    )
                })?
                .to_string(),
        ),
    };
    let patch = SessionPatch {
        label,
        call_id,
        ended: body.ended == Some(true),
        seeded_from,
    };
    let session = state.store.update_session(sid, patch).await?;
    session
        .map(Json)
        .ok_or_else(|| ApiError::session_not_found(&id))
}

async fn remove(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode> {
    let sid = session_id(&id)?;
    if state.store.delete_session(sid).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::session_not_found(&id))
    }
}
