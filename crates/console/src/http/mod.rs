//! HTTP: one module per resource, merged here; the layers every response gets are applied once, here.

mod audio;
mod error;
mod events;
mod extract;
mod gateway;
mod library;
mod origin;
mod pages;
mod recorder;
mod rt;
mod security;
mod sessions;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::routing::get;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

use crate::AppState;

pub use error::ApiError;
pub(crate) use gateway::{Mints, Taps};
pub(crate) use rt::RtRateLimit;

pub fn router(state: AppState) -> Router {
    let static_files = ServeDir::new(&state.settings.static_dir).not_found_service(
        axum::handler::HandlerWithoutStateExt::into_service(static_not_found),
    );
    let csp = security::csp(state.upstream.foreign_origin());
    let mut app = Router::new()
        .merge(pages::router())
        .merge(library::router())
        .merge(sessions::router())
        .merge(events::router())
        .merge(audio::router())
        .merge(rt::router())
        .merge(gateway::router())
        .merge(recorder::router(&state.settings.static_dir))
        .route("/healthz", get(healthz))
        .nest_service("/static", static_files)
        .fallback(pages::not_found)
        .method_not_allowed_fallback(pages::method_not_allowed);
    if let Some(emulator) = state.upstream.emulator_router() {
        app = app.nest_service(crate::upstream::EMULATOR_PREFIX, emulator);
    }
    app.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        security::limit_emulator,
    ))
    .layer(axum::middleware::from_fn(security::check_origin))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        security::require_access,
    ))
    // Outside the access check: a preflight carries no credentials.
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        recorder::cors,
    ))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        security::check_host,
    ))
    // Time between two pieces of a request body (then 408); a body that keeps coming may take its time.
    .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        state.settings.body_timeout,
    ))
    .layer(axum::middleware::from_fn_with_state(csp, security::headers))
    .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
        let path = req
            .extensions()
            .get::<MatchedPath>()
            .map_or(req.uri().path(), MatchedPath::as_str);
        tracing::info_span!("http", method = %req.method(), path)
    }))
    .with_state(state)
}

async fn static_not_found() -> axum::response::Response {
    error::error_page(axum::http::StatusCode::NOT_FOUND, "There is no such file.")
}

async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<&'static str, ApiError> {
    state.store.ping().await?;
    Ok("ok")
}
