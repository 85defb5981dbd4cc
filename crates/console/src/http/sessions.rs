//! `/api/sessions`: create, list, read, update and delete recorded sessions.

use std::str::FromStr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use realtime_store::{NewSession, Session, SessionId, SessionPage, SessionPatch, SessionQuery};
use realtime_token::CallId;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::error::{ApiError, Code, Result};
use super::extract::{
    self, JsonOrDefault, Label, Limit, Params, SessionPath, UserAgent, empty_as_none,
};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sessions", post(create).get(list))
        .route("/api/sessions/{id}", get(read).patch(update).delete(remove))
}

/// A session's `flow`: a short lowercase name such as `ephemeral`, `unified` or `import`.
#[derive(Debug)]
struct Flow(String);

impl<'de> Deserialize<'de> for Flow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let flow = String::deserialize(d)?;
        let ok = !flow.is_empty()
            && flow.len() <= 32
            && flow
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !ok {
            return Err(serde::de::Error::custom(
                "`flow` must be a short lowercase name such as `ephemeral`, `unified` or `import`",
            ));
        }
        Ok(Flow(flow))
    }
}

/// A model name: short (`gpt-realtime-2025-08-28`).
#[derive(Debug)]
struct Model(String);

impl Model {
    const MAX_CHARS: usize = 128;
}

impl<'de> Deserialize<'de> for Model {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let model = String::deserialize(d)?;
        if model.chars().count() > Self::MAX_CHARS {
            return Err(serde::de::Error::custom(format!(
                "`model` may be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        Ok(Model(model))
    }
}

#[derive(Deserialize, Default)]
struct CreateBody {
    label: Option<Label>,
    flow: Option<Flow>,
    model: Option<Model>,
    config: Option<Map<String, Value>>,
}

async fn create(
    State(state): State<AppState>,
    UserAgent(user_agent): UserAgent,
    JsonOrDefault(body): JsonOrDefault<CreateBody>,
) -> Result<(StatusCode, Json<Session>)> {
    let session = state
        .store
        .create_session(NewSession {
            label: body.label.map(|l| l.0),
            flow: body.flow.map(|f| f.0),
            model: body.model.map(|m| m.0),
            config: body.config.map(Value::Object),
            call_id: None,
            user_agent,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// `?before=`: a session id from `next_before`.
struct Before(SessionId);

impl FromStr for Before {
    type Err = &'static str;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        SessionId::parse(s)
            .map(Before)
            .ok_or("must be a session id from `next_before`")
    }
}

#[derive(Deserialize)]
struct ListParams {
    #[serde(default, deserialize_with = "empty_as_none")]
    limit: Option<Limit<50, 500>>,
    #[serde(default, deserialize_with = "empty_as_none")]
    before: Option<Before>,
    q: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Params(p): Params<ListParams>,
) -> Result<Json<SessionPage>> {
    let query = SessionQuery {
        limit: p.limit.unwrap_or_default().0,
        before: p.before.map(|b| b.0),
        q: p.q,
    };
    Ok(Json(state.store.list_sessions(&query).await?))
}

async fn read(
    State(state): State<AppState>,
    SessionPath(id): SessionPath,
) -> Result<Json<Session>> {
    let session = state.store.get_session(id).await?;
    session
        .map(Json)
        .ok_or_else(|| ApiError::SessionNotFound(id.to_string()))
}

#[derive(Deserialize)]
struct PatchBody {
    label: Option<Label>,
    ended: Option<bool>,
    /// The session this one was seeded from ("Open in console"); set once.
    #[serde(default, deserialize_with = "seeded_from")]
    seeded_from: Option<SessionId>,
    /// The upstream call of an ephemeral-flow session, which only the browser learns (from the `Location`
    /// of its SDP answer); set once.
    #[serde(default, deserialize_with = "call_id")]
    call_id: Option<CallId>,
}

fn seeded_from<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<SessionId>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|raw| {
            SessionId::parse(&raw)
                .ok_or_else(|| serde::de::Error::custom("`seeded_from` must be a session id"))
        })
        .transpose()
}

fn call_id<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<CallId>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|raw| {
            CallId::parse(&raw).map_err(|_| {
                serde::de::Error::custom("`call_id` must be a call id such as `rtc_…`")
            })
        })
        .transpose()
}

async fn update(
    State(state): State<AppState>,
    SessionPath(id): SessionPath,
    extract::Json(body): extract::Json<PatchBody>,
) -> Result<Json<Session>> {
    if body.ended == Some(false) {
        return Err(ApiError::field(
            Code::InvalidValue,
            "an ended session cannot be reopened; send `\"ended\": true` or leave it out",
            "ended",
        ));
    }
    let patch = SessionPatch {
        label: body.label.map(|l| l.0),
        call_id: body.call_id.map(|c| c.to_string()),
        ended: body.ended == Some(true),
        seeded_from: body.seeded_from,
        incomplete: None,
    };
    let reported = patch.call_id.clone();
    let session = state.store.update_session(id, patch).await?;
    // A call id the browser reports (an ephemeral-key call, a page with recorder.js): capture the call.
    if let (Some(session), Some(reported)) = (&session, reported)
        && session.call_id.as_deref() == Some(reported.as_str())
        && !state.taps.is_tapped(id)
        && let Ok(call_id) = realtime_token::CallId::parse(&reported)
    {
        super::gateway::capture(&state, id, call_id, super::gateway::CaptureKey::Server);
    }
    session
        .map(Json)
        .ok_or_else(|| ApiError::SessionNotFound(id.to_string()))
}

async fn remove(State(state): State<AppState>, SessionPath(id): SessionPath) -> Result<StatusCode> {
    if state.store.delete_session(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::SessionNotFound(id.to_string()))
    }
}
