//! Server-rendered pages. Autoescape is on: labels and other recorded text reach the page as text.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;

use super::error::{Code, envelope, error_page};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(index))
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
    /// The other models a client may ask for (`--allowed-models`), offered by the config's model picker.
    allowed_models: Vec<String>,
    /// The fields a session override may hold at each level, as JSON (`{"session": [...], ...}`): the page
    /// cuts a seeded config to them (`static/js/console/seed.js`).
    allowed_overrides: String,
}

async fn index(State(state): State<AppState>) -> IndexPage {
    let model = state.settings.model.clone();
    let allowed_models = (state.settings.allowed_models.iter())
        .filter(|m| **m != model)
        .cloned()
        .collect();
    let allowed_overrides = serde_json::Value::Object(
        (super::rt::overrides::ALLOWED_FIELDS.iter())
            .map(|(level, fields)| ((*level).to_owned(), serde_json::json!(fields)))
            .collect(),
    )
    .to_string();
    IndexPage {
        nav: "console",
        upstream: state.upstream.name(),
        model,
        allowed_models,
        allowed_overrides,
    }
}

/// A JSON API's path: what it does not serve is answered with the API's envelope, not a page.
pub(super) fn is_api(path: &str) -> bool {
    ["/api", "/v1", "/emulator"]
        .iter()
        .any(|root| path == *root || path.starts_with(&format!("{root}/")))
}

/// No route for the path: the upstream API's 404 (`Invalid URL (…)`) under the APIs, a page elsewhere.
pub(super) async fn not_found(method: Method, uri: Uri) -> Response {
    if is_api(uri.path()) {
        return unknown_url(Code::UnknownUrl, &method, &uri);
    }
    error_page(StatusCode::NOT_FOUND, "There is no page here.")
}

/// A route for the path, but not for the method.
pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    if is_api(uri.path()) {
        return unknown_url(Code::MethodNotAllowed, &method, &uri);
    }
    error_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "This page cannot be requested that way.",
    )
}

fn unknown_url(code: Code, method: &Method, uri: &Uri) -> Response {
    envelope(
        code.status(),
        code.as_str(),
        &format!("Invalid URL ({method} {})", uri.path()),
        None,
    )
}
