//! Layers that protect every route: the response headers of a page that runs no inline script, and the
//! refusal of cross-site state changes.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::error::envelope;

/// `media-src blob:` for the remote audio track; `connect-src` stays same-origin (the browser reaches the
/// Realtime API only through URLs the server hands it, which later configuration adds here).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

pub async fn headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
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
/// curl send none and are let through.
pub async fn check_origin(req: Request, next: Next) -> Response {
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state && let Some(origin) = req.headers().get(header::ORIGIN) {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        if !same_origin(origin.to_str().unwrap_or(""), host) {
            return envelope(
                StatusCode::FORBIDDEN,
                "cross_origin_request",
                "cross-origin requests to this endpoint are refused",
                None,
            );
        }
    }
    next.run(req).await
}

/// `origin` is `scheme://host[:port]`; it matches when its authority is the `Host` the request was sent to.
fn same_origin(origin: &str, host: Option<&str>) -> bool {
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
