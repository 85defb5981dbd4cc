//! The origin a request was sent to (`scheme://host[:port]`), for the absolute URLs the console hands out.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

/// `http://127.0.0.1:3000` for a request to that address: the browser's `Origin` when it names the `Host`
/// asked for (it says the scheme: `https` behind a TLS proxy), else that `Host` over plain HTTP (the console
/// serves no TLS itself). `None` when neither is usable. A page on another origin that may use a route
/// ([`super::recorder`]) sends its own `Origin`, which names the page, not this server.
pub struct RequestOrigin(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RequestOrigin {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let header_text = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let host = header_text(header::HOST)
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .filter(|h| is_authority(h));
        let origin = header_text(header::ORIGIN)
            .filter(|o| {
                o.strip_prefix("http://")
                    .or_else(|| o.strip_prefix("https://"))
                    .is_some_and(|a| host.is_some_and(|h| a.eq_ignore_ascii_case(h)))
            })
            .map(str::to_owned)
            .or_else(|| host.map(|host| format!("http://{host}")));
        Ok(RequestOrigin(origin))
    }
}

/// `host[:port]`, IPv6 in brackets: nothing that could end a URL's authority or smuggle in a path.
fn is_authority(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 255
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::is_authority;

    #[test]
    fn authorities() {
        for ok in [
            "127.0.0.1:3000",
            "localhost",
            "[::1]:3000",
            "my-box.local:80",
        ] {
            assert!(is_authority(ok), "{ok}");
        }
        for bad in ["", "evil.example/path", "a@b", "h:1?x", "h#", "a b"] {
            assert!(!is_authority(bad), "{bad}");
        }
    }
}
