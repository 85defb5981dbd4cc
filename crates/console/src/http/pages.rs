//! Server-rendered pages. Autoescape is on: labels and other recorded text reach the page as text.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(index)).fallback(not_found)
}

/// The live console. Everything it does happens in the browser (`static/js/console.js`); the page says
/// which upstream and model the server uses.
#[derive(Template, WebTemplate)]
#[template(path = "index.html")]
struct IndexPage {
    nav: &'static str,
    /// `emulator` or `openai`.
    upstream: &'static str,
    model: String,
}

async fn index(State(state): State<AppState>) -> IndexPage {
    IndexPage {
        nav: "console",
        upstream: state.upstream.name(),
        model: state.config.model.clone(),
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: &'static str,
    status: StatusCode,
    message: String,
}

pub(super) fn error_page(status: StatusCode, message: &str) -> Response {
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
