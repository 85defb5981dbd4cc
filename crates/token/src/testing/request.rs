//! One request as the recording upstream saw it.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::http::HeaderMap;
use serde_json::Value;

use super::Route;

#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub route: Route,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    /// The raw body, byte for byte.
    pub body: Bytes,
}

/// One part of a `multipart/form-data` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormPart {
    pub name: Option<String>,
    pub content_type: Option<String>,
    pub body: Bytes,
}

impl RecordedRequest {
    /// A header as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The token of `Authorization: Bearer <token>`.
    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization")?.strip_prefix("Bearer ")
    }

    /// The body as JSON. Panics with the reason if it is not JSON (this is for tests).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {} body is not JSON ({e}): {}",
                self.method,
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The parts of a `multipart/form-data` body, in order. Panics if the body is not one.
    pub async fn multipart(&self) -> Vec<FormPart> {
        let content_type = self
            .header("content-type")
            .unwrap_or_else(|| panic!("{} {} has no Content-Type", self.method, self.path));
        let boundary = multer::parse_boundary(content_type)
            .unwrap_or_else(|e| panic!("Content-Type `{content_type}` is not multipart: {e}"));
        let body = self.body.clone();
        let stream = futures::stream::once(async move { Ok::<_, Infallible>(body) });
        let mut multipart = multer::Multipart::new(stream, boundary);
        let mut parts = Vec::new();
        while let Some(field) = multipart
            .next_field()
            .await
            .unwrap_or_else(|e| panic!("malformed multipart body: {e}"))
        {
            let name = field.name().map(str::to_owned);
            let content_type = field.content_type().map(ToString::to_string);
            let body = field
                .bytes()
                .await
                .unwrap_or_else(|e| panic!("malformed multipart part: {e}"));
            parts.push(FormPart {
                name,
                content_type,
                body,
            });
        }
        parts
    }
}
