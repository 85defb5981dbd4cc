//! The typed edge of the HTTP API: extractors whose rejection is the API's envelope, and the value types
//! they parse into. A handler gets a [`SessionPath`], a [`Json`] body or [`Params`] already checked, and a
//! mistake names its field by its path (`label`, `events[3]`, `limit`): read from serde's own path, never
//! from the text of its messages.

use std::fmt::Display;
use std::str::FromStr;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use bytes::Bytes;
use realtime_store::SessionId;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};

use super::error::{ApiError, Code, Result};

/// A JSON body may be this large unless its extractor says otherwise.
pub const DEFAULT_BODY_BYTES: usize = 1024 * 1024;

/// `{id}` of a session route: a malformed id is simply not found (404 with the envelope).
pub struct SessionPath(pub SessionId);

impl<S: Send + Sync> FromRequestParts<S> for SessionPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::SessionNotFound(String::new()))?;
        SessionId::parse(&raw)
            .map(SessionPath)
            .ok_or(ApiError::SessionNotFound(raw))
    }
}

/// A JSON body of at most `MAX` bytes, parsed into `T`: unknown fields are refused by name.
pub struct Json<T, const MAX: usize = DEFAULT_BODY_BYTES>(pub T);

impl<T: DeserializeOwned, S: Send + Sync, const MAX: usize> FromRequest<S> for Json<T, MAX> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self> {
        let bytes = read_body(req.into_body(), MAX).await?;
        parse_json(&bytes).map(Json)
    }
}

/// [`Json`] for an optional body: empty (or blank) means `T::default()`.
pub struct JsonOrDefault<T, const MAX: usize = DEFAULT_BODY_BYTES>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync, const MAX: usize> FromRequest<S>
    for JsonOrDefault<T, MAX>
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self> {
        let bytes = read_body(req.into_body(), MAX).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonOrDefault(T::default()));
        }
        parse_json(&bytes).map(JsonOrDefault)
    }
}

/// The query string, parsed into `T`: unknown parameters are refused by name, a bad value names its
/// parameter.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        let (value, unknown): (T, _) = tracked(de).map_err(|(e, param)| {
            ApiError::field(Code::InvalidValue, format!("`{param}` {e}"), param)
        })?;
        if let Some(name) = unknown {
            return Err(ApiError::field(
                Code::UnknownParameter,
                format!("unknown query parameter `{name}`"),
                name,
            ));
        }
        Ok(Params(value))
    }
}

/// Deserializes `T`, and says where it failed and the first field it does not have, both as the envelope's
/// `param` would name them.
fn tracked<'de, D, T>(de: D) -> std::result::Result<(T, Option<String>), (D::Error, String)>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let mut unknown = None;
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(de, &mut track);
    match serde_ignored::deserialize(de, |path| {
        unknown.get_or_insert_with(|| clean_path(&path.to_string()));
    }) {
        Ok(value) => Ok((value, unknown)),
        Err(e) => Err((e, clean_path(&track.path().to_string()))),
    }
}

/// A serde path as the envelope's `param`: `events[3].type`, with serde_ignored's `?` (an `Option`'s
/// content) left out.
fn clean_path(path: &str) -> String {
    path.split('.')
        .filter(|segment| *segment != "?")
        .collect::<Vec<_>>()
        .join(".")
}

/// Parses a JSON body into `T`, which may borrow from it. A syntax error is `invalid_json`; a value of the
/// wrong shape is `invalid_value` naming its path; a field `T` does not have is `unknown_parameter`.
pub fn parse_json<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = tracked(&mut de).and_then(|parsed| match de.end() {
        Ok(()) => Ok(parsed),
        Err(e) => Err((e, String::new())),
    });
    let (value, unknown): (T, _) = parsed.map_err(|(e, param)| {
        if e.is_data() {
            ApiError::field(
                Code::InvalidValue,
                format!("the body is not valid: {e}"),
                param,
            )
        } else {
            ApiError::invalid(
                Code::InvalidJson,
                format!("the body is not valid JSON: {e}"),
            )
        }
    })?;
    if let Some(name) = unknown {
        return Err(ApiError::field(
            Code::UnknownParameter,
            format!("unknown parameter `{name}`"),
            name,
        ));
    }
    Ok(value)
}

/// The whole body, at most `limit` bytes.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|e| body_error(&e, limit))
}

/// Why a body could not be read: too large (413), too slow (408: nothing came for `BODY_TIMEOUT_SECS`), or
/// cut off (400).
pub fn body_error(e: &(dyn std::error::Error + 'static), limit: usize) -> ApiError {
    if caused_by::<http_body_util::LengthLimitError>(e) {
        return ApiError::invalid(
            Code::RequestTooLarge,
            format!("the request body may be at most {limit} bytes"),
        );
    }
    if is_timeout(e) {
        return body_timed_out();
    }
    ApiError::invalid(Code::InvalidBody, "the request body could not be read")
}

pub fn body_timed_out() -> ApiError {
    ApiError::invalid(
        Code::RequestTimeout,
        "the request body stopped arriving; send it without long pauses",
    )
}

/// Whether a body-stream error is the body timeout's.
pub fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    caused_by::<tower_http::timeout::TimeoutError>(e)
}

fn caused_by<E: std::error::Error + 'static>(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<E>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// For query parameters: `?x=` is as good as leaving `x` out; anything else parses with `T::from_str`.
pub fn empty_as_none<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    let raw: Option<String> = Option::deserialize(d)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(D::Error::custom),
    }
}

/// A label: free text of at most [`Label::MAX_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label(pub String);

impl Label {
    pub const MAX_CHARS: usize = 200;
}

impl FromStr for Label {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.chars().count() > Self::MAX_CHARS {
            return Err(format!(
                "a label may be at most {} characters",
                Self::MAX_CHARS
            ));
        }
        Ok(Label(s.to_owned()))
    }
}

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }
}

/// How many items a page holds: 1 to `MAX`, `DEFAULT` when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit<const DEFAULT: u32, const MAX: u32>(pub u32);

impl<const DEFAULT: u32, const MAX: u32> Default for Limit<DEFAULT, MAX> {
    fn default() -> Self {
        Limit(DEFAULT)
    }
}

impl<const DEFAULT: u32, const MAX: u32> FromStr for Limit<DEFAULT, MAX> {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        s.parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX).contains(n))
            .map(Limit)
            .ok_or_else(|| format!("must be an integer from 1 to {MAX}"))
    }
}

/// A position to continue from: an integer ≥ 0 (a seq, or a live stream's event id).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor(pub i64);

impl FromStr for Cursor {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        s.parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Cursor)
            .ok_or_else(|| "must be an integer >= 0".to_owned())
    }
}

/// The client's `User-Agent`, as it sent it (lossily as UTF-8), for the library.
pub struct UserAgent(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for UserAgent {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        Ok(UserAgent(
            parts
                .headers
                .get(axum::http::header::USER_AGENT)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, Default)]
    #[allow(dead_code)] // read through Debug only
    struct Body {
        label: Option<Label>,
        ended: Option<bool>,
    }

    fn code_and_param(e: ApiError) -> (&'static str, Option<String>) {
        match e {
            ApiError::Invalid { code, param, .. } => (code.as_str(), param),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_body_names_what_is_wrong_by_path() {
        let e = parse_json::<Body>(br#"{"label":"x","nope":1}"#).unwrap_err();
        assert_eq!(
            code_and_param(e),
            ("unknown_parameter", Some("nope".into()))
        );
        let e = parse_json::<Body>(br#"{"ended":"yes"}"#).unwrap_err();
        assert_eq!(code_and_param(e), ("invalid_value", Some("ended".into())));
        let long = format!(r#"{{"label":"{}"}}"#, "l".repeat(201));
        let e = parse_json::<Body>(long.as_bytes()).unwrap_err();
        assert_eq!(code_and_param(e), ("invalid_value", Some("label".into())));
        let e = parse_json::<Body>(br#"{"label":"#).unwrap_err();
        assert_eq!(code_and_param(e).0, "invalid_json");
        let e = parse_json::<Body>(br#"{} {}"#).unwrap_err();
        assert_eq!(code_and_param(e).0, "invalid_json");
        parse_json::<Body>(br#"{"label":"fine","ended":true}"#).unwrap();
    }

    #[test]
    fn limits_and_cursors() {
        assert_eq!("20".parse::<Limit<50, 500>>(), Ok(Limit(20)));
        assert!("0".parse::<Limit<50, 500>>().is_err());
        assert!("501".parse::<Limit<50, 500>>().is_err());
        assert_eq!(Limit::<50, 500>::default().0, 50);
        assert_eq!("7".parse::<Cursor>(), Ok(Cursor(7)));
        assert!("-1".parse::<Cursor>().is_err());
    }
}
