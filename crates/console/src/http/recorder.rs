//! The drop-in recorder for a page of one's own: `GET /recorder.js` (`static/js/recorder.js`), and its use by
//! pages on the origins of `--allow-origin`. Those origins get CORS on exactly what the recorder loads and
//! calls: its modules, `POST /api/sessions`, `POST /api/sessions/{id}/events` and `PATCH /api/sessions/{id}`;
//! and on `POST /v1/realtime/calls` with an `ek_` key, the page's own offer through the gateway. Any other
//! origin is refused there with 403, as it is on every state change elsewhere
//! ([`super::security::check_origin`]); no other route answers any origin with CORS.

use std::path::Path;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get_service;
use tower_http::services::ServeFile;

use super::error::{Code, envelope_of};
use super::security::same_origin;
use crate::AppState;

/// The modules `/recorder.js` imports, directly or not (a test reads the files to keep this true).
const MODULES: [&str; 4] = [
    "/static/js/lib/page-recorder.js",
    "/static/js/lib/recorder.js",
    "/static/js/lib/recorder-storage.js",
    "/static/js/lib/recorder-wire.js",
];

/// How long a browser may keep a preflight's answer.
const PREFLIGHT_MAX_AGE_SECS: &str = "600";

pub fn router(static_dir: &Path) -> Router<AppState> {
    Router::new().route(
        "/recorder.js",
        get_service(ServeFile::new(static_dir.join("js/recorder.js"))),
    )
}

/// A request a page on an allowed origin may make, set by [`cors`] for [`super::security::check_origin`].
#[derive(Clone, Copy)]
pub struct AllowedCrossOrigin;

/// What a request is to the recorder.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Use {
    /// `/recorder.js` or a module it imports.
    Module,
    /// The recording API.
    Api,
    /// The page's offer through the gateway.
    Call,
}

/// What `method path` is to the recorder, if anything.
fn recorder_use(method: &Method, path: &str) -> Option<Use> {
    let session = |rest: &str| !rest.is_empty() && !rest.contains('/') && rest != "import";
    let under_sessions = path.strip_prefix("/api/sessions/");
    match *method {
        Method::GET | Method::HEAD if path == "/recorder.js" || MODULES.contains(&path) => {
            Some(Use::Module)
        }
        Method::POST if path == "/api/sessions" => Some(Use::Api),
        Method::POST
            if under_sessions
                .and_then(|rest| rest.strip_suffix("/events"))
                .is_some_and(session) =>
        {
            Some(Use::Api)
        }
        Method::PATCH if under_sessions.is_some_and(session) => Some(Use::Api),
        Method::POST if path == "/v1/realtime/calls" => Some(Use::Call),
        _ => None,
    }
}

/// The request's `Origin`, when it names another origin than the one the request was sent to.
fn foreign_origin(headers: &HeaderMap) -> Option<&str> {
    let origin = headers.get(header::ORIGIN)?;
    let origin = std::str::from_utf8(origin.as_bytes()).unwrap_or("null");
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    (!same_origin(origin, host)).then_some(origin)
}

/// CORS for the recorder's routes: a preflight from an allowed origin is answered here (before the access
/// check, which a preflight cannot pass: it carries no credentials), the answers to its requests carry
/// `Access-Control-Allow-Origin`, and any other foreign origin is refused with 403.
pub async fn cors(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let asked = (req.method() == Method::OPTIONS)
        .then(|| req.headers().get(header::ACCESS_CONTROL_REQUEST_METHOD))
        .flatten()
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok());
    let method = asked.clone().unwrap_or_else(|| req.method().clone());
    let Some(kind) = recorder_use(&method, path) else {
        return next.run(req).await;
    };
    let Some(origin) = foreign_origin(req.headers()).map(str::to_owned) else {
        // Same origin, or no browser: as without CORS, but never cached for another origin's use.
        let mut res = next.run(req).await;
        vary(res.headers_mut(), "origin");
        return res;
    };
    let allowed = state
        .settings
        .allow_origins
        .iter()
        .any(|o| o.eq_ignore_ascii_case(&origin));
    if !allowed {
        let mut res = envelope_of(
            Code::CrossOriginRequest,
            "pages on other origins may use this console's recorder only when it lists their origin in \
             --allow-origin (ALLOW_ORIGIN)",
        );
        vary(res.headers_mut(), "origin");
        return res;
    }
    if asked.is_some() {
        return preflight(&origin, &method, kind, req.headers());
    }
    // The page's offer goes upstream with its own ephemeral key; without one the gateway would spend the
    // server's key, which stays for this console's own origin.
    let own_key =
        super::gateway::presented_key(req.headers()).is_some_and(|key| key.starts_with("ek_"));
    if kind != Use::Call || own_key {
        req.extensions_mut().insert(AllowedCrossOrigin);
    }
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    // The console's CORS, not whatever a relayed upstream answer brought.
    let upstream: Vec<HeaderName> = h
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in upstream {
        h.remove(name);
    }
    allow_origin(h, &origin);
    if kind == Use::Call {
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("location, x-console-session-id"),
        );
    }
    res
}

/// The answer to an allowed origin's preflight for `method`.
fn preflight(origin: &str, method: &Method, kind: Use, asked: &HeaderMap) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    allow_origin(h, origin);
    if let Ok(m) = HeaderValue::from_str(method.as_str()) {
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, m);
    }
    // The recorder sends JSON and nothing else; an SDK's offer brings its own headers (`Authorization`,
    // `X-OpenAI-Agents-SDK`), as against the API.
    let headers = match kind {
        Use::Call => asked
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("authorization, content-type")),
        Use::Api | Use::Module => HeaderValue::from_static("content-type"),
    };
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, headers);
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE_SECS),
    );
    vary(
        h,
        "origin, access-control-request-method, access-control-request-headers",
    );
    res
}

fn allow_origin(h: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    vary(h, "origin");
}

fn vary(h: &mut HeaderMap, names: &'static str) {
    h.append(header::VARY, HeaderValue::from_static(names));
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use axum::http::Method;

    use super::{MODULES, Use, recorder_use};

    #[test]
    fn the_recorder_routes_and_nothing_else() {
        let cases = [
            (Method::GET, "/recorder.js", Some(Use::Module)),
            (
                Method::HEAD,
                "/static/js/lib/recorder.js",
                Some(Use::Module),
            ),
            (Method::POST, "/recorder.js", None),
            (Method::GET, "/static/js/console.js", None),
            (Method::GET, "/static/app.css", None),
            (Method::POST, "/api/sessions", Some(Use::Api)),
            (Method::GET, "/api/sessions", None),
            (Method::POST, "/api/sessions/abc/events", Some(Use::Api)),
            (Method::GET, "/api/sessions/abc/events", None),
            (Method::POST, "/api/sessions/import", None),
            (Method::POST, "/api/sessions/import/events", None),
            (Method::PATCH, "/api/sessions/abc", Some(Use::Api)),
            (Method::DELETE, "/api/sessions/abc", None),
            (Method::PATCH, "/api/sessions/abc/events", None),
            (Method::POST, "/api/sessions//events", None),
            (Method::POST, "/v1/realtime/calls", Some(Use::Call)),
            (Method::POST, "/v1/realtime/client_secrets", None),
            (Method::POST, "/v1/realtime/calls/rtc_1/hangup", None),
            (Method::POST, "/api/rt/token", None),
        ];
        for (method, path, expected) in cases {
            assert_eq!(recorder_use(&method, path), expected, "{method} {path}");
        }
    }

    fn static_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../static")
    }

    /// The `/static/…` paths `url_path` (a module's URL path) imports, resolved as a browser does.
    fn imports_of(url_path: &str) -> Vec<String> {
        let file = match url_path {
            "/recorder.js" => static_dir().join("js/recorder.js"),
            _ => static_dir().join(url_path.trim_start_matches("/static/")),
        };
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        let dir = &url_path[..url_path.rfind('/').unwrap()];
        text.lines()
            .filter(|line| {
                ["import ", "export ", "} from "]
                    .iter()
                    .any(|p| line.starts_with(p))
            })
            .filter_map(|line| line.split(" from \"").nth(1)?.split('"').next())
            .map(|spec| match spec.strip_prefix("./") {
                Some(rest) => format!("{dir}/{rest}"),
                None => spec.to_owned(),
            })
            .collect()
    }

    #[test]
    fn every_module_the_recorder_imports_is_served_cross_origin() {
        let mut seen = BTreeSet::new();
        let mut todo = vec!["/recorder.js".to_owned()];
        while let Some(module) = todo.pop() {
            for import in imports_of(&module) {
                assert!(
                    import.starts_with("/static/js/"),
                    "{module} imports {import}: an absolute /static path, which resolves against the console"
                );
                if seen.insert(import.clone()) {
                    todo.push(import);
                }
            }
        }
        let listed: BTreeSet<String> = MODULES.iter().map(|m| (*m).to_owned()).collect();
        assert_eq!(seen, listed);
    }
}
