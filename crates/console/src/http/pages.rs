//! Server-rendered pages. Autoescape is on: labels and other recorded text reach the page as text.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use realtime_store::{Session, SessionId, SessionQuery};
use serde::Deserialize;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/sessions", get(sessions))
        .fallback(not_found)
}

#[derive(Template, WebTemplate)]
#[template(path = "index.html")]
struct IndexPage {
    nav: &'static str,
}

async fn index() -> IndexPage {
    IndexPage { nav: "console" }
}

struct Row {
    id: String,
    started: String,
    label: String,
    flow: String,
    model: String,
    events: i64,
    errors: i64,
    responses: i64,
    tokens: i64,
    ended: bool,
}

impl From<&Session> for Row {
    fn from(s: &Session) -> Self {
        let started =
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(s.created_at) * 1_000_000)
                .ok()
                .and_then(|t| {
                    t.format(time::macros::format_description!(
                        "[year]-[month]-[day] [hour]:[minute]:[second]"
                    ))
                    .ok()
                })
                .unwrap_or_default();
        Row {
            id: s.id.to_string(),
            started,
            label: s.label.clone(),
            flow: s.flow.clone(),
            model: s.model.clone().unwrap_or_default(),
            events: s.stats.events.total,
            errors: s.stats.errors,
            responses: s.stats.responses,
            tokens: s.stats.usage.total_tokens,
            ended: s.ended_at.is_some(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "sessions.html")]
struct SessionsPage {
    nav: &'static str,
    rows: Vec<Row>,
    next_before: Option<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: &'static str,
    status: StatusCode,
    message: String,
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let page = ErrorPage {
        nav: "",
        status,
        message: message.to_owned(),
    };
    match page.render() {
        Ok(html) => (status, axum::response::Html(html)).into_response(),
        Err(_) => status.into_response(),
    }
}

#[derive(Deserialize)]
struct SessionsParams {
    before: Option<String>,
}

async fn sessions(State(state): State<AppState>, Query(p): Query<SessionsParams>) -> Response {
    let query = SessionQuery {
        limit: 100,
        before: p.before.as_deref().and_then(SessionId::parse),
        q: None,
    };
    match state.store.list_sessions(&query).await {
        Ok(page) => SessionsPage {
            nav: "sessions",
            rows: page.sessions.iter().map(Row::from).collect(),
            next_before: page.next_before.map(|id| id.to_string()),
        }
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "listing sessions");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The sessions could not be read.",
            )
        }
    }
}

async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return super::error::envelope(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint",
            None,
        );
    }
    error_page(StatusCode::NOT_FOUND, "There is no page here.")
}
