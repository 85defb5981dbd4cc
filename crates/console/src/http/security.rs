//! Layers that protect every route: the response headers of a page that runs no inline script, the
//! refusal of cross-site state changes, and the access secret of a console on a non-loopback address.

use std::collections::HashMap;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, Code, envelope_of, error_page};
use super::recorder::AllowedCrossOrigin;
use crate::AppState;
use crate::access::COOKIE;

/// `media-src blob:` for the remote audio track; `connect-src` is same-origin plus, with a real upstream,
/// the API's origin: the browser posts its SDP offer to the `calls_url` the server hands it.
const CSP_START: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    media-src 'self' blob:; connect-src 'self'";
const CSP_END: &str =
    "; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The Content-Security-Policy, with `upstream` (an `https://host[:port]` origin) allowed to `connect-src`.
pub fn csp(upstream: Option<&str>) -> HeaderValue {
    let extra = upstream
        .filter(|o| {
            !o.bytes()
                .any(|b| b.is_ascii_whitespace() || b == b';' || b == b',')
        })
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    HeaderValue::from_str(&format!("{CSP_START}{extra}{CSP_END}"))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"))
}

pub async fn headers(State(csp): State<HeaderValue>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

/// A state-changing request that carries an `Origin` must come from this server's own origin. Browsers
/// always send `Origin` on cross-site POSTs, so this stops other sites from driving the console; tools like
/// curl send none and are let through. `Sec-Fetch-Site`, which browsers send even where they omit `Origin`
/// (a cross-site `<img>` or `<script>` GET), must say `same-origin` or `none` when present.
///
/// Every `/api/rt/` and `/v1/` request counts as state-changing, `GET /api/rt/token` and the gateway's
/// WebSocket upgrade included: they mint a key or open a session with the server's key. The
/// emulator under `/emulator` is exempt, like the real API it stands in for: pages on other origins post
/// their offers to it, authenticated by the ephemeral key they got from this server.
///
/// A page on an origin of `--allow-origin` may use the drop-in recorder's routes ([`super::recorder`]).
pub async fn check_origin(req: Request, next: Next) -> Response {
    if req.extensions().get::<AllowedCrossOrigin>().is_some() {
        return next.run(req).await;
    }
    let path = req.uri().path();
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || path.starts_with("/api/rt/")
        || path.starts_with("/v1/");
    if changes_state && !path.starts_with("/emulator/") && cross_site(req.headers()) {
        return envelope_of(
            Code::CrossOriginRequest,
            "cross-origin requests to this endpoint are refused",
        );
    }
    next.run(req).await
}

fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return true;
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        return !same_origin(origin.to_str().unwrap_or(""), host);
    }
    false
}

/// Every request must be for this server by name: a `Host` the server is meant to be reached by
/// ([`crate::hosts::AllowedHosts`]). Anything else is a misdirected request (421): a page on a rebound name,
/// or a proxy sending the wrong name.
pub async fn check_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    if host.is_some_and(|h| state.settings.allowed_hosts.allows(h)) {
        return next.run(req).await;
    }
    let message =
        "this server does not answer to that host name; add it to ALLOWED_HOSTS if it should";
    if super::pages::is_api(req.uri().path()) {
        envelope_of(Code::MisdirectedRequest, message)
    } else {
        error_page(StatusCode::MISDIRECTED_REQUEST, message)
    }
}

/// The bearer token of a request, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Whether the request comes over TLS, as a reverse proxy in front of the console says.
fn over_tls(headers: &HeaderMap) -> bool {
    let says = |name: &str, wanted: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains(wanted))
    };
    says("x-forwarded-proto", "https") || says("forwarded", "proto=https")
}

/// With an access secret configured, every page and API needs it: `Authorization: Bearer <secret>`, or
/// the `console_access` cookie that opening any page with `?access=<secret>` sets (then redirects to
/// the same page without the secret in its URL). The cookie's value is random, one per browser.
///
/// The built-in emulator under `/emulator` takes ephemeral keys as its bearer token, so there the cookie is
/// what counts (the console's own calls, with the key only this process knows, pass). `/static` and
/// `/recorder.js` (the repository's JS and CSS) and `/healthz` hold nothing to protect.
pub async fn require_access(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(secret) = state.settings.access_secret.as_ref() else {
        return next.run(req).await;
    };
    let path = req.uri().path();
    if path == "/healthz" || path == "/recorder.js" || path.starts_with("/static/") {
        return next.run(req).await;
    }
    let emulator = path.starts_with("/emulator/");
    let internal = emulator
        && (bearer(req.headers()).is_some_and(|key| state.upstream.is_internal_key(key))
            || state.upstream.is_relayed(req.headers()));
    if internal {
        return next.run(req).await;
    }
    // The gateway with a client's own key: that key is checked upstream, not here (the gateway refuses it
    // itself when there is no upstream to check it).
    if path.starts_with("/v1/")
        && super::gateway::presented_key(req.headers()).is_some_and(|key| !secret.is_secret(key))
    {
        return next.run(req).await;
    }
    let offered = Query::<HashMap<String, String>>::try_from_uri(req.uri())
        .ok()
        .and_then(|q| q.0.get("access").cloned());
    if let Some(offered) = offered {
        if secret.is_secret(&offered) && matches!(*req.method(), Method::GET | Method::HEAD) {
            let secure = if over_tls(req.headers()) {
                "; Secure"
            } else {
                ""
            };
            let cookie = format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age=2592000{secure}",
                state.access.issue()
            );
            // The same page without the secret; `//host` would be another site's.
            let here = format!("/{}", path.trim_start_matches(['/', '\\']));
            let mut res = StatusCode::SEE_OTHER.into_response();
            let h = res.headers_mut();
            if let (Ok(location), Ok(cookie)) =
                (HeaderValue::from_str(&here), HeaderValue::from_str(&cookie))
            {
                h.insert(header::LOCATION, location);
                h.insert(header::SET_COOKIE, cookie);
            }
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return res;
        }
        return denied(path);
    }
    let headers = req.headers();
    let presented = if path.starts_with("/v1/") {
        super::gateway::presented_key(headers)
    } else {
        bearer(headers)
    };
    let bearer_ok = !emulator && presented.is_some_and(|given| secret.is_secret(given));
    let cookie_ok = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == COOKIE && state.access.is_valid(value));
    if bearer_ok || cookie_ok {
        next.run(req).await
    } else {
        denied(path)
    }
}

/// The built-in emulator's offers count against the same per-IP limit as `/api/rt/*` (a budget of their
/// own: a console page's connect spends one of each). The console's own calls, with its internal key, do
/// not count.
pub async fn limit_emulator(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let counted = req.method() == Method::POST
        && req.uri().path().starts_with("/emulator/")
        && !bearer(req.headers()).is_some_and(|key| state.upstream.is_internal_key(key))
        && !state.upstream.is_relayed(req.headers());
    if counted {
        let ip = req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |c| {
                c.0.ip()
            });
        if let Err(retry_after) = state.emulator_limit.check(ip) {
            return ApiError::RateLimited {
                retry_after_secs: retry_after.max(1),
            }
            .into_response();
        }
    }
    next.run(req).await
}

fn denied(path: &str) -> Response {
    let mut res = if path.starts_with("/api/") || path.starts_with("/emulator/") {
        envelope_of(
            Code::AccessDenied,
            "this console needs its access secret: send `Authorization: Bearer <secret>`, or open \
             /?access=<secret> once in this browser",
        )
    } else {
        error_page(
            StatusCode::UNAUTHORIZED,
            "This console needs its access secret. Open /?access=<secret> once in this browser; \
             the secret is the ACCESS_SECRET the server was started with.",
        )
    };
    res.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    res
}

/// `origin` is `scheme://host[:port]`; it matches when its authority is the `Host` the request was sent to.
pub(super) fn same_origin(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    #[test]
    fn the_csp_allows_the_upstream_origin_only_when_given() {
        let own = super::csp(None);
        assert!(own.to_str().unwrap().contains("connect-src 'self';"));
        let api = super::csp(Some("https://api.openai.com"));
        assert!(
            api.to_str()
                .unwrap()
                .contains("connect-src 'self' https://api.openai.com;")
        );
        let odd = super::csp(Some("https://x; script-src *"));
        assert!(!odd.to_str().unwrap().contains("script-src *"));
    }

    #[test]
    fn compares_origin_with_host() {
        assert!(same_origin("http://127.0.0.1:3000", Some("127.0.0.1:3000")));
        assert!(!same_origin(
            "http://127.0.0.1:3001",
            Some("127.0.0.1:3000")
        ));
        assert!(!same_origin("https://evil.example", Some("127.0.0.1:3000")));
        assert!(!same_origin("null", Some("127.0.0.1:3000")));
        assert!(!same_origin("http://127.0.0.1:3000", None));
    }
}
