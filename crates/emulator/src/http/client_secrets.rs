//! `POST /realtime/client_secrets`: mints an `ek_…` key bound to a validated, defaults-filled session.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::AppState;
use super::auth;
use super::error::{ApiError, Result};
use crate::ids;
use crate::params::{choice, integer_in, object, only_keys};
use crate::session::Session;

pub fn router() -> Router<AppState> {
    Router::new().route("/realtime/client_secrets", post(mint))
}

async fn mint(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>> {
    auth::standard(&state, &headers)?;
    AppState::injected(&state.0.faults.mint, &state.0.mint_failures)?;
    let req: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|_| ApiError::InvalidJson)?
    };
    let o = object(&req, "body")?;
    only_keys(o, &["expires_after", "session"], "")?;
    let mut seconds = 600;
    if let Some(ea) = o.get("expires_after") {
        let ea = object(ea, "expires_after")?;
        only_keys(ea, &["anchor", "seconds"], "expires_after")?;
        if let Some(anchor) = ea.get("anchor") {
            choice(anchor, "expires_after.anchor", &["created_at"])?;
        }
        if let Some(s) = ea.get("seconds") {
            seconds = integer_in(s, "expires_after.seconds", 10, 7200)?;
        }
    }
    let session = Session::create(o.get("session"), "session")?;
    let value = ids::ephemeral_key();
    let expires_at = state.config().clock.now_unix() + seconds;
    let body = json!({"value": value, "expires_at": expires_at, "session": session.to_json()});
    state.remember_key(value, session, expires_at);
    Ok(Json(body))
}
