//! `/api/rt/*`, where the browser gets into a Realtime session with the server's key kept on the server:
//! `/api/rt/token` mints an ephemeral key, `/api/rt/session` forwards an SDP offer (the unified interface)
//! and `/api/rt/session/{id}/hangup` ends that call. Each creates or updates a console session and records
//! what happened in it as `system` events ([`record`] explains their seqs).

mod limit;
mod override_values;
pub(super) mod overrides;
mod record;
mod session;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use realtime_store::{NewSession, SessionId, SessionPatch};
use realtime_token::SessionConfig;
use serde::Deserialize;
use serde_json::{Value, json};
use tower_http::set_header::SetResponseHeaderLayer;

use super::error::{ApiError, Result};
use super::extract::{JsonOrDefault, Label, Params, UserAgent};
use super::origin::RequestOrigin;
use crate::AppState;
use limit::Admitted;
pub use limit::RtRateLimit;
pub(crate) use record::{
    FIRST_BROWSER_SEQ, RecordError, later as record_later, now_ms, opening_event,
};

/// A token request is a few overrides and a label; tool schemas fit easily.
const MAX_TOKEN_BODY: usize = 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/rt/token", post(token_post).get(token_get))
        .route("/api/rt/session", post(session::create))
        .route("/api/rt/session/{id}/hangup", post(session::hangup))
        // Keys, SDP and call ids are for one client, once.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

#[derive(Deserialize, Default)]
struct TokenBody {
    /// Overrides of the server's default session.
    session: Option<Value>,
    label: Option<Label>,
}

/// `?label=`, the only parameter `/api/rt/*` takes.
#[derive(Deserialize, Default)]
struct LabelQuery {
    label: Option<Label>,
}

async fn token_post(
    _: Admitted,
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    UserAgent(user_agent): UserAgent,
    JsonOrDefault(body): JsonOrDefault<TokenBody, MAX_TOKEN_BODY>,
) -> Result<Response> {
    mint(&state, origin.as_deref(), user_agent, body).await
}

/// `GET /api/rt/token[?label=…]`, for clients written after the seed example: the defaults, no overrides.
async fn token_get(
    _: Admitted,
    State(state): State<AppState>,
    RequestOrigin(origin): RequestOrigin,
    UserAgent(user_agent): UserAgent,
    Params(query): Params<LabelQuery>,
) -> Result<Response> {
    let body = TokenBody {
        session: None,
        label: query.label,
    };
    mint(&state, origin.as_deref(), user_agent, body).await
}

/// Mints a key for the effective session; answers the upstream's JSON plus a `console` object with the
/// new console session, where to post the SDP offer (absolute, on `origin` for the emulator) and the
/// browser's first seq.
async fn mint(
    state: &AppState,
    origin: Option<&str>,
    user_agent: Option<String>,
    body: TokenBody,
) -> Result<Response> {
    let label = Opened {
        flow: "ephemeral",
        label: body.label.map(|l| l.0),
        user_agent,
    };
    let session = overrides::effective_session(&state.settings, body.session.as_ref())?;
    let client = state.upstream.client()?;
    let secret = match client
        .create_client_secret(Some(&session), Some(state.settings.token_ttl))
        .await
    {
        Ok(secret) => secret,
        Err(e) => {
            let sid = open_session(state, label, &session).await?;
            return Err(failed(state, sid, "client_secrets", &e, When::Opening).await);
        }
    };
    // The session and its opening event are written in one commit, after the mint: one fsync on the path.
    let opening = json!({
        "type": "console.token",
        "upstream": state.upstream.name(),
        "key": secret.fingerprint(),
        "expires_at": secret.expires_at,
        "session": secret.session.to_json(),
    });
    let sid = open_session_with(state, label, &session, None, &opening).await?;
    let mut response = secret.expose_response_json().clone();
    if let Some(object) = response.as_object_mut() {
        object.insert(
            "console".to_owned(),
            json!({
                "session_id": sid,
                "calls_url": state.upstream.calls_url(origin),
                "next_seq": record::FIRST_BROWSER_SEQ,
            }),
        );
    }
    Ok(Json(response).into_response())
}

/// Who opened a console session, and how.
struct Opened {
    flow: &'static str,
    label: Option<String>,
    user_agent: Option<String>,
}

/// Creates the console session of a successful mint or call, with its opening event, in one commit.
async fn open_session_with(
    state: &AppState,
    opened: Opened,
    session: &SessionConfig,
    call_id: Option<String>,
    opening: &serde_json::Value,
) -> Result<SessionId> {
    let created = state
        .store
        .create_session_with(
            NewSession {
                label: opened.label,
                flow: Some(opened.flow.to_owned()),
                model: session.model.clone(),
                config: Some(session.to_json()),
                call_id,
                user_agent: opened.user_agent,
            },
            vec![record::opening_event(opening)?],
        )
        .await?;
    Ok(created.id)
}

/// Creates the console session a failed mint or call is recorded in.
async fn open_session(
    state: &AppState,
    opened: Opened,
    session: &SessionConfig,
) -> Result<SessionId> {
    let created = state
        .store
        .create_session(NewSession {
            label: opened.label,
            flow: Some(opened.flow.to_owned()),
            model: session.model.clone(),
            config: Some(session.to_json()),
            call_id: None,
            user_agent: opened.user_agent,
        })
        .await?;
    Ok(created.id)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum When {
    /// The request that created the session: the failure is its opening event, and the session is over.
    Opening,
    /// A later request on a live session.
    Later,
}

/// Records an upstream failure as an `error` system event of the session and maps it for the client.
async fn failed(
    state: &AppState,
    sid: SessionId,
    operation: &str,
    e: &realtime_token::Error,
    when: When,
) -> ApiError {
    let public = e.to_public();
    let event = json!({
        "type": "error",
        "operation": operation,
        "status": public.status.as_u16(),
        "upstream_status": e.upstream_status().map(|s| s.as_u16()),
        "error": public.body.error,
    });
    let recorded = match when {
        When::Opening => record::opening(&state.store, sid, &event).await,
        When::Later => record::later(&state.store, sid, &event).await,
    };
    if let Err(err) = recorded {
        tracing::error!(error = %err, session = %sid, "could not record an upstream failure");
    }
    if when == When::Opening {
        let ended = SessionPatch {
            ended: true,
            ..SessionPatch::default()
        };
        if let Err(err) = state.store.update_session(sid, ended).await {
            tracing::error!(error = %err, session = %sid, "could not end a failed session");
        }
    }
    ApiError::Upstream {
        public: Box::new(public),
        session: Some(sid),
    }
}
